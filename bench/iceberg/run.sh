#!/usr/bin/env bash
# table_format iceberg benchmark (not a test): what Iceberg output costs over
# plain Parquet on a PostgreSQL full load, and what a merge_key upsert of a
# few rows costs against that full load (docs/iceberg.md#cost).
#
#   bench/iceberg/run.sh [ROWS]        default 5000000
#
# Per round, each from an empty lake and state (except the upsert):
#   plain     deltaload run, postgres -> local Parquet zstd, table_format files
#   iceberg   the same with table_format iceberg
#   keyed     the same with table_format iceberg and "merge_key": ["id"]
#   bucket    the same with table_format iceberg and "partition_by": "bucket(16, id)"
#             (16 partition folders; the rows reach them interleaved)
#   status    the same with "partition_by": "identity(status)" (4 string
#             values, interleaved)
#   upsert    UPSERT_ROWS rows updated, then deltaload run on the keyed table
#             (one snapshot: the rows and an equality-delete file of their keys)
# Every figure is a median over ROUNDS rounds of the process's wall time and
# CPU time (user + sys, GNU time), with the 1-minute load average taken just
# before it: on a shared machine the CPU ratio is the steadier one.
#
# Environment (defaults): ROUNDS=3, UPSERT_ROWS=1000, BIN_DIR=build/bench-run
# (a Release build with dld-source-postgres, dld-target-file, dld-state-sqlite),
# CODEC=zstd.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROWS=${1:-5000000}
ROUNDS=${ROUNDS:-3}
UPSERT_ROWS=${UPSERT_ROWS:-1000}
BIN_DIR=${BIN_DIR:-build/bench-run}
CODEC=${CODEC:-zstd}
BIN=$ROOT/$BIN_DIR/deltaload
[[ -x $BIN ]] || { echo "no deltaload binary at $BIN (set BIN_DIR to a Release build directory)" >&2; exit 1; }
export DLD_PLUGIN_DIR=$ROOT/$BIN_DIR/plugins
[[ -f $DLD_PLUGIN_DIR/dld-source-postgres.so ]] || { echo "build dld-source-postgres in $BIN_DIR first" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "GNU time (/usr/bin/time) is needed" >&2; exit 1; }

PGDIR=$(mktemp -d /tmp/dld-bench-ice-pg.XXXXXX)
WORK=$(mktemp -d /tmp/dld-bench-ice.XXXXXX)
cleanup() { tests/servers/pg.sh stop "$PGDIR" || true; rm -rf "$WORK"; }
trap cleanup EXIT
tests/servers/pg.sh start "$PGDIR"
# shellcheck disable=SC1091
. "$PGDIR/env"
export PGOPTIONS='-c client_min_messages=warning'

echo "generating $ROWS rows ..."
psql -qX -v ON_ERROR_STOP=1 -v name=bench_t -v rows="$ROWS" -f bench/bench_t.sql
export DLD_BENCH_PGPASSWORD; DLD_BENCH_PGPASSWORD=$(cat "$PGDIR/password")

# config NAME TABLE_FORMAT ITEM_EXTRA
config() {
  cat > "$WORK/$1.json" <<JSON
{"source": {"plugin": "postgres", "options": {"conninfo": "$(cat "$PGDIR/conninfo")", "password": "\${DLD_BENCH_PGPASSWORD}"}},
 "target": {"plugin": "file", "options": {"path": "$WORK/$1-lake", "format": "parquet", "compression": "$CODEC",
            "fsync": false, "table_format": "$2"}},
 "state": {"plugin": "sqlite", "options": {"path": "$WORK/$1-state.db"}},
 "tables": [{"targetTableName": "bench_t", "sourceSchema": "public", "sourceTable": "bench_t",
             "filtercolumn": "updated_at", "filteroperator": "gte", "startvalue": "2000-01-01 00:00:00+00",
             "activeflag": "Y", "ouputs3Prefix": "lake"$3}]}
JSON
}
config plain files ""
config iceberg iceberg ""
config keyed iceberg ', "merge_key": ["id"]'
config bucket iceberg ', "partition_by": "bucket(16, id)"'
config status iceberg ', "partition_by": "identity(status)"'

