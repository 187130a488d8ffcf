#!/usr/bin/env bash
# scripts/test.sh: set up everything the test suite needs on a Debian machine,
# then run it. This is the README's test command and exactly what CI runs.
#
#   - installs (apt-get) what is missing: Redis, PostgreSQL, sipp, Kamailio,
#     espeak-ng and sox, debootstrap, Chromium (console tests), promtool and
#     systemd-analyze (deploy files); and the Asterisk 22 chroot (cached)
#   - starts Redis and PostgreSQL if they are not answering, and creates the
#     database "test"; fails loudly if they still cannot be reached
#   - gofmt, go vet, then go test ./... against the real services
#   - the state, engine and gateway tests again on a 3-master Redis Cluster
#     (scripts/redis-cluster.sh), then the fault runs' short form (scripts/faults.sh)
#
# Needs root (or sudo) for apt-get, the services and the chroot, and Go >= 1.26.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/services.sh

command -v go >/dev/null || die "Go is not installed: install Go 1.26 or newer (https://go.dev/doc/install) and put it on PATH"
ensure_packages redis-server:redis-server redis-cli:redis-tools pg_ctlcluster:postgresql psql:postgresql-client \
	sipp:sip-tester kamailio:kamailio espeak-ng:espeak-ng sox:sox debootstrap:debootstrap \
	chromium:chromium promtool:prometheus systemd-analyze:systemd
# The Kamailio guide reports call ends with http_client (no command to look for).
dpkg -s kamailio-utils-modules >/dev/null 2>&1 || {
	log "installing kamailio-utils-modules"
	$SUDO apt-get install -y -q --no-install-recommends kamailio-utils-modules
}
ensure_redis
ensure_postgres

# ---- Asterisk 22 chroot for the IVR end-to-end tests (cached) ---------------
$SUDO sh scripts/asterisk-chroot.sh

# ---- Go checks and tests ---------------------------------------------------
log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"
log "go vet"
go vet ./...
log "go test"
go test -count=1 -timeout 45m ./... "$@"

# ---- The same Redis-side tests on a real 3-master Redis Cluster -----------
log "go test on a Redis Cluster (scripts/redis-cluster.sh)"
scripts/redis-cluster.sh test 7101 -- -timeout 20m ./state/ ./engine/ ./gateway/ ./ivrservice/

# ---- Fault runs, short form ------------------------------------------------
log "fault runs (short)"
scripts/faults.sh short
