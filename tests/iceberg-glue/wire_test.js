// table_format iceberg with "catalog": "glue" at the wire. `deltaload run`
// loads a SQLite table into the s3 target (the lake on tests/s3's S3
// stand-in, s3rver behind its verifying proxy) and commits each snapshot to
// a loopback STAND-IN for the AWS Glue Data Catalog, which
//   - checks every request's SigV4 signature (service "glue") with the
//     independent signer the other wire tests use (tests/node/lib/sigv4_verify.js);
//   - sends the same operation and input through the OFFICIAL AWS SDK for
//     JavaScript v3 (@aws-sdk/client-glue, pinned in tests/node) to a
//     capturing endpoint and compares method, path, X-Amz-Target,
//     Content-Type and the JSON body with what deltaload sent; a difference
//     fails the request ("WireMismatch");
//   - keeps the tables (GetTable / CreateTable / UpdateTable, VersionId
//     optimistic concurrency: a stale VersionId is ConcurrentModificationException);
//   - injects ThrottlingException, ConcurrentModificationException, and an
//     UpdateTable that is applied but answered 500 (the lost answer: the
//     retry carries a stale VersionId, and the commit must find its snapshot
//     by load uid instead of appending it twice).
// Then icebird (npm) reads the metadata file the stand-in's
// metadata_location names, from s3rver, and must see exactly the source rows.
// It is not an emulator of Glue: nothing here ran against AWS.
//
// Usage: node wire_test.js <deltaload> <plugin-dir> <work-dir> <s3-state-dir>
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const { execFile, execFileSync } = require('child_process');
const { verifySigV4 } = require(path.join(__dirname, '../node/lib/sigv4_verify'));
const glue = require('@aws-sdk/client-glue');

const [, , BIN, PLUGINS, WORK, S3STATE] = process.argv;
const servers = JSON.parse(fs.readFileSync(path.join(S3STATE, 'servers.json'), 'utf8'));
const AKID = servers.akid, SECRET = servers.secret; // the S3 target's keys sign Glue too
const keys = new Map([[AKID, { secret: SECRET }]]);
const DB = 'lakedb';
const PREFIX = `glue${process.pid}`;

let failures = 0;
function check(name, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || detail === undefined ? '' : ': ' + detail}`);
  if (!ok) failures++;
}
function readBody(req) {
  return new Promise((resolve) => { const c = []; req.on('data', (d) => c.push(d)); req.on('end', () => resolve(Buffer.concat(c))); });
}
function sorted(x) {
  if (Array.isArray(x)) return x.map(sorted);
  if (x && typeof x === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sorted(x[k])]));
  return x;
}

// ---- what the official SDK sends -----------------------------------------------------
let captured = null;
const capture = http.createServer(async (req, res) => {
  const body = await readBody(req);
  captured = { method: req.method, url: req.url, headers: req.headers, body: body.toString(),
    sigError: verifySigV4(req, body, { keys, service: 'glue' }) };
  res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
  res.end('{}');
});
// one at a time: the capturing endpoint keeps one request (racing runs send concurrently)
let sdkQueue = Promise.resolve();
function sdkRequest(op, input) {
  const p = sdkQueue.then(() => sdkRequestNow(op, input));
  sdkQueue = p.catch(() => {});
  return p;
}
async function sdkRequestNow(op, input) {
  captured = null;
  const c = new glue.GlueClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${capture.address().port}`,
    credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, maxAttempts: 1 });
  try { await c.send(new glue[`${op}Command`](input)); } catch (e) { /* only the request matters */ }
  return captured;
}

// ---- the stand-in --------------------------------------------------------------------------
const tables = new Map(); // name -> { Name, DatabaseName, VersionId, TableType, Parameters, StorageDescriptor }
const faults = [];        // { op, code, status, count, apply }
const log = [];           // { op, fault, mismatch }
const outputs = [];       // everything deltaload printed
function answer(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'req-' + log.length });
  res.end(JSON.stringify(obj));
}
// every error answer is logged with its request (res.entry), injected or not
const err = (res, status, code, message) => {
  if (res.entry && !res.entry.fault) res.entry.fault = code;
  answer(res, status, { __type: code, Message: message });
};

