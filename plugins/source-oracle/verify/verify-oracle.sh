#!/usr/bin/env bash
# Checks the Oracle source against a live Oracle Database — what the test
# suite cannot do, since no Oracle server or client can be installed where
# deltaload is built. Run it on a machine that has Instant Client (with
# SQL*Plus) and a database you may create tables in:
#
#   export ORACLE_CONNECT=host:1521/ORCLPDB1 ORACLE_USER=scott ORACLE_PASSWORD=...
#   export ORACLE_CLIENT_LIB_DIR=/opt/oracle/instantclient_23_5   # if not on LD_LIBRARY_PATH
#   export DELTALOAD=/path/to/deltaload DLD_PLUGIN_DIR=/path/to/plugins  # build tree or install
#   plugins/source-oracle/verify/verify-oracle.sh
#
# It creates three tables named DLD_V_* in ORACLE_USER's schema (dropped
# first, left in place afterwards for inspection; KEEP=0 drops them at the
# end), loads them through deltaload into a local CSV lake, and checks:
#   1. plan prints the SCN and both exact statements, writes nothing;
#   2. a first delta load brings every row, and the watermark is the maximum;
#   3. a second load brings only rows above it (new rows, not re-loads);
#   4. boundary ties: rows sharing the high mark's timestamp all arrive once;
#   5. the type round trip: one row of every supported type, value by value;
#   6. commit order ("filteroperator": "commit") on a ROWDEPENDENCIES table:
#      the SCN horizon, no AS OF, changed rows arrive, the load is marked.
# Prints "N passed, N failed" and exits non-zero on any failure.
#
# The user needs CREATE TABLE, and for the default consistency=flashback
# SELECT on V_$DATABASE and FLASHBACK on its own tables (it owns them) —
# run with CONSISTENCY=read_only to check that mode instead.
set -uo pipefail

