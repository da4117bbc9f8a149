#!/bin/sh
# Soak: SQLite -> file (Parquet) under SIGKILL at random points, SIGTERM,
# and four racing processes, with the source changing between rounds.
# At the end one clean run, then the lake is read back with DuckDB
# (tests/core/read_lake.cjs) and checked against the source:
#   - every row version in the lake is one the source had (versions log),
#     and none is there twice;
#   - every current source row is in the lake (the last run loaded up to H);
#   - the folder holds nothing a published manifest does not list.
#
#   tests/soak.sh MINUTES [BUILD_DIR]      (SOAK_SECONDS overrides MINUTES)
#
# Prints the figures (rounds, kills, terms, races, rows compared,
# discrepancies) and exits 1 on any discrepancy, 77 when DuckDB's node
# module is missing. Runs in a temporary directory (kept with SOAK_KEEP=1).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
minutes=${1:?usage: tests/soak.sh MINUTES [BUILD_DIR]}
build=$(cd "${2:-$src/build}" && pwd)
secs=${SOAK_SECONDS:-$(awk "BEGIN { print int($minutes * 60) }")}
bin=${DLD_BIN:-$build/deltaload}
plugins=${DLD_PLUGIN_DIR:-$build/plugins}
node_dir=${DLD_NODE_DIR:-$src/tests/node}
[ -x "$bin" ] || { echo "soak: no binary at $bin (build first, or give BUILD_DIR)"; exit 2; }
if ! command -v node >/dev/null 2>&1 || [ ! -d "$node_dir/node_modules/@duckdb/node-api" ]; then
    echo "soak: SKIPPED: node with @duckdb/node-api (tests/node) is needed to read the lake back"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/dld-soak.XXXXXX")
[ "${SOAK_KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT
cd "$work"
db=src.db
sqlite3 "$db" "
CREATE TABLE orders(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, val TEXT);
CREATE TABLE versions(id INTEGER, seq INTEGER, val TEXT);
CREATE TRIGGER v_ins AFTER INSERT ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;
CREATE TRIGGER v_upd AFTER UPDATE ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;
CREATE INDEX orders_seq ON orders(seq);"
cat > deltaload.json <<EOF
{"plugin_dirs": ["$plugins"],
 "source": {"plugin": "sqlite", "options": {"path": "src.db"}},
 "target": {"plugin": "file", "options": {"path": "lake", "format": "parquet", "max_file_size": 65536, "fsync": false}},
 "state": {"plugin": "sqlite", "options": {"path": "state.db"}},
 "engine": {"batch_rows": 200, "lease_ttl_seconds": 1, "retries": 0},
 "tables": [{"targetTableName": "orders", "sourceTable": "orders", "filtercolumn": "seq", "filteroperator": "gte"}]}
EOF
rand() { # 0 .. $1-1
    awk -v n="$1" -v s="$(od -An -N4 -tu4 /dev/urandom)" 'BEGIN { srand(s); print int(rand() * n) }'
}
mutate() { # inserts and updates; every change takes a new, higher seq
    n=$(( $(rand 400) + 1 ))
    u=$(rand 50)
    sqlite3 -cmd ".timeout 20000" "$db" "
    INSERT INTO orders(seq, val)
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $n)
      SELECT (SELECT coalesce(max(seq), 0) FROM orders) + i, 'v' || hex(randomblob(8)) FROM c;
    UPDATE orders SET seq = (SELECT max(seq) FROM orders) + id, val = 'u' || hex(randomblob(6))
      WHERE id IN (SELECT id FROM orders ORDER BY random() LIMIT $u);"
}
start_run() { "$bin" -q -c deltaload.json run >>runs.log 2>&1 & echo $!; }
rounds=0 kills=0 terms=0 races=0 clean=0 end=$(( $(date +%s) + secs ))
while [ "$(date +%s)" -lt "$end" ]; do
    rounds=$((rounds + 1))
    mutate
    action=$(rand 100)
    if [ "$action" -lt 55 ]; then          # SIGKILL at a random point
        pid=$(start_run)
        sleep "$(awk -v ms="$(rand 400)" 'BEGIN { print ms / 1000 }')"
        if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
        wait "$pid" 2>/dev/null || true
    elif [ "$action" -lt 70 ]; then        # SIGTERM: must stop promptly and release its lease
        pid=$(start_run)
        sleep "$(awk -v ms="$(rand 300)" 'BEGIN { print ms / 1000 }')"
        if kill -TERM "$pid" 2>/dev/null; then terms=$((terms + 1)); fi
        wait "$pid" 2>/dev/null || true
    elif [ "$action" -lt 90 ]; then        # four processes race for the table; one may be killed
        p1=$(start_run); p2=$(start_run); p3=$(start_run); p4=$(start_run)
        races=$((races + 1))
        if [ "$(rand 2)" = 1 ]; then
            sleep "$(awk -v ms="$(rand 300)" 'BEGIN { print ms / 1000 }')"
            if kill -9 "$p2" 2>/dev/null; then kills=$((kills + 1)); fi
        fi
        wait "$p1" "$p2" "$p3" "$p4" 2>/dev/null || true
    else                                   # a run left alone
        "$bin" -q -c deltaload.json run >>runs.log 2>&1 || true
        clean=$((clean + 1))
    fi
    # a killed holder's lease lasts lease_ttl_seconds
    [ "$(rand 3)" = 0 ] && sleep 1.1
