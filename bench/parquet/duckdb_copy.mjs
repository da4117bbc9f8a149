// DuckDB's side of the Parquet benchmark: loads the rows our writer wrote
// into an in-memory table (so both encode exactly the same rows), then
// times COPY ... TO ... (FORMAT parquet, COMPRESSION zstd) on one thread,
// and checks that both files hold the same rows.
//   node duckdb_copy.mjs <ours.parquet> <duck.parquet> [runs]
import path from 'node:path';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const [ours, duck, runsArg] = process.argv.slice(2);
const nodeDir = process.env.DLD_NODE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../tests/node');
const { DuckDBInstance } = createRequire(path.join(nodeDir, 'package.json'))('@duckdb/node-api');
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();
const lit = (s) => `'${s.replaceAll("'", "''")}'`;

await q(`CREATE TABLE t AS SELECT * FROM read_parquet(${lit(ours)})`);
const runs = Number(runsArg || 3);
let best = Infinity;
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  await q(`COPY t TO ${lit(duck)} (FORMAT parquet, COMPRESSION zstd)`);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  best = Math.min(best, s);
}
const rows = Number((await q('SELECT count(*) FROM t'))[0][0]);
// the same rows in both files, order included
const digest = async (f) => (await q(`SELECT count(*), sum(hash(file_row_number, id, created_at, amount, city, paid, comment)::HUGEINT)
  FROM read_parquet(${lit(f)}, file_row_number = true)`))[0].map(String).join('/');
const same = (await digest(ours)) === (await digest(duck));
console.log(JSON.stringify({ rows, seconds: best, bytes: fs.statSync(duck).size, rows_per_s: rows / best, same_rows: same }));
