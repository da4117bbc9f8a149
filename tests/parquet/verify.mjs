#!/usr/bin/env node
// Reads the Parquet files written by test_parquet back with a reader we did
// not write, and compares them value by value with expectations.json (the
// values the C test built its Arrow batches from).
//
//   verify.mjs --reader duckdb|hyparquet [--selftest] <fixture dir>
//
// duckdb:    types as DuckDB infers them, every value, key/value metadata,
//            codec, and the column statistics through parquet_metadata(),
//            checked against min/max/null counts computed here per row group
//            in each type's order.
// hyparquet: schema annotations (physical, logical, converted types,
//            repetition), every value, null counts and page encodings.
// --selftest corrupts copies of the expectations (a value, a type, a
//            statistic) and succeeds only if each corruption is caught, so
//            the comparison itself is shown able to fail.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const reader = args[args.indexOf('--reader') + 1];
const selftest = args.includes('--selftest');
const dir = args[args.length - 1];
if (!['duckdb', 'hyparquet'].includes(reader) || !dir || dir.startsWith('--')) {
  console.error('usage: verify.mjs --reader duckdb|hyparquet [--selftest] <fixture dir>');
  process.exit(2);
}
const nodeDir = process.env.DLD_NODE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../node');
const req = createRequire(path.join(nodeDir, 'package.json'));
const load = (name) => import(pathToFileURL(req.resolve(name)).href);

// ---- canonical values -------------------------------------------------------
// Every value becomes one of: null, boolean, bigint, number (floats),
// string (text), or 'hex:...' (binary), so both sides compare with ===
// (Object.is for floats: -0 and NaN matter).

const isInt = (t) => /^(u?int\d+|date|decimal|timestamp|time)/.test(t);
const isFloat = (t) => t === 'float' || t === 'double';

function expectedValue(type, v) {
  if (v === null) return null;
  if (type === 'bool') return v;
  if (isFloat(type)) {
    if (v === 'nan') return NaN;
    if (v === 'inf') return Infinity;
    if (v === '-inf') return -Infinity;
    if (v === '-0') return -0;
    return type === 'float' ? Math.fround(Number(v)) : Number(v);
  }
  if (type === 'binary') return 'hex:' + v;
  if (type === 'string') return v;
  return BigInt(v);
}

const hex = (bytes) => 'hex:' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

function same(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  return a === b;
}

const show = (v) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'number' && (Object.is(v, -0) || !Number.isFinite(v)) ? String(Object.is(v, -0) ? '-0' : v) :
  typeof v === 'string' && v.length > 80 ? JSON.stringify(v.slice(0, 80)) + `...(${v.length})` : JSON.stringify(v) ?? String(v));

// timestamp[ms,utc] → { unit: 'ms', utc: true }
function timeInfo(type) {
  const m = /^(timestamp|time)\[(\w+)(?:,(\w+))?\]$/.exec(type);
  return m && { kind: m[1], unit: m[2], utc: m[3] === 'utc' };
}
const unitNs = { ms: 1000000n, us: 1000n, ns: 1n };
const floorDiv = (a, b) => (a >= 0n ? a / b : -((-a + b - 1n) / b));

// ---- expected statistics, computed here ----------------------------------------

const utf8 = (s) => Buffer.from(s, 'utf8');
function cmpBytes(a, b) { return Buffer.compare(a, b); }
function toBytes(type, v) { return type === 'binary' ? Buffer.from(v.slice(4), 'hex') : utf8(v); }