done
# the last run: left alone until it commits (leases of killed processes expire first)
sleep 1.2
ok=0
for _ in 1 2 3 4 5; do
    if "$bin" -q -c deltaload.json run >>runs.log 2>&1; then ok=1; break; fi
    sleep 1.2
done
[ "$ok" = 1 ] || { echo "soak: the final run did not succeed:"; tail -n 20 runs.log; exit 1; }
summary=$(node "$src/tests/core/read_lake.cjs" lake/orders manifest.txt folder.txt)
# manifest.txt / folder.txt: "id|seq|val" lines; compare in SQLite
lake_rows=$(wc -l <manifest.txt | tr -d ' ')
checks=$(sqlite3 "$db" <<EOF
CREATE TABLE lake(id INTEGER, seq INTEGER, val TEXT);
.separator |
.import manifest.txt lake
CREATE INDEX lake_k ON lake(id, seq);
CREATE INDEX IF NOT EXISTS versions_k ON versions(id, seq);
SELECT (SELECT count(*) FROM (SELECT id, seq, val FROM lake GROUP BY id, seq, val HAVING count(*) > 1)) || ' ' ||
       (SELECT count(*) FROM lake l WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.id = l.id AND v.seq = l.seq AND v.val IS l.val)) || ' ' ||
       (SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM lake l WHERE l.id = o.id AND l.seq = o.seq AND l.val IS o.val)) || ' ' ||
       (SELECT count(*) FROM orders) || ' ' || (SELECT count(*) FROM versions);
DROP TABLE lake;
DROP INDEX versions_k;
EOF
)
set -- $checks
dups=$1 unknown=$2 missing=$3 current=$4 versions=$5
folder_diff=0
cmp -s manifest.txt folder.txt || folder_diff=1
unlisted=$(printf '%s' "$summary" | grep -o '"unlisted":\[[^]]*\]')
discrepancies=$((dups + unknown + missing + folder_diff))
[ "$unlisted" = '"unlisted":[]' ] || discrepancies=$((discrepancies + 1))
echo "soak: ${secs} s, $rounds rounds: $kills SIGKILLs, $terms SIGTERMs, $races four-process races, $clean plain runs"
echo "soak: lake rows compared $lake_rows (source: $current current rows, $versions versions); manifests: $summary"
echo "soak: discrepancies $discrepancies (duplicates $dups, unknown versions $unknown, missing current rows $missing," \
     "folder differs $folder_diff, $unlisted)"
[ "$discrepancies" = 0 ]
