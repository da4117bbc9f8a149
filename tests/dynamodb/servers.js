// Test servers for state-dynamodb: dynalite (a DynamoDB stand-in, in
// memory) behind a proxy that
//   - verifies every request's SigV4 signature with an independent
//     implementation (npm aws4, tests/node/lib/sigv4_verify.js) and refuses
//     bad ones the way DynamoDB does (400 InvalidSignatureException,
//     UnrecognizedClientException, MissingAuthenticationTokenException);
//   - injects faults on demand, driven through /__proxy/ control requests:
//     an HTTP status with a DynamoDB error body (400 ThrottlingException,
//     ProvisionedThroughputExceededException, TransactionCanceledException
//     with given reasons, 500, 503), a connection reset, a delay, "drop"
//     (the request is carried out, then the connection is closed unanswered:
//     the lost-answer case) and "kill" (SIGKILL to a given process before the
//     request is carried out, or after it was and before it is answered:
//     the crash tests' kill -9 at a chosen transition) and "stop" (SIGSTOP to
//     a given process, its request held until /__proxy/release: a holder
//     paused past its lease whose write arrives after another took over);
//   - emulates what dynalite 4.0 lacks:
//       * TransactWriteItems: all requests pass a reader-writer lock and a
//         transaction holds it exclusively, so nothing else runs meanwhile;
//         the items it touches are read first, its actions are applied one
//         by one through dynalite (each with its own condition; a
//         ConditionCheck as an UpdateItem with only that condition), and if
//         any condition failed all applied actions are rolled back to the
//         items read first and the answer is TransactionCanceledException
//         with one CancellationReason per action (with the old Item when
//         ReturnValuesOnConditionCheckFailure is ALL_OLD). ClientRequestToken
//         makes a repeated successful transaction a no-op for 10 minutes, as
//         DynamoDB does. Two actions on one item are refused (ValidationException).
//       * UpdateTimeToLive / DescribeTimeToLive (the TTL setting is kept in
//         memory; nothing expires).
// Usage: node servers.js <state-dir>   (writes <state-dir>/servers.json)
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const dynalite = require('dynalite');
const { verifySigV4 } = require(path.join(__dirname, '..', 'node', 'lib', 'sigv4_verify.js'));

const stateDir = process.argv[2];
if (!stateDir) {
  console.error('usage: node servers.js <state-dir>');
  process.exit(2);
}
fs.mkdirSync(stateDir, { recursive: true });

const keys = new Map([
  ['AKIDDYNAMOTEST', { secret: 'dynamodb/test/secret/key/0123456789ABCDEF' }],
  ['ASIADYNAMOTEMP', { secret: 'dynamodb/temporary/secret/key', token: 'dynamodb-session-token==' }],
]);
let skewMs = 0;
let faults = [];
const stats = { requests: 0, verified: 0, rejected: 0, faults: 0, kills: 0, stopped: 0, transactions: 0,
  cancelled: 0, byOp: {}, byAkid: {} };
let held = [];             // requests held by a "stop" fault
const ttl = new Map();      // table -> AttributeName (enabled)
const tokens = new Map();   // ClientRequestToken -> { at, hash }
const keySchemas = new Map(); // table -> [key attribute names]
let upstreamPort = 0;

// ---- reader-writer lock: transactions run alone -------------------------------
let readers = 0, writer = false;
const waiting = [];
function pump() {
  while (waiting.length) {
    const w = waiting[0];
    if (w.excl) {
      if (readers === 0 && !writer) { waiting.shift(); writer = true; w.go(); }
      break;
    }
    if (writer) break;
    waiting.shift(); readers++; w.go();
  }
}
function lock(excl) { return new Promise((go) => { waiting.push({ excl, go }); pump(); }); }
function unlock(excl) { if (excl) writer = false; else readers--; pump(); }

