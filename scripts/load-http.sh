#!/usr/bin/env bash
# scripts/load-http.sh: measure POST /v1/check on loopback.
#
# Builds cmd/gateway and cmd/loadcheck, starts a throwaway gateway on a free
# 127.0.0.1 port with a temporary SQLite database (TFPS_LOAD_DIALECT=postgres:
# a temporary schema in the test database at TFPS_TEST_POSTGRES_URL) and a
# private Redis key prefix, runs the load, prints requests/s, latency
# percentiles and the CPU time per request of the gateway and of the load
# generator (they share this machine's cores), then stops the gateway and
# deletes its Redis keys (and schema).
#
#   scripts/load-http.sh                 # closed loop, maximum throughput: 64 clients, 10 s
#   scripts/load-http.sh -c 32 -d 20s    # flags go to cmd/loadcheck
#   scripts/load-http.sh -rate 10000 -c 32 -d 20s
#                                        # open loop at 10,000 requests/s: the latency
#                                        # figures for a target at that rate
#   LOAD_TOOL=wrk scripts/load-http.sh   # wrk (Debian package) with scripts/load-http.lua
#   TFPS_LOAD_DIALECT=postgres scripts/load-http.sh
#   GW_BIN=/tmp/gw scripts/load-http.sh  # a gateway binary built beforehand
#
# Cores: the gateway is pinned to TARGET_CPU (default 0), the load generator
# and a private redis-server (REDIS_PORT, default 25091) to GEN_CPU (default
# 1), all three at SCHED_RR priority PRIO (default 10; 0: normal priority,
# needed without root), so the generator and the other programs on the
# machine do not take the gateway's core. The script prints Redis's CPU per
# request beside the gateway's (loadcheck -pid) and the load average.
# TFPS_REDIS_URL set: that Redis instead of a private one (no Redis CPU).
#
# Bounded: at most 2 minutes and 5,000,000 requests per run, loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_CPU=${TARGET_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
PRIO=${PRIO:-10}
REDIS_PORT=${REDIS_PORT:-25091}
# pin CPU: the command prefix that runs a program on CPU at the shared priority.
pin() {
	if [ "$PRIO" -gt 0 ]; then
		echo taskset -c "$1" chrt -r "$PRIO"
	else
		echo taskset -c "$1"
	fi
}

work=$(mktemp -d)
prefix="tfpsload:$$:$(date +%s):"
gw_pid=""
redis_pid=""
redis_url=""
pg_url=${TFPS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
schema="tfpsload_$$_$(date +%s)"
dbschema=""
cleanup() {
	[ -n "$dbschema" ] && psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS $dbschema CASCADE" >/dev/null 2>&1 || true
	[ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
	if [ -n "$redis_pid" ]; then
		kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
	else
		redis-cli -u "$redis_url" --scan --pattern "${prefix}*" 2>/dev/null |
			xargs -r -n 500 redis-cli -u "$redis_url" DEL >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

redis_url=${TFPS_REDIS_URL:-}
if [ -z "$redis_url" ]; then
	# shellcheck disable=SC2046
	$(pin "$GEN_CPU") redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$work" --logfile "$work/redis.log" &
	redis_pid=$!
	redis_url="redis://127.0.0.1:$REDIS_PORT/0"
	for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if [ -n "${GW_BIN:-}" ]; then
	cp "$GW_BIN" "$work/gateway" # a build made beforehand (compare builds)
else
	go build -o "$work/gateway" ./cmd/gateway
fi
go build -o "$work/loadcheck" ./cmd/loadcheck

db_url="sqlite://$work/tfps.db"
if [ "${TFPS_LOAD_DIALECT:-sqlite}" = postgres ]; then
	psql -q "$pg_url" -c "CREATE SCHEMA $schema" >/dev/null
	dbschema=$schema
	case "$pg_url" in *\?*) db_url="$pg_url&search_path=$schema" ;; *) db_url="$pg_url?search_path=$schema" ;; esac
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
TFPS_HTTP_LISTEN="127.0.0.1:$port" \
TFPS_DATA_DIR="$work" \
TFPS_DATABASE_URL="$db_url" \
TFPS_REDIS_URL="$redis_url" \
TFPS_REDIS_PREFIX="$prefix" \
TFPS_SIP_LISTEN="127.0.0.1:0" \
TFPS_LOG_LEVEL=warn \
TFPS_PPROF_LISTEN="${TFPS_PPROF_LISTEN:-}" \
TFPS_API_TOKEN="" \
	$(pin "$TARGET_CPU") "$work/gateway" >"$work/gateway.log" 2>&1 &
gw_pid=$!

for _ in $(seq 100); do
	curl -fsS "$url/healthz" >/dev/null 2>&1 && break
	kill -0 "$gw_pid" 2>/dev/null || { cat "$work/gateway.log"; echo "gateway did not start" >&2; exit 1; }
	sleep 0.1
done
curl -fsS "$url/healthz" >/dev/null || { cat "$work/gateway.log"; exit 1; }

if [ "${LOAD_TOOL:-go}" = wrk ]; then
	command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
	# Accounts for the Lua script's requests; loadcheck creates them.
	"$work/loadcheck" -url "$url" -accounts 100 -warmup 0 -d 1s -n 1 >/dev/null
	threads=${WRK_THREADS:-2} conns=${WRK_CONNECTIONS:-64} dur=${WRK_DURATION:-10s}
	echo "wrk -t$threads -c$conns -d$dur --latency -s scripts/load-http.lua $url"
	cpu0=$(cut -d')' -f2 "/proc/$gw_pid/stat" | awk '{print $12+$13}')
	wrk -t"$threads" -c"$conns" -d"$dur" --latency -s scripts/load-http.lua "$url" | tee "$work/wrk.out"
	cpu1=$(cut -d')' -f2 "/proc/$gw_pid/stat" | awk '{print $12+$13}')
	reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
	[ -n "$reqs" ] && [ "$reqs" -gt 0 ] &&
		awk -v t=$((cpu1 - cpu0)) -v n="$reqs" 'BEGIN { printf "gateway CPU %.0f us per request (%.2f s)\n", t * 10000 / n, t / 100 }'
else
	r0=0
	[ -n "$redis_pid" ] && r0=$(awk '{print $14+$15}' "/proc/$redis_pid/stat")
	# shellcheck disable=SC2046
	$(pin "$GEN_CPU") "$work/loadcheck" -url "$url" -pid "$gw_pid" "$@" | tee "$work/loadcheck.out"
	if [ -n "$redis_pid" ]; then
		r1=$(awk '{print $14+$15}' "/proc/$redis_pid/stat")
		n=$(awk '/^requests / {print $2}' "$work/loadcheck.out")
		[ -n "$n" ] && [ "$n" -gt 0 ] &&
			awk -v t=$((r1 - r0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "redis CPU %.1f us per request\n", t * 1e6 / hz / n }'
	fi
fi
printf 'gateway on CPU %s, loadcheck and Redis on CPU %s, SCHED_RR %s; load average %s\n' "$TARGET_CPU" "$GEN_CPU" "$PRIO" "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "gateway log (warnings and errors):"
tail -n 20 "$work/gateway.log"
