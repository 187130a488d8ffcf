#!/usr/bin/env bash
# scripts/load-sip.sh: what one SIP decision costs, next to Kamailio answering
# a bare stateless 302 in the same run, on the same cores.
#
# Layout (2 cores or more): the target (gateway or Kamailio) is pinned to
# TARGET_CPU, the load generator (sipp) and a private Redis to GEN_CPU, all
# three at the same real-time priority (SCHED_RR PRIO), so neither side
# steals the other's core and other processes on the machine do not preempt
# them. The two targets run side by side on their own ports and are measured
# interleaved, rate by rate (Kamailio, then the gateway), so both see the
# same machine at nearly the same moment.
#
# For each rate, sipp sends INVITEs (scripts/sipp/invite-302.xml: P-tfps
# identity, a new caller per call, 302 expected, then ACK) for STEP_SECONDS
# and the script prints per target: calls, failed calls, retransmissions,
# response-time percentiles (INVITE sent -> 302 received), datagrams dropped
# at the target's socket (/proc/net/udp) and for full receive buffers on the
# whole machine (RcvbufErrors in /proc/net/snmp: sipp's socket), CPU per call of the target and, for
# the gateway, of Redis (utime+stime from /proc/PID/stat divided by the
# successful calls), and the 1-minute load average when the step began.
# A target stops at the first rate with a failed call or more than 10%
# retransmissions. At the end: each target's clean rate (the highest rate
# with no failed call and retransmissions <= 0.1% of the calls) and, per
# rate both passed, gateway/Kamailio and (gateway+Redis)/Kamailio CPU ratios.
#
#   gateway:  the real binary (cmd/gateway), a SQLite decision log in a
#             temporary folder, a private redis-server on REDIS_PORT; every
#             call runs the whole engine
#   kamailio: scripts/sipp/kamailio-redirect.cfg, stateless 302 from the
#             script with no checks
#
# Not part of the test suite. Loopback only. Needs root for SCHED_RR (PRIO=0:
# normal priority). Environment:
#   RATES="1000 3000 6000 ..."  rates to try (calls/s)
#   STEP_SECONDS=10             seconds per rate and target
#   TARGETS="kamailio gateway"  which targets to measure
#   TARGET_CPU=0 GEN_CPU=1      cores (taskset -c)
#   PRIO=10                     SCHED_RR priority of target, sipp and Redis
#   TARGET_PRIO, SIPP_PRIO, REDIS_PRIO  one of them apart (default PRIO; 0:
#                               normal priority)
#   GW_PORT=25060 KAM_PORT=25070 HTTP_PORT=25080 REDIS_PORT=25090 SIPP_PORT=25100
#   KAM_CHILDREN=2              Kamailio UDP worker processes
#   SIPP_BUFFER=4194304         sipp's socket buffers (-buff_size); sipp's own
#                               64 KiB overflows when the gateway answers one
#                               Redis round trip's calls at once, and every
#                               answer lost there is a retransmission
#   PPROF=1                     gateway's profiler on 127.0.0.1:25081; a CPU
#                               profile of the last gateway step in $PROFILE_OUT,
#                               its metrics after it in $PROFILE_OUT.metrics;
#                               PPROF=trace: an execution trace instead
#   RR_SLICE_MS=100             the SCHED_RR time slice for the run
#                               (/proc/sys/kernel/sched_rr_timeslice_ms,
#                               restored at the end; empty: leave it). At
#                               the kernel's 100 ms, a thread of the target
#                               woken on its own core (the Go runtime's
#                               sysmon, a reply's poller) waits up to a
#                               whole slice behind the running one
#   GW_ENV="K=V ..."            further settings for the gateway
#   GW_BIN=path                 a gateway binary built beforehand (compare builds)
#   CALLS=same                  every call dials one number, as every figure
#                               in docs/sip.md so far; CALLS=random: each call
#                               dials a number of an injection file of 200,000
#                               US numbers over 60 area codes, as a PBX's
#                               traffic does (number cache misses); costs more
#                               per call, so compare runs of one kind. Call-IDs
#                               are sipp's either way (it matches answers by
#                               them)
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/services.sh
ensure_packages sipp:sip-tester kamailio:kamailio redis-server:redis-server redis-cli:redis-tools curl:curl
command -v go >/dev/null || die "Go is not installed"