// ---- talking to dynalite -------------------------------------------------------------
function upstream(op, bodyText, headers) {
  return new Promise((resolve) => {
    const h = headers ? { ...headers } : {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${op}`,
      'x-amz-date': '20200101T000000Z',
      authorization: 'AWS4-HMAC-SHA256 Credential=PROXY/20200101/us-east-1/dynamodb/aws4_request, ' +
        'SignedHeaders=host, Signature=0000',
    };
    h.host = `127.0.0.1:${upstreamPort}`;
    h['content-length'] = Buffer.byteLength(bodyText);
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: 'POST', path: '/', headers: h }, (ur) => {
      const chunks = [];
      ur.on('data', (c) => chunks.push(c));
      ur.on('end', () => resolve({ status: ur.statusCode, headers: ur.headers, body: Buffer.concat(chunks) }));
    });
    up.on('error', (e) => resolve({ status: 502, headers: {},
      body: Buffer.from(JSON.stringify({ __type: 'com.amazon.coral.service#InternalFailure', message: `upstream: ${e.message}` })) }));
    up.end(bodyText);
  });
}
async function call(op, params) {
  const r = await upstream(op, JSON.stringify(params));
  let body = {};
  try { body = JSON.parse(r.body.toString() || '{}'); } catch { body = {}; }
  return { status: r.status, body };
}
function errType(body) { return String(body.__type || '').split('#').pop(); }

async function keyNames(table) {
  if (keySchemas.has(table)) return keySchemas.get(table);
  const r = await call('DescribeTable', { TableName: table });
  if (r.status !== 200) return null;
  const names = r.body.Table.KeySchema.map((k) => k.AttributeName);
  keySchemas.set(table, names);
  return names;
}

// ---- TransactWriteItems ------------------------------------------------------------------
const ddbError = (type, message, extra) => ({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message, ...(extra || {}) });

async function transact(req) {
  stats.transactions++;
  const items = req.TransactItems;
  if (!Array.isArray(items) || items.length < 1 || items.length > 100)
    return [400, ddbError('ValidationException', 'TransactItems must have between 1 and 100 items')];
  const tokenHash = crypto.createHash('sha256').update(JSON.stringify({ ...req, ClientRequestToken: undefined })).digest('hex');
  const tok = req.ClientRequestToken;
  if (tok) {
    const prev = tokens.get(tok);
    if (prev && Date.now() - prev.at < 10 * 60 * 1000) {
      if (prev.hash !== tokenHash)
        return [400, ddbError('IdempotentParameterMismatchException', 'The request uses the same client token as a previous, but non-identical request.')];
      return [200, {}];
    }
  }
  const actions = [];
  const seen = new Set();
  for (const it of items) {
    const kind = ['ConditionCheck', 'Put', 'Update', 'Delete'].find((k) => it[k]);
    if (!kind) return [400, ddbError('ValidationException', 'Each TransactItem must have exactly one action')];
    const a = it[kind];
    const names = await keyNames(a.TableName);
    if (!names) return [400, ddbError('ResourceNotFoundException', 'Requested resource not found')];
    const src = kind === 'Put' ? a.Item : a.Key;
    const key = {};
    for (const n of names) key[n] = src[n];
    const id = a.TableName + '\u0000' + JSON.stringify(names.map((n) => key[n]));
    if (seen.has(id)) return [400, ddbError('ValidationException', 'Transaction request cannot include multiple operations on one item')];
    seen.add(id);
    actions.push({ kind, a, key });
  }
  // the items as they were
  for (const x of actions) {
    const r = await call('GetItem', { TableName: x.a.TableName, Key: x.key, ConsistentRead: true });
    if (r.status !== 200) return [r.status, r.body];
    x.old = r.body.Item;
  }
  const reasons = [];
  const applied = [];
  let failed = false;
  let error = null;
  for (const x of actions) {
    const a = x.a;
    const common = { TableName: a.TableName, ConditionExpression: a.ConditionExpression,
      ExpressionAttributeNames: a.ExpressionAttributeNames, ExpressionAttributeValues: a.ExpressionAttributeValues };
    let op, params;
    if (x.kind === 'ConditionCheck') { op = 'UpdateItem'; params = { ...common, Key: x.key }; }
    else if (x.kind === 'Put') { op = 'PutItem'; params = { ...common, Item: a.Item }; }
    else if (x.kind === 'Update') { op = 'UpdateItem'; params = { ...common, Key: a.Key, UpdateExpression: a.UpdateExpression }; }
    else { op = 'DeleteItem'; params = { ...common, Key: a.Key }; }
    const r = await call(op, params);
    if (r.status === 200) {
      reasons.push({ Code: 'None' });
      applied.push(x);
    } else if (errType(r.body) === 'ConditionalCheckFailedException') {
      failed = true;
      const reason = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
      if (a.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && x.old) reason.Item = x.old;
      reasons.push(reason);
    } else {
      error = r;
      break;
    }
  }
  if (failed || error) {
    for (const x of applied.reverse()) {
      if (x.old) await call('PutItem', { TableName: x.a.TableName, Item: x.old });
      else await call('DeleteItem', { TableName: x.a.TableName, Key: x.key });
    }
  }
  if (error) return [error.status, error.body];
  if (failed) {
    stats.cancelled++;
    return [400, { __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException', CancellationReasons: reasons,
      Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]` }];
  }
  if (tok) tokens.set(tok, { at: Date.now(), hash: tokenHash });
  return [200, {}];
}

