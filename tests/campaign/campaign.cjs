// The reliability campaign (issue 13): rounds over {file, s3 target} x
// {sqlite, dynamodb state}, the source changing before each round, then one
// of
//   - SIGKILL after a random delay;
//   - SIGKILL at a named transition: every state-changing call of the state
//     store (before and after it is recorded) and every target call that
//     moves a load (write, finish, publish, discard), through the crash
//     wrappers of tests/core/plugins/crash_wrappers.c around the real plugin;
//   - SIGTERM after a random delay;
//   - four processes racing for the table (one of them SIGKILLed at times);
//   - a run behind the fault proxies with half of all requests failing
//     (S3: 500/503/SlowDown, resets, lost answers; DynamoDB: throttling,
//     500, resets, lost answers).
// Every cell then gets clean runs, and its lake is read back with DuckDB
// through the published manifests and checked against the source's log of
// every row version:
//   - no row version twice, none the source never had, every current row
//     there (a version replaced before any run saw it is legitimately absent);
//   - no orphan files: nothing in the table folder but the published
//     manifests' files and the manifests themselves;
//   - for s3, no open multipart upload (ListMultipartUploads on the stand-in);
//   - the secrets (S3 and DynamoDB secret keys) in no command's output, in no
//     state file and in no lake file;
//   - every exit status one the documented list allows for what was done.
// Before those checks, a few hostile inputs (s3/dynamodb secrets, prefixes,
// endpoints, names) go through the binary: documented status, an error
// naming the problem, their secret never printed.
//
//   node campaign.cjs [--seconds S | --rounds R] [--seed N] [--min-kills K] [--work DIR]
//
// Environment: DLD_BIN, DLD_PLUGIN_DIR, DLD_TEST_PLUGIN_DIR (the crash
// wrappers), DLD_NODE_DIR. Prints the figures; exits 1 on any discrepancy,
// 77 when a tool it needs is missing.
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const { spawn, execFileSync } = require('child_process');

const SRC = path.resolve(__dirname, '..', '..');
const NODE_DIR = process.env.DLD_NODE_DIR || path.join(SRC, 'tests', 'node');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const SECONDS = Number(arg('seconds', '0'));
const ROUNDS = Number(arg('rounds', SECONDS ? '0' : '200'));
const SEED = Number(arg('seed', String(Date.now() % 1000000)));
const MIN_KILLS = Number(arg('min-kills', '0'));
const abs = (p) => p && path.resolve(p);
const BIN = abs(process.env.DLD_BIN);
const PLUGINS = abs(process.env.DLD_PLUGIN_DIR);
const TEST_PLUGINS = abs(process.env.DLD_TEST_PLUGIN_DIR);

function skip(why) {
  console.log(`campaign: SKIPPED: ${why}`);
  process.exit(77);
}
if (!BIN || !PLUGINS || !TEST_PLUGINS) {
  console.error('campaign: set DLD_BIN, DLD_PLUGIN_DIR and DLD_TEST_PLUGIN_DIR');
  process.exit(2);
}
for (const m of ['@duckdb/node-api', 'aws4', 's3rver', 'dynalite'])
  if (!fs.existsSync(path.join(NODE_DIR, 'node_modules', m))) skip(`node module ${m} (tests/node) is missing`);
for (const so of ['dld-source-sqlite', 'dld-state-sqlite', 'dld-state-dynamodb', 'dld-target-file', 'dld-target-s3'])
  if (!fs.existsSync(path.join(PLUGINS, `${so}.so`))) skip(`${so}.so is not built (DLD_ONLY_PLUGINS)`);
for (const so of ['dld-state-crash', 'dld-target-crash'])
  if (!fs.existsSync(path.join(TEST_PLUGINS, `${so}.so`))) skip(`${so}.so (tests/core) is not built`);
