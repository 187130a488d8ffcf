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

SUITE=${TFPS_DEBIAN_SUITE:-trixie}
DIR=${TFPS_DEBIAN_CHROOT:-/var/cache/tfps/debian-$SUITE}
MARKER="$DIR/.tfps-debian-ready"
RECIPE="recipe=1 suite=$SUITE variant=minbase"
APT_OPTS="-o Acquire::Check-Valid-Until=false -y -q"

log() { printf 'debian-chroot: %s\n' "$*" >&2; }

ready() { [ -f "$MARKER" ] && [ "$(head -n 1 "$MARKER")" = "$RECIPE" ]; }

if ready; then
	log "ready: $DIR ($(sed -n 2p "$MARKER"))"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	log "must run as root (debootstrap needs it)"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

if ! command -v debootstrap >/dev/null 2>&1; then
	log "installing debootstrap on the host"
	apt-get $APT_OPTS update
	apt-get $APT_OPTS install --no-install-recommends debootstrap
fi

# Serialise concurrent runs (two CI jobs on one machine).
mkdir -p "$(dirname "$DIR")"
LOCK="$(dirname "$DIR")/.$(basename "$DIR").lock"
exec 9>"$LOCK"
if command -v flock >/dev/null 2>&1; then
	log "waiting for lock $LOCK"
	flock 9
fi
if ready; then
	log "ready: $DIR (built by a concurrent run)"
	exit 0
fi

# A half-built or older-recipe chroot is started over: it is small.
if [ -d "$DIR" ]; then
	log "removing incomplete or outdated chroot $DIR"
	rm -rf --one-file-system "$DIR"
fi

log "debootstrap --variant=minbase $SUITE $DIR ${TFPS_DEBIAN_MIRROR:-}"
# shellcheck disable=SC2086
debootstrap --variant=minbase "$SUITE" "$DIR" ${TFPS_DEBIAN_MIRROR:-}

# Services must never start inside the chroot during package installation.
cat >"$DIR/usr/sbin/policy-rc.d" <<'EOT'
#!/bin/sh
exit 101
EOT
chmod 755 "$DIR/usr/sbin/policy-rc.d"

VERSION="Debian $(cat "$DIR/etc/debian_version")"
printf '%s\n%s built %s\n' "$RECIPE" "$VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$MARKER"
log "ready: $DIR ($VERSION)"