# run NAME: appends "wall cpu load1" of one `deltaload run` to $WORK/NAME.times
run() {
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$BIN" -q -c "$WORK/$2.json" run >/dev/null
  read -r wall user sys < <(tail -1 "$WORK/time")
  echo "$wall $(echo "$user + $sys" | bc -l) $load" >> "$WORK/$1.times"
}
fresh() { rm -rf "$WORK/$1-lake" "$WORK/$1-state.db"; }

# warm the cache so that no method pays for the first read
psql -qX -c "COPY (SELECT * FROM bench_t) TO STDOUT (FORMAT binary)" >/dev/null
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r ..."
  for m in plain iceberg keyed bucket status; do
    fresh "$m"
    run "$m" "$m"
  done
  psql -qX -c "UPDATE bench_t SET updated_at = now(), amount = amount + 1
               WHERE id IN (SELECT (g * 4999 + $r) % $ROWS + 1 FROM generate_series(1, $UPSERT_ROWS) g)"
  run upsert keyed
done
rows=$("$BIN" -c "$WORK/keyed.json" status --json | grep -o '"rows":[[:space:]]*[0-9]*' | head -1 | grep -o '[0-9]*$')
[[ $rows == "$UPSERT_ROWS" ]] || { echo "the upsert loaded $rows rows, expected $UPSERT_ROWS" >&2; exit 1; }
snap=$(ls "$WORK"/keyed-lake/lake/public/bench_t/metadata/v*.metadata.json | sort -V | tail -1)
grep -q '"added-equality-delete-files":[[:space:]]*"1"' "$snap" || { echo "the upsert snapshot has no equality deletes" >&2; exit 1; }

# median COLUMN FILE
median() { cut -d' ' -f"$1" "$2" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
range() { cut -d' ' -f"$1" "$2" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
printf "\nrows: %s   upsert: %s rows   rounds: %s   cores: %s   load average now: %s\n\n" \
  "$ROWS" "$UPSERT_ROWS" "$ROUNDS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-44s %9s %9s %14s\n" "method (median of rounds)" "wall s" "cpu s" "load1 (range)"
for m in plain iceberg keyed bucket status upsert; do
  case $m in
    plain) label="full load, plain Parquet" ;;
    iceberg) label="full load, table_format iceberg" ;;
    keyed) label="full load, iceberg + merge_key" ;;
    bucket) label="full load, iceberg, bucket(16, id)" ;;
    status) label="full load, iceberg, identity(status)" ;;
    upsert) label="upsert of $UPSERT_ROWS rows, iceberg + merge_key" ;;
  esac
  printf "%-44s %9.2f %9.2f %14s\n" "$label" "$(median 1 "$WORK/$m.times")" "$(median 2 "$WORK/$m.times")" \
    "$(median 3 "$WORK/$m.times") ($(range 3 "$WORK/$m.times"))"
done
ratio() { echo "100 * ($(median "$1" "$WORK/$2.times") / $(median "$1" "$WORK/$3.times"))" | bc -l | xargs printf "%.1f"; }
printf "\niceberg / plain: wall %s%%, cpu %s%% (goal <= 105%%)\n" "$(ratio 1 iceberg plain)" "$(ratio 2 iceberg plain)"
printf "iceberg + merge_key / plain: wall %s%%, cpu %s%%\n" "$(ratio 1 keyed plain)" "$(ratio 2 keyed plain)"
printf "iceberg bucket(16, id) / plain: wall %s%%, cpu %s%%; files %s\n" "$(ratio 1 bucket plain)" "$(ratio 2 bucket plain)" \
  "$(find "$WORK/bucket-lake" -name 'LOAD*.parquet' | wc -l)"
printf "iceberg identity(status) / plain: wall %s%%, cpu %s%%; files %s\n" "$(ratio 1 status plain)" "$(ratio 2 status plain)" \
  "$(find "$WORK/status-lake" -name 'LOAD*.parquet' | wc -l)"
printf "upsert / keyed full load: wall %s%%, cpu %s%% (goal < 2%%)\n" "$(ratio 1 upsert keyed)" "$(ratio 2 upsert keyed)"
