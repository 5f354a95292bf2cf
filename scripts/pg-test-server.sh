#!/usr/bin/env bash
# pg-test-server.sh: a throwaway PostgreSQL server for the store tests.
#
#   scripts/pg-test-server.sh [start] [DIR]   start (or reuse) a server in DIR
#   scripts/pg-test-server.sh stop [DIR]      stop it
#
# DIR defaults to /tmp/ekbom-pg. Start prints one line on stdout,
#
#   export EKBOM_TEST_POSTGRES_DSN=postgres://USER@127.0.0.1:PORT/ekbom_test?sslmode=disable
#
# so CI can run:  eval "$(scripts/pg-test-server.sh)"  and then go test ./...
# Everything else goes to stderr.
#
# The server is for tests only: it listens on 127.0.0.1 alone, trusts every
# local connection (no password), and runs with fsync off, so a crash of the
# machine may lose its data. Never point it at anything you want to keep.
#
# If the PostgreSQL server binaries are missing and the script runs as root,
# it installs Debian's postgresql package (apt-get, --no-install-recommends).
# initdb refuses to run as root, so as root the cluster belongs to the user
# postgres if it exists, else to a system user ekbomtest created here.
#
# Environment: EKBOM_PG_PORT, the port to try first (default 54329; the next
# free one is used if it is taken by something else).
set -euo pipefail

# runuser and useradd live in sbin, which a non-login root shell may lack.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

log() { echo "pg-test-server: $*" >&2; }
die() { log "$*"; exit 1; }

cmd=start
case "${1:-}" in
start | stop) cmd=$1; shift ;;
-h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 0 ;;
esac
dir=${1:-/tmp/ekbom-pg}
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
data="$dir/data"
db=ekbom_test

# bindir finds the directory holding initdb and pg_ctl: PATH first, then the
# newest /usr/lib/postgresql/N/bin.
bindir() {
	local d
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		d=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
		[ -x "$d/initdb" ] && { echo "$d"; return 0; }
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# as runs a command as the cluster's owner (directly when not root).
as() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u "$owner" -- "$@"
	else
		su -s /bin/sh "$owner" -c "$(printf '%q ' "$@")"
	fi
}

# running_port prints the port of the server running on $data, if any; the
# postmaster writes it on line 4 of postmaster.pid.
running_port() {
	as "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 1
	sed -n 4p "$data/postmaster.pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ "$cmd" = stop ]; then
	[ -f "$data/PG_VERSION" ] || { log "no cluster in $dir"; exit 0; }
	bin=$(bindir) || die "pg_ctl not found"
	owner=$(stat -c %U "$data")
	if running_port >/dev/null; then
		as "$bin/pg_ctl" -D "$data" -m fast -w stop >&2
	else
		log "server in $dir is not running"
	fi
	exit 0
fi

# 1. Server binaries.
if ! bin=$(bindir); then
	[ "$(id -u)" -eq 0 ] || die "PostgreSQL server binaries not found; install them (Debian: apt-get install postgresql) or run as root"
	log "installing PostgreSQL (apt-get)"
	# Do not let the package create and start its own cluster on port 5432.
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		mkdir -p /etc/postgresql-common
		echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends postgresql >&2
	bin=$(bindir) || die "PostgreSQL installed but initdb/pg_ctl not found"
fi
psql=$bin/psql
[ -x "$psql" ] || psql=$(command -v psql) || die "psql not found"

# 2. The unprivileged owner.
if [ "$(id -u)" -eq 0 ]; then
	if [ -f "$data/PG_VERSION" ]; then
		owner=$(stat -c %U "$data")
	elif id postgres >/dev/null 2>&1; then
		owner=postgres
	else
		if ! id ekbomtest >/dev/null 2>&1; then
			log "creating system user ekbomtest"
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ekbomtest
		fi
		owner=ekbomtest
	fi
else
	owner=$(id -un)
fi

mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then
	chown "$owner" "$dir"
	chmod 0700 "$dir"
fi

# 3. The cluster.
if [ ! -f "$data/PG_VERSION" ]; then
	log "initdb $data (owner $owner, $("$bin/pg_ctl" --version))"
	as "$bin/initdb" -D "$data" -U "$owner" --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
	cat >"$data/pg_hba.conf" <<-EOF
		# Test cluster: trust local connections only.
		local all all trust
		host  all all 127.0.0.1/32 trust
	EOF
	# Settings are rewritten at every start into ekbom-test.conf.
	echo "include_if_exists = 'ekbom-test.conf'" >>"$data/postgresql.conf"
	chown "$owner" "$data/pg_hba.conf" 2>/dev/null || true
fi

# 4. Start it, or reuse the running one.
if port=$(running_port) && [ -n "$port" ]; then
	log "reusing the server running in $dir on port $port"
else
	port=${EKBOM_PG_PORT:-54329}
	while port_in_use "$port"; do
		port=$((port + 1))
		[ "$port" -lt "$((${EKBOM_PG_PORT:-54329} + 100))" ] || die "no free port near ${EKBOM_PG_PORT:-54329}"
	done
	cat >"$data/ekbom-test.conf" <<-EOF
		# Written by scripts/pg-test-server.sh: a throwaway test server.
		listen_addresses = '127.0.0.1'
		port = $port
		unix_socket_directories = '$dir'
		max_connections = 200
		fsync = off
		synchronous_commit = off
		full_page_writes = off
	EOF
	chown "$owner" "$data/ekbom-test.conf" 2>/dev/null || true
	log "starting PostgreSQL on 127.0.0.1:$port"
	as "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >&2 ||
		{ tail -n 30 "$dir/server.log" >&2 || true; die "pg_ctl start failed"; }
fi

# 5. The test database.
q() { "$psql" -X -q -h 127.0.0.1 -p "$port" -U "$owner" -d postgres -v ON_ERROR_STOP=1 -tAc "$1"; }
if [ "$(q "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
	q "CREATE DATABASE $db" >&2
	log "created database $db"
fi

echo "export EKBOM_TEST_POSTGRES_DSN=postgres://$owner@127.0.0.1:$port/$db?sslmode=disable"
