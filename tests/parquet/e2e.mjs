#!/usr/bin/env node
// End to end on the embedded defaults: a SQLite source made with the
// sqlite3 CLI, `deltaload run` with target-file writing Parquet (small
// max_file_size and row_group_size, so files roll and hold several row
// groups), then DuckDB reads the lake and must see exactly the source's
// rows, value by value: after a first load, and again after more rows
// arrive and a second run loads only those.
//
//   DLD_BIN=... DLD_PLUGIN_DIR=... node e2e.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const bin = process.env.DLD_BIN;
const pluginDir = process.env.DLD_PLUGIN_DIR;
if (!bin || !fs.existsSync(bin) || !pluginDir) {
  console.error(`e2e: DLD_BIN (${bin}) and DLD_PLUGIN_DIR (${pluginDir}) must point at a built deltaload and its plugins`);
  process.exit(1);
}
const nodeDir = process.env.DLD_NODE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../node');
const { DuckDBInstance } = createRequire(path.join(nodeDir, 'package.json'))('@duckdb/node-api');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dld-parquet-e2e-'));
const db = path.join(dir, 'src.db');
const sqlite = (sql) => execFileSync('sqlite3', [db], { input: sql, encoding: 'utf8' });
const sqliteJson = (sql) => JSON.parse(execFileSync('sqlite3', ['-json', db, sql], { encoding: 'utf8', maxBuffer: 1 << 30 }) || '[]');

// rows of every type the SQLite source maps: integers (int64 extremes),
// REAL (NaN cannot be stored in SQLite; infinities can), exact decimals
// kept as text, multi-byte and empty text, blobs, dates, timestamps
function insertRows(from, to) {
  let sql = 'BEGIN;';
  for (let i = from; i < to; i++) {
    const big = i === 1 ? '9223372036854775807' : i === 2 ? '-9223372036854775808' : String(i * 7919);
    const price = i === 3 ? '9e999' : i === 4 ? '-9e999' : i === 5 ? '-0.0' : String((i % 997) * 0.25 - 100);
    const amount = i === 6 ? "'9999999999.99'" : i === 7 ? "'-9999999999.99'" : `'${(i * 37) % 100000}.${String(i % 100).padStart(2, '0')}'`;
    const name = i % 11 === 0 ? 'NULL' : i % 13 === 0 ? "''" : `'name ${i} ${['Zürich', '東京', '🙂', 'plain'][i % 4]}'`;
    const day = `'${2000 + (i % 30)}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}'`;
    const ts = i % 17 === 0 ? 'NULL' : `'2024-0${1 + (i % 9)}-1${i % 10} 0${i % 10}:1${i % 6}:2${i % 10}.${String(i * 13 % 1000000).padStart(6, '0')}'`;
    const blob = i % 5 === 0 ? 'NULL' : `x'${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}00ff'`;
    sql += `INSERT INTO orders VALUES (${i}, ${i}, ${big}, ${price}, ${amount}, ${name}, ${day}, ${ts}, ${i % 3 === 0 ? 1 : 0}, ${blob});`;
  }
  sqlite(sql + 'COMMIT;');
}

sqlite(`CREATE TABLE orders(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, big INTEGER, price REAL,
  amount DECIMAL(12,2), name TEXT, day DATE, created DATETIME, flag BOOLEAN, data BLOB);`);
insertRows(1, 20001);

