// Reads Parquet files with DuckDB (a reader we did not write) and writes
// every row as one line "c1|c2|...", NULL as \N, in the files' column order,
// for the end-to-end suite to compare with the source:
//   node lake_rows.cjs <out-file> <parquet-file>...
// With no input file it writes an empty output. Prints the column names and
// types DuckDB saw on stdout (one JSON line).
'use strict';
const fs = require('fs');
const path = require('path');
const NODE_DIR = process.env.DLD_NODE_DIR || path.join(__dirname, '..', 'node');
const { DuckDBInstance } = require(path.join(NODE_DIR, 'node_modules/@duckdb/node-api'));

async function main() {
  const [out, ...files] = process.argv.slice(2);
  if (!out) throw new Error('usage: lake_rows.cjs <out-file> <parquet-file>...');
  if (!files.length) {
    fs.writeFileSync(out, '');
    console.log(JSON.stringify({ columns: [] }));
    return;
  }
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const list = files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ');
  const src = `read_parquet([${list}])`;
  const desc = (await con.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRowObjects();
  const cols = desc.map((r) => ({ name: r.column_name, type: r.column_type }));
  const quote = (n) => `"${n.replace(/"/g, '""')}"`;
  const expr = cols.map((c) => `coalesce(CAST(${quote(c.name)} AS VARCHAR), '\\N')`).join(`, '|', `);
  const reader = await con.runAndReadAll(`SELECT concat(${expr}) AS line FROM ${src}`);
  const lines = reader.getColumns()[0];
  fs.writeFileSync(out, lines.length ? lines.join('\n') + '\n' : '');
  console.log(JSON.stringify({ columns: cols, rows: lines.length }));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