async function timeToLive(op, req) {
  const names = await keyNames(req.TableName);
  if (!names) return [400, ddbError('ResourceNotFoundException', `Requested resource not found: Table: ${req.TableName} not found`)];
  if (op === 'UpdateTimeToLive') {
    const spec = req.TimeToLiveSpecification || {};
    if (spec.Enabled) ttl.set(req.TableName, spec.AttributeName); else ttl.delete(req.TableName);
    return [200, { TimeToLiveSpecification: spec }];
  }
  const attr = ttl.get(req.TableName);
  return [200, { TimeToLiveDescription: attr ? { TimeToLiveStatus: 'ENABLED', AttributeName: attr } : { TimeToLiveStatus: 'DISABLED' } }];
}

// ---- faults -----------------------------------------------------------------------------------
function takeFault(op, bodyText) {
  for (const f of faults) {
    if (f.count <= 0) continue;
    if (f.op && f.op !== op) continue;
    if (f.match && !new RegExp(f.match).test(bodyText)) continue;
    if (f.skip > 0) { f.skip--; continue; }
    // rate: the fault hits this share of the matching requests (the campaign's 50 % proxy)
    if (f.rate !== undefined && Math.random() >= f.rate) continue;
    f.count--;
    return f;
  }
  return null;
}

function send(res, status, obj) {
  const text = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0', 'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': `PROXY${crypto.randomBytes(8).toString('hex').toUpperCase()}`,
    'Date': new Date(Date.now() + skewMs).toUTCString() });
  res.end(text);
}

function control(req, res, url, body) {
  const ok = (obj) => { const s = JSON.stringify(obj); res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(s); };
  if (url.pathname === '/__proxy/faults' && req.method === 'POST') { faults.push(...[].concat(JSON.parse(body.toString()))); return ok({ ok: true }); }
  if (url.pathname === '/__proxy/faults' && req.method === 'DELETE') { faults = []; return ok({ ok: true }); }
  if (url.pathname === '/__proxy/skew' && req.method === 'POST') { skewMs = JSON.parse(body.toString()).ms; return ok({ ok: true }); }
  if (url.pathname === '/__proxy/keys' && req.method === 'POST') {
    const k = JSON.parse(body.toString()); keys.set(k.akid, { secret: k.secret, token: k.token }); return ok({ ok: true });
  }
  if (url.pathname === '/__proxy/release' && req.method === 'POST') {
    const n = held.length; held.forEach((r) => r()); held = []; return ok({ released: n });
  }
  if (url.pathname === '/__proxy/stats' && req.method === 'GET')
    return ok({ ...stats, faultsPending: faults.reduce((n, f) => n + Math.max(0, f.count), 0) });
  if (url.pathname === '/__proxy/reset' && req.method === 'POST') {
    faults = []; skewMs = 0;
    for (const k of Object.keys(stats)) stats[k] = typeof stats[k] === 'object' ? {} : 0;
    return ok({ ok: true });
  }
  res.writeHead(404); res.end();
}

const AUTH_ERRORS = { missing: 'MissingAuthenticationTokenException', malformed: 'IncompleteSignatureException',
  'unknown-key': 'UnrecognizedClientException', 'bad-token': 'UnrecognizedClientException' };

