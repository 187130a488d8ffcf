#!/usr/bin/env bash
# scripts/redis-cluster.sh: a real 3-master Redis Cluster on loopback, from
# Debian's redis-server, for the tests that must pass on a cluster too.
#
#   scripts/redis-cluster.sh start [BASEPORT]   start nodes BASEPORT..+2 (default 7101),
#                                               create the cluster, print the test variables
#   scripts/redis-cluster.sh stop [BASEPORT]    stop them and remove their files
#   scripts/redis-cluster.sh test [BASEPORT] -- go test args...
#                                               start, run go test with the variables, stop
#
# The nodes keep no data on disk (no RDB, no AOF) and live in a temp folder.
set -euo pipefail
cmd=${1:-start}
base=${2:-7101}
dir=${TMPDIR:-/tmp}/tfps-redis-cluster-$base
ports=("$base" $((base + 1)) $((base + 2)))

start() {
	mkdir -p "$dir"
	for p in "${ports[@]}"; do
		if redis-cli -p "$p" ping >/dev/null 2>&1; then
			continue
		fi
		rm -f "$dir/nodes-$p.conf"
		redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$dir/nodes-$p.conf" \
			--cluster-node-timeout 2000 --save '' --appendonly no --dir "$dir" --daemonize yes \
			--pidfile "$dir/redis-$p.pid" --logfile "$dir/redis-$p.log"
	done
	for p in "${ports[@]}"; do
		for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
	done
	if ! redis-cli -p "$base" cluster info | grep -q 'cluster_state:ok'; then
		redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$dir/create.log"
		for _ in $(seq 100); do
			redis-cli -p "$base" cluster info | grep -q 'cluster_state:ok' && break
			sleep 0.1
		done
	fi
	redis-cli -p "$base" cluster info | grep -q 'cluster_state:ok' || { echo "cluster did not form: see $dir" >&2; exit 1; }
	echo "TFPS_TEST_REDIS_CLUSTER=on"
	echo "TFPS_TEST_REDIS_URL=redis://127.0.0.1:$base?addr=127.0.0.1:$((base + 1))&addr=127.0.0.1:$((base + 2))"
}

stop() {
	for p in "${ports[@]}"; do
		redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
	done
	rm -rf "$dir"
}

case $cmd in
start) start ;;
stop) stop ;;
test)
	shift 2 || true
	[ "${1:-}" = "--" ] && shift
	trap stop EXIT
	vars=$(start)
	export $vars
	go test -count=1 "$@"
	;;
*) echo "usage: $0 start|stop|test [BASEPORT] [-- go test args]" >&2; exit 2 ;;
esac
