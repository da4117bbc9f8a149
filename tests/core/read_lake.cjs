// Reads a local lake table back with DuckDB (a reader we did not write), the
// two ways docs/semantics.md describes, for test_exactly_once to compare
// with the source:
//   node read_lake.cjs <table-dir> <manifest-out> <folder-out>
// <manifest-out>: the rows of every Parquet file listed by a manifest whose
//   "status" is "published" (or that has no status: before 1.1);
// <folder-out>: the rows of every *.parquet file in the table folder (a
//   DuckDB glob, as a reader that lists the folder would do).
// Rows are "c1|c2|..." lines in the files' column order, NULL as \N, sorted
// bytewise. Prints one JSON line: the manifests read, the files each view
// read, the column types DuckDB saw, and the folder's files no published
// manifest lists.
'use strict';
const fs = require('fs');
const path = require('path');
const NODE_DIR = process.env.DLD_NODE_DIR || path.join(__dirname, '..', 'node');
const { DuckDBInstance } = require(path.join(NODE_DIR, 'node_modules/@duckdb/node-api'));

const sq = (s) => `'${s.replace(/'/g, "''")}'`;
const quote = (n) => `"${n.replace(/"/g, '""')}"`;
const bytewise = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

async function rows(con, files) {
  if (!files.length) return { lines: [], cols: [] };
  const src = `read_parquet([${files.map(sq).join(', ')}])`;
  const desc = (await con.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRowObjects();
  const cols = desc.map((r) => ({ name: r.column_name, type: r.column_type }));
  const expr = cols.map((c) => `coalesce(CAST(${quote(c.name)} AS VARCHAR), '\\N')`).join(`, '|', `);
  const reader = await con.runAndReadAll(`SELECT concat(${expr}) AS line FROM ${src}`);
  return { lines: reader.getColumns()[0].map(String), cols };
}

function write(out, lines) {
  lines.sort(bytewise);
  fs.writeFileSync(out, lines.length ? lines.join('\n') + '\n' : '');
}

async function main() {
  const [dir, manifestOut, folderOut] = process.argv.slice(2);
  if (!folderOut) throw new Error('usage: read_lake.cjs <table-dir> <manifest-out> <folder-out>');
  const mdir = path.join(dir, '_manifests');
  const manifests = fs.existsSync(mdir) ? fs.readdirSync(mdir).filter((n) => n.endsWith('.json')).sort() : [];
  const listed = [];
  let published = 0, aborted = 0;
  for (const n of manifests) {
    const m = JSON.parse(fs.readFileSync(path.join(mdir, n), 'utf8'));
    if (m.status !== undefined && m.status !== 'published') {
      aborted++;
      continue;
    }
    published++;
    for (const f of m.files || []) listed.push(path.join(dir, f.name));
  }
  const inFolder = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((n) => !n.startsWith('_') && fs.statSync(path.join(dir, n)).isFile())
    : [];
  const unlisted = inFolder.filter((n) => !listed.includes(path.join(dir, n)));
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const viaManifests = await rows(con, listed);
  const globbed = inFolder.filter((n) => n.endsWith('.parquet')).length
    ? await rows(con, [path.join(dir, '*.parquet')])
    : { lines: [], cols: [] };
  write(manifestOut, viaManifests.lines);
  write(folderOut, globbed.lines);
  console.log(JSON.stringify({ published, aborted, manifest_files: listed.length, folder_files: inFolder.length,
    unlisted, columns: viaManifests.cols }));
}
main().catch((e) => { console.error(e.stack || e.message); process.exit(1); });
