#!/bin/sh
# asterisk-chroot.sh: provision (once) a Debian unstable chroot with Asterisk 22,
# used by the IVR end-to-end tests (package asterisktest) and for local trials.
#
# Debian 12 does not package Asterisk; Debian unstable (sid) has Asterisk 22.
# The chroot shares the host network, so Asterisk's ARI on 127.0.0.1 is reachable
# from the host.
#
# Usage: scripts/asterisk-chroot.sh            (idempotent, non-interactive)
# Env:   TFPS_ASTERISK_CHROOT  chroot directory (default /var/cache/tfps/asterisk-sid)
#        TFPS_DEBIAN_MIRROR    mirror for debootstrap (default: debootstrap's default)
#
# A complete chroot carries the marker file .tfps-asterisk-ready; with it present the
# script returns at once. Must run as root (debootstrap and chroot need it).
set -eu

NAME=asterisk-chroot
DIR=${TFPS_ASTERISK_CHROOT:-/var/cache/tfps/asterisk-sid}
MARKER="$DIR/.tfps-asterisk-ready"
# Packages inside the chroot. asterisk-core-sounds-en-gsm gives digits/ and the stock
# prompts; our own prompts are shipped as 8 kHz signed linear .wav, which Asterisk
# plays with its core format_wav module (part of the asterisk package).
# asterisk-core-sounds-es-gsm lets `digits:` media speak Spanish digits.
PACKAGES="asterisk asterisk-core-sounds-en-gsm asterisk-core-sounds-es-gsm"
# The marker's first line is the recipe; a chroot built from an older recipe is
# completed (missing packages installed) instead of rebuilt.
RECIPE="recipe=1 packages=$PACKAGES"
APT_OPTS="-o Acquire::Check-Valid-Until=false -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q"

. "$(dirname "$0")/chroot.sh"
export CI=${CI:-true}
chroot_begin "debootstrap and chroot need it"

# debootstrap leaves debootstrap/ behind when it stops half way; start over then.
if [ -d "$DIR/debootstrap" ] || { [ -d "$DIR" ] && [ ! -x "$DIR/usr/bin/apt-get" ]; }; then
	log "removing incomplete chroot $DIR"
	for m in proc dev/pts dev; do
		umount "$DIR/$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$DIR"
fi

if [ ! -x "$DIR/usr/bin/apt-get" ]; then
	log "debootstrap --variant=minbase sid $DIR ${TFPS_DEBIAN_MIRROR:-}"
	# shellcheck disable=SC2086
	debootstrap --variant=minbase sid "$DIR" ${TFPS_DEBIAN_MIRROR:-}
fi

chroot_no_services

# Name resolution for apt inside the chroot.
cp -L /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true

log "apt-get update + install $PACKAGES (inside chroot)"
# shellcheck disable=SC2086
chroot "$DIR" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS update
# shellcheck disable=SC2086
chroot "$DIR" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS install --no-install-recommends $PACKAGES
chroot "$DIR" /usr/bin/env apt-get clean

# Prove the binary runs.
VERSION=$(chroot "$DIR" /usr/sbin/asterisk -V)
log "installed: $VERSION"

# Test runs put per-run config under here (see asterisktest); world-writable with sticky bit.
mkdir -p "$DIR/tmp/tfps"
chmod 1777 "$DIR/tmp/tfps"

printf '%s\n%s built %s\n' "$RECIPE" "$VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$MARKER"
log "ready: $DIR"
