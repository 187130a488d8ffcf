#!/bin/sh
# package.sh: build the Debian package dist/tfps_<version>_amd64.deb: the
# binaries (tfps-gateway, tfps-ivr, tfpsctl), systemd units, an example
# /etc/tfps/tfps.conf, prompts, Grafana and Prometheus files, Asterisk
# examples and the docs. deploy/debian/nfpm.yaml lists the contents.
#
# Usage: scripts/package.sh
# Env:   VERSION   package and binary version (default: from `git describe`)
#        DIST      output directory (default dist)
#
# nfpm runs as a pinned tool (`go run nfpm@version`), outside the service's
# module: the packager's dependencies stay out of go.mod and out of the
# binaries. The binaries are static (CGO_ENABLED=0) and carry the time-zone
# database (timetzdata), so they need nothing from the target system.
set -eu

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DIST=${DIST:-dist}

log() { printf 'package: %s\n' "$*" >&2; }

# version turns `git describe` into a Debian version: v1.2.3 -> 1.2.3,
# v1.2.3-4-gabc1234 -> 1.2.3+4.gabc1234; without a tag
# 0.0.0+git<commit date>.<hash>. A changed work tree adds .dirty.
version() {
	if d=$(git describe --tags --match 'v[0-9]*' --dirty=.dirty 2>/dev/null); then
		d=${d#v}
		printf '%s\n' "$d" | sed -E 's/-([0-9]+)-g([0-9a-f]+)/+\1.g\2/'
		return
	fi
	hash=$(git rev-parse --short=12 HEAD)
	date=$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S HEAD)
	dirty=""
	if ! git diff --quiet HEAD 2>/dev/null; then
		dirty=.dirty
	fi
	printf '0.0.0+git%s.%s%s\n' "$date" "$hash" "$dirty"
}

VERSION=${VERSION:-$(version)}
case $VERSION in
[0-9]*) ;;
*)
	log "VERSION $VERSION must start with a digit (a Debian version)"
	exit 64
	;;
esac

# deploy/debian/nfpm.yaml takes the binaries from here (bin/ is not in git).
BUILD=bin/deb
rm -rf "$BUILD"
mkdir -p "$BUILD"

for bin in gateway:tfps-gateway ivr:tfps-ivr tfpsctl:tfpsctl; do
	src=${bin%%:*}
	dst=${bin#*:}
	log "go build ./cmd/$src -> $dst ($VERSION)"
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -tags timetzdata \
		-ldflags "-s -w -X github.com/voipshield/tfps/command.Version=$VERSION" \
		-o "$BUILD/$dst" "./cmd/$src"
done

mkdir -p "$DIST"
OUT="$DIST/tfps_${VERSION}_amd64.deb"
log "nfpm ($NFPM) -> $OUT"
TFPS_VERSION=$VERSION go run "$NFPM" package --config deploy/debian/nfpm.yaml --packager deb --target "$OUT" >&2
printf '%s\n' "$OUT"
