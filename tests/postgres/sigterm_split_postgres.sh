#!/usr/bin/env bash
# SIGTERM during a window split over 4 connections (option parallel): the
# real cluster of the pg_server fixture, the deltaload binary.
#   1. the run is stopped while its 4 COPYs are running (a row-level
#      security policy, for a reader role that is not a superuser, sleeps
#      0.5 ms per row in a COPY only: the COPYs run for seconds, whatever
#      the machine): it exits 130 within 2 s and no backend of the run is
#      left on the server;
#   2. the next run loads every row, once; the run after it loads nothing.
#
#   sigterm_split_postgres.sh DELTALOAD PLUGIN_DIR PG_DIR
set -euo pipefail
bin=$1 plugins=$2 pgdir=$3
fail() { echo "sigterm_split_postgres: $*" >&2; exit 1; }

port=$(cat "$pgdir/postmaster.port")
export PGHOST=$pgdir/sock PGPORT=$port PGUSER=postgres PGOPTIONS='-c client_min_messages=warning'
work=$(mktemp -d "${TMPDIR:-/tmp}/dld-sigterm-split-XXXXXX")
pid=
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
db=dld_sigterm_split
rows=20000
role=dld_split_reader
secret=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
psql -qAtX -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS $role" \
  -c "CREATE DATABASE $db" -c "CREATE ROLE $role LOGIN PASSWORD '$secret'" >/dev/null
psql -qAtX -v ON_ERROR_STOP=1 -d $db \
  -c "CREATE TABLE t(id int PRIMARY KEY, v text)" \
  -c "INSERT INTO t SELECT i, repeat(md5(i::text), 3) FROM generate_series(1, $rows) i" \
  -c "VACUUM ANALYZE t" -c "GRANT SELECT ON t TO $role" -c "ALTER TABLE t ENABLE ROW LEVEL SECURITY" \
  -c "CREATE POLICY slow_copy ON t FOR SELECT TO $role
      USING (CASE WHEN current_query() LIKE 'COPY%' THEN pg_sleep(0.0005) IS NOT NULL ELSE true END)" >/dev/null
( umask 077; printf '127.0.0.1:%s:%s:%s:%s\n' "$port" "$db" "$role" "$secret" >"$work/pgpass" )

cat >"$work/deltaload.json" <<EOF
{"plugin_dirs": ["$plugins"],
 "source": {"plugin": "postgres", "options": {"host": "127.0.0.1", "port": $port, "dbname": "$db",
            "user": "$role", "passfile": "$work/pgpass", "application_name": "dld_split_sig",
            "parallel": 4, "split_min_rows": 1}},
 "target": {"plugin": "file", "options": {"path": "lake", "format": "csv"}},
 "state": {"plugin": "sqlite", "options": {"path": "state.db"}},
 "engine": {"retries": 0},
 "tables": [{"targetTableName": "t", "sourceSchema": "public", "sourceTable": "t", "filtercolumn": "id"}]}
EOF
backends() { psql -qAtX -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dld_split_sig'$1"; }

# 1. SIGTERM while the four ranges' COPYs run
(cd "$work" && exec "$bin" -c deltaload.json run >"$work/out" 2>&1) &
pid=$!
# the 4 ranges' COPYs running (each sleeps through its rows)
seen=0
for _ in $(seq 1 200); do
  [[ $(backends " AND state = 'active' AND query LIKE 'COPY %ctid%'") == 4 ]] && { seen=1; break; }
  sleep 0.02
done
(( seen )) || { kill -9 $pid; cat "$work/out" >&2; fail "the run never had 4 COPYs started"; }
start=$(date +%s%N)
kill -TERM $pid
rc=0
wait $pid || rc=$?
pid=
ms=$((($(date +%s%N) - start) / 1000000))
cat "$work/out"
[[ $rc -eq 130 ]] || fail "the interrupted run exited $rc, not 130"
[[ $ms -lt 2000 ]] || fail "the run took $ms ms to end after SIGTERM (want < 2000)"
for _ in $(seq 1 20); do [[ $(backends "") == 0 ]] && break; sleep 0.05; done
[[ $(backends "") == 0 ]] || fail "backends of the run are left on the server"
echo "sigterm_split_postgres: split COPY: exit $rc after $ms ms, no backend left"

# 2. the next run (the policy dropped) loads every row once, the one after nothing
psql -qAtX -v ON_ERROR_STOP=1 -d $db -c "DROP POLICY slow_copy ON t" -c "CREATE POLICY all_rows ON t FOR SELECT TO $role USING (true)" >/dev/null
loaded() {
  (cd "$work" && "$bin" -c deltaload.json --json run >"$work/out" 2>"$work/err") || { cat "$work/out" "$work/err"; fail "a run failed"; }
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(t.get("rows", 0) for t in d["tables"]))' "$work/out"
}
n=$(loaded)
[[ $n == "$rows" ]] || fail "the next run loaded $n rows, not $rows"
n=$(find "$work/lake" -name '*.csv' -exec cat {} + | grep -c '^[0-9]' || true)
[[ $n == "$rows" ]] || fail "the lake holds $n rows, not $rows"
n=$(loaded)
[[ $n == 0 ]] || fail "the run after loaded $n rows, not 0"
psql -qAtX -d postgres -c "DROP DATABASE $db" -c "DROP ROLE $role" >/dev/null
echo "sigterm_split_postgres: ok"
