#!/usr/bin/env bash
# scripts/load-sip.sh: how many calls per second the gateway's SIP front
# answers on this machine, compared with Kamailio as a bare redirect server.
#
# For each target, sipp sends INVITEs (scripts/sipp/invite-302.xml: P-tfps
# identity, a new caller per call, 302 expected, then ACK) at rising rates,
# STEP_SECONDS per rate, and the script prints per rate: calls, failed calls,
# retransmissions, response-time percentiles (INVITE sent -> 302 received)
# and the target's CPU per call. It stops at the first rate with a failed
# call and prints the highest rate with zero failed calls, and the highest
# "clean" rate (zero failed calls and retransmissions under 1% of the calls:
# past it, answers come late enough for sipp to resend INVITEs).
#
#   gateway:  the real binary (cmd/gateway) with real Redis and a SQLite
#             database in a temporary folder; every call runs the whole
#             engine (one Redis round trip, the decision log batch-written)
#   kamailio: scripts/sipp/kamailio-redirect.cfg, stateless 302 from the
#             script with no checks: the ceiling of this machine
#
# Not part of the test suite. Loopback only. Environment:
#   RATES="500 1000 2000 ..."  rates to try (calls/s)
#   STEP_SECONDS=10            seconds per rate
#   TARGETS="gateway kamailio" which targets to measure
#   GW_PORT=25060 KAM_PORT=25070 HTTP_PORT=25080  loopback ports
#   GOMAXPROCS, KAM_CHILDREN=2 processes of each server
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/services.sh
ensure_packages sipp:sip-tester kamailio:kamailio redis-server:redis-server redis-cli:redis-tools curl:curl
ensure_redis
command -v go >/dev/null || die "Go is not installed"

RATES=${RATES:-"500 1000 2000 3000 4000 5000 6000 8000 10000 12000 15000 20000 25000 30000"}
STEP_SECONDS=${STEP_SECONDS:-10}
TARGETS=${TARGETS:-"gateway kamailio"}
GW_PORT=${GW_PORT:-25060}
KAM_PORT=${KAM_PORT:-25070}
HTTP_PORT=${HTTP_PORT:-25080}
KAM_CHILDREN=${KAM_CHILDREN:-2}

WORK=$(mktemp -d /tmp/tfps-load.XXXXXX)
PREFIX="tfpsload:$$:"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	redis-cli -h 127.0.0.1 --scan --pattern "${PREFIX}*" | xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# cpu_ticks PID: utime+stime of a process and its reaped children, in clock ticks.
cpu_ticks() {
	awk '{print $14+$15+$16+$17}' "/proc/$1/stat"
}
# cpu_ticks_group PPID: ticks of a process and all its direct children (Kamailio workers).
cpu_ticks_group() {
	local total pid
	total=$(cpu_ticks "$1")
	for pid in $(pgrep -P "$1"); do total=$((total + $(cpu_ticks "$pid"))); done
	echo "$total"
}
HZ=$(getconf CLK_TCK)

# server_answer_totals: "sum count" of the gateway's tfps_sip_answer_seconds
# (receipt of an INVITE to its answer, measured inside the gateway); "0 0"
# for targets without it.
server_answer_totals() {
	curl -fs "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null | awk '
		/^tfps_sip_answer_seconds_sum/ { s = $2 }
		/^tfps_sip_answer_seconds_count/ { c = $2 }
		END { printf "%s %s\n", s + 0, c + 0 }' || echo "0 0"
}

# percentiles FILE: p50 p90 p99 max of sipp's rtt csv (response_time_ms in column 2).
percentiles() {
	tail -n +2 "$1" | cut -d';' -f2 | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "n/a n/a n/a n/a"; exit }
			i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
			i90 = int(NR * 0.90); if (i90 < 1) i90 = 1
			i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
			printf "%.3f %.3f %.3f %.3f\n", v[i50], v[i90], v[i99], v[NR]
		}'
}

