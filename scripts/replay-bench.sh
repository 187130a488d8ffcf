#!/bin/sh
# Measures `gateway replay` on a generated file: replayed lines per second
# and peak memory (RSS). Needs Redis on 127.0.0.1:6379 (or TFPS_REDIS_URL).
#   sh scripts/replay-bench.sh [LINES] [ACCOUNTS] [REPLAY FLAGS...]
# e.g. sh scripts/replay-bench.sh 200000 1000 --cpuprofile /tmp/replay.prof
set -eu
LINES=${1:-1000000}
ACCOUNTS=${2:-1000}
shift $(($# < 2 ? $# : 2))
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/gateway" ./cmd/gateway
"$work/gateway" replay-sample --lines "$LINES" --accounts "$ACCOUNTS" --days 30 --seed 1 > "$work/in.jsonl"
# Settings under which the sample is mostly approved once accounts are
# onboarded: Madrid business hours, room for a PBX's traffic.
export TFPS_DATA_DIR="$work/data" TFPS_LOG_LEVEL=warn \
	TFPS_BUSINESS_HOURS='Europe/Madrid|20210104T090000|21000104T180000||WEEKLY|||MO,TU,WE,TH,FR' \
	TFPS_DEFAULT_CONCURRENT_CALLS=5 TFPS_DEFAULT_CONCURRENT_CALLS_OFF=5 \
	TFPS_DEFAULT_QUOTA=1000 TFPS_DEFAULT_QUOTA_OFF=1000 \
	TFPS_DEFAULT_SOURCE_COUNTRIES=ES,US TFPS_DEFAULT_DESTINATION_COUNTRIES=ES,GB,FR,DE,US
# Redis's own CPU, when it runs on this machine: every replayed line costs
# it a script call, so on two cores it takes a share of the throughput.
url=${TFPS_REDIS_URL:-redis://127.0.0.1:6379/0}
rpid=$(redis-cli -u "$url" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')
redis_cpu() { [ -n "$rpid" ] && [ -r "/proc/$rpid/stat" ] && awk '{print $14 + $15}' "/proc/$rpid/stat"; }
r0=$(redis_cpu || true)
/usr/bin/time -v "$work/gateway" replay --out "$work/out.jsonl" --summary-json "$work/summary.json" "$@" "$work/in.jsonl" \
	>"$work/table.txt" 2>"$work/stderr.txt" || { cat "$work/stderr.txt"; exit 1; }
r1=$(redis_cpu || true)
grep 'lines/s' "$work/stderr.txt"
grep -E 'Maximum resident set size|Elapsed \(wall|User time|System time' "$work/stderr.txt"
# CPU seconds spent, so a figure taken on a busy machine can be read too.
awk -v n="$LINES" '/User time|System time/ {cpu += $NF} END {printf "CPU %.1f s: %.0f lines per CPU second\n", cpu, n / cpu}' "$work/stderr.txt"
if [ -n "$r0" ] && [ -n "$r1" ]; then
	awk -v a="$r0" -v b="$r1" -v n="$LINES" -v hz="$(getconf CLK_TCK)" 'BEGIN {s = (b - a) / hz; printf "Redis CPU %.1f s (all its clients): %.0f us per line\n", s, s * 1e6 / n}'
fi
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "output lines: $(wc -l <"$work/out.jsonl")"