try { execFileSync('sqlite3', ['-version'], { stdio: 'ignore' }); } catch { skip('the sqlite3 shell is missing'); }
const { DuckDBInstance } = require(path.join(NODE_DIR, 'node_modules/@duckdb/node-api'));
const aws4 = require(path.join(NODE_DIR, 'node_modules/aws4'));

// seeded generators (mulberry32), one per cell: the same seed gives each
// cell the same rounds, however the cells interleave
function generator(seed) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { random, rand: (n) => Math.floor(random() * n) };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const WORK = arg('work') || fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'dld-campaign-'));
fs.mkdirSync(WORK, { recursive: true });

// ---- the test servers (each campaign has its own, so no other test shares the fault table)
const servers = [];
function startServers(kind) {
  const dir = path.join(WORK, `${kind}-servers`);
  execFileSync('sh', [path.join(SRC, 'tests', kind, 'start.sh'), dir],
    { env: { ...process.env, DLD_NODE_DIR: NODE_DIR }, stdio: ['ignore', 'ignore', 'inherit'] });
  servers.push([kind, dir]);
  return JSON.parse(fs.readFileSync(path.join(dir, 'servers.json'), 'utf8'));
}
function stopServers() {
  for (const [kind, dir] of servers.splice(0))
    try { execFileSync('sh', [path.join(SRC, 'tests', kind, 'stop.sh'), dir], { stdio: 'ignore' }); } catch { /* gone */ }
}
process.on('exit', stopServers);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopServers(); process.exit(130); });

function request(endpoint, method, pathAndQuery, body, sign) {
  const u = new URL(endpoint);
  const opts = { host: u.hostname, port: u.port, method, path: pathAndQuery, headers: {} };
  if (body) opts.headers['Content-Type'] = 'application/json';
  if (sign) {
    opts.service = 's3';
    opts.region = 'us-east-1';
    opts.headers['X-Amz-Content-Sha256'] = require('crypto').createHash('sha256').update(body || '').digest('hex');
    aws4.sign(opts, sign);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body || undefined);
  });
}
const proxy = (srv, method, what, obj) =>
  request(srv.endpoint, method, `/__proxy/${what}`, obj === undefined ? null : JSON.stringify(obj), null);

// ---- S3 read-back through the verifying proxy (faults off by then)
async function s3(srv, method, pathAndQuery) {
  const r = await request(srv.endpoint, method, pathAndQuery, null,
    { accessKeyId: srv.akid, secretAccessKey: srv.secret });
  if (r.status !== 200) throw new Error(`S3 ${method} ${pathAndQuery}: HTTP ${r.status} ${r.body.toString().slice(0, 200)}`);
  return r.body;
}
const xmlAll = (xml, tag) => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) =>
  m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&'));
async function s3Mirror(srv, prefix, dir) {
  let token = null;
  const keys = [];
  do {
    const q = `/lake?list-type=2&prefix=${encodeURIComponent(prefix)}` +
      (token ? `&continuation-token=${encodeURIComponent(token)}` : '');
    const xml = (await s3(srv, 'GET', q)).toString();
    keys.push(...xmlAll(xml, 'Key'));
    token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? xmlAll(xml, 'NextContinuationToken')[0] : null;
  } while (token);
  for (const k of keys) {
    const out = path.join(dir, k.slice(prefix.length));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, await s3(srv, 'GET', '/lake/' + k.split('/').map(encodeURIComponent).join('/')));
  }
  const xml = (await s3(srv, 'GET', `/lake?uploads=&prefix=${encodeURIComponent(prefix)}`)).toString();
  const ids = xmlAll(xml, 'UploadId');
  const uploads = xmlAll(xml, 'Key').map((k, i) => ({ key: k.slice(prefix.length), id: ids[i] }));
  return { objects: keys.length, uploads };
}

// ---- the cells
const S3 = startServers('s3');
const DDB = startServers('dynamodb');
const SECRETS = [...new Set([S3.secret, DDB.secret].filter(Boolean))];
if (!SECRETS.length) throw new Error('no secret in servers.json');

