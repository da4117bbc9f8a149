// The Parquet encode benchmark, both sides in one process so they share
// the machine's state: our driver (bench_parquet) writes the rows; DuckDB
// loads that file into an in-memory table (the same rows for both) and
// COPYs it to Parquet with zstd on DUCK_THREADS threads (default 1). Runs
// alternate, ours then DuckDB's, and the best and median of each are
// reported.
//   [DUCK_THREADS=n] node compare.mjs <bench_parquet> <rows> <runs> <out dir> [option value ...]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [driver, rowsArg, runsArg, out, ...opts] = process.argv.slice(2);
const runs = Number(runsArg);
const nodeDir = process.env.DLD_NODE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../tests/node');
const { DuckDBInstance, version } = createRequire(path.join(nodeDir, 'package.json'))('@duckdb/node-api');
const ours = path.join(out, 'ours.parquet'), duck = path.join(out, 'duck.parquet');
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
const oursRun = () => JSON.parse(execFileSync(driver, [rowsArg, ours, ...opts], { encoding: 'utf8' }));

const first = oursRun();
const duckThreads = process.env.DUCK_THREADS || '1';
const inst = await DuckDBInstance.create(':memory:', { threads: duckThreads });
const con = await inst.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();
await q(`CREATE TABLE t AS SELECT * FROM read_parquet(${lit(ours)})`);
const duckRun = async () => {
  const t0 = process.hrtime.bigint();
  await q(`COPY t TO ${lit(duck)} (FORMAT parquet, COMPRESSION zstd)`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

const o = [first.seconds], d = [];
for (let i = 0; i < runs; i++) {
  d.push(await duckRun());
  if (i + 1 < runs) o.push(oursRun().seconds);
}
const best = (a) => Math.min(...a);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

// the same rows in both files, in the same order
const digest = async (f) => (await q(`SELECT count(*), sum(hash(file_row_number, id, created_at, amount, city, paid, comment)::HUGEINT)
  FROM read_parquet(${lit(f)}, file_row_number = true)`))[0].map(String).join('/');
const same = (await digest(ours)) === (await digest(duck));

const rows = first.rows;
const ob = fs.statSync(ours).size, db = fs.statSync(duck).size;
const f = (x) => Math.round(x).toLocaleString('en-US');
const col = (a, b, c = '') => console.log(a.padEnd(24) + b.padStart(14) + c.padStart(26));
console.log(`rows: ${f(rows)}  (bigint, timestamp, decimal(12,2), short text, boolean, nullable long text)  zstd, ${runs} runs each, alternating`);
const ti = opts.indexOf('compression_threads');
const ourThreads = ti >= 0 ? opts[ti + 1] : 'default';
console.log(`our options: ${opts.length ? opts.join(' ') : '(defaults)'}`);
col('', `deltaload (${ourThreads} thr)`, `DuckDB ${typeof version === 'function' ? version() : ''} ${duckThreads} thr`);
col('encode rows/s (best)', f(rows / best(o)), f(rows / best(d)));
col('encode rows/s (median)', f(rows / median(o)), f(rows / median(d)));
col('file bytes', f(ob), f(db));
console.log(`throughput ratio (best):   ${(best(d) / best(o)).toFixed(2)}x   (goal >= 1.00)`);
console.log(`throughput ratio (median): ${(median(d) / median(o)).toFixed(2)}x`);
console.log(`size ratio:                ${(ob / db).toFixed(3)}x   (goal <= 1.15)`);
console.log(`same rows in both files:   ${same}`);
if (!same) process.exit(1);
