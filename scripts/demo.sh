#!/usr/bin/env bash
# The main job on the embedded defaults, from a fresh clone: set up, build,
# create a small SQLite source, load it into a local lake, add and change
# rows, load the delta, and show status and history. Everything lands in
# ./demo (removed and made again on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target deltaload dld-source-sqlite dld-target-file dld-state-sqlite >/dev/null
DL="$PWD/build/release/deltaload"

rm -rf demo && mkdir demo && cd demo
echo "== a source: orders (row_id, customer, amount decimal(12,2), updated_at timestamp)"
sqlite3 source.db >/dev/null <<'SQL'
PRAGMA journal_mode=WAL;
CREATE TABLE orders(row_id INTEGER PRIMARY KEY, customer TEXT, amount DECIMAL(12,2),
                    updated_at TIMESTAMP, version INTEGER NOT NULL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000)
INSERT INTO orders SELECT i, 'customer ' || (i % 37), round(i * 1.25, 2),
       datetime('2026-01-01', '+' || i || ' minutes'), i FROM c;
SQL
cat > deltaload.json <<'JSON'
{
  "source":    {"plugin": "sqlite", "options": {"path": "source.db"}},
  "target":    {"plugin": "file",   "options": {"path": "lake"}},
  "state":     {"plugin": "sqlite", "options": {"path": "state.db"}},
  "scheduler": {"plugin": "local",  "options": {"expression": "rate(1 hour)"}},
  "tables": [
    {"targetTableName": "orders", "sourceSchema": "main", "sourceTable": "orders",
     "filtercolumn": "version", "filteroperator": "gte", "startvalue": "1",
     "activeflag": "Y", "ouputs3Prefix": "raw"}
  ]
}
JSON
echo; echo "== deltaload plan (dry run)"
"$DL" plan
echo; echo "== deltaload run (first load)"
"$DL" run
echo; echo "== 50 new orders, 20 changed ones (each change gets a new version)"
sqlite3 source.db >/dev/null <<'SQL'
WITH RECURSIVE c(i) AS (SELECT 1001 UNION ALL SELECT i+1 FROM c WHERE i < 1050)
INSERT INTO orders SELECT i, 'customer ' || (i % 37), round(i * 1.25, 2), datetime('now'), 1000 + i FROM c;
UPDATE orders SET amount = amount + 1, updated_at = datetime('now'),
       version = (SELECT max(version) FROM orders) + row_id WHERE row_id % 50 = 0;
SQL
echo; echo "== deltaload run (delta)"
"$DL" run
echo; echo "== deltaload status"
"$DL" status
echo; echo "== deltaload history"
"$DL" history
echo; echo "== the lake"
find lake -type f | sort
echo; echo "== the lake read back by DuckDB (a Parquet reader we did not write), compared with the source"
NODE_PATH=../tests/node/node_modules node -e '
const { DuckDBInstance } = require("@duckdb/node-api");
(async () => {
  const db = await (await DuckDBInstance.create(":memory:")).connect();
  const rows = async (sql) => (await db.runAndReadAll(sql)).getRows()[0].map(String).join(", ");
  const lake = "read_parquet(\"lake/raw/main/orders/*.parquet\")";
  console.log("lake:   row versions, distinct orders:", await rows(`SELECT count(*), count(DISTINCT row_id) FROM ${lake}`));
  console.log("lake:   latest version of each order, count and sum(amount):",
    await rows(`SELECT count(*), sum(amount)::VARCHAR FROM (SELECT * FROM ${lake} QUALIFY row_number() OVER (PARTITION BY row_id ORDER BY version DESC) = 1)`));
})();'
echo "source: orders, count and sum(amount): $(sqlite3 -separator ', ' source.db 'SELECT count(*), printf("%.2f", sum(amount)) FROM orders')"