const TRANSITIONS = [];
for (let k = 1; k <= 4; k++) for (const p of ['before', 'after']) TRANSITIONS.push({ state: { kill_at: k, kill_point: p } });
for (const w of ['write', 'finish', 'publish', 'discard'])
  TRANSITIONS.push({ target: { kill_in: w, kill_after_writes: 0 } });
const tname = (t) => (t.state ? `state#${t.state.kill_at}-${t.state.kill_point}` : `target-${t.target.kill_in}`);

function sql(db, text) {
  return execFileSync('sqlite3', ['-cmd', '.timeout 20000', db, text], { maxBuffer: 1 << 28 }).toString();
}

function makeCell(target, state, index) {
  const name = `${target}-${state}`;
  const dir = path.join(WORK, name);
  fs.mkdirSync(dir, { recursive: true });
  const cell = { name, target, state, dir, db: path.join(dir, 'src.db'), log: path.join(dir, 'runs.log'),
    prefix: `campaign-${process.pid}-${name}/`, next: 0, readyAt: 0,
    ...generator(SEED * 4 + index) };
  sql(cell.db, `
    CREATE TABLE orders(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, val TEXT, pad TEXT);
    CREATE TABLE versions(id INTEGER, seq INTEGER, val TEXT);
    CREATE TRIGGER v_ins AFTER INSERT ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;
    CREATE TRIGGER v_upd AFTER UPDATE ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;
    CREATE INDEX orders_seq ON orders(seq);`);
  const tgt = target === 'file'
    ? { path: 'lake', format: 'parquet', max_file_size: 65536, fsync: false }
    // files above part_size go up as multipart uploads (a kill can leave one open)
    : { bucket: 'lake', prefix: cell.prefix.slice(0, -1), endpoint: S3.endpoint, path_style: true, region: 'us-east-1',
      format: 'parquet', access_key_id: S3.akid, secret_access_key: S3.secret, part_size: 5242880,
      max_file_size: 12 << 20, retry_base_delay_ms: 5, max_attempts: 4 };
  const st = state === 'sqlite'
    ? { path: 'state.db' }
    : { endpoint: DDB.endpoint, region: 'us-east-1', access_key_id: DDB.akid, secret_access_key: DDB.secret,
      table: `campaign_${process.pid}_${target}_ctl`, history_table: `campaign_${process.pid}_${target}_hist`,
      retry_base_delay_ms: 5 };
  cell.ddbTables = `campaign_${process.pid}_${target}_(ctl|hist)`;
  // the crash wrapper declares some of the inner options (their defaults
  // would win over inner_options); the others go through inner_options
  const wrap = (kind, name, opts, declared, kill) => {
    const o = { inner: path.join(PLUGINS, `dld-${kind}-${name}.so`), ...kill, inner_options: {} };
    for (const [k, v] of Object.entries(opts)) if (declared.includes(k)) o[k] = v; else o.inner_options[k] = v;
    return { plugin: 'crash', options: o };
  };
  cell.config = (crash) => {
    const c = crash || {};
    return {
      plugin_dirs: [PLUGINS, TEST_PLUGINS],
      source: { plugin: 'sqlite', options: { path: 'src.db' } },
      target: c.target ? wrap('target', target, tgt, ['path', 'format', 'fsync', 'max_file_size'], c.target)
        : { plugin: target, options: tgt },
      state: c.state ? wrap('state', state, st, ['path'], c.state) : { plugin: state, options: st },
      engine: { batch_rows: 200, lease_ttl_seconds: 1, retries: 0 },
      tables: [{ targetTableName: 'orders', sourceTable: 'orders', filtercolumn: 'seq', filteroperator: 'gte' }],
    };
  };
  fs.writeFileSync(path.join(dir, 'deltaload.json'), JSON.stringify(cell.config(), null, 1));
  fs.writeFileSync(path.join(dir, 'crash.json'), '{}');
  return cell;
}

