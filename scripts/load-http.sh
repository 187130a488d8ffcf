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
#
# Bounded: at most 2 minutes and 5,000,000 requests per run, loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
prefix="tfpsload:$$:$(date +%s):"
gw_pid=""
pg_url=${TFPS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
schema="tfpsload_$$_$(date +%s)"
dbschema=""
cleanup() {
	[ -n "$dbschema" ] && psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS $dbschema CASCADE" >/dev/null 2>&1 || true
	[ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
	redis-cli -u "${TFPS_REDIS_URL:-redis://127.0.0.1:6379/0}" --scan --pattern "${prefix}*" 2>/dev/null |
		xargs -r -n 500 redis-cli -u "${TFPS_REDIS_URL:-redis://127.0.0.1:6379/0}" DEL >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/gateway" ./cmd/gateway
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
TFPS_REDIS_PREFIX="$prefix" \
TFPS_SIP_LISTEN="127.0.0.1:0" \
TFPS_LOG_LEVEL=warn \
TFPS_PPROF_LISTEN="${TFPS_PPROF_LISTEN:-}" \
TFPS_API_TOKEN="" \
	"$work/gateway" >"$work/gateway.log" 2>&1 &
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
	"$work/loadcheck" -url "$url" -pid "$gw_pid" "$@"
fi
echo "gateway log (warnings and errors):"
tail -n 20 "$work/gateway.log"
