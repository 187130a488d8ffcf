# scripts/chroot.sh: shared by debian-chroot.sh and asterisk-chroot.sh (sourced, not run).
# The sourcing script sets NAME (its log prefix), DIR, MARKER, RECIPE and APT_OPTS first.

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }

# ready: the chroot is complete and was built from this RECIPE (the marker's first line).
ready() { [ -f "$MARKER" ] && [ "$(head -n 1 "$MARKER")" = "$RECIPE" ]; }

# chroot_begin WHY: exits 0 at once when the chroot is ready. Otherwise checks that
# it runs as root (WHY says what needs root), installs debootstrap on the host when
# missing and takes the lock on DIR, so that concurrent runs (two CI jobs on one
# machine) build it once; it exits 0 when a concurrent run built it meanwhile.
chroot_begin() {
	if ready; then
		log "ready: $DIR ($(sed -n 2p "$MARKER"))"
		exit 0
	fi

	if [ "$(id -u)" -ne 0 ]; then
		log "must run as root ($1)"
		exit 1
	fi

	export DEBIAN_FRONTEND=noninteractive

	if ! command -v debootstrap >/dev/null 2>&1; then
		log "installing debootstrap on the host"
		# shellcheck disable=SC2086
		apt-get $APT_OPTS update
		# shellcheck disable=SC2086
		apt-get $APT_OPTS install --no-install-recommends debootstrap
	fi

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
}

# chroot_no_services: services must never start inside the chroot during package
# installation.
chroot_no_services() {
	cat >"$DIR/usr/sbin/policy-rc.d" <<'EOT'
#!/bin/sh
exit 101
EOT
	chmod 755 "$DIR/usr/sbin/policy-rc.d"
}