# measure NAME TARGET PID: rising rates against TARGET, CPU read from PID's group.
measure() {
	local name=$1 target=$2 pid=$3 best=0 best_line="" clean=0 clean_line="" rate
	printf '\n== %s (%s), %ss per rate\n' "$name" "$target" "$STEP_SECONDS"
	printf '%8s %8s %7s %8s %9s %9s %9s %9s %9s %11s\n' rate calls failed retrans p50_ms p90_ms p99_ms max_ms cpu_us srv_mean_us
	for rate in $RATES; do
		local dir="$WORK/$name-$rate" calls=$((rate * STEP_SECONDS))
		mkdir -p "$dir"
		local before after srv_before srv_after
		before=$(cpu_ticks_group "$pid")
		srv_before=$(server_answer_totals)
		(cd "$dir" && sipp "$target" -sf "$OLDPWD/scripts/sipp/invite-302.xml" -i 127.0.0.1 \
			-r "$rate" -m "$calls" -l $((rate * 2 + 100)) -nostdin -timeout $((STEP_SECONDS * 3 + 30))s \
			-trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 100 -trace_err -error_file err.log \
			-trace_screen -screen_file screen.log >sipp.out 2>&1) || true
		after=$(cpu_ticks_group "$pid")
		srv_after=$(server_answer_totals)
		local succ failed retrans
		# Columns by name from the header line.
		succ=$(awk -F';' -v want='SuccessfulCall(C)' 'NR==1{for(i=1;i<=NF;i++) if($i==want) c=i; next} {v=$c} END{print v+0}' "$dir/stat.csv")
		failed=$(awk -F';' -v want='FailedCall(C)' 'NR==1{for(i=1;i<=NF;i++) if($i==want) c=i; next} {v=$c} END{print v+0}' "$dir/stat.csv")
		retrans=$(awk -F';' -v want='Retransmissions(C)' 'NR==1{for(i=1;i<=NF;i++) if($i==want) c=i; next} {v=$c} END{print v+0}' "$dir/stat.csv")
		local rtt
		rtt=$(find "$dir" -name '*_rtt.csv' | head -n1)
		local pct="n/a n/a n/a n/a"
		[ -n "$rtt" ] && pct=$(percentiles "$rtt")
		local cpu_us=$(( (after - before) * 1000000 / HZ / (succ > 0 ? succ : 1) ))
		[ "$succ" -lt "$calls" ] && failed=$((calls - succ > failed ? calls - succ : failed))
		# shellcheck disable=SC2086
		local srv_mean
		srv_mean=$(awk -v a="$srv_before" -v b="$srv_after" 'BEGIN { split(a, x, " "); split(b, y, " "); n = y[2] - x[2]; if (n > 0) printf "%.0f", (y[1] - x[1]) / n * 1e6; else print "-" }')
		printf '%8s %8s %7s %8s %9s %9s %9s %9s %9s %11s\n' "$rate" "$succ" "$failed" "$retrans" $pct "$cpu_us" "$srv_mean"
		if [ "$failed" -ne 0 ]; then
			break
		fi
		best=$rate
		best_line="rate=$rate p50/p90/p99/max_ms=${pct// //} cpu_us_per_call=$cpu_us server_mean_us=$srv_mean retrans=$retrans"
		# "Clean": no failure and retransmissions under 1% of the calls, i.e.
		# answers arrive within sipp's first 500 ms timer almost always.
		if [ $((retrans * 100)) -lt "$calls" ]; then
			clean=$rate
			clean_line=$best_line
		fi
	done
	printf 'RESULT %s: highest rate with zero failed calls: %s calls/s (%s)\n' "$name" "$best" "$best_line"
	printf 'RESULT %s: highest clean rate (zero failed, retransmissions < 1%%): %s calls/s (%s)\n' "$name" "$clean" "$clean_line"
	eval "BEST_$name=$best"
	eval "CLEAN_$name=$clean"
}

BEST_gateway=0
BEST_kamailio=0
CLEAN_gateway=0
CLEAN_kamailio=0

for target in $TARGETS; do
	case $target in
	gateway)
		log "building cmd/gateway"
		go build -o "$WORK/gateway" ./cmd/gateway
		TFPS_SIP_LISTEN=127.0.0.1:$GW_PORT TFPS_HTTP_LISTEN=127.0.0.1:$HTTP_PORT \
			TFPS_DATA_DIR="$WORK" TFPS_REDIS_PREFIX="$PREFIX" TFPS_SIP_FLOOD_LIMIT=0 \
			TFPS_SIP_ALLOW=127.0.0.0/8 TFPS_AUTHORIZE_METHOD=302 TFPS_LOG_LEVEL=warn \
			"$WORK/gateway" >"$WORK/gateway.log" 2>&1 &
		GW_PID=$!
		PIDS+=("$GW_PID")
		for _ in $(seq 100); do curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
		curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null || { cat "$WORK/gateway.log"; die "gateway did not start"; }
		# The daily quota (at most 1,000,000) bounds the calls of one run.
		curl -fsS -X POST "http://127.0.0.1:$HTTP_PORT/v1/accounts" -H 'Content-Type: application/json' \
			-d '{"user":"load","domain":"pbx.example.com","concurrent_calls":5,"concurrent_calls_off":5,"daily_quota":1000000,"daily_quota_off":1000000,"source_countries":["US"],"destination_countries":["US"]}' >/dev/null ||
			{ cat "$WORK/gateway.log"; die "could not create the load account"; }
		sleep 1 # the engine sees the new account within TFPS_CACHE_REFRESH
		measure gateway "127.0.0.1:$GW_PORT" "$GW_PID"
		kill "$GW_PID"
		wait "$GW_PID" 2>/dev/null || true
		;;
	kamailio)
		kamailio -f scripts/sipp/kamailio-redirect.cfg -DD -E -Y "$WORK" -P "$WORK/kamailio.pid" \
			-A "LISTEN=udp:127.0.0.1:$KAM_PORT" -A "CHILDREN=$KAM_CHILDREN" >"$WORK/kamailio.log" 2>&1 &
		KAM_PID=$!
		PIDS+=("$KAM_PID")
		sleep 1
		kill -0 "$KAM_PID" 2>/dev/null || { cat "$WORK/kamailio.log"; die "kamailio did not start"; }
		measure kamailio "127.0.0.1:$KAM_PORT" "$KAM_PID"
		pkill -P "$KAM_PID" 2>/dev/null || true
		kill "$KAM_PID"
		wait "$KAM_PID" 2>/dev/null || true
		;;
	*) die "unknown target $target (gateway, kamailio)" ;;
	esac
done

if [ "$BEST_kamailio" -gt 0 ] && [ "$BEST_gateway" -gt 0 ]; then
	awk -v g="$BEST_gateway" -v k="$BEST_kamailio" 'BEGIN { printf "RESULT gateway/kamailio: %.2f of the bare redirect ceiling (%d / %d calls/s, zero failed calls)\n", g / k, g, k }'
fi
if [ "$CLEAN_kamailio" -gt 0 ] && [ "$CLEAN_gateway" -gt 0 ]; then
	awk -v g="$CLEAN_gateway" -v k="$CLEAN_kamailio" 'BEGIN { printf "RESULT gateway/kamailio clean: %.2f (%d / %d calls/s, retransmissions < 1%%)\n", g / k, g, k }'
fi
