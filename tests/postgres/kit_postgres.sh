#!/usr/bin/env bash
# The conformance kit against the PostgreSQL source on the real cluster of
# the pg_server fixture (tests/servers/pg.sh): the fixture table is created
# from `deltaload plugins check --fixture postgres`, then the kit runs every
# source test on it (windows, operators, types, cancellation) through TCP
# with a password file, as an author would.
#
#   kit_postgres.sh DELTALOAD PLUGIN_DIR PG_DIR [slow|split]
# slow: only the interrupt tests on a view that sleeps (--slow-table): the
# source must give up a statement in flight within 2 s of the interrupt.
# split: every test with `"parallel": 4, "split_min_rows": 0`, the fixture
# spread over many heap blocks (fillfactor 10), so every window is read
# over 4 connections sharing one snapshot.
set -euo pipefail
bin=$1 plugins=$2 pgdir=$3 mode=${4:-}
fail() { echo "kit_postgres: $*" >&2; exit 1; }

port=$(cat "$pgdir/postmaster.port")
export PGHOST=$pgdir/sock PGPORT=$port PGUSER=postgres PGOPTIONS='-c client_min_messages=warning'
work=$(mktemp -d "${TMPDIR:-/tmp}/dld-kit-pg-XXXXXX")
trap 'rm -rf "$work"' EXIT
db=dld_kit
psql -qAtX -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
"$bin" plugins check --fixture postgres >"$work/fixture.sql"
psql -qAtX -v ON_ERROR_STOP=1 -d $db -f "$work/fixture.sql" >/dev/null
[[ $(psql -qAtX -d $db -c "SELECT count(*) FROM kit_t") == 120 ]] || fail "the fixture did not load"

( umask 077; printf '127.0.0.1:%s:%s:postgres:%s\n' "$port" "$db" "$(cat "$pgdir/password")" >"$work/pgpass" )
extra=
if [[ $mode == split ]]; then
  extra=', "parallel": 4, "split_min_rows": 0'
  psql -qAtX -v ON_ERROR_STOP=1 -d $db -c "ALTER TABLE kit_t SET (fillfactor = 10)" -c "VACUUM FULL kit_t" \
    -c "ANALYZE kit_t" >/dev/null
  blocks=$(psql -qAtX -d $db -c "SELECT pg_relation_size('kit_t') / current_setting('block_size')::int")
  (( blocks >= 4 )) || fail "kit_t has $blocks heap blocks: too few to split in 4"
fi
opts=$(printf '{"host": "127.0.0.1", "port": %s, "dbname": "%s", "user": "postgres", "passfile": "%s"%s}' \
  "$port" "$db" "$work/pgpass" "$extra")
so=$plugins/dld-source-postgres.so
if [[ $mode == slow ]]; then
  psql -qAtX -v ON_ERROR_STOP=1 -d $db -c "CREATE VIEW kit_slow AS SELECT t.* FROM kit_t t CROSS JOIN (SELECT pg_sleep(3)) s" >/dev/null
  rc=0
  "$bin" plugins check "$so" --options "$opts" --table kit_t --schema public --slow-table kit_slow >"$work/out" 2>&1 || rc=$?
  cat "$work/out"
  for t in 'interrupt during a slow high-mark query (extract_begin)' 'interrupt during a slow read (extract_next)' \
    'the instance works after an interrupted statement'; do
    grep -qF "PASS  $t" "$work/out" || fail "no PASS for: $t"
  done
  [[ $rc -eq 0 ]] || fail "the kit failed the postgres source (exit $rc)"
  psql -qAtX -d postgres -c "DROP DATABASE $db" >/dev/null
  echo "kit_postgres slow: ok"
  exit 0
fi
rc=0
"$bin" plugins check "$so" --options "$opts" --table kit_t --schema public >"$work/out" 2>&1 || rc=$?
cat "$work/out"
[[ $rc -eq 0 ]] || fail "the kit failed the postgres source (exit $rc)"
! grep -q 'FAIL\|SKIP' "$work/out" || fail "a test failed or was skipped"
for t in 'window (10, 20]: ties on both bounds' 'an empty fixed window: one empty batch' \
  'between: the high mark capped at endvalue' 'types: NUMERIC(12,3) exact' 'types: TIMESTAMP WITH TIME ZONE' \
  'types: bytes' 'interrupt between batches: the source stops promptly' \
  'the instance works after an interrupted extract' 'commit order (filteroperator commit): every row once'; do
  grep -qF "PASS  $t" "$work/out" || fail "no PASS for: $t"
done
grep -q '^27 passed, 0 failed, 0 skipped$' "$work/out" || fail "expected 27 tests to pass"

# the kit must fail the same source on a table that is not the fixture: a
# row whose decimal is rounded, a tie dropped from the bound
psql -qAtX -v ON_ERROR_STOP=1 -d $db -c "UPDATE kit_t SET c_num = round(c_num) WHERE id = 2" \
  -c "DELETE FROM kit_t WHERE id = 41" >/dev/null
rc=0
"$bin" plugins check "$so" --options "$opts" --table kit_t --schema public >"$work/out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || { cat "$work/out"; fail "a changed fixture should fail the kit (exit 1, got $rc)"; }
grep -q 'FAIL  types: NUMERIC(12,3) exact' "$work/out" || { cat "$work/out"; fail "the rounded decimal was not caught"; }
grep -q 'FAIL  window (10, 20]: ties on both bounds' "$work/out" || { cat "$work/out"; fail "the missing tie was not caught"; }
! grep -q "$(cat "$pgdir/password")" "$work/out" || fail "the password appears in the kit's output"
psql -qAtX -d postgres -c "DROP DATABASE $db" >/dev/null
echo "kit_postgres: ok"
