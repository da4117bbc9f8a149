// Reads an Iceberg table written by deltaload (table_format iceberg, file
// target) with readers we did not write, and checks it:
//   node verify.mjs <table-dir> <expect.json>
// expect.json: {"versions": {"<N>": [lines]}, "latest": [lines]}: the rows a
// reader must see at metadata version N / at the newest version, as
// "c1|c2|..." lines in the table schema's column order, NULL as \N.
//
// - icebird (npm) reads the table at every metadata version (time travel by
//   metadata file) and must see exactly the expected rows;
// - DuckDB's Parquet reader reads the data files the newest snapshot's
//   manifests list: the same rows; it also reports the Parquet field ids,
//   which must be the Iceberg schema's;
// - avsc (npm) decodes every manifest list and manifest; their Avro schemas
//   are checked against the Iceberg spec's v2 manifest_file, manifest_entry
//   and data_file field ids, names, types and required/optional, and the
//   manifests' header metadata against the keys the spec requires;
// - every snapshot carries a distinct deltaload load uid, and every data
//   file a manifest lists exists, has the listed size and row count, and
//   belongs to a load whose deltaload manifest says "published".
// Prints one JSON line (what was checked); exit 1 with the problem otherwise.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const NODE_DIR = process.env.DLD_NODE_DIR || path.join(here, '..', 'node');
const require = createRequire(path.join(NODE_DIR, 'package.json'));
const avro = require('avsc');
const { DuckDBInstance } = require('@duckdb/node-api');
const { icebergRead } = await import(path.join(NODE_DIR, 'node_modules/icebird/src/index.js'));

const [tableDir, expectPath] = process.argv.slice(2);
const expect = JSON.parse(fs.readFileSync(expectPath, 'utf8'));
const fail = (msg) => {
  console.error(`verify: ${msg}`);
  process.exit(1);
};
const bytewise = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// icebird fetches; the lake is local: answer file:// URLs from disk (with
// HEAD and Range, as hyparquet asks)
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const u = String(url);
  if (!u.startsWith('file://')) return realFetch(url, init);
  const p = fileURLToPath(u);
  if (!fs.existsSync(p)) return new Response('not found', { status: 404 });
  const data = fs.readFileSync(p);
  if (init.method === 'HEAD')
    return new Response(null, { status: 200, headers: { 'content-length': String(data.length) } });
  const range = new Headers(init.headers || {}).get('Range');
  if (range) {
    const m = /bytes=(\d+)-(\d*)/.exec(range);
    const start = Number(m[1]), end = m[2] === '' ? data.length : Number(m[2]) + 1;
    return new Response(data.subarray(start, end), { status: 206 });
  }
  return new Response(data, { status: 200 });
};

const metaDir = path.join(tableDir, 'metadata');
const hint = Number(fs.readFileSync(path.join(metaDir, 'version-hint.text'), 'utf8'));
const versions = fs.readdirSync(metaDir).map((n) => /^v(\d+)\.metadata\.json$/.exec(n)).filter(Boolean).map((m) => Number(m[1])).sort((a, b) => a - b);
if (!versions.length) fail('no metadata versions');
if (versions[versions.length - 1] !== hint) fail(`version-hint.text says ${hint}, newest metadata is v${versions[versions.length - 1]}`);
versions.forEach((v, i) => { if (v !== i + 1) fail(`metadata versions are not 1..${hint}: ${versions}`); });
const tableUrl = 'file://' + path.resolve(tableDir);
const readMeta = (v) => JSON.parse(fs.readFileSync(path.join(metaDir, `v${v}.metadata.json`), 'utf8'));
const latest = readMeta(hint);
if (latest['format-version'] !== 2) fail('not a format-version 2 table');
if (latest.location !== tableUrl) fail(`location ${latest.location}, want ${tableUrl}`);
const schema = latest.schemas.find((s) => s['schema-id'] === latest['current-schema-id']);

const norm = (v) => (v === null || v === undefined ? '\\N' : typeof v === 'bigint' ? v.toString() : v instanceof Date ? v.toISOString() : String(v));
const lineOf = (row) => schema.fields.map((f) => norm(row[f.name])).join('|');

async function icebirdLines(version) {
  const meta = readMeta(version);
  const snap = meta.snapshots?.find((s) => s['snapshot-id'] === meta['current-snapshot-id']);
  if (!snap || Number(snap.summary['total-records'] ?? 0) === 0) return [];
  const rows = await icebergRead({ tableUrl, metadataFileName: `v${version}.metadata.json` });
  return rows.map(lineOf).sort(bytewise);
}

