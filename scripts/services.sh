# scripts/services.sh: shared by run.sh and test.sh (sourced, not run).
# Installs missing Debian packages and makes sure Redis and PostgreSQL answer.

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'FATAL: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "run as root or install sudo: apt-get, services and the Asterisk chroot need root"
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# ensure_packages CMD:PACKAGE... installs each PACKAGE whose CMD is missing.
ensure_packages() {
	local need=() pair
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
	done
	if [ ${#need[@]} -gt 0 ]; then
		log "installing ${need[*]}"
		$SUDO apt-get update -q
		$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
	fi
}

# as_postgres runs a command as the postgres system user (runuser as root,
# sudo otherwise; "sudo -u" with an empty $SUDO would be no command at all).
as_postgres() {
	if [ -z "$SUDO" ]; then
		runuser -u postgres -- "$@"
	else
		sudo -u postgres "$@"
	fi
}

# ensure_redis starts Redis on 127.0.0.1:6379 unless it answers.
ensure_redis() {
	if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
		log "starting redis-server on 127.0.0.1:6379"
		$SUDO mkdir -p /var/lib/redis /var/log/redis
		$SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
			--dir /var/lib/redis --logfile /var/log/redis/ci.log
		for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
	fi
	redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || die "Redis on 127.0.0.1:6379 cannot be reached"
}

# ensure_postgres starts PostgreSQL and prepares database "test" for the tests.
ensure_postgres() {
	if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
		log "starting PostgreSQL"
		ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
		[ -n "$ver" ] || die "PostgreSQL is installed but has no cluster in /etc/postgresql"
		$SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
		for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
	fi
	pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL on 127.0.0.1:5432 cannot be reached"
	if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
		log "preparing PostgreSQL: trust auth on loopback and database \"test\""
		# A stock install asks for passwords on TCP; the tests use trust auth on loopback only.
		hba=$(as_postgres psql -tAc 'show hba_file' 2>/dev/null || true)
		if [ -n "$hba" ] && ! $SUDO grep -q "tfps-tests" "$hba"; then
			$SUDO sed -i '1i host all all 127.0.0.1/32 trust # tfps-tests\nhost all all ::1/128 trust # tfps-tests' "$hba"
			as_postgres psql -qc 'select pg_reload_conf()' >/dev/null
		fi
		as_postgres createdb test 2>/dev/null || true
	fi
	psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1 || die "PostgreSQL database \"test\" (user postgres, trust auth) cannot be reached on 127.0.0.1:5432"
}

