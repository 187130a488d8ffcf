#!/usr/bin/env bash
# scripts/run.sh: the README's run command. Installs and starts Redis if
# needed, builds the binaries into ./bin and runs the gateway in the
# foreground with ./tfps.conf when it exists (else defaults: SQLite in
# ./data, SIP on :5060, HTTP API on 127.0.0.1:8080). Ctrl-C stops it cleanly.
# Extra arguments go to the gateway, e.g. `scripts/run.sh check-config`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh

command -v go >/dev/null || die "Go is not installed: install Go 1.26 or newer (https://go.dev/doc/install) and put it on PATH"
ensure_packages redis-server:redis-server redis-cli:redis-tools
ensure_redis

log "building bin/gateway, bin/ivr, bin/tfpsctl"
mkdir -p bin
version=$(git describe --always --dirty 2>/dev/null || echo dev)
go build -ldflags "-X github.com/voipshield/tfps/command.Version=$version" -o bin/ ./cmd/...

if [ -z "${TFPS_CONFIG:-}" ] && [ -f tfps.conf ]; then
	export TFPS_CONFIG=$PWD/tfps.conf
fi
log "starting the gateway (config: ${TFPS_CONFIG:-defaults and TFPS_* environment})"
exec bin/gateway "$@"
