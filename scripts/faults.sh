#!/usr/bin/env bash
# scripts/faults.sh: the fault runs, each on the real component, printing
# their figures (lines "FIGURES ...").
#
#   scripts/faults.sh short   the CI form: every fault test once, a ~1 s SQL outage
#   scripts/faults.sh long    the same with a 60 s PostgreSQL outage under load
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
#   - Redis Cluster: scripts/redis-cluster.sh runs the state, engine and
#     gateway tests on a real 3-master cluster (test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-short}
case $mode in
short) export TFPS_FAULT_OUTAGE=${TFPS_FAULT_OUTAGE:-1s} ;;
long) export TFPS_FAULT_OUTAGE=${TFPS_FAULT_OUTAGE:-60s} ;;
*) echo "usage: $0 short|long" >&2; exit 2 ;;
esac
run() {
	local pkg=$1 pattern=$2 out
	out=$(go test -count=1 -timeout 30m -run "$pattern" -v "$pkg" 2>&1) || { printf '%s\n' "$out" >&2; echo "FAIL $pkg $pattern" >&2; return 1; }
	printf '%s\n' "$out" | grep -E -- '^(--- (PASS|FAIL)|=== RUN)|FIGURES' | grep -v '=== RUN' | sed 's/^ *//'
}
run ./engine/ 'TestPoisonRowIsQuarantined|TestSQLOutageLosesNoDecision'
run ./sipfront/ 'TestBlackholedRedisAnswersByDecideTimeout|TestTCPAcceptSurvivesEMFILE|TestTCPConnectionCaps|TestTCPDripIsClosedWhenIdle|TestInvalidBytesRepairedAtTheEdge'
run ./notify/ 'TestSlowRelayTwoWorkersEveryMailOnce'
run ./journal/ '.'
run ./ivrservice/ 'TestARIFaultDuring20Verifications'
