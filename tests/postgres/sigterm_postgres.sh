#!/usr/bin/env bash
# SIGTERM aborts PostgreSQL calls in flight within a second or two, not only
# the COPY (issue 13): the real cluster of the pg_server fixture, the
# deltaload binary.
#   1. the high-mark query blocks (a view that sleeps 30 s): SIGTERM, the
#      binary exits non-zero within 2 s and the server's statement is gone;
#   2. the connect hangs (a listener that accepts and never answers):
#      SIGTERM, the same;
#   3. the next run loads every row.
#
#   sigterm_postgres.sh DELTALOAD PLUGIN_DIR PG_DIR
set -euo pipefail
bin=$1 plugins=$2 pgdir=$3
fail() { echo "sigterm_postgres: $*" >&2; exit 1; }

port=$(cat "$pgdir/postmaster.port")
export PGHOST=$pgdir/sock PGPORT=$port PGUSER=postgres PGOPTIONS='-c client_min_messages=warning'
work=$(mktemp -d "${TMPDIR:-/tmp}/dld-sigterm-pg-XXXXXX")
listener=
cleanup() {
  [[ -n $listener ]] && kill "$listener" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
db=dld_sigterm
psql -qAtX -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
psql -qAtX -v ON_ERROR_STOP=1 -d $db \
  -c "CREATE TABLE t(id int PRIMARY KEY, v text)" \
  -c "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i" \
  -c "CREATE VIEW orders AS SELECT t.* FROM t CROSS JOIN (SELECT pg_sleep(30)) s" >/dev/null
( umask 077; printf '127.0.0.1:%s:%s:postgres:%s\n' "$port" "$db" "$(cat "$pgdir/password")" >"$work/pgpass" )

config() { # $1: port
  cat >"$work/deltaload.json" <<EOF
{"plugin_dirs": ["$plugins"],
 "source": {"plugin": "postgres", "options": {"host": "127.0.0.1", "port": $1, "dbname": "$db",
            "user": "postgres", "passfile": "$work/pgpass"}},
 "target": {"plugin": "file", "options": {"path": "lake", "format": "csv"}},
 "state": {"plugin": "sqlite", "options": {"path": "state.db"}},
 "engine": {"retries": 0},
 "tables": [{"targetTableName": "orders", "sourceSchema": "public", "sourceTable": "orders",
             "filtercolumn": "id"}]}
EOF
}

# start a run, wait until $1 says it is stuck, SIGTERM it; prints ms to exit
term_when() {
  local ready=$1 pid start end rc=0
  (cd "$work" && exec "$bin" -c deltaload.json run >"$work/out" 2>&1) &
  pid=$!
  for _ in $(seq 1 100); do
    eval "$ready" && break
    sleep 0.1
  done
  eval "$ready" || { kill -9 $pid; cat "$work/out" >&2; fail "the run never got stuck ($ready)"; }
  sleep 0.3 # well inside the blocking call
  start=$(date +%s%N)
  kill -TERM $pid
  wait $pid || rc=$?
  end=$(date +%s%N)
  echo "$rc $(((end - start) / 1000000))"
}

sleeping() { [[ $(psql -qAtX -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND query LIKE '%orders%' AND state = 'active'") -ge 1 ]]; }

# 1. a high-mark query that blocks in the server
config "$port"
read -r rc ms < <(term_when sleeping)
cat "$work/out"
[[ $rc -ne 0 ]] || fail "the interrupted run exited 0"
[[ $ms -lt 2000 ]] || fail "the run took $ms ms to end after SIGTERM (want < 2000)"
grep -q 'interrupted' "$work/out" || fail "the output does not say the run was interrupted"
sleep 0.5
! sleeping || fail "the server still runs the statement: it was not cancelled"
echo "sigterm_postgres: high-mark query: exit $rc after $ms ms"

# 2. a connect that hangs: a listener that accepts and never answers
python3 - "$work/port" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    open(sys.argv[1] + ".accepted", "w").close()
EOF
listener=$!
for _ in $(seq 1 50); do [[ -f $work/port ]] && break; sleep 0.1; done
[[ -f $work/port ]] || fail "the silent listener did not start"
config "$(cat "$work/port")"
connected() { [[ -f $work/port.accepted ]]; }
read -r rc ms < <(term_when connected)
cat "$work/out"
[[ $rc -ne 0 ]] || fail "the interrupted connect exited 0"
[[ $ms -lt 2000 ]] || fail "the run took $ms ms to end after SIGTERM during connect (want < 2000)"
echo "sigterm_postgres: connect: exit $rc after $ms ms"

# 3. the next run loads every row
psql -qAtX -v ON_ERROR_STOP=1 -d $db -c "CREATE OR REPLACE VIEW orders AS SELECT t.* FROM t" >/dev/null
config "$port"
(cd "$work" && "$bin" -c deltaload.json --json run >"$work/out" 2>"$work/err") || { cat "$work/out" "$work/err"; fail "the next run failed"; }
rows=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(t.get("rows", 0) for t in d["tables"]))' "$work/out")
[[ $rows == 100 ]] || { cat "$work/out"; fail "the next run loaded $rows rows, not 100"; }
psql -qAtX -d postgres -c "DROP DATABASE $db" >/dev/null
echo "sigterm_postgres: ok"