: "${ORACLE_CONNECT:?set ORACLE_CONNECT to host:port/service_name (or a TNS alias)}"
: "${ORACLE_USER:?set ORACLE_USER}"
: "${ORACLE_PASSWORD:?set ORACLE_PASSWORD}"
DELTALOAD=${DELTALOAD:-deltaload}
CONSISTENCY=${CONSISTENCY:-flashback}
KEEP=${KEEP:-1}
command -v sqlplus >/dev/null || { echo "sqlplus not found: install Instant Client's SQL*Plus package" >&2; exit 2; }
command -v "$DELTALOAD" >/dev/null || { echo "deltaload not found: set DELTALOAD" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dld-verify-oracle.XXXXXX")
LAKE=$WORK/lake
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAILED - $1" >&2; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }

# The password goes to sqlplus on stdin, never on its command line.
sql() {
    { printf 'CONNECT %s/"%s"@%s\n' "$ORACLE_USER" "$ORACLE_PASSWORD" "$ORACLE_CONNECT"
      printf 'WHENEVER SQLERROR EXIT FAILURE\nSET HEADING OFF FEEDBACK OFF PAGESIZE 0 LINESIZE 32767 TRIMSPOOL ON\n'
      cat
      printf '\nEXIT\n'; } | sqlplus -S -L /nolog
}

echo "# work directory: $WORK"
sql >/dev/null <<'SQL' || { echo "creating the test tables failed (see above)" >&2; exit 2; }
BEGIN
  FOR t IN (SELECT table_name FROM user_tables WHERE table_name IN ('DLD_V_ORDERS', 'DLD_V_EVENTS', 'DLD_V_TYPES', 'DLD_V_COMMIT')) LOOP
    EXECUTE IMMEDIATE 'DROP TABLE ' || t.table_name || ' PURGE';
  END LOOP;
END;
/
CREATE TABLE dld_v_orders (row_id NUMBER(10) PRIMARY KEY, amount NUMBER(12,2), note VARCHAR2(40));
INSERT INTO dld_v_orders SELECT level, level * 1.25, 'order ' || level FROM dual CONNECT BY level <= 1000;
CREATE TABLE dld_v_events (id NUMBER(10) PRIMARY KEY, updated_at TIMESTAMP(6) NOT NULL);
INSERT INTO dld_v_events SELECT level, TIMESTAMP '2024-05-01 10:00:00' + NUMTODSINTERVAL(MOD(level, 5), 'SECOND')
  FROM dual CONNECT BY level <= 50;
CREATE TABLE dld_v_types (
  id NUMBER(10) PRIMARY KEY, n_int NUMBER(18), n_dec NUMBER(12,2), n_free NUMBER, n_big NUMBER(38),
  bf BINARY_FLOAT, bd BINARY_DOUBLE, vc VARCHAR2(20 CHAR), nvc NVARCHAR2(20), ch CHAR(5), nch NCHAR(5),
  cl CLOB, ncl NCLOB, bl BLOB, rw RAW(8), dt DATE, ts TIMESTAMP(9), tstz TIMESTAMP(6) WITH TIME ZONE,
  tsltz TIMESTAMP(6) WITH LOCAL TIME ZONE, iym INTERVAL YEAR(2) TO MONTH, ids INTERVAL DAY(2) TO SECOND(6));
INSERT INTO dld_v_types VALUES (1, 123456789012345678, -12345.67, 3.14159, 12345678901234567890123456789012345678,
  1.5, 0.1, 'Zo' || UNISTR('\00EB'), UNISTR('\03A9') || 'mega', 'ab', N'x', TO_CLOB('clob text'), TO_NCLOB('nclob'),
  HEXTORAW('DEADBEEF'), HEXTORAW('0102'), TO_DATE('1992-11-30 15:17:00', 'YYYY-MM-DD HH24:MI:SS'),
  TIMESTAMP '2014-01-02 15:02:51.890565123', TIMESTAMP '2014-01-02 15:02:51.890565 -07:00',
  TIMESTAMP '2000-03-28 11:30:00 -08:00', INTERVAL '2-3' YEAR TO MONTH, INTERVAL '1 02:03:04.5' DAY TO SECOND);
INSERT INTO dld_v_types (id) VALUES (2);
CREATE TABLE dld_v_commit (id NUMBER(10) PRIMARY KEY, note VARCHAR2(40)) ROWDEPENDENCIES;
INSERT INTO dld_v_commit SELECT level, 'v' || level FROM dual CONNECT BY level <= 100;
COMMIT;
SQL
ok "test tables created"

DIRS=""
[ -n "${DLD_PLUGIN_DIR:-}" ] && DIRS="\"plugin_dirs\": [\"$DLD_PLUGIN_DIR\"],"
LIBDIR=""
[ -n "${ORACLE_CLIENT_LIB_DIR:-}" ] && LIBDIR="\"oracle_client_lib_dir\": \"$ORACLE_CLIENT_LIB_DIR\","
item() { # name source filter start
    printf '{"targetTableName": "%s", "sourceSchema": "%s", "sourceTable": "%s", "filtercolumn": "%s", "filteroperator": "gte", "startvalue": "%s", "activeflag": "Y", "ouputs3Prefix": "lake"}' \
        "$1" "$ORACLE_USER" "$2" "$3" "$4"
}
cat >"$WORK/deltaload.json" <<EOF
{ $DIRS
  "source": {"plugin": "oracle", "options": {"connect": "$ORACLE_CONNECT", "user": "$ORACLE_USER",
             "password": "\${DLD_VERIFY_ORACLE_PASSWORD}", $LIBDIR "consistency": "$CONSISTENCY"}},
  "target": {"plugin": "file", "options": {"path": "$LAKE", "format": "csv"}},
  "state": {"plugin": "sqlite", "options": {"path": "$WORK/state.db"}},
  "engine": {"retries": 0},
  "tables": [ $(item orders dld_v_orders row_id 1), $(item events dld_v_events updated_at "2024-01-01"),
              $(item types dld_v_types id 1),
              {"targetTableName": "scn_orders", "sourceSchema": "$ORACLE_USER", "sourceTable": "dld_v_commit",
               "filteroperator": "commit", "activeflag": "Y", "ouputs3Prefix": "lake"} ] }
EOF
export DLD_VERIFY_ORACLE_PASSWORD=$ORACLE_PASSWORD
dl() { "$DELTALOAD" -c "$WORK/deltaload.json" "$@"; }

# rows published for a table (its targetTableName, the lake folder's name):
# data lines of the CSV files its manifests list
lake_rows() {
    local dir n=0 f
    dir=$(find "$LAKE" -type d -path "*/$1" | head -1)
    [ -n "$dir" ] || { echo 0; return; }
    for f in $(cat "$dir"/_manifests/*.json 2>/dev/null | grep -o '"name":[[:space:]]*"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'); do
        n=$((n + $(tail -n +2 "$dir/$f" | wc -l)))
    done
    echo "$n"
}
watermark() {
    dl status --json | tr -d '\n' | grep -o "\"table\":[[:space:]]*\"$1\"[^}]*" |
        grep -o '"watermark":[[:space:]]*"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

# 1. plan
PLAN=$(dl plan --table orders 2>&1) || bad "plan failed: $PLAN"
echo "$PLAN" | grep -q 'high mark: SELECT TO_CHAR(MAX("ROW_ID")' && ok "plan shows the high-mark statement" || bad "plan: $PLAN"
echo "$PLAN" | grep -q 'extract: SELECT "ROW_ID", "AMOUNT", "NOTE" FROM' && ok "plan shows the extract statement" || bad "plan: $PLAN"
[ "$CONSISTENCY" = flashback ] && { echo "$PLAN" | grep -q 'AS OF SCN' && ok "plan reads AS OF an SCN" || bad "no AS OF SCN in plan"; }
check "plan wrote nothing" "$(lake_rows orders)" 0

# 2. first load
OUT=$(dl run 2>&1) || bad "first run failed: $OUT"
check "first load: every order" "$(lake_rows orders)" 1000
check "watermark is the maximum" "$(watermark orders)" 1000
check "first load: every event" "$(lake_rows events)" 50

# 3. delta: new rows only
sql >/dev/null <<'SQL'
INSERT INTO dld_v_orders SELECT 1000 + level, level, 'late ' || level FROM dual CONNECT BY level <= 25;
COMMIT;
SQL
OUT=$(dl run --table orders 2>&1) || bad "second run failed: $OUT"
check "delta: 1025 rows in the lake, none twice" "$(lake_rows orders)" 1025
check "delta: watermark moved" "$(watermark orders)" 1025
OUT=$(dl run --table orders 2>&1) || bad "third run failed: $OUT"
check "nothing new: nothing loaded" "$(lake_rows orders)" 1025

# 4. boundary ties: 10 events share the high mark (10:00:04); more rows at a later instant
sql >/dev/null <<'SQL'
INSERT INTO dld_v_events SELECT 50 + level, TIMESTAMP '2024-05-01 10:00:09' FROM dual CONNECT BY level <= 7;
COMMIT;
SQL
OUT=$(dl run --table events 2>&1) || bad "events run failed: $OUT"
check "ties at the old high mark not re-loaded, new instant complete" "$(lake_rows events)" 57
check "events watermark" "$(watermark events)" "2024-05-01T10:00:09.000000000"

# 5. type round trip
TYPES_DIR=$(find "$LAKE" -type d -path "*/types" | head -1)
CSV=$(cat "$TYPES_DIR"/LOAD*.csv 2>/dev/null)
HEADER=$(echo "$CSV" | head -1)
ROW1=$(echo "$CSV" | grep '^1,')
field() { # column name → its value in row 1 (values here hold no commas or quotes)
    local i
    i=$(echo "$HEADER" | tr ',' '\n' | grep -n -x "$1" | cut -d: -f1)
    echo "$ROW1" | cut -d, -f"$i" | sed 's/^"\(.*\)"$/\1/'
}
check "NUMBER(18) → int64" "$(field N_INT)" 123456789012345678
check "NUMBER(12,2) → decimal" "$(field N_DEC)" -12345.67
check "NUMBER → decimal(38,10)" "$(field N_FREE)" 3.1415900000
check "NUMBER(38) → decimal(38,0)" "$(field N_BIG)" 12345678901234567890123456789012345678
check "BINARY_FLOAT" "$(field BF)" 1.5
check "BINARY_DOUBLE" "$(field BD)" 0.10000000000000001
check "VARCHAR2 (UTF-8)" "$(field VC)" "Zoë"
check "NVARCHAR2" "$(field NVC)" "Ωmega"
check "CHAR keeps its padding" "$(field CH)" "ab   "
check "NCHAR" "$(field NCH)" "x    "
check "CLOB" "$(field CL)" "clob text"
check "NCLOB" "$(field NCL)" "nclob"
check "BLOB" "$(field BL)" '\xdeadbeef'
check "RAW" "$(field RW)" '\x0102'
check "DATE → timestamp[s]" "$(field DT)" "1992-11-30 15:17:00"
check "TIMESTAMP(9) → timestamp[ns]" "$(field TS)" "2014-01-02 15:02:51.890565123"
check "TIMESTAMP WITH TIME ZONE → UTC" "$(field TSTZ)" "2014-01-02 22:02:51.890565Z"
check "TIMESTAMP WITH LOCAL TIME ZONE → UTC" "$(field TSLTZ)" "2000-03-28 19:30:00.000000Z"
check "INTERVAL YEAR TO MONTH → text" "$(field IYM)" "+02-03"
check "INTERVAL DAY TO SECOND → text" "$(field IDS)" "+01 02:03:04.500000"
check "the all-NULL row arrived" "$(echo "$CSV" | grep -c '^2,')" 1

# 6. commit order: the first run (step 2) loaded all 100 rows; change 5, add 10
check "commit: first load, every row" "$(lake_rows scn_orders)" 100
sql >/dev/null <<'SQL'
UPDATE dld_v_commit SET note = 'changed' WHERE id <= 5;
INSERT INTO dld_v_commit SELECT 100 + level, 'new' FROM dual CONNECT BY level <= 10;
COMMIT;
SQL
PLAN=$(dl plan --table scn_orders 2>&1) || bad "commit plan failed: $PLAN"
echo "$PLAN" | grep -q 'WHERE ORA_ROWSCN > TO_NUMBER(:1)' && ok "commit: plan shows the ORA_ROWSCN statement" || bad "commit plan: $PLAN"
echo "$PLAN" | grep -q 'AS OF' && bad "commit plan uses AS OF: $PLAN" || ok "commit: no AS OF"
echo "$PLAN" | grep -q 'per row (ROWDEPENDENCIES)' && ok "commit: ROWDEPENDENCIES recognised" || bad "commit plan: $PLAN"
OUT=$(dl run --table scn_orders 2>&1) || bad "commit run failed: $OUT"
COMMIT_DIR=$(find "$LAKE" -type d -path "*/scn_orders" | head -1)
N=$(cat "$COMMIT_DIR"/LOAD*.csv 2>/dev/null | grep -c -E '^[0-9]+,(changed|new)$')
check "commit: the 15 changed rows arrived, once" "$N" 15
R=$(($(lake_rows scn_orders) - 100))
[ "$R" -ge 15 ] && ok "commit: second load $R rows (15 changed; more only for rows committed meanwhile)" || bad "commit: second load $R rows"
grep -l 'at least once' "$COMMIT_DIR"/_manifests/LOAD*.json | grep -q . && ok "commit: the manifest marks the load" || bad "commit: no mark in the manifest"

if [ "$KEEP" = 0 ]; then
    sql >/dev/null <<'SQL'
DROP TABLE dld_v_orders PURGE;
DROP TABLE dld_v_events PURGE;
DROP TABLE dld_v_types PURGE;
DROP TABLE dld_v_commit PURGE;
SQL
    rm -rf "$WORK"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
