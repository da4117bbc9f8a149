#!/usr/bin/env bash
# source-postgres benchmark (not a test): one generated table, three ways out.
#   (a) COPY (SELECT ...) TO STDOUT (FORMAT binary) through psql to /dev/null: the extraction ceiling
#   (b) what a user would write by hand: psql \copy to CSV, then DuckDB converting the CSV to zstd Parquet
#   (c) deltaload: source postgres → target file, Parquet zstd, state sqlite
# then a delta of 1,000 changed rows (filter column indexed) against the full load.
#
#   bench/postgres/run.sh [ROWS] [BUILD_DIR]      defaults: 5000000 build/pg
#   REPEAT=3 (default): each method runs that many times; the best time is
#   kept (and the largest peak RSS), which damps noise from other processes.
# Prints a table of seconds, rows/s and peak RSS (GNU time %M) per method.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROWS=${1:-5000000}
BUILD=${2:-build/pg}
BIN=$ROOT/$BUILD/deltaload
[[ -x $BIN ]] || { echo "no deltaload binary at $BIN (cmake --build $BUILD --target deltaload)" >&2; exit 1; }
export DLD_PLUGIN_DIR=$ROOT/$BUILD/plugins
[[ -f $DLD_PLUGIN_DIR/dld-source-postgres.so ]] || { echo "build dld-source-postgres first" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "GNU time (/usr/bin/time) is needed for peak memory" >&2; exit 1; }

PGDIR=$(mktemp -d /tmp/dld-bench-pg.XXXXXX)
WORK=$(mktemp -d /tmp/dld-bench-work.XXXXXX)
cleanup() { tests/servers/pg.sh stop "$PGDIR" || true; rm -rf "$WORK"; }
trap cleanup EXIT
tests/servers/pg.sh start "$PGDIR"
# shellcheck disable=SC1091
. "$PGDIR/env"
export PGOPTIONS='-c client_min_messages=warning'

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "generating $ROWS rows ..."
psql -qX -v ON_ERROR_STOP=1 -v name=bench_t -v rows="$ROWS" -f bench/bench_t.sql
psql -qAtX -c "SELECT count(*) FROM bench_t"
psql -qAtX -c "SELECT pg_size_pretty(pg_table_size('bench_t'))" | sed 's/^/table size: /'

REPEAT=${REPEAT:-3}
# measure CMD...: "<best seconds> <largest peak KiB>" over $REPEAT runs; $BEFORE
# (a shell snippet) runs before each one, untimed
measure() {
  local best="" peak=0 s kb
  for _ in $(seq 1 "$REPEAT"); do
    if [[ -n ${BEFORE:-} ]]; then eval "$BEFORE"; fi
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null
    read -r s kb < <(tail -1 "$WORK/time")
    if [[ -z $best ]] || (( $(echo "$s < $best" | bc -l) )); then best=$s; fi
    if (( kb > peak )); then peak=$kb; fi
  done
  echo "$best $peak"
}

SELECT_ALL="SELECT id, updated_at, customer_id, amount, status, note, flag, created, score FROM bench_t"
# warm the cache so no method pays for the first read
psql -qX -c "COPY ($SELECT_ALL) TO STDOUT (FORMAT binary)" >/dev/null

read -r a_s a_kb < <(measure psql -qX -c "COPY ($SELECT_ALL) TO STDOUT (FORMAT binary)")

read -r b1_s b1_kb < <(measure psql -qX -c "\\copy ($SELECT_ALL) TO '$WORK/bench.csv' WITH (FORMAT csv, HEADER)")
cat > "$WORK/csv2parquet.cjs" <<JS
const { DuckDBInstance } = require('$ROOT/tests/node/node_modules/@duckdb/node-api');
(async () => {
  const db = await DuckDBInstance.create(':memory:', { threads: '2' });
  const c = await db.connect();
  await c.run("COPY (SELECT * FROM read_csv('$WORK/bench.csv')) TO '$WORK/bench.parquet' (FORMAT parquet, COMPRESSION zstd)");
})().catch((e) => { console.error(e); process.exit(1); });
JS
read -r b2_s b2_kb < <(measure node "$WORK/csv2parquet.cjs")
b_s=$(echo "$b1_s + $b2_s" | bc -l)
b_kb=$(( b1_kb > b2_kb ? b1_kb : b2_kb ))
csv_mb=$(du -m "$WORK/bench.csv" | cut -f1); rm -f "$WORK/bench.csv"

