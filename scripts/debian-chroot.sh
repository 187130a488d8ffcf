#!/bin/sh
# debian-chroot.sh: provision (once) a clean minimal Debian chroot, the pristine
# system the package test (package deploy/debtest) installs tfps_*.deb into.
# The test never changes this directory: it mounts an overlay on top of it, so
# every run starts from the same untouched system.
#
# Usage: scripts/debian-chroot.sh            (idempotent, non-interactive)
# Env:   TFPS_DEBIAN_CHROOT  chroot directory (default /var/cache/tfps/debian-$SUITE)
#        TFPS_DEBIAN_SUITE   Debian release (default trixie, the current stable)
#        TFPS_DEBIAN_MIRROR  mirror for debootstrap (default: debootstrap's default)
#
# A complete chroot carries the marker file .tfps-debian-ready; with it present the
# script returns at once. Must run as root (debootstrap needs it).
set -eu

NAME=debian-chroot
SUITE=${TFPS_DEBIAN_SUITE:-trixie}
DIR=${TFPS_DEBIAN_CHROOT:-/var/cache/tfps/debian-$SUITE}
MARKER="$DIR/.tfps-debian-ready"
RECIPE="recipe=1 suite=$SUITE variant=minbase"
APT_OPTS="-o Acquire::Check-Valid-Until=false -y -q"

. "$(dirname "$0")/chroot.sh"
chroot_begin "debootstrap needs it"

# A half-built or older-recipe chroot is started over: it is small.
if [ -d "$DIR" ]; then
	log "removing incomplete or outdated chroot $DIR"
	rm -rf --one-file-system "$DIR"
fi

log "debootstrap --variant=minbase $SUITE $DIR ${TFPS_DEBIAN_MIRROR:-}"
# shellcheck disable=SC2086
debootstrap --variant=minbase "$SUITE" "$DIR" ${TFPS_DEBIAN_MIRROR:-}

chroot_no_services

VERSION="Debian $(cat "$DIR/etc/debian_version")"
printf '%s\n%s built %s\n' "$RECIPE" "$VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$MARKER"
log "ready: $DIR ($VERSION)"