function same(what, got, want) {
  if (got.length !== want.length || got.some((l, i) => l !== want[i])) {
    const extra = got.filter((l) => !want.includes(l)).slice(0, 5);
    const missing = want.filter((l) => !got.includes(l)).slice(0, 5);
    fail(`${what}: ${got.length} rows, want ${want.length}; extra ${JSON.stringify(extra)} missing ${JSON.stringify(missing)}`);
  }
}

// ---- rows at every version (icebird) ---------------------------------------------
const checked = [];
for (const v of versions) {
  const lines = await icebirdLines(v);
  if (expect.versions && expect.versions[v]) {
    same(`icebird at v${v}`, lines, [...expect.versions[v]].sort(bytewise));
    checked.push(v);
  }
  if (v === hint && expect.latest) same('icebird at the newest version', lines, [...expect.latest].sort(bytewise));
}

// ---- Avro files against the spec (avsc) -------------------------------------------
// [id, name, type, required]; struct/list/map types are checked by kind
const SPEC = {
  manifest_file: [[500, 'manifest_path', 'string', 1], [501, 'manifest_length', 'long', 1], [502, 'partition_spec_id', 'int', 1],
    [517, 'content', 'int', 1], [515, 'sequence_number', 'long', 1], [516, 'min_sequence_number', 'long', 1],
    [503, 'added_snapshot_id', 'long', 1], [504, 'added_files_count', 'int', 1], [505, 'existing_files_count', 'int', 1],
    [506, 'deleted_files_count', 'int', 1], [512, 'added_rows_count', 'long', 1], [513, 'existing_rows_count', 'long', 1],
    [514, 'deleted_rows_count', 'long', 1], [507, 'partitions', 'array', 0], [519, 'key_metadata', 'bytes', 0]],
  manifest_entry: [[0, 'status', 'int', 1], [1, 'snapshot_id', 'long', 0], [3, 'sequence_number', 'long', 0],
    [4, 'file_sequence_number', 'long', 0], [2, 'data_file', 'record', 1]],
  data_file: [[134, 'content', 'int', 1], [100, 'file_path', 'string', 1], [101, 'file_format', 'string', 1],
    [102, 'partition', 'record', 1], [103, 'record_count', 'long', 1], [104, 'file_size_in_bytes', 'long', 1],
    [108, 'column_sizes', 'map', 0], [109, 'value_counts', 'map', 0], [110, 'null_value_counts', 'map', 0],
    [137, 'nan_value_counts', 'map', 0], [125, 'lower_bounds', 'map', 0], [128, 'upper_bounds', 'map', 0],
    [131, 'key_metadata', 'bytes', 0], [132, 'split_offsets', 'array', 0], [135, 'equality_ids', 'array', 0],
    [140, 'sort_order_id', 'int', 0], [143, 'referenced_data_file', 'string', 0]],
};
const kind = (t) => (typeof t === 'string' ? t : Array.isArray(t) ? 'union' : t.type);
function checkRecord(what, rec, spec) {
  for (const [id, name, type, required] of spec) {
    const f = rec.fields.find((x) => x.name === name);
    if (!f) {
      if (required) fail(`${what}: required field ${id} ${name} missing`);
      continue;
    }
    if (f['field-id'] !== id) fail(`${what}: field ${name} has field-id ${f['field-id']}, the spec says ${id}`);
    let t = f.type;
    if (required) {
      if (Array.isArray(t)) fail(`${what}: required field ${name} is a union`);
    } else {
      if (!Array.isArray(t) || t.length !== 2 || t[0] !== 'null') fail(`${what}: optional field ${name} is not ["null", T]`);
      t = t[1];
    }
    if (kind(t) !== type) fail(`${what}: field ${name} is ${kind(t)}, the spec says ${type}`);
    if (name === 'data_file') checkRecord(`${what}.data_file`, t, SPEC.data_file);
  }
  for (const f of rec.fields)
    if (!spec.some(([, name]) => name === f.name)) fail(`${what}: field ${f.name} is not in the spec`);
}

function decode(file) {
  return new Promise((resolve, reject) => {
    let header;
    const records = [];
    avro.createFileDecoder(file)
      .on('metadata', (type, codec, h) => { header = h; })
      .on('data', (r) => records.push(r))
      .on('error', reject)
      .on('end', () => resolve({ header, records }));
  });
}
const fromUrl = (u) => {
  if (!u.startsWith(tableUrl + '/')) fail(`${u} is not under the table location ${tableUrl}`);
  return path.join(tableDir, u.slice(tableUrl.length + 1));
};