RATES=${RATES:-"1000 3000 6000 8000 10000 12000 15000 20000 25000 30000"}
STEP_SECONDS=${STEP_SECONDS:-10}
TARGETS=${TARGETS:-"kamailio gateway"}
TARGET_CPU=${TARGET_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
PRIO=${PRIO:-10}
REDIS_PRIO=${REDIS_PRIO:-$PRIO}
SIPP_PRIO=${SIPP_PRIO:-$PRIO}
TARGET_PRIO=${TARGET_PRIO:-$PRIO}
GW_PORT=${GW_PORT:-25060}
KAM_PORT=${KAM_PORT:-25070}
HTTP_PORT=${HTTP_PORT:-25080}
REDIS_PORT=${REDIS_PORT:-25090}
SIPP_PORT=${SIPP_PORT:-25100}
SIPP_BUFFER=${SIPP_BUFFER:-4194304}
KAM_CHILDREN=${KAM_CHILDREN:-2}
PROFILE_OUT=${PROFILE_OUT:-/tmp/tfps-load-sip.pprof}
CALLS=${CALLS:-same}

WORK=$(mktemp -d /tmp/tfps-load.XXXXXX)
PIDS=()
RR_SLICE_WAS=""
cleanup() {
	[ -z "$RR_SLICE_WAS" ] || echo "$RR_SLICE_WAS" >/proc/sys/kernel/sched_rr_timeslice_ms || true
	for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

SCENARIO=scripts/sipp/invite-302.xml
INF=()
case $CALLS in
same) ;;
random)
	SCENARIO=scripts/sipp/invite-302-random.xml
	INF=(-inf "$WORK/calls.csv")
	# sipp reads the file once and takes its lines in turn, starting again
	# at the first after the last; a line is "number;".
	awk -v seed="${RANDOM}${RANDOM}" 'BEGIN {
		srand(seed)
		n = split("201 202 203 205 206 212 213 214 215 216 217 281 301 303 305 310 312 313 314 315 404 405 407 408 410 412 414 415 469 480 501 502 503 504 505 512 602 614 615 617 646 650 702 703 704 713 714 718 720 773 801 803 808 813 817 818 832 904 917 919", npa, " ")
		print "SEQUENTIAL"
		for (i = 0; i < 200000; i++)
			printf "+1%s%d%02d%04d;\n", npa[int(rand() * n) + 1], 2 + int(rand() * 8), int(rand() * 100), int(rand() * 10000)
	}' >"$WORK/calls.csv"
	;;
*) die "CALLS=$CALLS: same or random" ;;
esac

# on CPU CMD...: run CMD pinned to CPU at the shared priority, in place of
# the calling (sub)shell so that $! is CMD's process.
on() {
	local cpu=$1
	shift
	if [ "$PRIO" -gt 0 ]; then
		exec taskset -c "$cpu" chrt -r "$PRIO" "$@"
	fi
	exec taskset -c "$cpu" "$@"
}

# cpu_ticks PID: utime+stime of a process and its reaped children, in clock ticks.
cpu_ticks() {
	awk '{print $14+$15+$16+$17}' "/proc/$1/stat"
}
# cpu_ticks_group PID: ticks of a process and all its direct children (Kamailio workers).
cpu_ticks_group() {
	local total pid
	total=$(cpu_ticks "$1")
	for pid in $(pgrep -P "$1"); do total=$((total + $(cpu_ticks "$pid"))); done
	echo "$total"
}
HZ=$(getconf CLK_TCK)

# rcvbuf_errors: UDP datagrams dropped for a full receive buffer, on the
# whole machine (sipp's socket among them; other programs' too).
rcvbuf_errors() {
	awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }' /proc/net/snmp
}
# udp_drops PORT: datagrams the kernel dropped at 127.0.0.1:PORT's socket.
udp_drops() {
	awk -v p="$(printf ':%04X' "$1")" 'NR > 1 && substr($2, length($2) - 4) == p { d += $NF } END { print d + 0 }' /proc/net/udp
}

# percentiles FILE: p50 p99 max of sipp's rtt csv (response_time_ms in column 2,
# whole milliseconds: 0 is under 1 ms).
percentiles() {
	tail -n +2 "$1" | cut -d';' -f2 | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "n/a n/a n/a"; exit }
			i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
			i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
			printf "%s %s %s\n", v[i50], v[i99], v[NR]
		}'
}

