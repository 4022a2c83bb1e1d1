# pglib.sh - temporary PostgreSQL clusters for the tests (POSIX sh).
#
# Sourced by tests and benchmarks that need a real PostgreSQL server:
#
#   . "${VIGIL_SOURCE_DIR:?}/tests/pg/pglib.sh"
#
# Every cluster lives in a directory DIR the caller gives (under its own
# temporary directory): DIR/data is its data directory, DIR/log its
# server log, DIR/port its port; it listens on 127.0.0.1 and on a Unix
# socket in DIR, and trusts local connections (nothing leaves loopback).
# PostgreSQL refuses to run as root: when the caller is root, initdb and
# the servers run as the postgres user (runuser), and the directories are
# given to it.
#
#   pg_bindir                       print the PostgreSQL 15+ bin directory
#   pg_free_port                    print a free TCP port on 127.0.0.1
#   pg_init DIR PORT [NAME]         initdb a primary in DIR for PORT, with
#                                   streaming replication allowed; NAME is
#                                   its cluster_name (default: the base
#                                   name of DIR)
#   pg_start DIR                    start it (waits until it accepts)
#   pg_stop DIR [MODE]              stop it (MODE: fast, immediate)
#   pg_kill DIR                     SIGKILL its postmaster (a crash)
#   pg_createdb DIR [DB] [USER]     create USER (superuser) and DB owned by
#                                   it (defaults: vigil, vigil)
#   pg_standby PRIMARY DIR PORT NAME  pg_basebackup PRIMARY into DIR as a
#                                   streaming standby with application_name
#                                   NAME, and start it
#   pg_sync PRIMARY NAME [LEVEL]    make the standby NAME synchronous on
#                                   PRIMARY (synchronous_commit = LEVEL,
#                                   default on) and wait until it is
#   pg_promote DIR                  promote the standby in DIR, wait until
#                                   it accepts writes
#   pg_psql DIR [DB] ARGS...        psql as the superuser over DIR's socket
#   pg_dsn DIR [DB]                 print a libpq DSN for DIR (TCP)
#
# Durability is real (fsync on) unless VIGIL_PG_FSYNC=off, which only
# the unit tests use.

pg_bindir() {
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && _pgb=$d
	done
	[ -n "${_pgb:-}" ] || {
		echo "pglib: no PostgreSQL server (initdb) under /usr/lib/postgresql; scripts/install-deps installs postgresql" >&2
		return 1
	}
	echo "$_pgb"
}

pg_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs a command as the cluster's owner.
_pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Makes DIR, owned by the cluster's owner; its parent must let that user
# through (the caller's temporary directory is made 0755).
_pg_mkdir() {
	mkdir -p "$1" || return 1
	chmod 0700 "$1"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$1"
	fi
}

pg_init() {
	_d=$1 _port=$2 _name=${3:-$(basename "$1")}
	_bin=$(pg_bindir) || return 1
	_pg_mkdir "$_d" || return 1
	_pg_as "$_bin/initdb" -D "$_d/data" -U postgres -A trust --no-sync \
		-E UTF8 --locale=C >"$_d/initdb.log" 2>&1 || {
		cat "$_d/initdb.log" >&2
		return 1
	}
	cat >>"$_d/data/postgresql.conf" <<EOC
listen_addresses = '127.0.0.1'
port = $_port
unix_socket_directories = '$_d'
cluster_name = '$_name'
wal_level = replica
max_wal_senders = 8
max_replication_slots = 8
hot_standby = on
wal_keep_size = 256MB
fsync = ${VIGIL_PG_FSYNC:-on}
max_connections = 200
shared_buffers = 128MB
logging_collector = off
log_min_messages = warning
EOC
	cat >"$_d/data/pg_hba.conf" <<EOC
local all all trust
host all all 127.0.0.1/32 trust
local replication all trust
host replication all 127.0.0.1/32 trust
EOC
	echo "$_port" >"$_d/port"
}

pg_start() {
	_bin=$(pg_bindir) || return 1
	_pg_as "$_bin/pg_ctl" -D "$1/data" -l "$1/log" -w -t 60 start >/dev/null || {
		cat "$1/log" >&2
		return 1
	}
}

pg_stop() {
	_bin=$(pg_bindir) || return 1
	_pg_as "$_bin/pg_ctl" -D "$1/data" -m "${2:-fast}" -w -t 60 stop >/dev/null 2>&1 || true
}

pg_kill() {
	[ -f "$1/data/postmaster.pid" ] || return 0
	_pid=$(head -n 1 "$1/data/postmaster.pid")
	kill -KILL "$_pid" 2>/dev/null || true
	# The backends die with it once they notice; wait for the socket.
	_i=0
	while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	# Orphaned backends exit on their own; make sure none still holds
	# the shared memory or writes (pkill by data directory).
	pkill -KILL -f -- "-D $1/data" 2>/dev/null || true
}

pg_psql() {
	_d=$1
	shift
	_db=postgres
	case ${1:-} in -*) ;; "") ;; *)
		_db=$1
		shift
		;;
	esac
	_pg_as psql -X -q -v ON_ERROR_STOP=1 -h "$_d" -p "$(cat "$_d/port")" \
		-U postgres -d "$_db" "$@"
}

pg_createdb() {
	_cdb=${2:-vigil} _cuser=${3:-vigil}
	pg_psql "$1" -c "CREATE ROLE $_cuser LOGIN SUPERUSER" &&
		pg_psql "$1" -c "CREATE DATABASE $_cdb OWNER $_cuser"
}

pg_dsn() {
	echo "host=127.0.0.1 port=$(cat "$1/port") dbname=${2:-vigil} user=vigil connect_timeout=2"
}

pg_standby() {
	_p=$1 _d=$2 _port=$3 _name=$4
	_bin=$(pg_bindir) || return 1
	_pg_mkdir "$_d" || return 1
	_pg_as "$_bin/pg_basebackup" -h 127.0.0.1 -p "$(cat "$_p/port")" \
		-U postgres -D "$_d/data" -X stream -R -c fast --no-sync \
		>"$_d/basebackup.log" 2>&1 || {
		cat "$_d/basebackup.log" >&2
		return 1
	}
	cat >>"$_d/data/postgresql.conf" <<EOC
port = $_port
unix_socket_directories = '$_d'
cluster_name = '$_name'
primary_conninfo = 'host=127.0.0.1 port=$(cat "$_p/port") user=postgres application_name=$_name'
EOC
	echo "$_port" >"$_d/port"
	pg_start "$_d"
}

pg_sync() {
	_p=$1 _name=$2 _lvl=${3:-on}
	pg_psql "$_p" -c "ALTER SYSTEM SET synchronous_standby_names = '$_name'" \
		-c "ALTER SYSTEM SET synchronous_commit = '$_lvl'" \
		-c "SELECT pg_reload_conf()" >/dev/null || return 1
	_i=0
	while [ $_i -lt 200 ]; do
		_s=$(pg_psql "$_p" -At -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$_name'")
		[ "$_s" = sync ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "pglib: standby $_name did not become synchronous" >&2
	return 1
}

pg_promote() {
	pg_psql "$1" -At -c "SELECT pg_promote(true, 60)" >/dev/null || return 1
	_i=0
	while [ $_i -lt 200 ]; do
		[ "$(pg_psql "$1" -At -c 'SELECT pg_is_in_recovery()')" = f ] && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}
