// Reads an Iceberg table written by deltaload (table_format iceberg, file
// target) with readers we did not write, and checks it:
//   node verify.mjs <table-dir> <expect.json>
// expect.json: {"versions": {"<N>": [lines]}, "latest": [lines]}: the rows a
// reader must see at metadata version N / at the newest version, as
// "c1|c2|..." lines in the table schema's column order, NULL as \N
// (timestamps "YYYY-MM-DD HH:MM:SS" in UTC); "only_latest": true reads the
// newest version only (after `lake expire`).
//
// - icebird (npm) reads the table at every metadata version (time travel by
//   metadata file) and must see exactly the expected rows;
// - DuckDB's Parquet reader reads the data files the newest snapshot's
//   manifests list, and this script applies the spec's rules to them: columns
//   matched by Parquet field id (a column a file lacks reads as null), an
//   equality delete (merge_key upserts) removes the rows of data files with a
//   lower sequence number whose key equals one of its rows, a position delete
//   the listed rows of files with a lower or equal one: the same rows as
//   icebird; DuckDB also reports the Parquet field ids, which must be the
//   Iceberg schema's;
// - avsc (npm) decodes every manifest list and manifest; their Avro schemas
//   are checked against the Iceberg spec's v2 manifest_file, manifest_entry
//   and data_file field ids, names, types and required/optional, and the
//   manifests' header metadata against the keys the spec requires;
// - partition_by: the spec in metadata.json and in every manifest header,
//   the manifests' partition record (field ids 1000+, the transforms' types),
//   each data file's partition values against the transform of every one of
//   its rows (murmur3 bucket, day/month/year/hour, identity: recomputed here),
//   its folder (data/<field>=<value>/, escaped), the manifest lists' partition
//   summaries; no file under data/ that no snapshot lists, nothing left in
//   _staging/data;
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

let [tableDir, expectPath] = process.argv.slice(2);
const expect = JSON.parse(fs.readFileSync(expectPath, 'utf8'));
const fail = (msg) => {
  console.error(`verify: ${msg}`);
  process.exit(1);
};
// An s3:// table (the s3 target against tests/s3's stand-in): icebird reads
// it over HTTP from DLD_S3_HTTP (s3rver, which answers unsigned GETs); the
// other checks read a copy of its objects downloaded into a temporary folder.
const S3_HTTP = process.env.DLD_S3_HTTP;
let tableUrl;
if (tableDir.startsWith('s3://')) {
  if (!S3_HTTP) fail('an s3:// table needs DLD_S3_HTTP (the S3 stand-in\'s URL)');
  tableUrl = tableDir;
  const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.*)$/.exec(tableDir);
  const local = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'verify-s3-'));
  process.on('exit', () => fs.rmSync(local, { recursive: true, force: true }));
  let token = '', n = 0;
  for (;;) {
    const res = await fetch(`${S3_HTTP}/${bucket}?list-type=2&prefix=${encodeURIComponent(prefix + '/')}${token ? '&continuation-token=' + encodeURIComponent(token) : ''}`);
    const xml = await res.text();
    if (!res.ok) fail(`listing ${tableDir}: ${res.status} ${xml}`);
    for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) {
      const key = m[1].replace(/&amp;/g, '&');
      const obj = await fetch(`${S3_HTTP}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`);
      if (!obj.ok) fail(`GET ${key}: ${obj.status}`);
      const dest = path.join(local, key.slice(prefix.length + 1));
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, Buffer.from(await obj.arrayBuffer()));
      n++;
    }
    const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml);
    if (!/<IsTruncated>true<\/IsTruncated>/.test(xml) || !next) break;
    token = next[1];
  }
  if (!n) fail(`nothing under ${tableDir}`);
  tableDir = local;
} else {
  tableUrl = 'file://' + path.resolve(tableDir);
}
const bytewise = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// icebird fetches; the lake is local: answer file:// URLs from disk (with
// HEAD and Range, as hyparquet asks)
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const u = String(url);
  // icebird turns s3://bucket/key into https://bucket.s3.amazonaws.com/key: the stand-in instead
  const s3 = /^https:\/\/([^./]+)\.s3\.amazonaws\.com\/(.*)$/.exec(u);
  if (s3 && S3_HTTP) return realFetch(`${S3_HTTP}/${s3[1]}/${s3[2]}`, init);
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
const readMeta = (v) => JSON.parse(fs.readFileSync(path.join(metaDir, `v${v}.metadata.json`), 'utf8'));
const latest = readMeta(hint);
if (latest['format-version'] !== 2) fail('not a format-version 2 table');
if (latest.location !== tableUrl) fail(`location ${latest.location}, want ${tableUrl}`);
const schema = latest.schemas.find((s) => s['schema-id'] === latest['current-schema-id']);