function apply(op, input, res) {
  if (input.DatabaseName !== DB) return err(res, 400, 'EntityNotFoundException', `Database ${input.DatabaseName} not found.`);
  if (op === 'GetTable') {
    const t = tables.get(input.Name);
    return t ? answer(res, 200, { Table: t }) : err(res, 400, 'EntityNotFoundException', `Table ${input.Name} not found.`);
  }
  const ti = input.TableInput || {};
  if (op === 'CreateTable') {
    if (tables.has(ti.Name)) return err(res, 400, 'AlreadyExistsException', 'Table already exists.');
    tables.set(ti.Name, { ...ti, DatabaseName: DB, VersionId: '1' });
    return answer(res, 200, {});
  }
  if (op === 'UpdateTable') {
    const t = tables.get(ti.Name);
    if (!t) return err(res, 400, 'EntityNotFoundException', `Table ${ti.Name} not found.`);
    if (input.VersionId !== undefined && input.VersionId !== t.VersionId)
      return err(res, 400, 'ConcurrentModificationException', 'Update table failed due to concurrent modifications.');
    tables.set(ti.Name, { ...ti, DatabaseName: DB, VersionId: String(Number(t.VersionId) + 1) });
    return true;
  }
  return err(res, 400, 'InvalidInputException', `${op} is not kept by this stand-in`);
}

const standin = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const text = body.toString();
  const target = req.headers['x-amz-target'] || '';
  const op = target.replace(/^AWSGlue\./, '');
  const entry = { op, fault: null, mismatch: null };
  log.push(entry);
  res.entry = entry;
  const bad = verifySigV4(req, body, { keys, service: 'glue' });
  if (bad) { entry.mismatch = 'signature: ' + bad.kind; res.entry = null; return err(res, 400, 'InvalidSignatureException', bad.message); }
  let input;
  try { input = JSON.parse(text); } catch (e) { entry.mismatch = 'body is not JSON'; return err(res, 400, 'SerializationException', 'not JSON'); }
  const ref = await sdkRequest(op, input);
  const diffs = [];
  if (!ref) diffs.push('the official SDK sent nothing');
  else {
    if (ref.sigError) diffs.push('the SDK request did not verify: ' + ref.sigError.kind);
    if (req.method !== ref.method) diffs.push(`method ${req.method} vs SDK ${ref.method}`);
    if (req.url !== ref.url) diffs.push(`path ${req.url} vs SDK ${ref.url}`);
    if (target !== (ref.headers['x-amz-target'] || '')) diffs.push(`x-amz-target ${target} vs SDK ${ref.headers['x-amz-target']}`);
    const cta = (req.headers['content-type'] || '').split(';')[0], ctb = (ref.headers['content-type'] || '').split(';')[0];
    if (cta !== ctb) diffs.push(`content-type ${cta} vs SDK ${ctb}`);
    const ba = JSON.stringify(sorted(input)), bb = JSON.stringify(sorted(JSON.parse(ref.body || 'null')));
    if (ba !== bb) diffs.push(`body\n  ours ${ba}\n  SDK  ${bb}`);
  }
  if (diffs.length) { entry.mismatch = diffs.join('; '); return err(res, 400, 'WireMismatch', entry.mismatch); }
  const f = faults.find((x) => x.op === op && x.count > 0);
  if (f && !f.apply) { f.count--; entry.fault = f.code; return err(res, f.status, f.code, `injected ${f.code}`); }
  const done = apply(op, input, res);
  if (done !== true) return;
  if (f) { f.count--; entry.fault = f.code; return err(res, f.status, f.code, `injected ${f.code} after applying`); }
  answer(res, 200, {});
});

// ---- the driver --------------------------------------------------------------------------------
function sql(q) {
  return execFileSync('sqlite3', [path.join(WORK, 'src.db'), q], { encoding: 'utf8' });
}
function sourceRows() {
  return sql('SELECT id, seq, val FROM orders ORDER BY id').trim().split('\n').filter(Boolean);
}
function run(args, dir = WORK, env = {}) {
  return new Promise((resolve) => {
    execFile(BIN, ['-c', path.join(dir, 'deltaload.json'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60000,
      env: { ...process.env, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
        AWS_EC2_METADATA_DISABLED: 'true', ...env } },
    (error, stdout, stderr) => outputs.push(stdout + stderr) && resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout + stderr, stdout }));
  });
}
const parseJson = (t) => { try { return JSON.parse(t); } catch (e) { return null; } };
const ops = (n) => log.slice(n).map((e) => e.op + (e.fault ? `!${e.fault}` : '') + (e.mismatch ? '!MISMATCH' : ''));