# cpu_idle CPU: idle+iowait ticks of one core (/proc/stat).
cpu_idle() {
	awk -v c="cpu$1" '$1 == c { print $5 + $6 }' /proc/stat
}

# answer_buckets PORT: the gateway's answer-time histogram (le count per line).
answer_buckets() {
	curl -fs "http://127.0.0.1:$1/metrics" 2>/dev/null | sed -n 's/^tfps_sip_answer_seconds_bucket{le="\([^"]*\)"} \([0-9.e+]*\)$/\1 \2/p'
}
# answer_p99 BEFORE AFTER: upper bound (ms) of the bucket holding the 99th
# percentile of the answers between two answer_buckets snapshots.
answer_p99() {
	awk 'NR == FNR { b[$1] = $2; next } { le[++n] = $1; c[n] = $2 - b[$1] }
		END {
			if (n == 0 || c[n] <= 0) { print "-"; exit }
			for (i = 1; i <= n; i++) if (c[i] >= 0.99 * c[n]) { if (le[i] == "+Inf") print "inf"; else printf "%g\n", le[i] * 1000; exit }
		}' "$1" "$2"
}

stat_col() { # stat_col FILE NAME: last value of column NAME in sipp's stat csv
	awk -F';' -v want="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==want) c=i; next} {v=$c} END{print v+0}' "$1"
}

