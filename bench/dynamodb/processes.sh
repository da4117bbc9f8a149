#!/usr/bin/env bash
# Several deltaload processes sharing one DynamoDB state store (dynalite, the
# stand-in the tests use, behind the same verifying proxy) against one process
# alone, on the same tables, measured side by side in one run.
#
#   bench/dynamodb/processes.sh [BUILD_DIR] [TABLES] [ROWS_PER_TABLE] [PROCESSES] [ROUNDS]
#   defaults: build/bench-release 8 200000 4 3
#
# Each round loads every table once from scratch (fresh controller and history
# tables, an empty lake) with engine.parallelism 1, first by one process, then
# by PROCESSES processes started together (each claims the tables whose lease
# it gets; the others skip them). Prints each round's wall time (start of the
# first process to exit of the last), the medians and their ratio, with the
# load average beside each figure, and checks that every table was loaded
# exactly once in each round (one committed load per table, rows = source rows).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${1:-build/bench-release}
TABLES=${2:-8}
ROWS=${3:-200000}
PROCS=${4:-4}
ROUNDS=${5:-3}

if [[ ! -x $BUILD/deltaload || ! -f $BUILD/plugins/dld-state-dynamodb.so ]]; then
  echo "building $BUILD (Release)" >&2
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDLD_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target deltaload dld-state-dynamodb dld-source-sqlite dld-target-file >/dev/null
fi
BIN=$ROOT/$BUILD/deltaload
WORK=$(mktemp -d /tmp/dld-bench-ddb.XXXXXX)
trap 'tests/dynamodb/stop.sh "$WORK/servers" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
DLD_NODE_DIR=$ROOT/tests/node tests/dynamodb/start.sh "$WORK/servers" >/dev/null
read -r ENDPOINT AKID SECRET < <(node -e '
  const s = require(process.argv[1]); console.log(s.endpoint, s.akid, s.secret)' "$WORK/servers/servers.json")

# the source: TABLES tables of ROWS rows
{
  for t in $(seq 1 "$TABLES"); do
    echo "CREATE TABLE t$t(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, amount REAL, note TEXT);"
    echo "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $ROWS)"
    echo "INSERT INTO t$t SELECT i, i, i * 1.25, 'note ' || i || ' ' || hex(randomblob(8)) FROM c;"
  done
} | sqlite3 "$WORK/src.db"

config() { # $1 dir, $2 controller table, $3 history table
  local items="" t
  for t in $(seq 1 "$TABLES"); do
    items+="${items:+,}{\"targetTableName\": \"t$t\", \"sourceSchema\": \"main\", \"sourceTable\": \"t$t\","
    items+=" \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"activeflag\": \"Y\"}"
  done
  cat >"$1/deltaload.json" <<EOF
{"plugin_dirs": ["$ROOT/$BUILD/plugins"],
 "source": {"plugin": "sqlite", "options": {"path": "$WORK/src.db"}},
 "target": {"plugin": "file", "options": {"path": "$1/lake"}},
 "state": {"plugin": "dynamodb", "options": {"endpoint": "$ENDPOINT", "region": "us-east-1",
   "access_key_id": "$AKID", "secret_access_key": "$SECRET", "table": "$2", "history_table": "$3"}},
 "engine": {"parallelism": 1, "lease_ttl_seconds": 60},
 "tables": [$items]}
EOF
}

now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
declare -a ONE MANY
n=0
for r in $(seq 1 "$ROUNDS"); do
  for mode in one many; do
    n=$((n + 1))
    d=$WORK/r$n
    mkdir -p "$d"
    config "$d" "ctl$n" "hist$n"
    "$BIN" -q -c "$d/deltaload.json" state init >/dev/null
    la=$(load)
    t0=$(now)
    if [[ $mode == one ]]; then
      "$BIN" -q -c "$d/deltaload.json" run >"$d/out.0" 2>&1 || true
    else
      pids=()
      for p in $(seq 1 "$PROCS"); do
        "$BIN" -q -c "$d/deltaload.json" run >"$d/out.$p" 2>&1 &
        pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p" || true; done
    fi
    t1=$(now)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    # every table once: one committed load each, with every source row
    hist=$("$BIN" -c "$d/deltaload.json" --json history --limit 1000)
    committed=$(echo "$hist" | node -e '
      let s = ""; process.stdin.on("data", (c) => s += c).on("end", () => {
        const loads = JSON.parse(s).loads.filter((l) => l.status === "committed");
        const per = {}; let rows = 0;
        for (const l of loads) { per[l.table] = (per[l.table] || 0) + 1; rows += l.rows; }
        const twice = Object.values(per).filter((v) => v !== 1).length;
        console.log(Object.keys(per).length, twice, rows); });')
    read -r ntables ntwice nrows <<<"$committed"
    if [[ $ntables != "$TABLES" || $ntwice != 0 || $nrows != $((TABLES * ROWS)) ]]; then
      echo "round $n ($mode): $ntables tables committed, $ntwice more than once, $nrows rows: NOT each window once" >&2
      exit 1
    fi
    printf '%-5s round %d: %6.2f s  (load average %s at start)\n' "$mode" "$r" "$secs" "$la"
    if [[ $mode == one ]]; then ONE+=("$secs"); else MANY+=("$secs"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
m1=$(median "${ONE[@]}")
mn=$(median "${MANY[@]}")
echo
printf '%d tables x %d rows, DynamoDB state on dynalite (stand-in), %d cores\n' "$TABLES" "$ROWS" "$(nproc)"
printf '1 process:   median %6.2f s\n' "$m1"
printf '%d processes: median %6.2f s   ratio %.2fx faster (each table loaded exactly once in every round)\n' \
  "$PROCS" "$mn" "$(awk -v a="$m1" -v b="$mn" 'BEGIN { print a / b }')"
