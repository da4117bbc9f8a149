// End to end through the deltaload binary: source postgres → target file
// (Parquet, zstd) → state sqlite, the lake read back with DuckDB (a reader
// we did not write) and compared with what PostgreSQL itself says.
//
// Cases: every mapped type with NULLs and edge values; a delta after updates
// and inserts; a transaction open during the plan with a lag; a connection
// terminated mid-window (watermark unchanged, next run complete); schema
// drift (a retyped filter column fails the window, evolve adds a column);
// a window split over 4 connections (option parallel) with one range's
// backend terminated, then loaded once and compared row by row.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const assert = require('node:assert/strict');

const env = (k) => {
  const v = process.env[k];
  if (!v) { console.error(`e2e_postgres: ${k} is not set`); process.exit(1); }
  return v;
};
const BIN = env('DLD_BIN');
const PGDIR = env('DLD_PG_DIR');
const NODE_DIR = env('DLD_NODE_DIR');
const { DuckDBInstance } = require(path.join(NODE_DIR, 'node_modules/@duckdb/node-api'));

const port = fs.readFileSync(path.join(PGDIR, 'postmaster.port'), 'utf8').trim();
const password = fs.readFileSync(path.join(PGDIR, 'password'), 'utf8').trim();
const DB = 'dld_e2e';
const pgEnv = { ...process.env, PGHOST: path.join(PGDIR, 'sock'), PGPORT: port, PGUSER: 'postgres',
  PGOPTIONS: '-c client_min_messages=warning' };

function psql(sql, db = DB) {
  return execFileSync('psql', ['-qAtX', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql],
    { env: pgEnv, encoding: 'utf8', maxBuffer: 1 << 28 }).replace(/\n$/, '');
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dld-e2e-pg-'));
const lake = path.join(work, 'lake');

function config(tables, extraSource = {}) {
  const cfg = {
    source: { plugin: 'postgres', options: {
      conninfo: `host=127.0.0.1 port=${port} user=postgres dbname=${DB}`,
      password: '${DLD_E2E_PGPASSWORD}', ...extraSource } },
    target: { plugin: 'file', options: { path: lake, format: 'parquet', compression: 'zstd' } },
    state: { plugin: 'sqlite', options: { path: path.join(work, 'state.db') } },
    engine: { batch_rows: 4096, retries: 0 },
    tables,
  };
  const file = path.join(work, 'deltaload.json');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 1));
  return file;
}

function item(name, filter, start, extra = {}) {
  return { targetTableName: name, sourceSchema: 'public', sourceTable: name, filtercolumn: filter,
    filteroperator: 'gte', startvalue: start, activeflag: 'Y', ouputs3Prefix: 'lake', ...extra };
}

function deltaload(cfg, args, opts = {}) {
  const r = require('node:child_process').spawnSync(BIN, ['-c', cfg, ...args],
    { env: { ...process.env, DLD_E2E_PGPASSWORD: password }, encoding: 'utf8', ...opts });
  return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
}

function run(cfg, table) {
  const r = deltaload(cfg, ['run', '--table', table]);
  assert.equal(r.code, 0, `deltaload run ${table} failed:\n${r.out}`);
  return r;
}

function status(cfg, table) {
  const r = deltaload(cfg, ['status', '--json']);
  assert.equal(r.code, 0, r.out);
  const s = JSON.parse(r.out.slice(r.out.indexOf('{')));
  return s.tables.find((t) => t.table === table);
}

let duck;
async function lakeRows(table, select, tail = '') {
  const dir = path.join(lake, 'lake', 'public', table);
  const manifests = fs.readdirSync(path.join(dir, '_manifests'));
  const files = [];
  for (const m of manifests) {
    const man = JSON.parse(fs.readFileSync(path.join(dir, '_manifests', m), 'utf8'));
    for (const f of man.files) files.push(path.join(dir, f.name ?? f.path ?? f));
  }
  if (!files.length) return [];
  const list = files.map((f) => `'${f}'`).join(', ');
  const c = await duck.connect();
  const r = await c.runAndReadAll(`SELECT ${select} FROM read_parquet([${list}]) ${tail}`);
  return r.getRowsJson();
}

const sortRows = (rows) => rows.map((r) => JSON.stringify(r)).sort();

function sameRows(got, want, what) {
  const g = sortRows(got), w = sortRows(want);
  assert.equal(g.length, w.length, `${what}: ${g.length} rows in the lake, ${w.length} in the source`);
  for (let i = 0; i < g.length; i++) assert.equal(g[i], w[i], `${what}: row ${i} differs`);
}