# step NAME PORT PID REDIS_PID RATE: one rate against one target; prints a
# row and sets STEP_OK (0 stop, 1 go on), STEP_CLEAN, STEP_CPU, STEP_REDIS.
step() {
	local name=$1 port=$2 pid=$3 rpid=$4 rate=$5
	local dir="$WORK/$name-$rate" calls=$((rate * STEP_SECONDS))
	# Callers of one step are new to the next (sipp numbers calls from 1 in
	# each run; a caller seen again within the A->B window would be counted).
	STEP_NO=$((STEP_NO + 1))
	mkdir -p "$dir"
	local load before after rbefore=0 rafter=0 dbefore dafter gbefore gafter ibefore iafter gw99=-
	load=$(cut -d' ' -f1 /proc/loadavg)
	[ "$rpid" -gt 0 ] && answer_buckets "$HTTP_PORT" >"$dir/answers.before"
	ibefore=$(cpu_idle "$GEN_CPU")
	before=$(cpu_ticks_group "$pid")
	[ "$rpid" -gt 0 ] && rbefore=$(cpu_ticks "$rpid")
	dbefore=$(udp_drops "$port")
	gbefore=$(rcvbuf_errors)
	(cd "$dir" && PRIO=$SIPP_PRIO on "$GEN_CPU" sipp "127.0.0.1:$port" -p "$SIPP_PORT" -sf "$OLDPWD/$SCENARIO" "${INF[@]}" -key caller_prefix $((1000 + STEP_NO)) -i 127.0.0.1 \
		-r "$rate" -m "$calls" -l $((rate * 2 + 100)) -buff_size "$SIPP_BUFFER" -nostdin -timeout $((STEP_SECONDS * 3 + 30))s \
		-trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 100 -trace_err -error_file err.log \
		>sipp.out 2>&1) || true
	after=$(cpu_ticks_group "$pid")
	iafter=$(cpu_idle "$GEN_CPU")
	[ "$rpid" -gt 0 ] && rafter=$(cpu_ticks "$rpid")
	if [ "$rpid" -gt 0 ]; then
		answer_buckets "$HTTP_PORT" >"$dir/answers.after"
		gw99=$(answer_p99 "$dir/answers.before" "$dir/answers.after")
	fi
	dafter=$(udp_drops "$port")
	gafter=$(rcvbuf_errors)
	local succ failed retrans pct="n/a n/a n/a" rtt
	succ=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
	failed=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
	retrans=$(stat_col "$dir/stat.csv" 'Retransmissions(C)')
	[ "$succ" -lt "$calls" ] && failed=$((calls - succ > failed ? calls - succ : failed))
	rtt=$(find "$dir" -name '*_rtt.csv' | head -n1)
	[ -n "$rtt" ] && pct=$(percentiles "$rtt")
	local n=$((succ > 0 ? succ : 1))
	STEP_CPU=$(awk -v t=$((after - before)) -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
	[ "$rpid" -gt 0 ] && GW_CALLS=$((GW_CALLS + succ))
	STEP_REDIS=$(awk -v t=$((rafter - rbefore)) -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
	[ "$rpid" -gt 0 ] || STEP_REDIS=-
	local idle
	idle=$(awk -v i=$((iafter - ibefore)) -v hz="$HZ" -v s="$STEP_SECONDS" 'BEGIN { printf "%.0f", i * 100 / hz / s }')
	# shellcheck disable=SC2086
	printf '%-9s %7s %8s %7s %8s %8s %8s %8s %7s %9s %10s %9s %8s %8s %6s\n' "$name" "$rate" "$succ" "$failed" "$retrans" $pct "$gw99" \
		"$((dafter - dbefore))" "$((gafter - gbefore))" "$STEP_CPU" "$STEP_REDIS" "$idle" "$load"
	STEP_OK=1
	STEP_CLEAN=0
	if [ "$failed" -ne 0 ] || [ $((retrans * 10)) -gt "$calls" ]; then
		STEP_OK=0
	elif [ $((retrans * 1000)) -le "$calls" ]; then
		STEP_CLEAN=1
	fi
}

if [ "$PRIO" -gt 0 ] && [ "$(id -u)" -ne 0 ]; then die "SCHED_RR needs root (or PRIO=0)"; fi
if [ -n "${RR_SLICE_MS:-}" ]; then
	RR_SLICE_WAS=$(cat /proc/sys/kernel/sched_rr_timeslice_ms)
	echo "$RR_SLICE_MS" >/proc/sys/kernel/sched_rr_timeslice_ms || die "could not set the SCHED_RR time slice"
fi

GW_PID=0 KAM_PID=0 REDIS_PID=0 GW_CALLS=0 STEP_NO=0
for target in $TARGETS; do
	case $target in
	gateway)
		PRIO=$REDIS_PRIO on "$GEN_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
			--dir "$WORK" --logfile "$WORK/redis.log" &
		REDIS_PID=$!
		PIDS+=("$REDIS_PID")
		for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
		if [ -n "${GW_BIN:-}" ]; then
			cp "$GW_BIN" "$WORK/gateway"
		else
			log "building cmd/gateway"
			go build -o "$WORK/gateway" ./cmd/gateway
		fi
		pprof=""
		[ -n "${PPROF:-}" ] && pprof=127.0.0.1:$((HTTP_PORT + 1))
		# shellcheck disable=SC2086
		PRIO=$TARGET_PRIO on "$TARGET_CPU" env TFPS_SIP_LISTEN=127.0.0.1:$GW_PORT TFPS_HTTP_LISTEN=127.0.0.1:$HTTP_PORT \
			TFPS_DATA_DIR="$WORK" TFPS_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" TFPS_SIP_FLOOD_LIMIT=0 \
			TFPS_SIP_ALLOW=127.0.0.0/8 TFPS_AUTHORIZE_METHOD=302 TFPS_LOG_LEVEL=warn TFPS_PPROF_LISTEN="$pprof" \
			${GW_ENV:-} "$WORK/gateway" >"$WORK/gateway.log" 2>&1 &
		GW_PID=$!
		PIDS+=("$GW_PID")
		for _ in $(seq 100); do curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
		curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null || { cat "$WORK/gateway.log"; die "gateway did not start"; }
		# The daily quota (at most 1,000,000) bounds the calls of one run.
		curl -fsS -X POST "http://127.0.0.1:$HTTP_PORT/v1/accounts" -H 'Content-Type: application/json' \
			-d '{"user":"load","domain":"pbx.example.com","concurrent_calls":5,"concurrent_calls_off":5,"daily_quota":1000000,"daily_quota_off":1000000,"source_countries":["US"],"destination_countries":["US"]}' >/dev/null ||
			{ cat "$WORK/gateway.log"; die "could not create the load account"; }
		sleep 1 # the engine sees the new account within TFPS_CACHE_REFRESH
		;;
	kamailio)
		PRIO=$TARGET_PRIO on "$TARGET_CPU" kamailio -f scripts/sipp/kamailio-redirect.cfg -DD -E -Y "$WORK" -P "$WORK/kamailio.pid" \
			-A "LISTEN=udp:127.0.0.1:$KAM_PORT" -A "CHILDREN=$KAM_CHILDREN" >"$WORK/kamailio.log" 2>&1 &
		KAM_PID=$!
		PIDS+=("$KAM_PID")
		sleep 1
		kill -0 "$KAM_PID" 2>/dev/null || { cat "$WORK/kamailio.log"; die "kamailio did not start"; }
		;;
	*) die "unknown target $target (gateway, kamailio)" ;;
	esac