const uids = new Set();
let avroFiles = 0, dataFiles = 0, lastSeq = 0;
let latestFiles = [];
const published = new Map(); // load file prefix -> status
for (const snap of latest.snapshots) {
  const uid = snap.summary['deltaload.load-uid'];
  if (!uid || uids.has(uid)) fail(`snapshot ${snap['snapshot-id']}: load uid ${uid} missing or seen twice`);
  uids.add(uid);
  if (!(snap['sequence-number'] > lastSeq)) fail('sequence numbers do not increase');
  lastSeq = snap['sequence-number'];
  for (const k of ['deltaload.load-id', 'deltaload.mode', 'operation'])
    if (!snap.summary[k]) fail(`snapshot ${snap['snapshot-id']}: summary lacks ${k}`);
  const list = await decode(fromUrl(snap['manifest-list']));
  avroFiles++;
  checkRecord('manifest list', JSON.parse(list.header.meta['avro.schema'].toString()), SPEC.manifest_file);
  if (list.header.meta['format-version']?.toString() !== '2') fail('manifest list: format-version is not 2');
  if (list.header.meta['snapshot-id']?.toString() !== String(snap['snapshot-id'])) fail('manifest list: wrong snapshot-id');
  const files = [];
  for (const mf of list.records) {
    const mpath = fromUrl(mf.manifest_path);
    if (fs.statSync(mpath).size !== Number(mf.manifest_length)) fail(`${mf.manifest_path}: manifest_length is wrong`);
    const man = await decode(mpath);
    avroFiles++;
    checkRecord('manifest', JSON.parse(man.header.meta['avro.schema'].toString()), SPEC.manifest_entry);
    for (const k of ['schema', 'partition-spec', 'partition-spec-id', 'format-version', 'content'])
      if (!man.header.meta[k]) fail(`manifest ${mf.manifest_path}: header lacks ${k}`);
    if (man.header.meta.content.toString() !== 'data') fail('manifest: content is not data');
    if (man.records.length !== mf.added_files_count + mf.existing_files_count + mf.deleted_files_count)
      fail(`${mf.manifest_path}: the list's file counts do not match its entries`);
    for (const e of man.records) {
      const p = fromUrl(e.data_file.file_path);
      if (!fs.existsSync(p)) fail(`${e.data_file.file_path} is listed but does not exist`);
      if (fs.statSync(p).size !== Number(e.data_file.file_size_in_bytes)) fail(`${p}: size differs from the manifest`);
      const m = /^(LOAD\d{8}-[0-9a-f]{16})-\d{4}\.parquet$/.exec(path.basename(p));
      if (!m) fail(`${p}: not a deltaload data file name`);
      if (!published.has(m[1])) {
        const mj = path.join(tableDir, '_manifests', `${m[1]}.json`);
        published.set(m[1], fs.existsSync(mj) ? JSON.parse(fs.readFileSync(mj, 'utf8')).status : 'none');
      }
      if (published.get(m[1]) !== 'published') fail(`${p} belongs to a load whose manifest is ${published.get(m[1])}`);
      files.push({ path: p, rows: Number(e.data_file.record_count) });
      dataFiles++;
    }
  }
  if (snap['snapshot-id'] === latest['current-snapshot-id']) latestFiles = files;
}

// ---- DuckDB reads the files of the newest snapshot ------------------------------------
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const sq = (s) => `'${s.replace(/'/g, "''")}'`;
const quote = (n) => `"${n.replace(/"/g, '""')}"`;
let duck = [];
for (const f of latestFiles) {
  const n = (await con.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM read_parquet(${sq(f.path)})`)).getRowObjects()[0].n;
  if (Number(n) !== f.rows) fail(`${f.path}: ${n} rows, the manifest says ${f.rows}`);
  const ids = (await con.runAndReadAll(`SELECT name, field_id FROM parquet_schema(${sq(f.path)}) WHERE num_children IS NULL OR num_children = 0`)).getRowObjects();
  for (const c of ids) {
    const field = schema.fields.find((x) => x.name === c.name);
    if (!field || Number(c.field_id) !== field.id) fail(`${f.path}: column ${c.name} has field_id ${c.field_id}, the schema says ${field?.id}`);
  }
}
if (latestFiles.length) {
  const src = `read_parquet([${latestFiles.map((f) => sq(f.path)).join(', ')}])`;
  const expr = schema.fields.map((f) => `coalesce(CAST(${quote(f.name)} AS VARCHAR), '\\N')`).join(`, '|', `);
  duck = (await con.runAndReadAll(`SELECT concat(${expr}) AS line FROM ${src}`)).getColumns()[0].map(String).sort(bytewise);
}
if (expect.latest) same('DuckDB on the newest snapshot\'s files', duck, [...expect.latest].sort(bytewise));
console.log(JSON.stringify({ versions: versions.length, checked_versions: checked, snapshots: latest.snapshots.length, avro_files: avroFiles, data_files: dataFiles, latest_rows: duck.length }));
