#!/usr/bin/env bash
# scripts/faults.sh: the fault runs, each on the real component, printing
# their figures (lines "FIGURES ...").
#
#   scripts/faults.sh short   the CI form: every fault test once, a ~1 s SQL outage,
#                             a 30 s SIP soak, the fuzz targets' seeds
#   scripts/faults.sh long    the same with 60 s PostgreSQL and Redis outages under
#                             load, a 30 min soak, and 10 min of each fuzz target
#
# What each run does:
#   - poison row: a NUL byte in a decision's field on PostgreSQL; the rows
#     around it are logged, the row is quarantined (engine TestPoisonRow...)
#   - SQL outage: PostgreSQL behind a proxy that is cut under load, then
#     restored; every decision logged once, in order (engine TestSQLOutage...)
#   - blackholed Redis: a proxy that stops forwarding; every INVITE answered
#     with the error policy by the decide timeout, OPTIONS meanwhile
#     (sipfront TestBlackholedRedis...)
#   - TCP: EMFILE from accept, connection caps, a dripping connection
#     (sipfront TestTCP...)
#   - outbox: two workers behind a slow SMTP relay, every mail once
#     (notify TestSlowRelay...)
#   - ARI: Asterisk killed and restarted, and the IVR's event websocket
#     cut, each during 20 verifications; the cut-off callers use their
#     tickets again (ivrservice TestARIFaultDuring20Verifications)
#   - decision journal: an engine abandoned before its batch was written
#     loses no answered decision (engine TestKilledEngine...)
#   - the gateway binary as a child process under SIP load (gateway
#     TestGatewaySIGKILL..., TestRedisKilled..., TestPostgresStopped...,
#     TestSoak...): SIGKILLed and restarted, every answered INVITE in the
#     log by Call-ID; its own redis-server killed and restarted, R19 while
#     down and normal answers within 1 s of its return, goroutines and live
#     heap at rest before and after; PostgreSQL cut by a proxy, every
#     answered INVITE logged; a soak at half the measured clean rate, RSS
#     and goroutines at start and end
#   - SMTP relay down for a simulated hour, two workers, every mail once
#     (notify TestRelayDownAnHour...)
#   - fuzzing: the whole SIP front (sipfront FuzzDatagram) and /v1/check
#     bodies (api FuzzCheckBody); seeds in testdata/fuzz
#   - Redis Cluster: scripts/redis-cluster.sh runs the state, engine and
#     gateway tests on a real 3-master cluster (test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-short}
case $mode in
short)
	export TFPS_FAULT_OUTAGE=${TFPS_FAULT_OUTAGE:-1s}
	export TFPS_FAULT_SOAK=${TFPS_FAULT_SOAK:-30s}
	;;
long)
	export TFPS_FAULT_OUTAGE=${TFPS_FAULT_OUTAGE:-60s}
	export TFPS_FAULT_REDIS_DOWN=${TFPS_FAULT_REDIS_DOWN:-60s}
	export TFPS_FAULT_SOAK=${TFPS_FAULT_SOAK:-30m} TFPS_FAULT_SOAK_STRICT=${TFPS_FAULT_SOAK_STRICT:-1}
	;;
*) echo "usage: $0 short|long" >&2; exit 2 ;;
esac
run() {
	local pkg=$1 pattern=$2 out
	out=$(go test -count=1 -timeout 60m -run "$pattern" -v "$pkg" 2>&1) || { printf '%s\n' "$out" >&2; echo "FAIL $pkg $pattern" >&2; return 1; }
	printf '%s\n' "$out" | grep -E -- '^(--- (PASS|FAIL)|=== RUN)|FIGURES' | grep -v '=== RUN' | sed 's/^ *//'
}
run ./engine/ 'TestPoisonRowIsQuarantined|TestSQLOutageLosesNoDecision'
run ./sipfront/ 'TestBlackholedRedisAnswersByDecideTimeout|TestTCPAcceptSurvivesEMFILE|TestTCPConnectionCaps|TestTCPDripIsClosedWhenIdle|TestInvalidBytesRepairedAtTheEdge'
run ./notify/ 'TestSlowRelayTwoWorkersEveryMailOnce'
run ./journal/ '.'
run ./ivrservice/ 'TestARIFaultDuring20Verifications'
run ./engine/ 'TestKilledEngineLosesNoAnsweredDecision'
run ./gateway/ 'TestGatewaySIGKILLLosesNoAnsweredDecision|TestRedisKilledAndRestartedUnderSIPLoad|TestPostgresStoppedUnderSIPLoad'
run ./gateway/ 'TestSoakAtHalfTheCleanRate'
run ./notify/ 'TestRelayDownAnHourTwoWorkersEveryMailOnce'
run ./sipfront/ 'FuzzDatagram|TestFuzzHarnessSeesAnswers'
run ./api/ 'FuzzCheckBody'
if [ "$mode" = long ]; then
	for target in ./sipfront/:FuzzDatagram ./api/:FuzzCheckBody; do
		pkg=${target%%:*} name=${target#*:}
		out=$(go test -timeout 15m -run '^$' -fuzz "^$name\$" -fuzztime 10m -parallel 1 "$pkg" 2>&1) || { printf '%s\n' "$out" >&2; echo "FAIL $pkg $name" >&2; exit 1; }
		echo "FIGURES fuzz $name: $(printf '%s\n' "$out" | grep -E '^fuzz: elapsed' | tail -n 1)"
	done
fi