// ---- 1. types ------------------------------------------------------------------
async function testTypes() {
  psql(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE TABLE types_t (id int PRIMARY KEY, c_int2 int2, c_int4 int4, c_int8 int8, c_num numeric(12,3),
      c_num_free numeric, c_f4 float4, c_f8 float8, c_bool bool, c_text text, c_varchar varchar(20),
      c_char char(4), c_bytea bytea, c_date date, c_time time, c_ts timestamp, c_tstz timestamptz,
      c_interval interval, c_uuid uuid, c_json json, c_jsonb jsonb, c_enum mood, c_arr int[], c_tarr text[],
      c_inet inet);
    INSERT INTO types_t SELECT g,
      CASE WHEN g % 7 <> 1 THEN (g % 32767)::int2 END, CASE WHEN g % 7 <> 2 THEN g * 1000 END,
      CASE WHEN g % 7 <> 3 THEN g::int8 * 1000000007 END, CASE WHEN g % 7 <> 4 THEN g / 8.0 END,
      CASE WHEN g % 7 <> 5 THEN g / 3.0 END::numeric(30,9), g / 3.0, g / 7.0, g % 2 = 0,
      CASE WHEN g % 7 <> 6 THEN 'text ' || g || E'\\n"quoted", ünïcødé' END, 'v' || g, 'c' || (g % 10),
      CASE WHEN g % 7 <> 0 THEN decode(md5(g::text), 'hex') END,
      date '2000-01-01' + g, time '00:00:00' + g * interval '1.5 seconds',
      timestamp '2020-02-29 12:00:00' + g * interval '1 minute 0.000001 seconds',
      timestamptz '1999-12-31 23:59:59+00' + g * interval '1 hour',
      g * interval '1 day 2 minutes', md5(g::text)::uuid, json_build_object('g', g, 'a', json_build_array(g, null)),
      jsonb_build_object('k', g), (ARRAY['sad', 'ok', 'happy'])[g % 3 + 1]::mood, ARRAY[g, NULL, -g],
      ARRAY['a' || g, NULL], ('10.0.' || (g % 256) || '.1')::inet
    FROM generate_series(1, 3000) g;
    INSERT INTO types_t (id, c_int2, c_int4, c_int8, c_num, c_f4, c_f8, c_bool, c_text, c_date, c_ts, c_tstz)
    VALUES (100001, -32768, -2147483648, -9223372036854775808, -999999999.999, '-Infinity', 'NaN', false, '',
            '1970-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00'),
           (100002, 32767, 2147483647, 9223372036854775807, 999999999.999, 'Infinity', '-0', true, 'x',
            '9999-12-31', '9999-12-31 23:59:59.999999', '2262-04-11 23:47:16.854775+00'),
           (100003, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
  const cfg = config([item('types_t', 'id', '1')]);
  const r = run(cfg, 'types_t');
  assert.match(r.out, /committed/);
  assert.equal(status(cfg, 'types_t').watermark, '100003');

  // DuckDB side: canonical text per column; floats compared as numbers
  const duckSel = `id::VARCHAR, c_int2::VARCHAR, c_int4::VARCHAR, c_int8::VARCHAR, c_num::VARCHAR,
    c_num_free::VARCHAR, c_bool::VARCHAR, c_text, c_varchar, c_char, hex(c_bytea), c_date::VARCHAR,
    c_time::VARCHAR, epoch_us(c_ts)::VARCHAR, epoch_us(c_tstz)::VARCHAR, c_interval, c_uuid, c_json, c_jsonb,
    c_enum, c_arr, c_tarr, c_inet,
    CASE WHEN isnan(c_f8) THEN 'NaN' WHEN c_f8 IS NULL THEN NULL ELSE c_f8::VARCHAR END,
    c_f4::DOUBLE::VARCHAR`;
  const got = await lakeRows('types_t', duckSel);
  const pgSel = `id::text, c_int2::text, c_int4::text, c_int8::text, c_num::text, c_num_free::numeric(38,9)::text,
    c_bool::text, c_text, c_varchar, c_char::text || repeat(' ', 4 - octet_length(c_char::text)),
    upper(encode(c_bytea, 'hex')), c_date::text, c_time::text,
    (extract(epoch FROM c_ts) * 1000000)::bigint::text, (extract(epoch FROM c_tstz) * 1000000)::bigint::text,
    c_interval::text, c_uuid::text, c_json::text, c_jsonb::text, c_enum::text, to_json(c_arr)::text,
    to_json(c_tarr)::text, c_inet::text, c_f8::text, c_f4::float8::text`;
  const want = JSON.parse(psql(`SET IntervalStyle = iso_8601; SET extra_float_digits = 3;
    SELECT coalesce(json_agg(json_build_array(${pgSel})), '[]') FROM types_t`).split('\n').pop());
  // float text differs between the two systems; compare those two columns as numbers
  const norm = (rows) => rows.map((row) => {
    const out = row.slice(0, -2);
    const num = (v) => (/^[+-]?inf(inity)?$/i.test(v) ? (v[0] === '-' ? -Infinity : Infinity) : Number(v));
    for (const v of row.slice(-2)) out.push(v === null ? null : Object.is(num(v), -0) ? '-0' : String(num(v)));
    return out;
  });
  sameRows(norm(got), norm(want), 'types_t');

  // the lake's column types, as DuckDB sees them
  const c = await duck.connect();
  const dir = path.join(lake, 'lake', 'public', 'types_t');
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.parquet'));
  const types = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path.join(dir, file)}')`)).getRowsJson();
  const t = Object.fromEntries(types.map((x) => [x[0], x[1]]));
  assert.equal(t.c_int2, 'SMALLINT'); assert.equal(t.c_int8, 'BIGINT');
  assert.equal(t.c_num, 'DECIMAL(12,3)'); assert.equal(t.c_num_free, 'DECIMAL(38,9)');
  assert.equal(t.c_f4, 'FLOAT'); assert.equal(t.c_f8, 'DOUBLE'); assert.equal(t.c_bool, 'BOOLEAN');
  assert.equal(t.c_bytea, 'BLOB'); assert.equal(t.c_date, 'DATE'); assert.equal(t.c_time, 'TIME');
  assert.equal(t.c_ts, 'TIMESTAMP'); assert.equal(t.c_tstz, 'TIMESTAMP WITH TIME ZONE');
  assert.equal(t.c_arr, 'VARCHAR'); assert.equal(t.c_inet, 'VARCHAR');
  console.log('ok 1 - types: 3003 rows, every column equal in DuckDB');
}

// ---- 2. delta after updates and inserts ---------------------------------------------
async function testDelta() {
  psql(`CREATE TABLE events (id int PRIMARY KEY, v text, ts timestamptz NOT NULL);
        CREATE INDEX ON events (ts);
        INSERT INTO events SELECT g, 'v' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
        FROM generate_series(1, 500) g`);
  const cfg = config([item('events', 'ts', '2024-01-01 00:00:00+00')]);
  run(cfg, 'events');
  assert.equal(status(cfg, 'events').watermark, '2024-01-01 00:08:20+00');
  psql(`UPDATE events SET v = v || '-updated', ts = timestamptz '2024-06-01 00:00:00+00' + id * interval '1 ms'
        WHERE id <= 20;
        INSERT INTO events SELECT g, 'v' || g, timestamptz '2024-06-02 00:00:00+00' FROM generate_series(501, 530) g`);
  run(cfg, 'events');
  assert.equal(status(cfg, 'events').watermark, '2024-06-02 00:00:00+00');
  const all = await lakeRows('events', 'id::VARCHAR, v');
  assert.equal(all.length, 550, 'two loads: 500 rows, then 20 moved + 30 new');
  const latest = await lakeRows('events',
    'id::VARCHAR, arg_max(v, ts), epoch_us(max(ts))::VARCHAR', 'GROUP BY id');
  const want = JSON.parse(psql(`SELECT json_agg(json_build_array(id::text, v,
      (extract(epoch FROM ts) * 1000000)::bigint::text)) FROM events`));
  sameRows(latest, want, 'events, latest version per id');
  const third = deltaload(cfg, ['run', '--table', 'events']);
  assert.equal(third.code, 0, third.out);
  assert.equal((await lakeRows('events', 'id')).length, 550, 'a run with nothing new adds nothing');
  console.log('ok 2 - delta: updates move rows into the next window, nothing loaded twice');
}

// ---- 3. a transaction open while the window is planned, with a lag -----------------------
async function testOpenTransaction() {
  psql(`CREATE TABLE ot (id int, ts timestamptz);
        INSERT INTO ot VALUES (1, clock_timestamp() - interval '100 seconds'),
                              (2, clock_timestamp() - interval '1 second')`);
  const other = spawn('psql', ['-qAtX', '-v', 'ON_ERROR_STOP=1', '-d', DB], { env: pgEnv, stdio: ['pipe', 'pipe', 'inherit'] });
  other.stdin.write("BEGIN; INSERT INTO ot VALUES (3, clock_timestamp() - interval '2 seconds'); SELECT 'inserted';\n");
  await new Promise((resolve) => other.stdout.on('data', (d) => { if (String(d).includes('inserted')) resolve(); }));
  const cfg = config([item('ot', 'ts', '2000-01-01 00:00:00+00', { lag: 3 })]);
  run(cfg, 'ot');
  const want1 = psql('SELECT ts::text FROM ot WHERE id = 1');
  assert.equal(status(cfg, 'ot').watermark, want1, 'the lag held the high mark back to row 1');
  other.stdin.end('COMMIT;\n');
  await new Promise((resolve) => other.on('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 3500)); // let the lag pass
  run(cfg, 'ot');
  const ids = (await lakeRows('ot', 'id::VARCHAR')).map((r) => r[0]).sort();
  assert.deepEqual(ids, ['1', '2', '3'], 'every row exactly once, the open transaction\'s included');
  console.log('ok 3 - open transaction: with lag 3 s its row is loaded in the next window');
}

// ---- 4. the connection killed mid-window --------------------------------------------------
async function testKilled() {
  psql(`CREATE TABLE big (id int PRIMARY KEY, pad text);
        INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g`);
  const cfg = config([item('big', 'id', '1')], { application_name: 'dld-e2e-kill' });
  const child = spawn(BIN, ['-c', cfg, 'run', '--table', 'big'],
    { env: { ...process.env, DLD_E2E_PGPASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const done = new Promise((resolve) => child.on('close', resolve));
  let killed = '0';
  for (let i = 0; i < 400 && killed === '0'; i++) {
    killed = psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
      WHERE application_name = 'dld-e2e-kill' AND backend_type = 'client backend' AND query LIKE 'COPY%'`);
    if (killed === '0') await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const code = await done;
  assert.equal(killed, '1', 'the COPY was never seen running');
  assert.equal(code, 1, `deltaload should report the table failed:\n${out}`);
  assert.match(out, /connection lost/);
  const st = status(cfg, 'big');
  assert.equal(st.watermark, null, 'the watermark did not move');
  assert.equal(st.last_load.status, 'failed');
  const dir = path.join(lake, 'lake', 'public', 'big');
  const leftovers = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.parquet')) : [];
  assert.deepEqual(leftovers, [], 'no data file of the failed load stays');
  run(cfg, 'big');
  assert.equal(status(cfg, 'big').watermark, '400000');
  const n = await lakeRows('big', 'count(*)::VARCHAR, count(DISTINCT id)::VARCHAR');
  assert.deepEqual(n, [['400000', '400000']]);
  console.log('ok 4 - killed mid-window: failed cleanly, watermark unchanged, next run complete');
}

// ---- 5. schema drift (issue 13): the filter column becomes text; a column added ---------
async function testSchemaDrift() {
  psql(`CREATE TABLE drift (id int PRIMARY KEY, a int);
        INSERT INTO drift SELECT g, g * 10 FROM generate_series(1, 300) g`);
  run(config([item('drift', 'id', '1')]), 'drift');
  // the case: as text, (300, ...] would compare '301' > '300' but '1000' < '300'
  psql(`ALTER TABLE drift ALTER COLUMN id TYPE text;
        INSERT INTO drift SELECT g::text, g * 10 FROM generate_series(301, 400) g UNION ALL SELECT '1000', 0`);
  for (const extra of [{}, { schema_change: 'evolve' }]) {
    const cfg = config([item('drift', 'id', '1', extra)]);
    const r = deltaload(cfg, ['run', '--table', 'drift']);
    assert.equal(r.code, 1, `a retyped filter column fails the table (${JSON.stringify(extra)}):\n${r.out}`);
    assert.match(r.out, /the type of filter column id changed since load 1 \(int32 → /);
    assert.equal(status(cfg, 'drift').watermark, '300', 'the watermark stays');
  }
  assert.equal((await lakeRows('drift', 'id')).length, 300, 'nothing of the failed windows reached the lake');
  // back to int, plus a column: evolve appends it; DuckDB reads both files by name
  psql(`ALTER TABLE drift ALTER COLUMN id TYPE int USING id::int; ALTER TABLE drift ADD COLUMN note text;
        UPDATE drift SET note = 'n' || id WHERE id > 300`);
  const cfg = config([item('drift', 'id', '1', { schema_change: 'evolve' })]);
  assert.match(deltaload(cfg, ['run', '--table', 'drift']).out, /added note/);
  assert.equal(status(cfg, 'drift').watermark, '1000');
  const dir = path.join(lake, 'lake', 'public', 'drift');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.parquet')).map((f) => `'${path.join(dir, f)}'`);
  const c = await duck.connect();
  const got = (await c.runAndReadAll(`SELECT count(*)::VARCHAR, count(DISTINCT id)::VARCHAR, count(note)::VARCHAR
    FROM read_parquet([${files.join(', ')}], union_by_name = true)`)).getRowsJson();
  assert.deepEqual(got, [['401', '401', '101']]);
  const man = fs.readdirSync(path.join(dir, '_manifests')).sort().map(
    (m) => JSON.parse(fs.readFileSync(path.join(dir, '_manifests', m), 'utf8')));
  assert.deepEqual(man.map((m) => m.columns.map((col) => col.name).join(',')), ['id,a', 'id,a,note']);
  console.log('ok 5 - schema drift: a retyped filter column fails under every policy; evolve adds a column');
}

// ---- 6. a split window (parallel 4): one range killed, then exactly once ------------------
async function testSplit() {
  psql(`CREATE TABLE splitbig (id int PRIMARY KEY, v text, n numeric(12,2));
        INSERT INTO splitbig SELECT g, repeat(md5(g::text), 6), g / 3.0 FROM generate_series(1, 300000) g`);
  psql('VACUUM ANALYZE splitbig');
  const cfg = config([item('splitbig', 'id', '1')],
    { application_name: 'dld-e2e-split', parallel: 4, split_min_rows: 1 });
  const child = spawn(BIN, ['-c', cfg, 'run', '--table', 'splitbig'],
    { env: { ...process.env, DLD_E2E_PGPASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const done = new Promise((resolve) => child.on('close', resolve));
  // the second range: its COPY has both bounds and the lowest start
  let killed = '0';
  for (let i = 0; i < 400 && killed === '0'; i++) {
    killed = psql(`SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity
      WHERE application_name = 'dld-e2e-split' AND state = 'active' AND query LIKE 'COPY%ctid >= %ctid < %'
      ORDER BY query LIMIT 1) s`);
    if (killed === '0') await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const code = await done;
  assert.equal(killed, '1', 'no split COPY was seen running');
  assert.equal(code, 1, `deltaload should report the table failed:\n${out}`);
  assert.match(out, /split range 2 of 4: postgres: reading the window: connection lost/);
  const st = status(cfg, 'splitbig');
  assert.equal(st.watermark, null, 'the watermark did not move');
  assert.equal(st.last_load.status, 'failed');
  const dir = path.join(lake, 'lake', 'public', 'splitbig');
  const leftovers = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.parquet')) : [];
  assert.deepEqual(leftovers, [], 'no data file of the failed load stays');
  assert.equal(psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dld-e2e-split'`), '0');
  run(cfg, 'splitbig');
  assert.equal(status(cfg, 'splitbig').watermark, '300000');
  const got = await lakeRows('splitbig', 'id::VARCHAR, md5(v), n::VARCHAR');
  const want = psql('SELECT id, md5(v), n FROM splitbig').split('\n').map((l) => l.split('|'));
  sameRows(got, want, 'split window');
  // a delta after changes: one range's worth of updates, new rows at the end
  psql(`UPDATE splitbig SET id = id + 300000, v = 'moved' WHERE id % 1000 = 0;
        INSERT INTO splitbig SELECT g, 'new', 1 FROM generate_series(400001, 400500) g`);
  run(cfg, 'splitbig');
  assert.equal(status(cfg, 'splitbig').watermark, '600000'); // the moved rows' ids, up to 300000 + 300000
  const all = await lakeRows('splitbig', 'count(*)::VARCHAR, count(DISTINCT id)::VARCHAR');
  assert.deepEqual(all, [['300800', '300800']]);
  console.log('ok 6 - split window: a range killed fails the load cleanly, then every row once, delta after');
}

(async () => {
  psql(`DROP DATABASE IF EXISTS ${DB}`, 'postgres');
  psql(`CREATE DATABASE ${DB}`, 'postgres');
  const inst = await DuckDBInstance.create(':memory:');
  duck = inst;
  try {
    await testTypes();
    await testDelta();
    await testOpenTransaction();
    await testKilled();
    await testSchemaDrift();
    await testSplit();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    psql(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`, 'postgres');
  }
})().catch((e) => { console.error(String(e.stack || e).slice(0, 4000)); process.exit(1); });