const config = {
  plugin_dirs: [pluginDir],
  source: { plugin: 'sqlite', options: { path: 'src.db' } },
  target: { plugin: 'file', options: { path: 'lake', format: 'parquet', fsync: false, max_file_size: 200000, row_group_size: 65536 } },
  state: { plugin: 'sqlite', options: { path: 'state.db' } },
  engine: { batch_rows: 3000 },
  tables: [{ targetTableName: 'orders', sourceSchema: 'main', sourceTable: 'orders', filtercolumn: 'seq',
    filteroperator: 'gte', startvalue: '1', activeflag: 'Y', ouputs3Prefix: 'raw' }],
};
fs.writeFileSync(path.join(dir, 'deltaload.json'), JSON.stringify(config, null, 1));
const run = () => execFileSync(bin, ['-c', path.join(dir, 'deltaload.json'), '-q', 'run'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();

const failures = [];
async function compare(step) {
  const files = [];
  const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) =>
    e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.parquet') && files.push(path.join(d, e.name)));
  walk(path.join(dir, 'lake'));
  if (files.length < 2) failures.push(`${step}: ${files.length} Parquet file(s); max_file_size should have rolled several`);
  const list = '[' + files.map((f) => `'${f}'`).join(',') + ']';
  const types = Object.fromEntries((await q(`DESCRIBE SELECT * FROM read_parquet(${list})`)).map((r) => [r[0], r[1]]));
  const want = { id: 'BIGINT', seq: 'BIGINT', big: 'BIGINT', price: 'DOUBLE', amount: 'DECIMAL(12,2)', name: 'VARCHAR',
    day: 'DATE', created: 'TIMESTAMP', flag: 'BOOLEAN', data: 'BLOB' };
  for (const [c, t] of Object.entries(want)) if (types[c] !== t) failures.push(`${step}: column ${c} is ${types[c]}, expected ${t}`);

  // the same text form on both sides (NUMERIC affinity keeps the decimals
  // as REAL in SQLite: printf gives them back with their 2 places)
  const lake = await q(`SELECT id, seq, big::VARCHAR, price, amount::VARCHAR, name, strftime(day, '%Y-%m-%d'),
      strftime(created, '%Y-%m-%d %H:%M:%S.%f'), flag::INTEGER, lower(hex(data))
    FROM read_parquet(${list}) ORDER BY id`);
  const src = sqliteJson(`SELECT id, seq, CAST(big AS TEXT) AS big, price, printf('%.2f', amount) AS amount, name, day, created, flag,
      lower(hex(data)) AS data FROM orders ORDER BY id`);
  if (lake.length !== src.length) failures.push(`${step}: lake has ${lake.length} rows, source ${src.length}`);
  let bad = 0;
  for (let i = 0; i < Math.min(lake.length, src.length); i++) {
    const l = lake[i], s = src[i];
    const price = s.price === null ? null : s.price === 'Inf' ? Infinity : s.price === '-Inf' ? -Infinity : Number(s.price);
    const got = [Number(l[0]), Number(l[1]), l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9] === '' && s.data === null ? null : l[9]];
    const exp = [s.id, s.seq, s.big, price, s.amount, s.name, s.day, s.created, s.flag, s.data === '' ? null : s.data];
    for (let k = 0; k < exp.length; k++) {
      const same = typeof exp[k] === 'number' && typeof got[k] === 'number' ? got[k] === exp[k] || (Number.isNaN(got[k]) && Number.isNaN(exp[k])) : got[k] === exp[k];
      if (!same && bad++ < 10) failures.push(`${step}: id ${s.id} column ${k}: lake ${JSON.stringify(got[k])}, source ${JSON.stringify(exp[k])}`);
    }
  }
  const ids = await q(`SELECT count(*), count(DISTINCT id) FROM read_parquet(${list})`);
  if (ids[0][0] !== ids[0][1]) failures.push(`${step}: ${ids[0][0]} rows but ${ids[0][1]} distinct ids (a row loaded twice)`);
  console.log(`e2e ${step}: ${files.length} Parquet files, ${lake.length} rows compared with the source`);
}

try {
  run();
  await compare('first load');
  insertRows(20001, 23001);
  run();
  await compare('second load');
} catch (e) {
  failures.push(String(e.stack || e));
}
if (failures.length) {
  console.error('FAIL parquet e2e (kept ' + dir + '):\n  ' + failures.join('\n  '));
  process.exit(1);
}
fs.rmSync(dir, { recursive: true, force: true });
console.log('ok parquet e2e');