async function icebirdRows(metadataLocation) {
  const { icebergRead } = await import(path.join(__dirname, '../node/node_modules/icebird/src/index.js'));
  const realFetch = globalThis.fetch;
  // icebird turns s3://bucket/key into https://bucket.s3.amazonaws.com/key: read it from s3rver instead
  globalThis.fetch = (url, init) => {
    const m = /^https:\/\/([^./]+)\.s3\.amazonaws\.com\/(.*)$/.exec(String(url));
    return realFetch(m ? `${servers.s3rver}/${m[1]}/${m[2]}` : url, init);
  };
  const at = metadataLocation.lastIndexOf('/metadata/');
  const rows = await icebergRead({ tableUrl: metadataLocation.slice(0, at),
    metadataFileName: metadataLocation.slice(at + '/metadata/'.length) });
  globalThis.fetch = realFetch;
  return rows.map((r) => `${r.id}|${r.seq}|${r.val}`).sort((a, b) => Number(a.split('|')[0]) - Number(b.split('|')[0]));
}

async function main() {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  await new Promise((r) => capture.listen(0, '127.0.0.1', r));
  await new Promise((r) => standin.listen(0, '127.0.0.1', r));
  sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, val TEXT);" +
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) " +
      "INSERT INTO orders SELECT i, i, 'v' || i FROM n;");
  fs.writeFileSync(path.join(WORK, 'deltaload.json'), JSON.stringify({
    plugin_dirs: [PLUGINS],
    source: { plugin: 'sqlite', options: { path: 'src.db' } },
    target: { plugin: 's3', options: { bucket: 'lake', prefix: PREFIX, endpoint: servers.endpoint, path_style: true,
      region: 'us-east-1', access_key_id: AKID, secret_access_key: SECRET, table_format: 'iceberg',
      catalog: 'glue', glue_database: DB, glue_endpoint: `http://127.0.0.1:${standin.address().port}`,
      retry_base_delay_ms: 5 } },
    state: { plugin: 'sqlite', options: { path: 'state.db' } },
    engine: { batch_rows: 2000, lease_ttl_seconds: 1, retries: 0 },
    tables: [{ targetTableName: 'Orders', sourceSchema: 'main', sourceTable: 'orders', filtercolumn: 'seq',
      filteroperator: 'gte', startvalue: '1', activeflag: 'Y', ouputs3Prefix: 'raw' }],
  }, null, 1));
  const location = `s3://lake/${PREFIX}/raw/main/Orders`;

  // 1. the first load creates the Glue table (a throttled GetTable is retried)
  faults.push({ op: 'GetTable', status: 400, code: 'ThrottlingException', count: 1 });
  let n = log.length, r = await run(['run']);
  check('first run succeeds', r.code === 0, r.out);
  check('first run: GetTable throttled, retried, then CreateTable',
    ops(n)[0] === 'GetTable!ThrottlingException' && ops(n)[1].startsWith('GetTable') && ops(n).at(-1) === 'CreateTable',
    JSON.stringify(ops(n)));
  let t = tables.get('orders');
  check('the stand-in has table lakedb.orders', !!t);
  check('TableType EXTERNAL_TABLE, table_type ICEBERG', t && t.TableType === 'EXTERNAL_TABLE' && t.Parameters.table_type === 'ICEBERG');
  check('metadata_location is v1-<uid> of the table',
    t && new RegExp(`^${location}/metadata/v1-[0-9a-f]{16}\\.metadata\\.json$`).test(t.Parameters.metadata_location),
    t && t.Parameters.metadata_location);
  check('StorageDescriptor Location and columns',
    t && t.StorageDescriptor.Location === location &&
    JSON.stringify(t.StorageDescriptor.Columns) === JSON.stringify([{ Name: 'id', Type: 'bigint' }, { Name: 'seq', Type: 'bigint' }, { Name: 'val', Type: 'string' }]),
    t && JSON.stringify(t.StorageDescriptor));
  check('no version-hint.text with catalog: glue',
    (await fetch(`${servers.s3rver}/lake/${PREFIX}/raw/main/Orders/metadata/version-hint.text`)).status === 404);
  check('icebird reads metadata_location: the source rows',
    JSON.stringify(await icebirdRows(t.Parameters.metadata_location)) === JSON.stringify(sourceRows()));

  // someone adds a parameter by hand (Glue console, a data catalog tool): kept by every commit
  t.Parameters.owner_team = 'data-platform';
  t.VersionId = String(Number(t.VersionId) + 1);

  // 2. a delta whose UpdateTable loses once (ConcurrentModificationException): re-read, retried
  sql("INSERT INTO orders SELECT id + 50, seq + 50, 'w' || id FROM orders WHERE id <= 20;");
  faults.push({ op: 'UpdateTable', status: 400, code: 'ConcurrentModificationException', count: 1 });
  n = log.length;
  const prev = t.Parameters.metadata_location;
  r = await run(['run']);
  check('second run succeeds', r.code === 0, r.out);
  check('second run: conflict, re-read, UpdateTable',
    ops(n).includes('UpdateTable!ConcurrentModificationException') && ops(n).at(-1) === 'UpdateTable' &&
    ops(n).filter((o) => o === 'GetTable').length >= 2, JSON.stringify(ops(n)));
  t = tables.get('orders');
  check('previous_metadata_location is the first version', t.Parameters.previous_metadata_location === prev,
    JSON.stringify(t.Parameters));
  check('a parameter added by hand is kept', t.Parameters.owner_team === 'data-platform', JSON.stringify(t.Parameters));
  check('metadata_location is v2', /\/metadata\/v2-[0-9a-f]{16}\.metadata\.json$/.test(t.Parameters.metadata_location));
  check('icebird after the delta: the source rows',
    JSON.stringify(await icebirdRows(t.Parameters.metadata_location)) === JSON.stringify(sourceRows()));

  // 3. UpdateTable applied but answered 500: the retry's VersionId is stale,
  //    the commit re-reads and finds its snapshot by load uid (no second append)
  sql("INSERT INTO orders SELECT id + 100, seq + 100, 'x' || id FROM orders WHERE id <= 5;");
  faults.push({ op: 'UpdateTable', status: 500, code: 'InternalServiceException', count: 1, apply: true });
  n = log.length;
  r = await run(['run']);
  check('third run succeeds', r.code === 0, r.out);
  check('third run: applied-then-500, stale retry refused, re-read, done',
    JSON.stringify(ops(n).slice(-3)) === JSON.stringify(['UpdateTable!InternalServiceException',
      'UpdateTable!ConcurrentModificationException', 'GetTable']), JSON.stringify(ops(n)));
  t = tables.get('orders');
  const metaText = await (await fetch(t.Parameters.metadata_location.replace(/^s3:\/\//, `${servers.s3rver}/`))).text();
  const meta = JSON.parse(metaText);
  const uids = meta.snapshots.map((s) => s.summary['deltaload.load-uid']);
  check('three snapshots, each load once', uids.length === 3 && new Set(uids).size === 3, JSON.stringify(uids));
  check('metadata-log names the versions the stand-in pointed at before',
    meta['metadata-log'].length === 2 && meta['metadata-log'][1]['metadata-file'] === t.Parameters.previous_metadata_location);
  check('icebird after the lost answer: the source rows',
    JSON.stringify(await icebirdRows(t.Parameters.metadata_location)) === JSON.stringify(sourceRows()));

  // 4. two installations (two state stores) commit at the same moment: a
  //    test seam holds each commit after it read Glue until both have, both
  //    send UpdateTable with the same VersionId, the stand-in refuses the
  //    second (a real VersionId conflict), which re-reads and commits on top
  const cfgA = JSON.parse(fs.readFileSync(path.join(WORK, 'deltaload.json'), 'utf8'));
  fs.mkdirSync(path.join(WORK, 'b'));
  fs.writeFileSync(path.join(WORK, 'b', 'deltaload.json'), JSON.stringify({ ...cfgA,
    source: { plugin: 'sqlite', options: { path: path.join(WORK, 'src.db') } },
    state: { plugin: 'sqlite', options: { path: 'state-b.db' } } }, null, 1));
  r = await run(['state', 'rebuild', '--table', 'Orders'], path.join(WORK, 'b'));
  check('B learns the table from the lake', r.code === 0, r.out);
  sql("INSERT INTO orders SELECT id + 200, seq + 200, 'y' || id FROM orders WHERE id <= 7;");
  const barrier = path.join(WORK, 'barrier');
  fs.mkdirSync(barrier);
  n = log.length;
  const [ra, rb] = await Promise.all([run(['run'], WORK, { DLD_ICEBERG_TEST_BARRIER: barrier }),
    run(['run'], path.join(WORK, 'b'), { DLD_ICEBERG_TEST_BARRIER: barrier })]);
  check('racing runs both succeed', ra.code === 0 && rb.code === 0, ra.out + rb.out);
  check('both read the Glue stand-in before either committed', fs.readdirSync(barrier).filter((f) => f.startsWith('ready-')).length === 2);
  check('one UpdateTable refused for its stale VersionId, then committed on top',
    ops(n).filter((o) => o === 'UpdateTable!ConcurrentModificationException').length === 1 &&
    ops(n).filter((o) => o === 'UpdateTable').length === 2, JSON.stringify(ops(n)));
  t = tables.get('orders');
  const meta5 = JSON.parse(await (await fetch(t.Parameters.metadata_location.replace(/^s3:\/\//, `${servers.s3rver}/`))).text());
  const snaps = meta5.snapshots;
  check('five snapshots, each the parent of the next',
    snaps.length === 5 && snaps.every((sn, i) => i === 0 || sn['parent-snapshot-id'] === snaps[i - 1]['snapshot-id']) &&
    meta5['current-snapshot-id'] === snaps[4]['snapshot-id'], JSON.stringify(snaps.map((x) => [x['snapshot-id'], x['parent-snapshot-id']])));
  check('the hand-added parameter survived the race', t.Parameters.owner_team === 'data-platform');
  check('the Glue stand-in is at v5', /\/metadata\/v5-[0-9a-f]{16}\.metadata\.json$/.test(t.Parameters.metadata_location), t.Parameters.metadata_location);
  const newRows = sql('SELECT id, seq, val FROM orders WHERE id > 200 ORDER BY id').trim().split('\n');
  const want = [...sourceRows(), ...newRows].sort((a, b) => Number(a.split('|')[0]) - Number(b.split('|')[0]));
  check('icebird after the race: the new rows once per installation',
    JSON.stringify(await icebirdRows(t.Parameters.metadata_location)) === JSON.stringify(want));

  // 5. `deltaload lake expire` on a full-snapshot table (each load an
  //    overwrite): the expired snapshot's load files go, the current one's
  //    stay, and so do the files of a load killed between its publish and
  //    its commit (an unfinished run: no snapshot, files in the lake)
  const snapItem = { targetTableName: 'Snap', sourceSchema: 'main', sourceTable: 'orders', activeflag: 'Y', ouputs3Prefix: 'raw' };
  const cfg5 = JSON.parse(fs.readFileSync(path.join(WORK, 'deltaload.json'), 'utf8'));
  cfg5.tables.push(snapItem);
  fs.writeFileSync(path.join(WORK, 'deltaload.json'), JSON.stringify(cfg5, null, 1));
  const snapPrefix = `${PREFIX}/raw/main/Snap/`;
  const keysNow = async () => {
    const xml = await (await fetch(`${servers.s3rver}/lake?list-type=2&max-keys=1000&prefix=${encodeURIComponent(snapPrefix)}`)).text();
    return [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1].slice(snapPrefix.length)).sort();
  };
  const loadsOf = (ks) => [...new Set(ks.filter((k) => /^LOAD\d{8}-[0-9a-f]{16}-\d{4}\.parquet$/.test(k)).map((k) => k.slice(0, 30)))].sort();
  for (let i = 0; i < 2; i++) {
    r = await run(['run', '--table', 'Snap']);
    check(`full-snapshot load ${i + 1} of Snap`, r.code === 0, r.out);
  }
  const [l1, l2] = loadsOf(await keysNow());
  // load 3 is killed while its commit waits (the test seam), after its publish
  sql("UPDATE orders SET val = val || '!' WHERE id <= 3;");
  const barrier3 = path.join(WORK, 'barrier3');
  fs.mkdirSync(barrier3);
  const child = require('child_process').spawn(BIN, ['-c', path.join(WORK, 'deltaload.json'), 'run', '--table', 'Snap'],
    { cwd: WORK, stdio: 'ignore', env: { ...process.env, DLD_ICEBERG_TEST_BARRIER: barrier3,
      AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true' } });
  for (let i = 0; i < 300 && !fs.readdirSync(barrier3).length; i++) await new Promise((res) => setTimeout(res, 50));
  check('load 3 reached its commit', fs.readdirSync(barrier3).length === 1);
  child.kill('SIGKILL');
  await new Promise((res) => child.on('exit', res));
  const l3 = loadsOf(await keysNow()).filter((l) => l !== l1 && l !== l2)[0];
  check('three loads have data files', !!(l1 && l2 && l3), JSON.stringify(loadsOf(await keysNow())));

  r = await run(['lake', 'expire', '--table', 'Snap', '--older-than', '0s', '--keep-recent', '0s', '--json']);
  check('expire waits for the lease the killed load still holds (exit 4)', r.code === 4, r.out);
  await new Promise((res) => setTimeout(res, 1500)); // lease_ttl_seconds 1
  r = await run(['lake', 'expire', '--table', 'Snap', '--older-than', '0s', '--keep-recent', '0s', '--dry-run', '--json']);
  const dry = r.code === 0 ? parseJson(r.stdout) : null;
  check('expire --dry-run', dry && dry.snapshots_expired === 1 && dry.snapshots_before === 2 && dry.dry_run === true, r.out);
  check('the unfinished load holds the cutoff back',
    dry && dry.unfinished_loads === 1 && dry.cutoff_ms === dry.oldest_unfinished_started_ms, r.out);
  check('dry run: load 1\'s files listed, nothing removed',
    dry && dry.files.some((f) => f.startsWith(l1)) && (await keysNow()).some((k) => k.startsWith(l1)));

  const before = await keysNow();
  n = log.length;
  r = await run(['lake', 'expire', '--table', 'Snap', '--older-than', '0s', '--keep-recent', '0s', '--json']);
  const rep = r.code === 0 ? parseJson(r.stdout) : null;
  check('expire succeeds', rep && rep.snapshots_expired === 1 && rep.files_removed > 0, r.out);
  check('expire committed through the Glue stand-in (UpdateTable)', ops(n).includes('UpdateTable'), JSON.stringify(ops(n)));
  const after = await keysNow();
  check('load 1\'s data files and manifests are gone', !after.some((k) => k.startsWith(l1) || k.startsWith('metadata/' + l1)),
    JSON.stringify(after));
  check('load 1\'s manifest list is gone, load 2\'s stays',
    after.filter((k) => /^metadata\/snap-.*\.avro$/.test(k)).length === before.filter((k) => /^metadata\/snap-.*\.avro$/.test(k)).length - 1);
  check('load 2 (current) and load 3 (unfinished) keep their files',
    after.some((k) => k.startsWith(l2)) && after.some((k) => k.startsWith(l3)) && after.some((k) => k.startsWith('metadata/' + l2)));
  check('deltaload\'s own manifests stay', after.filter((k) => k.startsWith('_manifests/')).length === before.filter((k) => k.startsWith('_manifests/')).length);
  const snapT = tables.get('snap');
  const metaE = JSON.parse(await (await fetch(snapT.Parameters.metadata_location.replace(/^s3:\/\//, `${servers.s3rver}/`))).text());
  check('the new metadata has one snapshot, the current one', metaE.snapshots.length === 1 &&
    metaE.snapshots[0]['snapshot-id'] === metaE['current-snapshot-id']);
  // the snapshot is still load 2's (load 3 never committed): icebird reads it
  const snapRows = async () => {
    const rows = await icebirdRows(snapT.Parameters.metadata_location);
    return rows;
  };
  const cur2 = await snapRows();
  check('icebird reads the current snapshot after expire', cur2.length === sourceRows().length);
  // the next run rolls load 3 forward (its files were kept): the table equals the source
  r = await run(['run', '--table', 'Snap']);
  check('the next run settles load 3', r.code === 0, r.out);
  const snapT2 = tables.get('snap');
  check('icebird after recovery: the source rows',
    JSON.stringify(await icebirdRows(snapT2.Parameters.metadata_location)) === JSON.stringify(sourceRows()));
  // Orders (appends only): old snapshots expire, every data file stays (the current snapshot needs them all)
  const ordersBefore = (await (await fetch(`${servers.s3rver}/lake?list-type=2&prefix=${encodeURIComponent(PREFIX + '/raw/main/Orders/LOAD')}`)).text()).match(/<Key>/g).length;
  r = await run(['lake', 'expire', '--table', 'Orders', '--older-than', '0s', '--keep-recent', '0s', '--json']);
  const repO = r.code === 0 ? parseJson(r.stdout) : null;
  check('expire on the append table: 4 of 5 snapshots, only manifest lists removed',
    repO && repO.snapshots_expired === 4 && repO.files.length === 4 && repO.files.every((f) => /^metadata\/snap-/.test(f)), r.out);
  const ordersAfter = (await (await fetch(`${servers.s3rver}/lake?list-type=2&prefix=${encodeURIComponent(PREFIX + '/raw/main/Orders/LOAD')}`)).text()).match(/<Key>/g).length;
  check('every data file of the append table stays', ordersAfter === ordersBefore);
  check('icebird on the append table after expire: the rows as before',
    JSON.stringify(await icebirdRows(tables.get('orders').Parameters.metadata_location)) === JSON.stringify(want));

  // 6. a table kept by the file-system catalog until now is adopted when the
  //    config switches to catalog glue: CreateTable points at a metadata file
  //    on top of the old history (the earlier snapshots stay readable)
  const cfg6 = JSON.parse(fs.readFileSync(path.join(WORK, 'deltaload.json'), 'utf8'));
  const adoptItem = { targetTableName: 'Adopted', sourceSchema: 'main', sourceTable: 'orders', filtercolumn: 'seq',
    filteroperator: 'gte', startvalue: '1', activeflag: 'Y', ouputs3Prefix: 'raw' };
  const filesCfg = JSON.parse(JSON.stringify(cfg6));
  filesCfg.target.options.catalog = 'files';
  filesCfg.tables = [adoptItem];
  fs.writeFileSync(path.join(WORK, 'files.json'), JSON.stringify(filesCfg, null, 1));
  n = log.length;
  r = await new Promise((resolve) => execFile(BIN, ['-c', path.join(WORK, 'files.json'), 'run', '--table', 'Adopted'],
    { cwd: WORK, encoding: 'utf8', timeout: 60000, env: { ...process.env, AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true' } },
    (error, stdout, stderr) => resolve({ code: error ? -1 : 0, out: stdout + stderr })));
  check('a load with catalog files', r.code === 0 && log.length === n, r.out);
  const hint = await fetch(`${servers.s3rver}/lake/${PREFIX}/raw/main/Adopted/metadata/version-hint.text`);
  check('it wrote version-hint.text 1', hint.status === 200 && (await hint.text()).trim() === '1');
  cfg6.tables.push(adoptItem);
  fs.writeFileSync(path.join(WORK, 'deltaload.json'), JSON.stringify(cfg6, null, 1));
  sql("INSERT INTO orders SELECT id + 300, seq + 300, 'z' || id FROM orders WHERE id <= 4;");
  n = log.length;
  r = await run(['run', '--table', 'Adopted']);
  check('the next load with catalog glue', r.code === 0, r.out);
  check('it created the Glue stand-in\'s entry', ops(n).at(-1) === 'CreateTable', JSON.stringify(ops(n)));
  const ad = tables.get('adopted');
  check('on top of the file-system catalog\'s v1',
    ad && /\/metadata\/v2-[0-9a-f]{16}\.metadata\.json$/.test(ad.Parameters.metadata_location) &&
    ad.Parameters.previous_metadata_location === `${location.replace(/Orders$/, 'Adopted')}/metadata/v1.metadata.json`,
    ad && JSON.stringify(ad.Parameters));
  const metaA = JSON.parse(await (await fetch(ad.Parameters.metadata_location.replace(/^s3:\/\//, `${servers.s3rver}/`))).text());
  check('two snapshots, the second on the first', metaA.snapshots.length === 2 &&
    metaA.snapshots[1]['parent-snapshot-id'] === metaA.snapshots[0]['snapshot-id']);
  check('icebird on the adopted table: the source rows',
    JSON.stringify(await icebirdRows(ad.Parameters.metadata_location)) === JSON.stringify(sourceRows()));

  check('no request differed from the official SDK\'s or failed its signature', log.every((e) => !e.mismatch),
    JSON.stringify(log.filter((e) => e.mismatch)));
  check('the secret never appears in output', !outputs.some((o) => o.includes(SECRET)));
  console.log(`${log.length} requests to the Glue stand-in (not AWS Glue); ${failures} failure(s)`);
  capture.close();
  standin.close();
  process.exit(failures ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(1); });