// inserts and updates; every change takes a new, higher seq. A big round's
// rows carry 3,000 random bytes (6,000 hex digits, ~3 KB in Parquet), so its
// 2,000 rows make a file above the 5 MiB part size: a multipart upload.
const PAD_SMALL = 8, PAD_BIG = 3000;
function mutate(cell, big) {
  const n = big ? 2000 : cell.rand(300) + 1;
  const pad = big ? PAD_BIG : PAD_SMALL;
  const u = cell.rand(40);
  sql(cell.db, `
    INSERT INTO orders(seq, val, pad)
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n})
      SELECT (SELECT coalesce(max(seq), 0) FROM orders) + i, 'v' || hex(randomblob(8)), hex(randomblob(${pad})) FROM c;
    UPDATE orders SET seq = (SELECT max(seq) FROM orders) + id, val = 'u' || hex(randomblob(6))
      WHERE id IN (SELECT id FROM orders ORDER BY random() LIMIT ${u});`);
}

// one deltaload process; resolves to { code, signal }
function start(cell, args, configName) {
  const fd = fs.openSync(cell.log, 'a');
  fs.writeSync(fd, `--- ${args.join(' ')} (${configName || 'deltaload.json'})\n`);
  const child = spawn(BIN, ['-c', configName || 'deltaload.json', ...args], { cwd: cell.dir, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.done = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return child;
}

const F = { rounds: 0, kills: 0, randomKills: 0, transitionKills: 0, raceKills: 0, terms: 0, races: 0,
  faultRuns: 0, faultsInjected: 0, plain: 0, hostile: 0, runs: 0, byTransition: {}, exits: {}, big: 0, multipart: 0 };
const problems = [];
function note(cell, what, r, allowed) {
  F.runs++;
  const key = r.signal ? r.signal : String(r.code);
  F.exits[key] = (F.exits[key] || 0) + 1;
  if (!allowed.includes(key)) problems.push(`${cell.name} round ${cell.round}: ${what} ended ${key} (allowed ${allowed.join('/')})`);
}

async function killAfter(child, ms) {
  await Promise.race([sleep(ms), child.done]);
  try { child.kill('SIGKILL'); } catch { /* gone */ }
  return child.done;
}

// statuses a run may end with when nothing is injected: success, or the
// table's lease still held by a process killed less than a lease ago
const CLEAN = ['0', '4'];

// one fault round at a time (DELETE /__proxy/faults clears them all); its
// faults match only the cell's S3 prefix and DynamoDB tables
let faultLock = Promise.resolve();

async function round(cell) {
  const { random, rand } = cell;
  const wait = cell.readyAt - Date.now();
  if (wait > 0) await sleep(wait);
  F.rounds++;
  cell.round = (cell.round || 0) + 1;
  const big = cell.target === 's3' && random() < 0.15;
  if (big) F.big++;
  mutate(cell, big);
  let action = rand(100);
  if (action >= 86 && cell.target === 'file' && cell.state === 'sqlite') action = rand(64); // no proxy here
  let killed = false;
  if (action < 32) {                      // SIGKILL at a random point
    // within a run's usual length: a file run takes ~0.1 s, an s3 one more
    const r = await killAfter(start(cell, ['-q', 'run']), rand(cell.target === 's3' || big ? 700 : 150));
    note(cell, 'random kill', r, [...CLEAN, 'SIGKILL']);
    if (r.signal === 'SIGKILL') { F.kills++; F.randomKills++; killed = true; }
  } else if (action < 64) {               // SIGKILL at the next transition of this cell's cycle
    const t = TRANSITIONS[cell.next++ % TRANSITIONS.length];
    // a discard comes only when a dead attempt is cleaned up: leave one first
    const steps = t.target && t.target.kill_in === 'discard' ? [{ target: { kill_in: 'write', kill_after_writes: 0 } }, t] : [t];
    for (const step of steps) {
      if (step !== steps[0]) await sleep(1100); // the dead attempt's lease
      fs.writeFileSync(path.join(cell.dir, 'crash.json'), JSON.stringify(cell.config(step), null, 1));
      const r = await killAfter(start(cell, ['-q', 'run'], 'crash.json'), 60000);
      // a run that finds the lease held never reaches a transition
      note(cell, `kill at ${tname(step)}`, r, [...CLEAN, 'SIGKILL']);
      if (r.signal === 'SIGKILL') {
        F.kills++; F.transitionKills++; killed = true;
        F.byTransition[tname(step)] = (F.byTransition[tname(step)] || 0) + 1;
      }
    }
  } else if (action < 72) {               // SIGTERM: stops promptly, releases its lease
    const child = start(cell, ['-q', 'run']);
    await Promise.race([sleep(rand(400)), child.done]);
    try { child.kill('SIGTERM'); } catch { /* gone */ }
    const r = await killAfter(child, 10000); // a TERMed run that hangs is killed, and reported below
    // SIGTERM itself: it came before main() installed the handler, so
    // before the process read its config or took a lease
    note(cell, 'SIGTERM', r, [...CLEAN, '130', 'SIGTERM']);
    F.terms++;
  } else if (action < 86) {               // four processes race; one may be killed
    const kids = [0, 1, 2, 3].map(() => start(cell, ['-q', 'run']));
    F.races++;
    if (rand(3)) {
      const r = await killAfter(kids[1], rand(cell.target === 's3' || big ? 500 : 120));
      if (r.signal === 'SIGKILL') { F.kills++; F.raceKills++; killed = true; }
    }
    const rs = await Promise.all(kids.map((k) => k.done));
    rs.forEach((r, i) => note(cell, `racer ${i}`, r, i === 1 ? [...CLEAN, 'SIGKILL'] : CLEAN));
    // one of them loads, unless it was the one killed
    if (!killed && !rs.some((r) => r.code === 0)) problems.push(`${cell.name} round ${cell.round}: no racer succeeded`);
  } else if (action < 96) {               // half of the requests fail
    let unlock;
    const prev = faultLock;
    faultLock = new Promise((r) => { unlock = r; });
    await prev;
    const srvs = [...(cell.target === 's3' ? [S3] : []), ...(cell.state === 'dynamodb' ? [DDB] : [])];
    for (const s of srvs) {
      const match = s === S3 ? cell.prefix.slice(0, -1) : cell.ddbTables;
      const kinds = s === S3
        ? [{ action: 'status', status: 503, code: 'SlowDown' }, { action: 'status', status: 500, code: 'InternalError' },
          { action: 'reset' }, { action: 'drop' }]
        : [{ action: 'status', status: 400, code: 'ThrottlingException' }, { action: 'status', status: 500 },
          { action: 'reset' }, { action: 'drop' }];
      // checked in order: each kind hits an eighth of the requests, half hit one
      await proxy(s, 'POST', 'faults', kinds.map((k) => ({ ...k, match, count: 1e9, rate: 1 / (8 - kinds.indexOf(k)) })));
    }
    const r = await killAfter(start(cell, ['-q', 'run']), 120000);
    for (const s of srvs) await proxy(s, 'DELETE', 'faults');
    unlock();
    F.faultRuns++;
    // a load that fails after its retries: 1; the state store unreachable: 5
    note(cell, 'run behind the fault proxy', r, [...CLEAN, '1', '5']);
  } else {                                // a run left alone
    note(cell, 'plain run', await start(cell, ['-q', 'run']).done, CLEAN);
    F.plain++;
  }
  // a killed holder's lease lasts lease_ttl_seconds
  if (killed || action < 72) cell.readyAt = Date.now() + 1100;
}

function readLines(file) {
  const t = fs.readFileSync(file, 'utf8');
  return t ? t.split('\n').filter(Boolean) : [];
}

async function check(cell) {
  const out = { cell: cell.name };
  await sleep(Math.max(0, cell.readyAt - Date.now()) + 100);
  let r;
  for (let i = 0; i < 6; i++) {
    r = await start(cell, ['-q', 'run']).done;
    if (r.code === 0) break;
    await sleep(1200);
  }
  if (r.code !== 0) problems.push(`${cell.name}: the final run did not succeed (${r.signal || r.code})`);
  r = await start(cell, ['--json', 'run']).done;
  if (r.code !== 0) problems.push(`${cell.name}: the run after the final one ended ${r.signal || r.code}`);
  for (const cmd of [['--json', 'status'], ['history'], ['-v', 'plan']]) await start(cell, cmd).done;

  // the lake, as a reader sees it
  let table = path.join(cell.dir, 'lake', 'orders');
  let m = { uploads: [] };
  if (cell.target === 's3') {
    const mirror = path.join(cell.dir, 'mirror');
    m = await s3Mirror(S3, cell.prefix, mirror);
    out.objects = m.objects;
    table = path.join(mirror, 'orders');
  }
  const walk = (d) => fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]) : [];
  const all = walk(table);
  const listed = new Set();
  let published = 0, aborted = 0;
  for (const f of all.filter((f) => path.dirname(f) === path.join(table, '_manifests') && f.endsWith('.json'))) {
    const m = JSON.parse(fs.readFileSync(f, 'utf8'));
    if (m.status !== undefined && m.status !== 'published') { aborted++; continue; }
    published++;
    for (const x of m.files || []) {
      const p = path.join(table, x.name);
      if (listed.has(p)) problems.push(`${cell.name}: ${x.name} listed by two published manifests`);
      listed.add(p);
    }
  }
  const orphans = all.filter((f) => !listed.has(f) && path.dirname(f) !== path.join(table, '_manifests'));
  const missingFiles = [...listed].filter((f) => !all.includes(f));
  if (orphans.length) problems.push(`${cell.name}: orphan files: ${orphans.map((f) => path.relative(table, f)).join(' ')}`);
  if (missingFiles.length) problems.push(`${cell.name}: manifests list missing files: ${missingFiles.join(' ')}`);
  Object.assign(out, { published, aborted, files: listed.size, orphans: orphans.length });
  if (cell.target === 's3') {
    // Every open upload is a discrepancy: a dead attempt's must have been
    // aborted by its discard, and one orphaned by a lost CreateMultipartUpload
    // answer is aborted by the target before it asks again (s3_mpu_create).
    const other = m.uploads;
    out.openUploads = m.uploads.length;
    if (other.length) problems.push(`${cell.name}: ${other.length} open multipart uploads: ${other.map((u) => `${u.key} (${u.id})`).join(' ')}`);
  }

  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  let lake = [];
  if (listed.size) {
    const files = [...listed].filter((f) => all.includes(f)).map((f) => `'${f.replace(/'/g, "''")}'`).join(', ');
    const reader = await con.runAndReadAll(
      `SELECT concat(id, '|', seq, '|', coalesce(val, '\\N')) AS line, length(pad) AS padlen FROM read_parquet([${files}])`);
    const [lines, padlens] = reader.getColumns();
    lake = lines.map(String);
    const badPad = padlens.filter((n) => Number(n) !== 2 * PAD_SMALL && Number(n) !== 2 * PAD_BIG).length;
    if (badPad) problems.push(`${cell.name}: ${badPad} rows with a damaged pad column`);
  }
  const versions = new Set(sql(cell.db, "SELECT id || '|' || seq || '|' || coalesce(val, '\\N') FROM versions").split('\n').filter(Boolean));
  const current = sql(cell.db, "SELECT id || '|' || seq || '|' || coalesce(val, '\\N') FROM orders").split('\n').filter(Boolean);
  const seen = new Set();
  let dups = 0, unknown = 0;
  for (const l of lake) {
    if (seen.has(l)) dups++;
    seen.add(l);
    if (!versions.has(l)) unknown++;
  }
  const missing = current.filter((l) => !seen.has(l)).length;
  if (dups || unknown || missing)
    problems.push(`${cell.name}: lake vs source: ${dups} duplicates, ${unknown} unknown versions, ${missing} current rows missing`);
  Object.assign(out, { lakeRows: lake.length, current: current.length, versions: versions.size, dups, unknown, missing });

  // the secrets: in no output, state file or lake file
  const scan = [cell.log, ...walk(cell.dir).filter((f) => /state\.db/.test(f)), ...all];
  for (const f of scan) {
    const b = fs.readFileSync(f);
    for (const s of SECRETS) if (b.includes(s)) problems.push(`${cell.name}: a secret key appears in ${path.relative(WORK, f)}`);
  }
  out.scanned = scan.length;
  return out;
}