done

printf '\ntarget on CPU %s, sipp and Redis on CPU %s, SCHED_RR %s (slice %s ms), %ss per rate; %s\n' "$TARGET_CPU" "$GEN_CPU" "$PRIO" \
	"$(cat /proc/sys/kernel/sched_rr_timeslice_ms)" "$STEP_SECONDS" "$(uname -r)"
printf '%-9s %7s %8s %7s %8s %8s %8s %8s %7s %9s %10s %9s %8s %8s %6s\n' target rate calls failed retrans p50_ms p99_ms max_ms gw99_ms sock_drop rcvbuf_err cpu_us redis_us gen_idle load1
declare -A GOING CLEAN CPU REDIS
for target in $TARGETS; do GOING[$target]=1; CLEAN[$target]=0; done
for rate in $RATES; do
	any=0
	for target in $TARGETS; do
		[ "${GOING[$target]}" = 1 ] || continue
		any=1
		case $target in
		gateway)
			prof_pid=""
			if [ -n "${PPROF:-}" ]; then
				kind=profile
				[ "$PPROF" = trace ] && kind=trace
				curl -fs -o "$PROFILE_OUT" "http://127.0.0.1:$((HTTP_PORT + 1))/debug/pprof/$kind?seconds=$((STEP_SECONDS - 1))" &
				prof_pid=$!
			fi
			step gateway "$GW_PORT" "$GW_PID" "$REDIS_PID" "$rate"
			[ -z "$prof_pid" ] || wait "$prof_pid" || true
			[ -z "${PPROF:-}" ] || curl -fs -o "$PROFILE_OUT.metrics" "http://127.0.0.1:$HTTP_PORT/metrics" || true
			;;
		kamailio) step kamailio "$KAM_PORT" "$KAM_PID" 0 "$rate" ;;
		esac
		GOING[$target]=$STEP_OK
		CPU[$target:$rate]=$STEP_CPU
		REDIS[$target:$rate]=$STEP_REDIS
		[ "$STEP_CLEAN" = 1 ] && [ "${CLEAN[$target]}" -lt "$rate" ] && CLEAN[$target]=$rate
	done
	[ "$any" = 1 ] || break
done

printf '\n'
for target in $TARGETS; do
	printf 'RESULT %s: clean rate (no failed call, retransmissions <= 0.1%%): %s calls/s\n' "$target" "${CLEAN[$target]}"
done
if [ -n "${CLEAN[gateway]:-}" ] && [ -n "${CLEAN[kamailio]:-}" ]; then
	printf 'RESULT clean rate gateway/kamailio: %s / %s\n' "${CLEAN[gateway]}" "${CLEAN[kamailio]}"
	printf '%7s %12s %11s %9s %9s %15s\n' rate kamailio_us gateway_us redis_us gw/kam "(gw+redis)/kam"
	for rate in $RATES; do
		k=${CPU[kamailio:$rate]:-} g=${CPU[gateway:$rate]:-} r=${REDIS[gateway:$rate]:-}
		[ -n "$k" ] && [ -n "$g" ] || continue
		awk -v rate="$rate" -v k="$k" -v g="$g" -v r="$r" 'BEGIN {
			if (k <= 0) exit
			printf "%7d %12.1f %11.1f %9.1f %9.2f %15.2f\n", rate, k, g, r, g / k, (g + r) / k }'
	done
fi
if [ "$REDIS_PID" -gt 0 ] && [ "$GW_CALLS" -gt 0 ]; then
	# What Redis ran for the gateway's calls (the account's creation aside):
	# commands per call and Redis's own time in them (INFO commandstats;
	# commands run by a script count one by one).
	printf 'REDIS commands per gateway call (%s calls):' "$GW_CALLS"
	redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | awk -F'[:=,]' -v n="$GW_CALLS" '
		/^cmdstat_/ && $3 / n >= 0.01 { sub("cmdstat_", "", $1); printf " %s %.2f (%.2f us)", $1, $3 / n, $5 / n }
		END { printf "\n" }'
fi
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