function expectedStats(type, values) {
  let nulls = 0, min, max, any = false;
  for (const v of values) {
    if (v === null) { nulls++; continue; }
    if (typeof v === 'number' && Number.isNaN(v)) continue;
    if (!any) { min = max = v; any = true; continue; }
    if (type === 'string' || type === 'binary') {
      if (cmpBytes(toBytes(type, v), toBytes(type, min)) < 0) min = v;
      if (cmpBytes(toBytes(type, v), toBytes(type, max)) > 0) max = v;
    } else if (type === 'bool') {
      min = min && v; max = max || v;
    } else {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (any && isFloat(type)) {
    // the spec's rule for zeros: min written as -0, max as +0
    if (min === 0) min = -0;
    if (max === 0) max = 0;
  }
  return { nulls, min: any ? min : null, max: any ? max : null };
}

// ---- failures -------------------------------------------------------------------

class Report {
  constructor() { this.errors = []; }
  fail(msg) { if (this.errors.length < 50) this.errors.push(msg); else this.errors.length === 50 && this.errors.push('...'); }
  check(ok, msg) { if (!ok) this.fail(msg); }
}

function compareColumn(rep, file, col, expected, got, what, skip) {
  if (skip) return; // selftest: leave the catching to the statistics
  rep.check(got.length === expected.length, `${file} ${col}: ${what} has ${got.length} values, expected ${expected.length}`);
  let shown = 0;
  for (let i = 0; i < Math.min(got.length, expected.length); i++) {
    if (!same(got[i], expected[i])) {
      if (shown++ < 5) rep.fail(`${file} ${col} row ${i}: ${what} read ${show(got[i])}, expected ${show(expected[i])}`);
    }
  }
  if (shown > 5) rep.fail(`${file} ${col}: ${shown} mismatching values in all`);
}

// ---- DuckDB ---------------------------------------------------------------------

function duckType(type) {
  const t = timeInfo(type);
  if (t && t.kind === 'timestamp') return t.utc ? 'TIMESTAMP WITH TIME ZONE' : t.unit === 'ns' ? 'TIMESTAMP_NS' : 'TIMESTAMP';
  if (t) return t.unit === 'ns' ? 'TIME_NS' : 'TIME';
  const m = /^decimal\((\d+),(\d+)\)$/.exec(type);
  if (m) return `DECIMAL(${m[1]},${m[2]})`;
  return {
    bool: 'BOOLEAN', int8: 'TINYINT', int16: 'SMALLINT', int32: 'INTEGER', int64: 'BIGINT',
    uint8: 'UTINYINT', uint16: 'USMALLINT', uint32: 'UINTEGER', uint64: 'UBIGINT',
    float: 'FLOAT', double: 'DOUBLE', string: 'VARCHAR', binary: 'BLOB', date: 'DATE',
  }[type];
}

// what DuckDB holds for an expected value: timestamps and times in its
// own unit (microseconds, except TIMESTAMP_NS / TIME_NS)
function toDuckUnit(type, v) {
  const t = timeInfo(type);
  if (!t || v === null) return v;
  if (t.unit === 'ns' && t.kind === 'timestamp' && t.utc) {
    // DuckDB has no nanosecond TIMESTAMPTZ: it reads these as microseconds,
    // truncating toward zero (hyparquet checks the exact nanoseconds)
    return v / 1000n;
  }
  const duckNs = t.unit === 'ns' ? 1n : 1000n;
  return floorDiv(v * unitNs[t.unit], duckNs);
}

function fromDuck(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'string') return v;
  if (typeof v === 'number') return v;
  if ('bytes' in v) return hex(v.bytes);
  if ('scale' in v && 'value' in v) return v.value;
  if ('days' in v) return BigInt(v.days);
  if ('nanos' in v) return v.nanos;
  if ('micros' in v) return v.micros;
  if ('millis' in v) return v.millis * 1000n;
  throw new Error('unexpected DuckDB value ' + v.constructor?.name);
}

function intOf(type, v) {
  // DuckDB hands 8-32 bit integers as JS numbers
  return v !== null && typeof v === 'number' && !isFloat(type) && type !== 'bool' ? BigInt(v) : v;
}

async function duckdbCheck(files, rep) {
  const { DuckDBInstance } = await load('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await inst.connect();
  const q = async (sql) => (await con.runAndReadAll(sql));
  for (const f of files) {
    const file = path.join(dir, f.file).replaceAll("'", "''");
    const desc = (await q(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRows();
    rep.check(desc.length === f.columns.length, `${f.file}: DuckDB sees ${desc.length} columns, expected ${f.columns.length}`);
    f.columns.forEach((c, i) => {
      rep.check(desc[i]?.[0] === c.name, `${f.file}: column ${i} is ${desc[i]?.[0]}, expected ${c.name}`);
      rep.check(desc[i]?.[1] === duckType(c.type), `${f.file} ${c.name}: DuckDB type ${desc[i]?.[1]}, expected ${duckType(c.type)} for ${c.type}`);
    });
    const data = await q(`SELECT * FROM read_parquet('${file}')`);
    const rows = data.getRows();
    rep.check(rows.length === f.rows, `${f.file}: DuckDB read ${rows.length} rows, expected ${f.rows}`);
    f.columns.forEach((c, i) => {
      const exp = c.values.map((v) => toDuckUnit(c.type, expectedValue(c.type, v)));
      const got = rows.map((r) => intOf(c.type, fromDuck(r[i])));
      compareColumn(rep, f.file, c.name, exp, got, 'DuckDB', f.skip_values);
    });

    // key/value metadata and codec
    const meta = (await q(`SELECT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata('${file}')`)).getRows();
    const kv = Object.fromEntries(meta);
    for (const [k, v] of Object.entries(f.kv)) rep.check(kv[k] === v, `${f.file}: metadata ${k} = ${show(kv[k])}, expected ${show(v)}`);
    const created = (await q(`SELECT created_by FROM parquet_file_metadata('${file}')`)).getRows()[0][0];
    rep.check(/^deltaload/.test(created), `${f.file}: created_by ${show(created)}`);
    await duckdbStats(q, f, file, rep);
  }
}

async function duckdbStats(q, f, file, rep) {
  const codec = { zstd: 'ZSTD', snappy: 'SNAPPY', gzip: 'GZIP', none: 'UNCOMPRESSED' }[f.options.compression ?? 'zstd'];
  const groups = (await q(`SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('${file}') ORDER BY 1`)).getRows();
  rep.check(groups.length >= f.min_row_groups, `${f.file}: ${groups.length} row groups, expected at least ${f.min_row_groups}`);
  // one query per column, all row groups at once
  const starts = [];
  let start = 0;
  for (const [, nrows] of groups) { starts.push(start); start += Number(nrows); }
  for (const c of f.columns) {
    const dt = duckType(c.type);
    const cast = (x) => (c.type === 'string' ? x : `TRY_CAST(${x} AS ${dt})`);
    const name = c.name.replaceAll("'", "''");
    const res = (await q(`SELECT row_group_id, ${cast('stats_min_value')}, ${cast('stats_max_value')}, stats_null_count, min_is_exact, max_is_exact,
        stats_min_value IS NULL, stats_max_value IS NULL, compression, encodings
      FROM parquet_metadata('${file}') WHERE path_in_schema = '${name}' ORDER BY row_group_id`)).getRows();
    rep.check(res.length === groups.length, `${f.file} ${c.name}: metadata for ${res.length} row groups, expected ${groups.length}`);
    for (const [g, [rg, nrows]] of groups.entries()) {
      const n = Number(nrows);
      const r = res.find((x) => Number(x[0]) === Number(rg))?.slice(1);
      const where = `${f.file} row group ${rg} ${c.name}`;
      if (!r) { rep.fail(`${where}: no metadata`); continue; }
      const [mn, mx, nulls, minExact, maxExact, minAbsent, maxAbsent, comp] = r;
      rep.check(comp === codec, `${where}: codec ${comp}, expected ${codec}`);
      const vals = c.values.slice(starts[g], starts[g] + n).map((v) => toDuckUnit(c.type, expectedValue(c.type, v)));
      const e = expectedStats(c.type, vals);
      rep.check(Number(nulls) === e.nulls, `${where}: null_count ${nulls}, expected ${e.nulls}`);
      const gotMin = intOf(c.type, fromDuck(mn)), gotMax = intOf(c.type, fromDuck(mx));
      if (e.min === null) {
        rep.check(minAbsent && maxAbsent, `${where}: min/max ${show(gotMin)}/${show(gotMax)} written for a column with no comparable value`);
        continue;
      }
      const long = (v) => (c.type === 'string' || c.type === 'binary') && toBytes(c.type, v).length > 64;
      // DuckDB's parquet_metadata() shows no value for an infinite float
      // statistic (its own files included); hyparquet checks those
      const inf = (v) => typeof v === 'number' && !Number.isFinite(v) && !Number.isNaN(v);
      if (inf(e.min) && minAbsent) { /* checked by hyparquet */ } else if (long(e.min)) {
        const gb = toBytes(c.type, gotMin ?? '');
        rep.check(!minExact && gb.length <= 64 && toBytes(c.type, e.min).subarray(0, gb.length).equals(gb),
          `${where}: min of a long value should be a short inexact prefix, got ${show(gotMin)} exact=${minExact}`);
      } else {
        rep.check(same(gotMin, e.min) && minExact !== false, `${where}: min ${show(gotMin)}, expected ${show(e.min)}`);
      }
      if (inf(e.max) && maxAbsent) { /* checked by hyparquet */ } else if (long(e.max)) {
        const tb = toBytes(c.type, e.max);
        // no bound is acceptable only when none fits: every byte of the
        // first 64 is one that cannot be raised
        const raisable = [...tb.subarray(0, 64)].some((b) => (c.type === 'string' ? b < 0x7f : b < 0xff));
        if (maxAbsent) {
          rep.check(!raisable, `${where}: max missing though a short upper bound exists`);
        } else {
          const gb = toBytes(c.type, gotMax);
          rep.check(!maxExact && gb.length <= 64 && cmpBytes(gb, tb) > 0, `${where}: max bound ${show(gotMax)} is not a short upper bound`);
        }
      } else {
        rep.check(same(gotMax, e.max) && maxExact !== false, `${where}: max ${show(gotMax)}, expected ${show(e.max)}`);
      }
    }
  }
  rep.check(start === f.rows, `${f.file}: row groups hold ${start} rows, expected ${f.rows}`);
}

// ---- hyparquet ---------------------------------------------------------------------

const rawParsers = {
  timestampFromMilliseconds: (v) => BigInt(v),
  timestampFromMicroseconds: (v) => BigInt(v),
  timestampFromNanoseconds: (v) => BigInt(v),
  dateFromDays: (v) => BigInt(v),
};

function fromBigEndian(bytes) {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  const bits = BigInt(bytes.length * 8);
  return bytes.length && v >= 1n << (bits - 1n) ? v - (1n << bits) : v;
}

function fromHy(type, v) {
  if (v === null || v === undefined) return null;
  if (type === 'binary') return hex(v);
  if (type === 'string' || type === 'bool' || isFloat(type)) return v;
  if (type.startsWith('decimal') && v instanceof Uint8Array) return fromBigEndian(v);
  return BigInt(v);
}

// the schema annotations each expected type must carry
function expectedSchema(type) {
  const t = timeInfo(type);
  const unitName = { ms: 'MILLIS', us: 'MICROS', ns: 'NANOS' };
  let m;
  if ((m = /^(u?)int(\d+)$/.exec(type))) {
    const bits = Number(m[2]);
    return { physical: bits === 64 ? 'INT64' : 'INT32', logical: { type: 'INTEGER', bitWidth: bits, isSigned: !m[1] },
      converted: `${m[1] ? 'UINT' : 'INT'}_${bits}` };
  }
  if ((m = /^decimal\((\d+),(\d+)\)$/.exec(type))) {
    const p = Number(m[1]);
    return { physical: p <= 9 ? 'INT32' : p <= 18 ? 'INT64' : 'FIXED_LEN_BYTE_ARRAY',
      logical: { type: 'DECIMAL', precision: p, scale: Number(m[2]) }, converted: 'DECIMAL' };
  }
  if (t) {
    const physical = t.kind === 'time' && t.unit === 'ms' ? 'INT32' : 'INT64';
    const converted = t.unit === 'ns' ? undefined : `${t.kind.toUpperCase()}_${unitName[t.unit]}`;
    return { physical, logical: { type: t.kind.toUpperCase(), isAdjustedToUTC: t.utc, unit: unitName[t.unit] }, converted };
  }
  return {
    bool: { physical: 'BOOLEAN' }, float: { physical: 'FLOAT' }, double: { physical: 'DOUBLE' },
    string: { physical: 'BYTE_ARRAY', logical: { type: 'STRING' }, converted: 'UTF8' },
    binary: { physical: 'BYTE_ARRAY' }, date: { physical: 'INT32', logical: { type: 'DATE' }, converted: 'DATE' },
  }[type];
}

function sameLogical(got, exp) {
  if (!exp) return got === undefined;
  if (!got) return false;
  return Object.entries(exp).every(([k, v]) => got[k] === v);
}

async function hyparquetCheck(files, rep) {
  const hp = await load('hyparquet');
  const { compressors } = await load('hyparquet-compressors');
  for (const f of files) {
    const file = await hp.asyncBufferFromFile(path.join(dir, f.file));
    const metadata = await hp.parquetMetadataAsync(file, { parsers: rawParsers });
    rep.check(Number(metadata.num_rows) === f.rows, `${f.file}: hyparquet num_rows ${metadata.num_rows}, expected ${f.rows}`);
    rep.check(/^deltaload/.test(metadata.created_by ?? ''), `${f.file}: created_by ${metadata.created_by}`);
    const kv = Object.fromEntries((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value]));
    for (const [k, v] of Object.entries(f.kv)) rep.check(kv[k] === v, `${f.file}: metadata ${k} = ${show(kv[k])}, expected ${show(v)}`);
    const elems = metadata.schema.slice(1);
    rep.check(elems.length === f.columns.length, `${f.file}: ${elems.length} schema columns, expected ${f.columns.length}`);
    f.columns.forEach((c, i) => {
      const el = elems[i] ?? {};
      const e = expectedSchema(c.type);
      const where = `${f.file} ${c.name}`;
      rep.check(el.name === c.name, `${where}: schema name ${el.name}`);
      rep.check(el.type === e.physical, `${where}: physical ${el.type}, expected ${e.physical}`);
      rep.check(el.converted_type === e.converted, `${where}: converted ${el.converted_type}, expected ${e.converted}`);
      rep.check(sameLogical(el.logical_type, e.logical), `${where}: logical ${JSON.stringify(el.logical_type)}, expected ${JSON.stringify(e.logical)}`);
      rep.check(el.repetition_type === (c.nullable ? 'OPTIONAL' : 'REQUIRED'), `${where}: repetition ${el.repetition_type}`);
      if (e.physical === 'FIXED_LEN_BYTE_ARRAY') {
        const p = Number(/\((\d+)/.exec(c.type)[1]);
        // the fewest bytes holding 10^p - 1 in two's complement
        let n = 1;
        while ((1n << BigInt(8 * n - 1)) <= 10n ** BigInt(p) - 1n) n++;
        rep.check(el.type_length === n, `${where}: type_length ${el.type_length}, expected ${n}`);
      }
    });
    // decimals as raw unscaled integers: hyparquet would turn them into
    // lossy JS numbers; the annotation itself was checked above
    const rawMeta = structuredClone(metadata);
    rawMeta.schema.forEach((el) => {
      if (el.converted_type === 'DECIMAL') { delete el.converted_type; delete el.logical_type; }
    });
    const rows = f.rows ? await hp.parquetReadObjects({ file, metadata: rawMeta, compressors, parsers: rawParsers, utf8: false }) : [];
    rep.check(rows.length === f.rows, `${f.file}: hyparquet read ${rows.length} rows, expected ${f.rows}`);
    for (const c of f.columns) {
      const exp = c.values.map((v) => expectedValue(c.type, v));
      const got = rows.map((r) => fromHy(c.type, r[c.name]));
      compareColumn(rep, f.file, c.name, exp, got, 'hyparquet', f.skip_values);
    }
    // null counts per row group and the encodings of the data pages
    let start = 0;
    for (const [g, rg] of metadata.row_groups.entries()) {
      const n = Number(rg.num_rows);
      rg.columns.forEach((cc, i) => {
        const c = f.columns[i];
        const e = expectedStats(c.type, c.values.slice(start, start + n).map((v) => expectedValue(c.type, v)));
        rep.check(Number(cc.meta_data.statistics?.null_count) === e.nulls,
          `${f.file} row group ${g} ${c.name}: null_count ${cc.meta_data.statistics?.null_count}, expected ${e.nulls}`);
        rep.check(Number(cc.meta_data.num_values) === n, `${f.file} row group ${g} ${c.name}: num_values ${cc.meta_data.num_values}`);
        // min/max as hyparquet decodes them (decimals it turns into lossy
        // numbers and long strings are cut: those DuckDB's check covers)
        const st = cc.meta_data.statistics ?? {};
        const short = (v) => !((c.type === 'string' || c.type === 'binary') && v !== null && toBytes(c.type, v).length > 64);
        if (!c.type.startsWith('decimal') && c.type !== 'binary' && short(e.min) && short(e.max)) {
          const conv = (v) => (v === undefined ? null : fromHy(c.type, v));
          rep.check(same(conv(st.min_value), e.min), `${f.file} row group ${g} ${c.name}: hyparquet min ${show(conv(st.min_value))}, expected ${show(e.min)}`);
          rep.check(same(conv(st.max_value), e.max), `${f.file} row group ${g} ${c.name}: hyparquet max ${show(conv(st.max_value))}, expected ${show(e.max)}`);
        }
        const want = f.expect?.[c.name]?.data_page_encodings;
        if (want) {
          const have = [...new Set((cc.meta_data.encoding_stats ?? []).filter((s) => s.page_type === 'DATA_PAGE').map((s) => s.encoding))].sort();
          rep.check(JSON.stringify(have) === JSON.stringify([...want].sort()),
            `${f.file} row group ${g} ${c.name}: data pages encoded ${have}, expected ${want}`);
        }
      });
      start += n;
    }
  }
}

// ---- main ---------------------------------------------------------------------------

async function run(files) {
  const rep = new Report();
  await (reader === 'duckdb' ? duckdbCheck(files, rep) : hyparquetCheck(files, rep));
  return rep;
}

const expectations = JSON.parse(fs.readFileSync(path.join(dir, 'expectations.json'), 'utf8'));

if (!selftest) {
  const rep = await run(expectations.files);
  if (rep.errors.length) {
    console.error(`FAIL (${reader}): ${rep.errors.length} problem(s)`);
    for (const e of rep.errors) console.error('  ' + e);
    process.exit(1);
  }
  for (const f of expectations.files) console.log(`ok ${reader}: ${f.file}: ${f.rows} rows x ${f.columns.length} columns`);
  process.exit(0);
}

// self-test: each corruption must be reported
const base = expectations.files.find((f) => f.file === 'all_zstd.parquet');
const corruptions = [
  ['a changed int64', (f) => { const c = f.columns.find((x) => x.name === 'i64'); c.values[100] = c.values[100] === '1' ? '2' : '1'; }],
  ['-0 instead of 0', (f) => { const c = f.columns.find((x) => x.name === 'f64'); c.values[5] = c.values[5] === '-0' ? '0' : '-0'; }],
  ['a changed string', (f) => { const c = f.columns.find((x) => x.name === 'str'); c.values[2] += 'x'; }],
  ['a lost NULL', (f) => { const c = f.columns.find((x) => x.name === 'dec38'); c.values[0] = '1'; }],
  ['the last digit of a 38-digit decimal', (f) => { const c = f.columns.find((x) => x.name === 'dec38'); c.values[1] = (BigInt(c.values[1]) - 1n).toString(); }],
  ['a timestamp 1 ns off', (f) => { const c = f.columns.find((x) => x.name === 'ts_ns'); c.values[3] = (BigInt(c.values[3]) + 1n).toString(); }],
  ['a wrong type', (f) => { const c = f.columns.find((x) => x.name === 'ts_us_utc'); c.type = 'timestamp[us,local]'; }],
  ['a wrong max statistic (values not compared)', (f) => {
    f.skip_values = true;
    const c = f.columns.find((x) => x.name === 'i64');
    c.values = c.values.map((v) => (v === '9223372036854775807' ? '12345' : v)); // the max of row group 0
  }],
  ['a wrong null count (values not compared)', (f) => {
    f.skip_values = true;
    const c = f.columns.find((x) => x.name === 'u16');
    c.values[0] = '7'; // row 0 is NULL
  }],
  ['a missing metadata value', (f) => { f.kv['deltaload.table'] = 'other.table'; }],
];
let missed = 0;
for (const [what, corrupt] of corruptions) {
  const copy = structuredClone(base);
  corrupt(copy);
  const rep = await run([copy]);
  if (rep.errors.length === 0) { console.error(`selftest (${reader}): NOT caught: ${what}`); missed++; }
  else console.log(`selftest (${reader}): caught ${what}: ${rep.errors[0]}`);
}
process.exit(missed ? 1 : 0);