// ---- hostile inputs around the secrets: each through the binary, with
// its documented exit status, an error naming the problem, and the secret
// it was configured with in no output. (The item/config catalogue of issue
// 13 is tests/core/test_reliability.c; these are the s3/dynamodb cases.)
const BAD_SECRET = 'campaign/Wrong+Secret/0123456789abcdefXYZ';
const URL_PW = 'Campaign_Url_Pw_0123456789';
async function hostile(cell) {
  const base = cell.config();
  const cases = [
    ['s3 secret key that does not match', 'run', (c) => { c.target.options.secret_access_key = BAD_SECRET; }, ['1'], /SignatureDoesNotMatch|403/],
    ['dynamodb secret key that does not match', 'run', (c) => { c.state.options.secret_access_key = BAD_SECRET; }, ['5'], /InvalidSignature|UnrecognizedClient|signature/i],
    ['s3 prefix climbing out', 'run', (c) => { c.target.options.prefix = 'camp/../elsewhere'; }, ['3'], /prefix/],
    ['misspelt secret option', 'config check', (c) => { c.target.options.secret_acess_key = BAD_SECRET; }, ['3'], /secret_acess_key/],
    ['s3 endpoint with a password, not http', 'run', (c) => { c.target.options.endpoint = `ftp://etl:${URL_PW}@x`; }, ['3'], /endpoint/],
    ['s3 endpoint with a password, bad host', 'run', (c) => { c.target.options.endpoint = `http://etl:${URL_PW}@[::1`; }, ['1', '3'], /endpoint|host|URL/i],
    ['NUL in a table name', 'run', (c) => { c.tables[0].targetTableName = 'ord\u0000ers'; }, ['3'], /targetTableName|control|NUL/i],
    ['dynamodb table name with a slash', 'run', (c) => { c.state.options.table = 'a/b'; }, ['3', '5'], /table/],
  ];
  for (const [what, cmd, edit, want, says] of cases) {
    mutate(cell, false); // something to load, so that the target is reached
    const c = JSON.parse(JSON.stringify(base));
    edit(c);
    fs.writeFileSync(path.join(cell.dir, 'hostile.json'), JSON.stringify(c));
    const before = fs.statSync(cell.log).size;
    const r = await killAfter(start(cell, cmd.split(' '), 'hostile.json'), 60000);
    const said = fs.readFileSync(cell.log).subarray(before).toString();
    F.hostile++;
    const key = r.signal || String(r.code);
    if (!want.includes(key)) problems.push(`hostile input "${what}": exit ${key}, wanted ${want.join('/')}: ${said.trim()}`);
    else if (!says.test(said)) problems.push(`hostile input "${what}": the error does not say what is wrong: ${said.trim()}`);
    if (said.includes(BAD_SECRET) || said.includes(URL_PW)) problems.push(`hostile input "${what}": its secret was printed`);
  }
  fs.unlinkSync(path.join(cell.dir, 'hostile.json'));
}

