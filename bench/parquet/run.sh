#!/usr/bin/env bash
# Parquet encode benchmark: our writer vs DuckDB's (single thread), same
# rows, zstd. Not a test: prints figures side by side.
#   bench/parquet/run.sh [rows] [runs]      (default 3000000 rows, best of 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-3000000}
RUNS=${2:-3}
BUILD=build/bench
OUT=${BENCH_OUT:-$BUILD/bench-parquet}
mkdir -p "$OUT"

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDLD_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target dld_sdk -j2 >/dev/null
cc -O2 -std=gnu11 -Isdk/include bench/parquet/bench_parquet.c -o "$OUT/bench_parquet" \
   -L"$BUILD/sdk" -ldeltaload_sdk -lzstd -lsnappy -lz -lcurl -lcrypto -lm -lpthread

best=""
for i in $(seq "$RUNS"); do
  r=$("$OUT/bench_parquet" "$ROWS" "$OUT/ours.parquet" "${@:3}")
  s=$(node -e 'console.log(JSON.parse(process.argv[1]).seconds)' "$r")
  if [[ -z $best ]] || node -e 'process.exit(+process.argv[1] < +process.argv[2] ? 0 : 1)' "$s" "$(node -e 'console.log(JSON.parse(process.argv[1]).seconds)' "$best")"; then
    best=$r
  fi
done
duck=$(DLD_NODE_DIR="$PWD/tests/node" node bench/parquet/duckdb_copy.mjs "$OUT/ours.parquet" "$OUT/duck.parquet" "$RUNS")

node - "$best" "$duck" <<'JS'
const [o, d] = process.argv.slice(2).map(JSON.parse);
const f = (x) => Math.round(x).toLocaleString('en-US');
console.log(`rows: ${f(o.rows)}   (bigint, timestamp, decimal(12,2), short text, boolean, nullable long text; zstd)`);
console.log(`                 ${'deltaload'.padStart(14)} ${'DuckDB 1 thread'.padStart(16)}   ratio`);
console.log(`encode rows/s    ${f(o.rows_per_s).padStart(14)} ${f(d.rows_per_s).padStart(16)}   ${(o.rows_per_s / d.rows_per_s).toFixed(2)}x (goal >= 1.00)`);
console.log(`seconds          ${o.seconds.toFixed(3).padStart(14)} ${d.seconds.toFixed(3).padStart(16)}`);
console.log(`file bytes       ${f(o.bytes).padStart(14)} ${f(d.bytes).padStart(16)}   ${(o.bytes / d.bytes).toFixed(3)}x (goal <= 1.15)`);
console.log(`same rows in both files: ${d.same_rows}`);
JS