cat > "$WORK/cfg.json" <<JSON
{"source": {"plugin": "postgres", "options": {"conninfo": "$(cat "$PGDIR/conninfo")", "password": "\${DLD_BENCH_PGPASSWORD}"}},
 "target": {"plugin": "file", "options": {"path": "$WORK/lake", "format": "parquet", "compression": "zstd", "fsync": false}},
 "state": {"plugin": "sqlite", "options": {"path": "$WORK/state.db"}},
 "tables": [{"targetTableName": "bench_t", "sourceSchema": "public", "sourceTable": "bench_t",
             "filtercolumn": "updated_at", "filteroperator": "gte", "startvalue": "2000-01-01 00:00:00+00",
             "activeflag": "Y", "ouputs3Prefix": "lake"}]}
JSON
export DLD_BENCH_PGPASSWORD; DLD_BENCH_PGPASSWORD=$(cat "$PGDIR/password")
BEFORE='rm -rf "$WORK/lake" "$WORK/state.db"'
read -r c_s c_kb < <(measure "$BIN" -q -c "$WORK/cfg.json" run)
BEFORE=
lake_rows=$("$BIN" -c "$WORK/cfg.json" status --json | grep -o '"rows":[[:space:]]*[0-9]*' | head -1 | grep -o '[0-9]*$')
[[ $lake_rows == "$ROWS" ]] || { echo "deltaload loaded $lake_rows rows, expected $ROWS" >&2; exit 1; }
parquet_mb=$(du -sm "$WORK/lake" | cut -f1)

psql -qX -c "UPDATE bench_t SET updated_at = now(), amount = amount + 1 WHERE id IN (SELECT (g * 4999) % $ROWS + 1 FROM generate_series(1, 1000) g)"
REPEAT=1
read -r d_s d_kb < <(measure "$BIN" -q -c "$WORK/cfg.json" run)
delta_rows=$("$BIN" -c "$WORK/cfg.json" status --json | grep -o '"rows":[[:space:]]*[0-9]*' | head -1 | grep -o '[0-9]*$')

rate() { echo "$ROWS / $1" | bc -l | xargs printf "%.0f"; }
mib() { echo "$1 / 1024" | bc -l | xargs printf "%.0f"; }
printf "\nrows: %s   CSV: %s MiB   deltaload Parquet (zstd): %s MiB   cores: %s   load average at the start: %s, now: %s\n\n" \
  "$ROWS" "$csv_mb" "$parquet_mb" "$(nproc)" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-58s %9s %12s %10s\n" "method" "seconds" "rows/s" "peak MiB"
printf "%-58s %9.2f %12s %10s\n" "(a) psql COPY (SELECT ...) TO STDOUT (FORMAT binary) > /dev/null" "$a_s" "$(rate "$a_s")" "$(mib "$a_kb")"
printf "%-58s %9.2f %12s %10s\n" "(b) psql \\copy to CSV + DuckDB CSV -> Parquet zstd" "$b_s" "$(rate "$b_s")" "$(mib "$b_kb")"
printf "%-58s %9.2f %12s %10s\n" "      of which psql \\copy to CSV" "$b1_s" "" "$(mib "$b1_kb")"
printf "%-58s %9.2f %12s %10s\n" "      of which DuckDB CSV -> Parquet" "$b2_s" "" "$(mib "$b2_kb")"
printf "%-58s %9.2f %12s %10s\n" "(c) deltaload run (postgres -> Parquet zstd, local dir)" "$c_s" "$(rate "$c_s")" "$(mib "$c_kb")"
printf "%-58s %9.2f %12s %10s\n" "delta: $delta_rows changed rows (indexed filter column)" "$d_s" "" "$(mib "$d_kb")"
printf "\n(c)/(a) = %.2f (goal >= 0.8)   (c)/(b) = %.2f (goal >= 2)   delta/full = %.2f%% (goal < 2%%)   peak (c) %s MiB (goal < 256)\n" \
  "$(echo "$a_s / $c_s" | bc -l)" "$(echo "$b_s / $c_s" | bc -l)" "$(echo "100 * $d_s / $c_s" | bc -l)" "$(mib "$c_kb")"