async function main() {
  const t0 = Date.now();
  const cells = [];
  for (const target of ['file', 's3']) for (const state of ['sqlite', 'dynamodb']) cells.push(makeCell(target, state, cells.length));
  for (const c of cells.filter((c) => c.state === 'dynamodb')) {
    const r = await start(c, ['state', 'init']).done;
    if (r.code !== 0) throw new Error(`${c.name}: state init ended ${r.code}: ${fs.readFileSync(c.log, 'utf8')}`);
  }
  // the cells run side by side, each its own rounds in order
  const end = t0 + SECONDS * 1000;
  await Promise.all(cells.map(async (c) => {
    for (let i = 0; SECONDS ? Date.now() < end : i < Math.ceil(ROUNDS / cells.length); i++) await round(c);
  }));
  // Kills at random points land only while a run is still going, so how many
  // land depends on the machine's speed: with --min-kills, more rounds (as
  // many again at most) until that many SIGKILLs were sent and landed.
  F.extraRounds = 0;
  await Promise.all(cells.map(async (c) => {
    for (let i = 0; F.kills < MIN_KILLS && i < Math.ceil(Math.max(ROUNDS, 200) / cells.length); i++, F.extraRounds++) await round(c);
  }));
  for (const s of [S3, DDB]) {
    const st = JSON.parse((await proxy(s, 'GET', 'stats')).body.toString());
    F.faultsInjected += st.faults;
    if (s === S3) F.multipart = st.byOp.CompleteMultipartUpload || 0;
  }
  const hc = cells.find((c) => c.name === 's3-dynamodb');
  await sleep(Math.max(0, hc.readyAt - Date.now()));
  await hostile(hc);
  hc.readyAt = Date.now() + 1100;
  const results = [];
  for (const c of cells) results.push(await check(c));
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  if (F.kills < MIN_KILLS) problems.push(`only ${F.kills} SIGKILLs (at least ${MIN_KILLS} wanted)`);
  const transitions = TRANSITIONS.map(tname).filter((n) => !F.byTransition[n]);
  console.log(`campaign: seed ${SEED}, ${secs} s, ${F.rounds} rounds (${F.extraRounds} of them to reach --min-kills), ${F.runs} runs: ${F.kills} SIGKILLs ` +
    `(${F.randomKills} at random points, ${F.transitionKills} at named transitions, ${F.raceKills} in races), ` +
    `${F.terms} SIGTERMs, ${F.races} four-process races, ${F.faultRuns} runs behind the 50 % fault proxies ` +
    `(${F.faultsInjected} faults injected), ${F.plain} plain runs, ${F.big} big rounds (${F.multipart} multipart uploads completed), ${F.hostile} hostile inputs`);
  console.log(`campaign: kills by transition ${JSON.stringify(F.byTransition)}` +
    (transitions.length ? `; never reached: ${transitions.join(' ')}` : ''));
  console.log(`campaign: exit statuses ${JSON.stringify(F.exits)}`);
  for (const r of results) console.log(`campaign: ${JSON.stringify(r)}`);
  const rows = results.reduce((n, r) => n + r.lakeRows, 0);
  console.log(`campaign: lake rows compared ${rows}; discrepancies ${problems.length}`);
  for (const p of problems) console.log(`campaign: DISCREPANCY: ${p}`);
  stopServers();
  if (problems.length || arg('work') || process.env.CAMPAIGN_KEEP) console.log(`campaign: kept ${WORK}`);
  else fs.rmSync(WORK, { recursive: true, force: true });
  stopServers();
  process.exit(problems.length ? 1 : 0);
}
main().catch((e) => { console.error(e.stack || e.message); stopServers(); process.exit(1); });
