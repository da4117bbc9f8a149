// The metrics file (written atomically after each cycle) and
// `status --prometheus`, parsed by an independent Prometheus text-format
// parser (parse-prometheus-text-format from npm).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const parse = require('parse-prometheus-text-format');
const { scratch, makeSource, addRows, writeConfig, dl } = require('./lib.js');

function sample(families, name, labels) {
  const f = families.find((x) => x.name === name);
  if (!f) return undefined;
  const m = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels && x.labels[k] === v));
  return m === undefined ? undefined : Number(m.value);
}

// Conventions the parser does not enforce: every family has HELP and TYPE,
// counters end in _total, names and labels are valid.
function checkConventions(text, families) {
  const typed = new Set();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      typed.add(m[1]);
      if (m[2] === 'counter') assert.match(m[1], /_total$/, `counter ${m[1]} ends in _total`);
    }
  }
  for (const f of families) {
    assert.ok(typed.has(f.name), `${f.name} has a TYPE line`);
    assert.ok(f.help && f.help.length > 10, `${f.name} has HELP`);
    assert.match(f.name, /^deltaload_[a-z_]+$/);
  }
}

test('metrics file after run, and status --prometheus', () => {
  const dir = scratch('metrics');
  const db = makeSource(dir, 100);
  const prom = path.join(dir, 'textfile', 'deltaload.prom');
  fs.mkdirSync(path.dirname(prom));
  const cfg = writeConfig(dir, { metrics: { path: prom } });

  let r = dl(cfg, ['run']);
  assert.equal(r.code, 1, `one table fails: ${r.stderr}`); // "broken" has no source table
  let text = fs.readFileSync(prom, 'utf8');
  let fam = parse(text);
  checkConventions(text, fam);
  assert.equal(sample(fam, 'deltaload_table_rows_total', { table: 'orders' }), 100);
  assert.equal(sample(fam, 'deltaload_table_files_total', { table: 'orders' }), 1);
  assert.ok(sample(fam, 'deltaload_table_bytes_total', { table: 'orders' }) > 500);
  assert.equal(sample(fam, 'deltaload_table_watermark', { table: 'orders' }), 100);
  assert.equal(sample(fam, 'deltaload_table_watermark_lag', { table: 'orders' }), 0);
  assert.equal(sample(fam, 'deltaload_table_consecutive_failures', { table: 'orders' }), 0);
  assert.equal(sample(fam, 'deltaload_table_consecutive_failures', { table: 'broken' }), 1);
  assert.equal(sample(fam, 'deltaload_table_loads_total', { table: 'broken', status: 'failed' }), 1);
  assert.equal(sample(fam, 'deltaload_table_rows_total', { table: 'broken' }), 0);
  assert.equal(sample(fam, 'deltaload_table_last_success_timestamp_seconds', { table: 'broken' }), undefined);
  const now = Date.now() / 1000;
  const ok = sample(fam, 'deltaload_table_last_success_timestamp_seconds', { table: 'orders' });
  assert.ok(Math.abs(ok - now) < 60, `last success ${ok} is about now ${now}`);
  assert.ok(sample(fam, 'deltaload_table_last_load_duration_seconds', { table: 'orders' }) >= 0);
  assert.equal(sample(fam, 'deltaload_table_active', { table: 'orders' }), 1);
  assert.equal(sample(fam, 'deltaload_tables', {}), 2);

  // a second cycle: counters grow; the failing table's streak grows
  addRows(db, 101, 150);
  r = dl(cfg, ['run']);
  assert.equal(r.code, 1);
  fam = parse(fs.readFileSync(prom, 'utf8'));
  assert.equal(sample(fam, 'deltaload_table_rows_total', { table: 'orders' }), 150);
  assert.equal(sample(fam, 'deltaload_table_files_total', { table: 'orders' }), 2);
  assert.equal(sample(fam, 'deltaload_table_watermark', { table: 'orders' }), 150);
  assert.equal(sample(fam, 'deltaload_table_consecutive_failures', { table: 'broken' }), 2);
  assert.equal(sample(fam, 'deltaload_table_loads_total', { table: 'orders', status: 'committed' }), 2);

  // the watermark set back: lag is the source maximum read by the newest load minus it
  r = dl(cfg, ['reset', '--table', 'orders', '--to', '120']);
  assert.equal(r.code, 0, r.stderr);
  r = dl(cfg, ['status', '--prometheus']);
  assert.equal(r.code, 0, r.stderr);
  const st = parse(r.stdout);
  checkConventions(r.stdout, st);
  assert.equal(sample(st, 'deltaload_table_watermark', { table: 'orders' }), 120);
  assert.equal(sample(st, 'deltaload_table_watermark_lag', { table: 'orders' }), 30);
  assert.equal(sample(st, 'deltaload_table_rows_total', { table: 'orders' }), 150);

  // status --prometheus prints what the file holds (but for the time it was gathered)
  const strip = (t) => t.split('\n').filter((l) => !l.startsWith('deltaload_metrics_timestamp_seconds ')).join('\n');
  r = dl(cfg, ['run', '--table', 'orders']);
  assert.equal(r.code, 0, r.stderr);
  const fileText = fs.readFileSync(prom, 'utf8');
  const statusText = dl(cfg, ['status', '--prometheus']).stdout;
  assert.equal(strip(statusText), strip(fileText));
  // --table narrows it
  const one = parse(dl(cfg, ['status', '--prometheus', '--table', 'broken']).stdout);
  assert.equal(sample(one, 'deltaload_table_rows_total', { table: 'orders' }), undefined);
  assert.equal(sample(one, 'deltaload_table_consecutive_failures', { table: 'broken' }), 2);

  // atomic: no temporary file is left beside it
  assert.deepEqual(fs.readdirSync(path.dirname(prom)), ['deltaload.prom']);
});