async function handle(req, res, body) {
  const url = new URL(req.url, 'http://x');
  if (url.pathname.startsWith('/__proxy/')) return control(req, res, url, body);
  stats.requests++;
  const op = String(req.headers['x-amz-target'] || '').split('.').pop() || '?';
  stats.byOp[op] = (stats.byOp[op] || 0) + 1;
  const bad = verifySigV4(req, body, { keys, skewMs, service: 'dynamodb' });
  if (bad) {
    stats.rejected++;
    console.error(`rejected ${op}: ${bad.kind} (${bad.message}) auth=${(req.headers.authorization || '').replace(/Signature=.*/, '')}`);
    const type = AUTH_ERRORS[bad.kind] || 'InvalidSignatureException';
    return send(res, 400, { __type: `com.amazon.coral.service#${type}`, message: bad.message });
  }
  stats.verified++;
  const akid = /Credential=([^/]+)/.exec(req.headers.authorization)[1];
  stats.byAkid[akid] = (stats.byAkid[akid] || 0) + 1;
  const text = body.toString();
  const fault = takeFault(op, text);
  if (fault) {
    stats.faults++;
    if (fault.action === 'reset') { req.socket.destroy(); return; }
    if (fault.action === 'status')
      return send(res, fault.status || 500, { __type: `com.amazonaws.dynamodb.v20120810#${fault.code || 'InternalServerError'}`,
        message: fault.message || 'injected fault', ...(fault.body || {}) });
    if (fault.action === 'kill' && fault.point !== 'after') {
      stats.kills++;
      try { process.kill(fault.pid, 'SIGKILL'); } catch { /* already gone */ }
      req.socket.destroy();
      return;
    }
    if (fault.action === 'delay') await new Promise((r) => setTimeout(r, fault.ms || 1000));
    if (fault.action === 'stop') { // SIGSTOP the sender and hold its request until /__proxy/release
      stats.stopped++;
      try { process.kill(fault.pid, 'SIGSTOP'); } catch { /* already gone */ }
      await new Promise((r) => held.push(r));
    }
  }
  const txn = op === 'TransactWriteItems';
  await lock(txn);
  let status, answer, headers = null, raw = null;
  try {
    if (txn) {
      [status, answer] = await transact(JSON.parse(text));
    } else if (op === 'UpdateTimeToLive' || op === 'DescribeTimeToLive') {
      [status, answer] = await timeToLive(op, JSON.parse(text));
    } else {
      const r = await upstream(op, text, req.headers);
      status = r.status; headers = r.headers; raw = r.body;
    }
  } finally {
    unlock(txn);
  }
  if (fault && fault.action === 'kill') { // point "after": it took effect, its answer never arrives
    stats.kills++;
    try { process.kill(fault.pid, 'SIGKILL'); } catch { /* already gone */ }
    req.socket.destroy();
    return;
  }
  if (fault && fault.action === 'drop') { req.socket.destroy(); return; }
  if (raw === null) return send(res, status, answer);
  const h = { ...headers, date: new Date(Date.now() + skewMs).toUTCString() };
  delete h.connection;
  delete h['keep-alive'];
  res.writeHead(status, h);
  res.end(raw);
}

async function main() {
  const db = dynalite({ createTableMs: 100, deleteTableMs: 100, updateTableMs: 100 });
  await new Promise((r) => db.listen(0, '127.0.0.1', r));
  upstreamPort = db.address().port;
  const proxy = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((e) => {
        console.error(e);
        if (!res.headersSent) send(res, 500, { __type: 'com.amazon.coral.service#InternalFailure', message: String(e) });
      });
    });
  });
  proxy.keepAliveTimeout = 30000;
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const state = { pid: process.pid, dynalite: `http://127.0.0.1:${upstreamPort}`,
    endpoint: `http://127.0.0.1:${proxy.address().port}`,
    akid: 'AKIDDYNAMOTEST', secret: keys.get('AKIDDYNAMOTEST').secret };
  fs.writeFileSync(path.join(stateDir, 'servers.json.tmp'), JSON.stringify(state, null, 1));
  fs.renameSync(path.join(stateDir, 'servers.json.tmp'), path.join(stateDir, 'servers.json'));
  const stop = () => { proxy.close(); db.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
main().catch((e) => { console.error(e); process.exit(1); });
