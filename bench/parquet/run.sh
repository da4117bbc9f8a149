#!/usr/bin/env bash
# Parquet encode benchmark: our writer vs DuckDB's, same rows, zstd. Not a
# test: prints figures side by side, twice:
#   1. like for like on one thread: ours with compression_threads 1 against
#      DuckDB with threads = 1 (the goal: at least DuckDB's throughput);
#   2. both with their defaults on this machine: ours (compression threads
#      = online CPUs, at most 4) against DuckDB with threads = nproc.
#   bench/parquet/run.sh [rows] [runs] [option value ...]
#   (default 3000000 rows, 5 runs each; options go to our writer)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-3000000}
RUNS=${2:-5}
BUILD=build/bench
OUT=${BENCH_OUT:-$BUILD/bench-parquet}
mkdir -p "$OUT"

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDLD_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target dld_sdk_lake -j2 >/dev/null
cc -O2 -std=gnu11 -Isdk/include bench/parquet/bench_parquet.c -o "$OUT/bench_parquet" \
   -L"$BUILD/sdk" -ldeltaload_sdk_lake -ldeltaload_sdk -lcjson -lavro -lzstd -lsnappy -lz -lm -lpthread
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== one thread each"
DUCK_THREADS=1 DLD_NODE_DIR="$PWD/tests/node" node bench/parquet/compare.mjs "$OUT/bench_parquet" "$ROWS" "$RUNS" "$OUT" \
  compression_threads 1 "${@:3}"
echo
echo "== defaults: $(nproc) threads each"
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg)"
DUCK_THREADS=$(nproc) DLD_NODE_DIR="$PWD/tests/node" node bench/parquet/compare.mjs "$OUT/bench_parquet" "$ROWS" "$RUNS" "$OUT" "${@:3}"
