#!/usr/bin/env bash
# postgres.sh — a REAL PostgreSQL server (Debian's packages) for caesar-gateway's tests and for
# trying the multi-instance deployment locally. Runs as root, without systemd: a cluster of its
# own in $STATE_DIR/data, started with pg_ctl as the postgres user, listening on 127.0.0.1 only,
# on a port of its own (Debian's default cluster, if any, is left alone).
#
# Usage:
#   postgres.sh up             install what is missing, initialise, start (idempotent; fast when up),
#                              create the test role and database, write the connection URL file
#   postgres.sh down [--wipe]  stop the server; --wipe also deletes its data directory
#   postgres.sh status         exit 0 when the server answers, and print the URL file's path
#
# The URL file ($STATE_DIR/url) holds postgres://ROLE:PASSWORD@127.0.0.1:PORT/DATABASE. The role
# may create databases: the tests make a fresh database per test gateway and drop it afterwards.
#
# Environment:
#   CAESAR_POSTGRES_STATE_DIR  [/var/lib/caesar-gateway/postgres]
#   CAESAR_POSTGRES_PORT       [5433]
set -Eeuo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

# shellcheck source=lib/apt-install.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"

STATE_DIR=${CAESAR_POSTGRES_STATE_DIR:-/var/lib/caesar-gateway/postgres}
PORT=${CAESAR_POSTGRES_PORT:-5433}
DATA=$STATE_DIR/data
RUN_DIR=$STATE_DIR/run          # unix socket and nothing else
LOGFILE=$STATE_DIR/postgres.log
URL_FILE=$STATE_DIR/url
PASSWORD_FILE=$STATE_DIR/password
ROLE=caesar_test
DATABASE=caesar_test

T0=$(date +%s%N)
ACTION=${1:-}
log() { printf '[postgres %s +%6dms] %s\n' "$ACTION" $(( ($(date +%s%N) - T0) / 1000000 )) "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }
trap 'die "command failed (line $LINENO, exit $?): $BASH_COMMAND"' ERR

as_postgres() { runuser -u postgres -- "$@"; }
bin_dir() {   # the newest installed server version's binaries
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] || return 1
  echo "$d"
}
ready() { as_postgres "$BIN/pg_isready" -q -h "$RUN_DIR" -p "$PORT"; }
running() { [ -f "$DATA/postmaster.pid" ] && as_postgres "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }
psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$PORT" -d postgres "$@"; }

install_packages() {
  if dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q 'install ok installed' && bin_dir >/dev/null; then
    return 0
  fi
  log "installing postgresql"
  # Debian's default cluster stays stopped: this script starts a cluster of its own
  apt_install_no_start /tmp/caesar-postgres-apt.log postgresql || die "could not install postgresql"
  log "installed postgresql"
}

init_cluster() {
  install -d -m 755 -o postgres -g postgres "$STATE_DIR"
  install -d -m 755 -o postgres -g postgres "$RUN_DIR"
  if [ -f "$DATA/PG_VERSION" ]; then return 0; fi
  rm -rf "$DATA"
  # C collation: byte order, the order SQLite uses for the gateway's ISO timestamps and ids.
  as_postgres "$BIN/initdb" -D "$DATA" -U postgres --encoding=UTF8 --locale=C \
    --auth-local=peer --auth-host=scram-sha-256 >"$STATE_DIR/initdb.log" 2>&1 \
    || { tail -n 20 "$STATE_DIR/initdb.log" >&2; die "initdb failed"; }
  log "initialised $DATA"
}

start_server() {
  if running && ready; then return 0; fi
  # A test server: durability is not wanted, speed is (CREATE/DROP DATABASE per test gateway).
  as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$RUN_DIR \
     -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null \
    || { tail -n 20 "$LOGFILE" >&2; die "pg_ctl start failed"; }
  local i
  for ((i = 0; i < 100; i++)); do ready && break; sleep 0.1; done
  ready || { tail -n 20 "$LOGFILE" >&2; die "server on 127.0.0.1:$PORT does not answer"; }
  log "started PostgreSQL on 127.0.0.1:$PORT (log: $LOGFILE)"
}

ensure_role_and_database() {
  local password url
  if [ ! -s "$PASSWORD_FILE" ]; then
    head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PASSWORD_FILE"
    chmod 600 "$PASSWORD_FILE"
  fi
  password=$(cat "$PASSWORD_FILE")
  url="postgres://$ROLE:$password@127.0.0.1:$PORT/$DATABASE"
  # Fast path: the URL file is current and the role can log in with it over TCP.
  if [ -f "$URL_FILE" ] && [ "$(cat "$URL_FILE")" = "$url" ] \
     && PGPASSWORD=$password psql -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$DATABASE" -c 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  psql_admin -v role="$ROLE" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password') \gexec
SQL
  psql_admin -v role="$ROLE" -v db="$DATABASE" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
  printf '%s' "$url" >"$URL_FILE.tmp"
  chmod 600 "$URL_FILE.tmp"
  mv -f "$URL_FILE.tmp" "$URL_FILE"
  log "role $ROLE and database $DATABASE ready; URL in $URL_FILE"
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "run as root"
  install_packages
  BIN=$(bin_dir) || die "no PostgreSQL server binaries under /usr/lib/postgresql"
  init_cluster
  start_server
  ensure_role_and_database
  log "UP: $URL_FILE"
}

cmd_down() {
  local wipe=0
  [ "${1:-}" != --wipe ] || wipe=1
  if BIN=$(bin_dir) && running; then
    as_postgres "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    log "stopped PostgreSQL on port $PORT"
  else
    log "not running"
  fi
  if [ $wipe = 1 ]; then
    rm -rf "$DATA" "$URL_FILE" "$PASSWORD_FILE"
    log "wiped $DATA"
  fi
}

cmd_status() {
  if BIN=$(bin_dir) && running && ready; then
    echo "PostgreSQL up on 127.0.0.1:$PORT; URL file: $URL_FILE"
    exit 0
  fi
  echo "PostgreSQL (port $PORT) is not running"
  exit 1
}

case $ACTION in
  up) cmd_up ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  *) echo "usage: $0 up | down [--wipe] | status" >&2; exit 2 ;;
esac