// timestamps as "YYYY-MM-DD HH:MM:SS[.fff]" in UTC (what SQLite holds and DuckDB prints)
const tsText = (d) => d.toISOString().replace('T', ' ').replace(/\.000Z$/, '').replace(/Z$/, '');
const norm = (v) => (v === null || v === undefined ? '\\N' : typeof v === 'bigint' ? v.toString() : v instanceof Date ? tsText(v) : String(v));
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
// expect.only_latest: older versions name files an expiry removed (lake expire): the newest only
for (const v of expect.only_latest ? [hint] : versions) {
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
// the spec's Avro form of a map whose keys are not strings: an array of key/value records
const kind = (t) => (typeof t === 'string' ? t : Array.isArray(t) ? 'union' : t.type === 'array' && t.logicalType === 'map' ? 'map' : t.type);
const MAP_IDS = { value_counts: [119, 120, 'long'], null_value_counts: [121, 122, 'long'], lower_bounds: [126, 127, 'bytes'], upper_bounds: [129, 130, 'bytes'] };
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
    if (type === 'map' && MAP_IDS[name]) {
      const [k, v] = t.items.fields, [kid, vid, vtype] = MAP_IDS[name];
      if (k.name !== 'key' || k['field-id'] !== kid || k.type !== 'int' || v.name !== 'value' || v['field-id'] !== vid || v.type !== vtype)
        fail(`${what}: map ${name} is not map<${kid}: int, ${vid}: ${vtype}>`);
    }
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

// ---- partitioning (partition_by): the spec, the manifests' partition record ---------------
const spec = (latest['partition-specs'] || []).find((x) => x['spec-id'] === latest['default-spec-id']);
if (!spec) fail('no default partition spec');
const pfields = spec.fields || [];
if (latest['last-partition-id'] !== 999 + pfields.length) fail(`last-partition-id ${latest['last-partition-id']}, want ${999 + pfields.length}`);
const deletesOf = (mf) => mf.content === 1;
const ptypeOf = (pf) => {
  if (pf.transform !== 'identity') return 'int';
  const t = schema.fields.find((f) => f.id === pf['source-id'])?.type;
  return t === 'long' ? 'long' : t === 'string' ? 'string' : 'int';
};
function checkPartitionSchema(what, header, mf) {
  const hspec = JSON.parse(header.meta['partition-spec'].toString());
  if (JSON.stringify(hspec) !== JSON.stringify(pfields)) fail(`${what}: header partition-spec ${JSON.stringify(hspec)}, the table's is ${JSON.stringify(pfields)}`);
  if (header.meta['partition-spec-id'].toString() !== String(spec['spec-id'])) fail(`${what}: partition-spec-id`);
  if (mf.partition_spec_id !== spec['spec-id']) fail(`${what}: the list's partition_spec_id ${mf.partition_spec_id}`);
  const entry = JSON.parse(header.meta['avro.schema'].toString());
  const part = entry.fields.find((f) => f.name === 'data_file').type.fields.find((f) => f.name === 'partition').type;
  if (part.fields.length !== pfields.length) fail(`${what}: the partition record has ${part.fields.length} fields, the spec ${pfields.length}`);
  pfields.forEach((pf, i) => {
    const f = part.fields[i];
    if (f['field-id'] !== 1000 + i || f['field-id'] !== pf['field-id']) fail(`${what}: partition field ${f.name} has field-id ${f['field-id']}`);
    if (f.name !== pf.name.replace(/[^A-Za-z0-9_]/g, (c) => '_x' + c.charCodeAt(0).toString(16).toUpperCase())) fail(`${what}: partition field ${f.name}, the spec's is ${pf.name}`);
    const t = Array.isArray(f.type) && f.type[0] === 'null' ? f.type[1] : null;
    const base = typeof t === 'string' ? t : t?.type;
    if (base !== ptypeOf(pf)) fail(`${what}: partition field ${pf.name} is ${JSON.stringify(f.type)}, want ["null", ${ptypeOf(pf)}]`);
    if (pf.transform === 'day' && t?.logicalType !== 'date') fail(`${what}: day partition field without logicalType date`);
  });
}
// the spec's transforms (Iceberg spec "Partition Transforms", Appendix B)
function murmur3(buf) {
  let h = 0;
  const mul = (a, b) => Math.imul(a, b);
  const rotl = (x, r) => (x << r) | (x >>> (32 - r));
  const mix = (k) => mul(rotl(mul(k, 0xcc9e2d51), 15), 0x1b873593);
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) {
    h ^= mix(buf.readInt32LE(i));
    h = (mul(rotl(h, 13), 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (buf.length & 3) {
    case 3: k ^= buf[i + 2] << 16; // fall through
    case 2: k ^= buf[i + 1] << 8; // fall through
    case 1: k ^= buf[i]; h ^= mix(k);
  }
  h ^= buf.length;
  h ^= h >>> 16; h = mul(h, 0x85ebca6b); h ^= h >>> 13; h = mul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h | 0;
}
const floorDiv = (a, b) => { const q = a / b; return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q; };
const micros = (text) => { // "YYYY-MM-DD HH:MM:SS[.ffffff][+00]" (DuckDB's text of a UTC timestamp)
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(text);
  return BigInt(Date.parse(`${m[1]}T${m[2]}Z`)) * 1000n + BigInt(((m[3] || '') + '000000').slice(0, 6));
};
function transform(pf, type, text) {
  if (text === null) return null;
  const tr = pf.transform;
  if (tr === 'identity') return type === 'date' ? String(BigInt(Date.parse(text + 'T00:00:00Z')) / 86400000n) : text;
  const b = /^bucket\[(\d+)\]$/.exec(tr);
  if (b) {
    let bytes;
    if (type === 'int' || type === 'long') { bytes = Buffer.alloc(8); bytes.writeBigInt64LE(BigInt(text)); }
    else if (type.startsWith('timestamp')) { bytes = Buffer.alloc(8); bytes.writeBigInt64LE(micros(text)); }
    else if (type === 'string') bytes = Buffer.from(text, 'utf8');
    else fail(`bucket of ${type} is not checked here`);
    return String((murmur3(bytes) & 0x7fffffff) % Number(b[1]));
  }
  const us = type === 'date' ? BigInt(Date.parse(text + 'T00:00:00Z')) * 1000n : micros(text);
  const day = floorDiv(us, 86400000000n);
  if (tr === 'day') return String(day);
  if (tr === 'hour') return String(floorDiv(us, 3600000000n));
  const d = new Date(Number(day) * 86400000);
  if (tr === 'month') return String((d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth());
  if (tr === 'year') return String(d.getUTCFullYear() - 1970);
  fail(`transform ${tr}?`);
}
// the folder of a partition value: Java's URLEncoder form of "name=value", '%' written '~', '+' "~20", '*' "~2A"
const urlEnc = (s) => Array.from(Buffer.from(s, 'utf8')).map((c) => {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9.\-*_]/.test(ch)) return ch;
  if (c === 32) return '+';
  return '%' + c.toString(16).toUpperCase().padStart(2, '0');
}).join('');
function human(pf, v) {
  if (v === null) return 'null';
  const day = (n) => new Date(Number(n) * 86400000).toISOString().slice(0, 10);
  const src = schema.fields.find((f) => f.id === pf['source-id']);
  if (pf.transform === 'day' || (pf.transform === 'identity' && src.type === 'date')) return day(v);
  if (pf.transform === 'month') { const n = Number(v), y = Math.floor(n / 12); return `${String(1970 + y).padStart(4, '0')}-${String(n - 12 * y + 1).padStart(2, '0')}`; }
  if (pf.transform === 'year') return String(1970 + Number(v)).padStart(4, '0');
  if (pf.transform === 'hour') { const n = Number(v), d = Math.floor(n / 24); return `${day(d)}-${String(n - 24 * d).padStart(2, '0')}`; }
  return String(v);
}
const folder = (pf, v) => {
  const seg = (urlEnc(pf.name) + '=' + urlEnc(human(pf, v))).replace(/[%+*]/g, (c) => (c === '%' ? '~' : c === '+' ? '~20' : '~2A'));
  return seg.length <= 128 ? seg : null; // longer: shortened with a hash, only its form is checked
};
// the manifest list's partitions (field_summary) of a data manifest against its entries
let summariesChecked = 0;
function checkSummaries(mf, records) {
  if (!pfields.length) {
    if (mf.partitions) fail(`${mf.manifest_path}: partition summaries in an unpartitioned table`);
    return;
  }
  if (!mf.partitions || mf.partitions.length !== pfields.length) fail(`${mf.manifest_path}: ${mf.partitions?.length} partition summaries, want ${pfields.length}`);
  pfields.forEach((pf, i) => {
    const t = ptypeOf(pf);
    const vals = records.map((e) => Object.values(e.data_file.partition)[i]);
    const present = vals.filter((v) => v !== null && v !== undefined);
    const key = (v) => (t === 'string' ? Buffer.from(v, 'utf8') : BigInt(v));
    const cmp = (a, b) => (t === 'string' ? Buffer.compare(key(a), key(b)) : key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
    const s = mf.partitions[i];
    if (s.contains_null !== (present.length < vals.length)) fail(`${mf.manifest_path}: ${pf.name} contains_null ${s.contains_null}`);
    const dec = (b) => (b === null || b === undefined ? null : t === 'string' ? b.toString('utf8') : t === 'long' ? b.readBigInt64LE(0).toString() : String(b.readInt32LE(0)));
    const lo = present.length ? String(present.reduce((a, b) => (cmp(b, a) < 0 ? b : a))) : null;
    const hi = present.length ? String(present.reduce((a, b) => (cmp(b, a) > 0 ? b : a))) : null;
    if (dec(s.lower_bound) !== lo || dec(s.upper_bound) !== hi) fail(`${mf.manifest_path}: ${pf.name} bounds ${dec(s.lower_bound)}..${dec(s.upper_bound)}, its entries ${lo}..${hi}`);
  });
  summariesChecked++;
}
let partitionEntries = 0;
// a data file's partition values (manifest) = the transform of each of its rows, and its folder
function checkPartition(f, rows) {
  if (!pfields.length) {
    if (Object.keys(f.df.partition || {}).length) fail(`${f.path}: a partition record in an unpartitioned table`);
    return;
  }
  const rel = f.url.slice(tableUrl.length + 1).split('/');
  if (rel[0] !== 'data' || rel.length !== pfields.length + 2) fail(`${f.url}: not under data/<partition>/`);
  pfields.forEach((pf, i) => {
    const src = schema.fields.find((x) => x.id === pf['source-id']);
    const got = Object.values(f.df.partition)[i];
    const val = got === null || got === undefined ? null : String(got);
    for (const r of rows) {
      const want = transform(pf, src.type, r.byId.get(src.id) ?? null);
      if (want !== val) fail(`${f.path}: partition ${pf.name} = ${val}, a row's ${src.name} ${r.byId.get(src.id)} gives ${want}`);
    }
    const seg = rel[1 + i], wantSeg = folder(pf, val);
    if (wantSeg !== null ? seg !== wantSeg : !/^[A-Za-z0-9._~=-]{1,111}-[0-9a-f]{16}$/.test(seg))
      fail(`${f.url}: folder ${seg}, want ${wantSeg ?? 'a shortened name'}`);
    if (!/^[A-Za-z0-9._~=-]+$/.test(seg) || seg === '.' || seg === '..') fail(`${f.url}: unsafe folder ${seg}`);
  });
  partitionEntries++;
}

const uids = new Set();
let avroFiles = 0, dataFiles = 0, deleteFiles = 0, lastSeq = 0;
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
    if (!deletesOf(mf)) checkPartitionSchema(mf.manifest_path, man.header, mf);
    const deletes = mf.content === 1;
    if (man.header.meta.content.toString() !== (deletes ? 'deletes' : 'data'))
      fail(`manifest ${mf.manifest_path}: header content ${man.header.meta.content}, the list says ${mf.content}`);
    if (man.records.length !== mf.added_files_count + mf.existing_files_count + mf.deleted_files_count)
      fail(`${mf.manifest_path}: the list's file counts do not match its entries`);
    if (!deletesOf(mf)) checkSummaries(mf, man.records);
    for (const e of man.records) {
      const p = fromUrl(e.data_file.file_path);
      const content = e.data_file.content;
      if (deletes ? content !== 1 && content !== 2 : content !== 0)
        fail(`${e.data_file.file_path}: content ${content} in a ${deletes ? 'delete' : 'data'} manifest`);
      // ADDED entries inherit the manifest's sequence number (spec: sequence number inheritance)
      const seq = Number(e.sequence_number ?? mf.sequence_number);
      if (!fs.existsSync(p)) fail(`${e.data_file.file_path} is listed but does not exist`);
      if (fs.statSync(p).size !== Number(e.data_file.file_size_in_bytes)) fail(`${p}: size differs from the manifest`);
      const m = /^(LOAD\d{8}-[0-9a-f]{16})-(d?)\d{4}\.parquet$/.exec(path.basename(p));
      if (!m || (m[2] === 'd') !== deletes) fail(`${p}: not a deltaload ${deletes ? 'delete' : 'data'} file name`);
      if (!published.has(m[1])) {
        const mj = path.join(tableDir, '_manifests', `${m[1]}.json`);
        published.set(m[1], fs.existsSync(mj) ? JSON.parse(fs.readFileSync(mj, 'utf8')).status : 'none');
      }
      if (published.get(m[1]) !== 'published') fail(`${p} belongs to a load whose manifest is ${published.get(m[1])}`);
      if (content === 2) {
        const ids = e.data_file.equality_ids;
        if (!ids?.length || ids.some((id) => !schema.fields.some((f) => f.id === id))) fail(`${p}: equality_ids ${ids} are not field ids of the schema`);
        if (expect.equality_ids && JSON.stringify(ids) !== JSON.stringify(expect.equality_ids)) fail(`${p}: equality_ids ${ids}, want ${expect.equality_ids}`);
      }
      files.push({ path: p, url: e.data_file.file_path, rows: Number(e.data_file.record_count), seq, content, ids: e.data_file.equality_ids, df: e.data_file });
      if (deletes) deleteFiles++;
      else dataFiles++;
    }
  }
  if (snap['snapshot-id'] === latest['current-snapshot-id']) latestFiles = files;
}

// ---- DuckDB reads the files of the newest snapshot, the spec's rules applied here ----------
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const sq = (s) => `'${s.replace(/'/g, "''")}'`;
const quote = (n) => `"${n.replace(/"/g, '""')}"`;
// every row of a Parquet file as {pos, byId: field id -> text or null}
async function fileRows(f) {
  const cols = (await con.runAndReadAll(`SELECT name, field_id FROM parquet_schema(${sq(f.path)}) WHERE num_children IS NULL OR num_children = 0`)).getRowObjects();
  const sel = cols.map((c) => `CAST(${quote(c.name)} AS VARCHAR)`).join(', ');
  const rows = (await con.runAndReadAll(`SELECT ${sel}, file_row_number FROM read_parquet(${sq(f.path)}, file_row_number = true, hive_partitioning = false) ORDER BY file_row_number`)).getRows();
  return { cols, rows: rows.map((r) => ({ pos: Number(r[cols.length]), byId: new Map(cols.map((c, i) => [Number(c.field_id), r[i] === null ? null : String(r[i])])) })) };
}
const dataOf = latestFiles.filter((f) => f.content === 0);
const eqDeletes = [], posDeletes = new Map(); // url -> [{pos, seq}]
for (const f of latestFiles.filter((x) => x.content !== 0)) {
  const { rows } = await fileRows(f);
  if (rows.length !== f.rows) fail(`${f.path}: ${rows.length} rows, the manifest says ${f.rows}`);
  if (f.content === 2) {
    eqDeletes.push({ seq: f.seq, keys: new Set(rows.map((r) => JSON.stringify(f.ids.map((id) => r.byId.get(id))))), ids: f.ids });
  } else {
    for (const r of rows) {
      const url = r.byId.get(2147483546), pos = Number(r.byId.get(2147483545));
      if (!dataOf.some((d) => d.url === url)) fail(`${f.path}: a position delete for ${url}, which the snapshot does not hold`);
      if (!posDeletes.has(url)) posDeletes.set(url, []);
      posDeletes.get(url).push({ pos, seq: f.seq });
    }
  }
}
// column statistics of a data file's manifest entry against its rows (Iceberg's
// single-value serialization: little-endian numbers, UTF-8 strings, decimals as
// big-endian two's complement of the unscaled value)
let statsChecked = 0;
function decodeBound(type, buf) {
  if (type === 'int' || type === 'date') return BigInt(buf.readInt32LE(0));
  if (type === 'long' || type === 'time' || type.startsWith('timestamp')) return buf.readBigInt64LE(0);
  if (type === 'double') return buf.readDoubleLE(0);
  if (type === 'float') return buf.readFloatLE(0);
  if (type === 'boolean') return buf[0] ? 1n : 0n;
  if (type.startsWith('decimal')) {
    let v = 0n;
    for (const b of buf) v = (v << 8n) | BigInt(b);
    return buf.length && buf[0] & 0x80 ? v - (1n << BigInt(8 * buf.length)) : v;
  }
  return buf; // string, binary: the bytes
}
function valueOf(type, text) {
  if (type === 'int' || type === 'long' || type === 'date') return BigInt(text);
  if (type === 'double' || type === 'float') return Number(text);
  if (type === 'boolean') return text === 'true' ? 1n : 0n;
  if (type.startsWith('decimal')) return BigInt(text.replace('.', ''));
  if (type === 'string') return Buffer.from(text, 'utf8');
  return null; // not compared here (time, timestamps, binary)
}
const cmpv = (a, b) => (Buffer.isBuffer(a) ? Buffer.compare(a, b) : a < b ? -1 : a > b ? 1 : 0);
function checkStats(f, rows) {
  const df = f.df;
  if (!df.value_counts || !df.null_value_counts) fail(`${f.path}: the manifest entry has no value_counts / null_value_counts`);
  const counts = new Map(df.value_counts.map((x) => [x.key, Number(x.value)]));
  const nulls = new Map(df.null_value_counts.map((x) => [x.key, Number(x.value)]));
  const lower = new Map((df.lower_bounds || []).map((x) => [x.key, x.value]));
  const upper = new Map((df.upper_bounds || []).map((x) => [x.key, x.value]));
  for (const id of rows.length ? rows[0].byId.keys() : []) {
    const field = schema.fields.find((x) => x.id === id);
    const vals = rows.map((r) => r.byId.get(id));
    if (counts.get(id) !== rows.length) fail(`${f.path}: value_counts[${id}] = ${counts.get(id)}, the file has ${rows.length} rows`);
    const n = vals.filter((v) => v === null).length;
    if (nulls.get(id) !== n) fail(`${f.path}: null_value_counts[${id}] = ${nulls.get(id)}, the file has ${n} nulls`);
    const present = vals.filter((v) => v !== null).map((v) => valueOf(field.type, v));
    if (!present.length || present[0] === null) continue;
    const min = present.reduce((a, b) => (cmpv(b, a) < 0 ? b : a)), max = present.reduce((a, b) => (cmpv(b, a) > 0 ? b : a));
    if (!lower.has(id) || !upper.has(id)) fail(`${f.path}: no bounds for field ${id} (${field.name})`);
    const lo = decodeBound(field.type, lower.get(id)), hi = decodeBound(field.type, upper.get(id));
    if (field.type === 'string' && (lo.length >= 64 || hi.length >= 64)) {
      if (cmpv(lo, min) > 0 || cmpv(hi, max) < 0) fail(`${f.path}: shortened bounds of ${field.name} do not bound its values`);
    } else if (cmpv(lo, min) !== 0 || cmpv(hi, max) !== 0) {
      fail(`${f.path}: bounds of ${field.name} are ${lo}..${hi}, its values ${min}..${max}`);
    }
    statsChecked++;
  }
}
let duck = [], deletedRows = 0;
for (const f of dataOf) {
  const { cols, rows } = await fileRows(f);
  if (rows.length !== f.rows) fail(`${f.path}: ${rows.length} rows, the manifest says ${f.rows}`);
  for (const c of cols) {
    const field = schema.fields.find((x) => x.id === Number(c.field_id));
    if (!field || field.name !== c.name) fail(`${f.path}: column ${c.name} has field_id ${c.field_id}, which the schema names ${field?.name}`);
  }
  checkStats(f, rows);
  checkPartition(f, rows);
  for (const r of rows) {
    const gone = eqDeletes.some((d) => d.seq > f.seq && d.keys.has(JSON.stringify(d.ids.map((id) => r.byId.get(id))))) ||
      (posDeletes.get(f.url) || []).some((d) => d.seq >= f.seq && d.pos === r.pos);
    if (gone) deletedRows++;
    else duck.push(schema.fields.map((x) => r.byId.get(x.id) ?? '\\N').join('|'));
  }
}
duck.sort(bytewise);
// no orphan: every data file under data/ (a partitioned table's) is listed by a snapshot,
// and nothing is left in _staging/data
const listed = new Set();
for (const snap of latest.snapshots) {
  const list = await decode(fromUrl(snap['manifest-list']));
  for (const mf of list.records) for (const e of (await decode(fromUrl(mf.manifest_path))).records) listed.add(fromUrl(e.data_file.file_path));
}
const walk = (d) => (fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)])) : []);
const underData = walk(path.join(tableDir, 'data'));
for (const p of underData) if (!listed.has(p)) fail(`${p} is under data/ but no snapshot lists it (an orphan)`);
const staged = walk(path.join(tableDir, '_staging', 'data'));
if (staged.length) fail(`left in _staging/data: ${staged.slice(0, 3)}`);
if (expect.latest) same('DuckDB on the newest snapshot\'s files, deletes applied', duck, [...expect.latest].sort(bytewise));
console.log(JSON.stringify({ versions: versions.length, checked_versions: checked, snapshots: latest.snapshots.length, avro_files: avroFiles, data_files: dataFiles, delete_files: deleteFiles, latest_rows: duck.length, deleted_rows: deletedRows, bounds_checked: statsChecked, partition_fields: pfields.length, partition_entries_checked: partitionEntries, partition_summaries_checked: summariesChecked, files_under_data: underData.length }));