test('a time watermark is exported in seconds', () => {
  const dir = scratch('metrics-time');
  const prom = path.join(dir, 'm.prom');
  makeSource(dir, 3);
  const cfg = writeConfig(dir, { metrics: { path: prom } }, [
    { targetTableName: 'ev', sourceTable: 'ev', filtercolumn: 'ts' }]);
  require('./lib.js').sqlite(path.join(dir, 'source.db'),
    "CREATE TABLE ev(id INTEGER, ts TEXT); INSERT INTO ev VALUES (1,'2024-05-01T10:00:00Z'),(2,'2024-05-01T11:30:00Z');");
  const r = dl(cfg, ['run']);
  assert.equal(r.code, 0, r.stderr);
  const fam = parse(fs.readFileSync(prom, 'utf8'));
  assert.equal(sample(fam, 'deltaload_table_watermark_timestamp_seconds', { table: 'ev' }), Date.UTC(2024, 4, 1, 11, 30) / 1000);
  assert.equal(sample(fam, 'deltaload_table_watermark', { table: 'ev' }), undefined);
  assert.equal(sample(fam, 'deltaload_table_watermark_lag_seconds', { table: 'ev' }), 0);
});

test('a metrics file that cannot be written is logged and does not fail the run', () => {
  const dir = scratch('metrics-bad');
  makeSource(dir, 5);
  const cfg = writeConfig(dir, { metrics: { path: path.join(dir, 'missing-dir', 'x.prom') } },
    [{ targetTableName: 'orders', sourceTable: 'orders', filtercolumn: 'id' }]);
  const r = dl(cfg, ['run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /metrics file .* not written/);
});

test('a bad metrics block is a configuration error', () => {
  const dir = scratch('metrics-conf');
  makeSource(dir, 1);
  let r = dl(writeConfig(dir, { metrics: { file: 'x' } }), ['status']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /metrics: unknown key 'file'/);
  r = dl(writeConfig(dir, { metrics: 'x.prom' }), ['status']);
  assert.equal(r.code, 3);
});

test('status: watermark age and lag behind the source; --watch redraws until stopped', async () => {
  const dir = scratch('status');
  const db = makeSource(dir, 20);
  const cfg = writeConfig(dir, {}, [{ targetTableName: 'orders', sourceTable: 'orders', filtercolumn: 'id' }]);
  assert.equal(dl(cfg, ['run']).code, 0);
  addRows(db, 21, 25);
  assert.equal(dl(cfg, ['run']).code, 0);
  assert.equal(dl(cfg, ['reset', '--table', 'orders', '--to', '22']).code, 0);
  let r = dl(cfg, ['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const t = JSON.parse(r.stdout).tables[0];
  assert.equal(t.watermark, '22');
  assert.equal(t.source_high, '25');
  assert.equal(t.source_lag, 3);
  assert.ok(t.watermark_age_seconds >= 0 && t.watermark_age_seconds < 60, String(t.watermark_age_seconds));
  r = dl(cfg, ['status']);
  assert.match(r.stdout, /WM AGE\s+BEHIND/);
  assert.match(r.stdout, /orders\s+Y\s+delta\s+22\s+\d+s\s+3\s/);
  // --watch: several frames, then SIGTERM ends it with exit 0
  const { dlAsync } = require('./lib.js');
  const p = dlAsync(cfg, ['status', '--watch', '0.2']);
  await new Promise((res) => setTimeout(res, 900));
  p.child.kill('SIGTERM');
  const w = await p;
  assert.equal(w.code, 0, w.stderr);
  assert.ok(w.stdout.split('\x1b[H\x1b[2J').length - 1 >= 2, 'redrawn at least twice');
  assert.equal(dl(cfg, ['status', '--watch', 'x']).code, 2);
});
