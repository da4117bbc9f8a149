#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and benchmarks.
#
#   pg.sh start DIR   initdb + start on a free loopback port; writes DIR/conninfo
#                     (TCP, password auth) and DIR/env (for sourcing);
#                     PG_XID_EPOCH=N starts the xid counter in epoch N (pg_resetwal -e)
#   pg.sh restart DIR restart the server in place (fast shutdown: sessions are cut)
#   pg.sh stop DIR    stop the server and remove DIR
#   pg.sh env DIR     print the shell exports of DIR/env
#
# initdb and postgres refuse to run as root: as root they run as the
# `postgres` user (runuser), which then owns DIR. TCP connections use
# scram-sha-256 with a random password (written to DIR/password, mode 600);
# the socket in DIR/sock trusts local users, for administration by psql.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start|stop|env DIR" >&2; exit 2; }

bindir=${PG_BINDIR:-}
if [[ -z $bindir ]]; then
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb ]] && { bindir=$d; break; }
  done
fi
[[ -x $bindir/initdb ]] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql-15)" >&2; exit 1; }

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "pg.sh: no free port found" >&2; return 1
}

case $cmd in
start)
  if [[ -f $dir/postmaster.port ]] && as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "pg.sh: already running in $dir"; exit 0
  fi
  rm -rf "$dir"
  mkdir -p "$dir/sock"
  [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$dir"
  chmod 700 "$dir"
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' )
  pwfile=$(mktemp)
  printf '%s\n' "$password" > "$pwfile"
  [[ $(id -u) -eq 0 ]] && chown postgres "$pwfile"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; rm -f "$pwfile"; exit 1; }
  rm -f "$pwfile"
  if [[ -n ${PG_XID_EPOCH:-} ]]; then
    # start the transaction-id counter in a later epoch (xid8 = epoch << 32 | xid),
    # so commit-order windows are tested with 64-bit ids above 2^32
    as_owner "$bindir/pg_resetwal" -e "$PG_XID_EPOCH" "$dir/data" >>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  port=$(free_port)
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
shared_buffers = 128MB
CONF
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "$port" > "$dir/postmaster.port"
  ( umask 077
    printf '%s\n' "$password" > "$dir/password"
    printf 'host=127.0.0.1 port=%s user=postgres dbname=postgres\n' "$port" > "$dir/conninfo"
    printf 'export PGHOST=%q PGPORT=%s PGUSER=postgres PGDATABASE=postgres\n' "$dir/sock" "$port" > "$dir/env" )
  [[ $(id -u) -eq 0 ]] && chown postgres "$dir/postmaster.port" "$dir/password" "$dir/conninfo" "$dir/env"
  chmod 644 "$dir/conninfo" "$dir/env" "$dir/postmaster.port"
  echo "pg.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (socket $dir/sock)"
  ;;
restart)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
  ;;
stop)
  if [[ -d $dir/data ]]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
env)
  cat "$dir/env"
  ;;
*)
  echo "usage: $0 start|stop|restart|env DIR" >&2; exit 2 ;;
esac
