#!/usr/bin/env bash
# scripts/load-http.sh: measure POST /v1/check on loopback.
#
# Builds cmd/gateway and cmd/loadcheck, starts a throwaway gateway on a free
# 127.0.0.1 port with a temporary SQLite database (or TFPS_LOAD_DATABASE_URL)
# and a private Redis key prefix, runs the load, prints requests/s and
# latency percentiles, then stops the gateway and deletes its Redis keys.
#
#   scripts/load-http.sh                 # Go load generator: 64 clients, 10 s
#   scripts/load-http.sh -c 32 -d 20s    # flags go to cmd/loadcheck
#   LOAD_TOOL=wrk scripts/load-http.sh   # wrk (Debian package) with scripts/load-http.lua
#
# Bounded: at most 2 minutes and 5,000,000 requests per run, loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
prefix="tfpsload:$$:$(date +%s):"
gw_pid=""
cleanup() {
	[ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
	redis-cli -u "${TFPS_REDIS_URL:-redis://127.0.0.1:6379/0}" --scan --pattern "${prefix}*" 2>/dev/null |
		xargs -r -n 500 redis-cli -u "${TFPS_REDIS_URL:-redis://127.0.0.1:6379/0}" DEL >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/gateway" ./cmd/gateway
go build -o "$work/loadcheck" ./cmd/loadcheck

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
TFPS_HTTP_LISTEN="127.0.0.1:$port" \
TFPS_DATA_DIR="$work" \
TFPS_DATABASE_URL="${TFPS_LOAD_DATABASE_URL:-sqlite://$work/tfps.db}" \
TFPS_REDIS_PREFIX="$prefix" \
TFPS_SIP_LISTEN="127.0.0.1:0" \
TFPS_LOG_LEVEL=warn \
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
	wrk -t"$threads" -c"$conns" -d"$dur" --latency -s scripts/load-http.lua "$url"
else
	"$work/loadcheck" -url "$url" "$@"
fi
echo "gateway log (warnings and errors):"
tail -n 20 "$work/gateway.log"
