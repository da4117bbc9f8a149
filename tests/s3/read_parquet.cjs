// Reads Parquet objects straight from s3rver's on-disk store with DuckDB (a
// reader we did not write) and prints what the C tests compare:
//   node read_parquet.cjs <file>...  →  {"rows":..,"sum_id":..,"null_names":..,"sum_amount":..}
'use strict';
const path = require('path');
const NODE_DIR = process.env.DLD_NODE_DIR || path.join(__dirname, '..', 'node');
const { DuckDBInstance } = require(path.join(NODE_DIR, 'node_modules/@duckdb/node-api'));

async function main() {
  const files = process.argv.slice(2);
  if (!files.length) throw new Error('usage: read_parquet.cjs <file>...');
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const list = files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ');
  const reader = await con.runAndReadAll(
    `SELECT count(*)::BIGINT AS rows, sum(id)::BIGINT AS sum_id, count(*) FILTER (WHERE name IS NULL)::BIGINT AS null_names,
            sum(amount)::DOUBLE AS sum_amount, count(DISTINCT id)::BIGINT AS distinct_ids
       FROM read_parquet([${list}])`);
  const row = reader.getRowObjects()[0];
  const out = {};
  for (const [k, v] of Object.entries(row)) out[k] = typeof v === 'bigint' ? Number(v) : v;
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
