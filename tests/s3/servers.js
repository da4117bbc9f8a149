// Test servers for target-s3: s3rver (an S3 stand-in storing objects on
// disk) behind a proxy that
//   - verifies every request's SigV4 signature with an independent
//     implementation (npm aws4) and the body against x-amz-content-sha256,
//     and refuses bad ones the way S3 does (403 SignatureDoesNotMatch,
//     InvalidAccessKeyId, RequestTimeTooSkewed, 400 XAmzContentSHA256Mismatch);
//   - injects faults on demand (status codes with S3 error codes, connection
//     resets, delays, and "drop": the request is carried out upstream, then
//     the connection is closed without an answer, the lost-response case),
//     driven through /__proxy/ control requests (a fault with `rate` hits
//     only that share of the requests it matches: tests/campaign);
//   - emulates AbortMultipartUpload and ListMultipartUploads, which s3rver
//     lacks, by tracking the uploads it has seen opened and completed (parts
//     of an aborted upload are refused afterwards, as on S3);
//   - emulates conditional writes (PutObject with If-None-Match: *), which
//     S3 honours since 2024 but s3rver 3.7 ignores on PUT (it would
//     overwrite): conditional PUTs of one key are serialized, the key is
//     HEAD'ed on s3rver, and an existing key is answered 412
//     PreconditionFailed with S3's error body, so of two racing conditional
//     PUTs exactly one wins.
// Usage: node servers.js <state-dir>   (writes <state-dir>/servers.json)
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const aws4 = require('aws4');
const S3rver = require('s3rver');

const stateDir = process.argv[2];
if (!stateDir) {
  console.error('usage: node servers.js <state-dir>');
  process.exit(2);
}
fs.mkdirSync(stateDir, { recursive: true });
const dataDir = path.join(stateDir, 'data');
fs.mkdirSync(dataDir, { recursive: true });

// Known keys: AKID -> { secret, token? }. Extra ones may be added at run time.
const keys = new Map([
  ['AKIDDELTALOADTEST', { secret: 'deltaload/test/secret/key/0123456789ABCDEF' }],
  ['ASIADELTALOADTEMP', { secret: 'temporary/secret/key/for/session/tests', token: 'session-token-for-tests==' }],
  ['ASIAE2EIMDS', { secret: 'e2e/imds/secret', token: 'e2e-imds-session' }],
  ['ASIAE2ECONTAINER', { secret: 'e2e/container/secret', token: 'e2e-container-session' }],
  ['ASIAE2EWEBID', { secret: 'e2e/web-identity/secret', token: 'e2e-web-identity-session' }],
]);
let skewMs = 0;
let faults = [];
// msByOp: server-side milliseconds per operation, from the last byte of the
// request to the last byte of the answer (the benchmark reads it)
// preconditionFailed: conditional PUTs refused because the key existed
const stats = { requests: 0, verified: 0, rejected: 0, faults: 0, preconditionFailed: 0, byOp: {}, byAkid: {},
  msByOp: {} };
const openUploads = new Map(); // uploadId -> { bucket, key, initiated }
const keyLocks = new Map();    // "bucket/key" -> tail of the queue of conditional PUTs of that key

// Runs fn(release) once every earlier holder of `name` has released it.
function withKeyLock(name, fn) {
  const prev = keyLocks.get(name) || Promise.resolve();
  let release;
  const mine = new Promise((r) => { release = r; });
  const tail = prev.then(() => mine);
  keyLocks.set(name, tail);
  prev.then(() => {
    let done = false;
    fn(() => {
      if (done) return;
      done = true;
      release();
      if (keyLocks.get(name) === tail) keyLocks.delete(name);
    });
  });
}

// HEAD of an object on s3rver (anonymous, as forward()): calls cb(status)
function headUpstream(upstreamPort, wirePath, cb) {
  const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: 'HEAD', path: wirePath }, (ur) => {
    ur.resume();
    ur.on('end', () => cb(ur.statusCode));
  });
  up.on('error', () => cb(0));
  up.end();
}

function xmlError(res, status, code, message, extra) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `${extra || ''}<RequestId>PROXY${crypto.randomBytes(6).toString('hex')}</RequestId></Error>`;
  const headers = { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body),
    'Date': new Date(Date.now() + skewMs).toUTCString() };
  res.writeHead(status, headers);
  res.end(body);
}

function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

// Returns null when the request is correctly signed, else [status, code, message].
function verify(req, body) {
  const auth = req.headers.authorization;
  if (!auth) return [403, 'AccessDenied', 'Anonymous access is not allowed'];
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return [400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed'];
  const [, akid, , region, service, signedHeaders, signature] = m;
  const key = keys.get(akid);
  if (!key) return [403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'];
  if (key.token && req.headers['x-amz-security-token'] !== key.token)
    return [403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.'];
  const date = parseAmzDate(req.headers['x-amz-date']);
  if (isNaN(date)) return [403, 'AccessDenied', 'X-Amz-Date missing or malformed'];
  if (Math.abs(date - (Date.now() + skewMs)) > 15 * 60 * 1000)
    return [403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.'];
  const claimed = req.headers['x-amz-content-sha256'];
  if (!claimed) return [400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256'];
  if (claimed !== 'UNSIGNED-PAYLOAD' && claimed !== crypto.createHash('sha256').update(body).digest('hex'))
    return [400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.'];
  const headers = {};
  for (const name of signedHeaders.split(';')) {
    if (!(name in req.headers)) return [403, 'SignatureDoesNotMatch', `signed header ${name} is missing`];
    headers[name] = req.headers[name];
  }
  const opts = { host: req.headers.host, method: req.method, path: req.url, headers, service, region };
  aws4.sign(opts, { accessKeyId: akid, secretAccessKey: key.secret });
  const want = /Signature=([0-9a-f]{64})/.exec(opts.headers.Authorization)[1];
  const wantSigned = /SignedHeaders=([^,]+)/.exec(opts.headers.Authorization)[1];
  if (wantSigned !== signedHeaders || want !== signature)
    return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'];
  stats.byAkid[akid] = (stats.byAkid[akid] || 0) + 1;
  return null;
}

function opName(req, url) {
  const q = url.searchParams;
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'POST' && q.has('uploads')) return 'CreateMultipartUpload';
  if (req.method === 'POST' && q.has('uploadId')) return 'CompleteMultipartUpload';
  if (req.method === 'PUT' && q.has('uploadId')) return 'UploadPart';
  if (req.method === 'DELETE' && q.has('uploadId')) return 'AbortMultipartUpload';
  if (req.method === 'GET' && q.has('uploads')) return 'ListMultipartUploads';
  if (req.method === 'POST' && q.has('delete')) return 'DeleteObjects';
  if (req.method === 'GET' && parts.length === 1) return 'ListObjects';
  return { PUT: 'PutObject', GET: 'GetObject', HEAD: 'HeadObject', DELETE: 'DeleteObject' }[req.method] || req.method;
}

function takeFault(op, req) {
  for (const f of faults) {
    if (f.count <= 0) continue;
    if (f.op && f.op !== op) continue;
    if (f.match && !new RegExp(f.match).test(req.url)) continue;
    if (f.skip > 0) { f.skip--; continue; }
    // rate: the fault hits this share of the matching requests (the campaign's 50 % proxy)
    if (f.rate !== undefined && Math.random() >= f.rate) continue;
    f.count--;
    return f;
  }
  return null;
}

function control(req, res, url, body) {
  const send = (obj) => { const s = JSON.stringify(obj); res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(s); };
  if (url.pathname === '/__proxy/faults' && req.method === 'POST') { faults.push(...[].concat(JSON.parse(body.toString()))); return send({ ok: true }); }
  if (url.pathname === '/__proxy/faults' && req.method === 'DELETE') { faults = []; return send({ ok: true }); }
  if (url.pathname === '/__proxy/skew' && req.method === 'POST') { skewMs = JSON.parse(body.toString()).ms; return send({ ok: true }); }
  if (url.pathname === '/__proxy/keys' && req.method === 'POST') {
    const k = JSON.parse(body.toString()); keys.set(k.akid, { secret: k.secret, token: k.token }); return send({ ok: true });
  }
  if (url.pathname === '/__proxy/stats' && req.method === 'GET') {
    return send({ ...stats, faultsPending: faults.reduce((n, f) => n + Math.max(0, f.count), 0),
      openUploads: [...openUploads.entries()].map(([id, u]) => ({ id, ...u })) });
  }
  if (url.pathname === '/__proxy/reset' && req.method === 'POST') {
    faults = []; skewMs = 0; openUploads.clear();
    for (const k of Object.keys(stats)) stats[k] = typeof stats[k] === 'object' ? {} : 0;
    return send({ ok: true });
  }
  res.writeHead(404); res.end();
}

function listUploadsXml(bucket, prefix) {
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const ups = [...openUploads.entries()].filter(([, u]) => u.bucket === bucket && u.key.startsWith(prefix))
    .sort((a, b) => (a[1].key < b[1].key ? -1 : a[1].key > b[1].key ? 1 : 0));
  return '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Bucket>${esc(bucket)}</Bucket><Prefix>${esc(prefix)}</Prefix><IsTruncated>false</IsTruncated>` +
    ups.map(([id, u]) => `<Upload><Key>${esc(u.key)}</Key><UploadId>${esc(id)}</UploadId></Upload>`).join('') +
    '</ListMultipartUploadsResult>';
}

// opts.drop: close the client's connection instead of answering (the request
// took effect upstream, its answer is lost); opts.done: called once the
// upstream request has finished, whatever the outcome
function forward(req, res, body, upstreamPort, op, url, opts = {}) {
  const done = opts.done || (() => {});
  // verified here; s3rver would only check the key id against its own
  // account, so it gets the request anonymously
  const headers = { ...req.headers, host: `127.0.0.1:${upstreamPort}` };
  delete headers.authorization;
  delete headers['x-amz-security-token'];
  const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url,
    headers }, (ur) => {
    const chunks = [];
    ur.on('data', (c) => chunks.push(c));
    ur.on('end', () => {
      const out = Buffer.concat(chunks);
      const parts = decodeURIComponent(url.pathname).split('/');
      if (op === 'CreateMultipartUpload' && ur.statusCode === 200) {
        const id = /<UploadId>([^<]+)<\/UploadId>/.exec(out.toString());
        if (id) openUploads.set(id[1], { bucket: parts[1], key: parts.slice(2).join('/'), initiated: Date.now() });
      }
      if (op === 'CompleteMultipartUpload' && ur.statusCode === 200) openUploads.delete(url.searchParams.get('uploadId'));
      done();
      if (opts.drop) { req.socket.destroy(); return; }
      const headers = { ...ur.headers };
      res.writeHead(ur.statusCode, headers);
      res.end(out);
    });
  });
  up.on('error', (e) => { done(); xmlError(res, 502, 'BadGateway', `upstream: ${e.message}`); });
  up.end(body);
}

// The remote credential sources, in the documented formats (see tests/aws
// for the client side against a stand-in of its own).
function credsServer() {
  const expiration = () => new Date(Date.now() + 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const handout = (akid) => ({ AccessKeyId: akid, SecretAccessKey: keys.get(akid).secret, Token: keys.get(akid).token,
    Expiration: expiration() });
  const json = (res, obj) => { const t = JSON.stringify(obj); res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(t); };
  return http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      if (url.pathname === '/latest/api/token' && req.method === 'PUT') {
        if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) { res.writeHead(400); return res.end(); }
        res.writeHead(200); return res.end('e2e-imds-api-token');
      }
      if (url.pathname.startsWith('/latest/meta-data/iam/security-credentials/')) {
        if (req.headers['x-aws-ec2-metadata-token'] !== 'e2e-imds-api-token') { res.writeHead(401); return res.end(); }
        const role = url.pathname.slice('/latest/meta-data/iam/security-credentials/'.length);
        if (!role) { res.writeHead(200); return res.end('e2e-role\n'); }
        if (role !== 'e2e-role') { res.writeHead(404); return res.end(); }
        return json(res, { Code: 'Success', Type: 'AWS-HMAC', ...handout('ASIAE2EIMDS') });
      }
      if (url.pathname === '/container/creds') {
        if (req.headers.authorization !== 'e2e-container-auth') { res.writeHead(403); return res.end(); }
        return json(res, handout('ASIAE2ECONTAINER'));
      }
      if (url.pathname === '/' && req.method === 'POST') {
        const p = new URLSearchParams(Buffer.concat(chunks).toString());
        if (p.get('Action') !== 'AssumeRoleWithWebIdentity' || p.get('WebIdentityToken') !== 'e2e-web-identity-jwt') {
          res.writeHead(400, { 'Content-Type': 'text/xml' });
          return res.end('<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>' +
            '<Message>bad token</Message></Error><RequestId>e2e-sts</RequestId></ErrorResponse>');
        }
        const c = handout('ASIAE2EWEBID');
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        return res.end('<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>' +
          `<AccessKeyId>${c.AccessKeyId}</AccessKeyId><SecretAccessKey>${c.SecretAccessKey}</SecretAccessKey>` +
          `<SessionToken>${c.Token}</SessionToken><Expiration>${c.Expiration}</Expiration></Credentials>` +
          '</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>');
      }
      res.writeHead(404); res.end();
    });
  });
}

async function main() {
  const s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dataDir,
    configureBuckets: [{ name: 'lake' }, { name: 'bench' }] });
  const addr = await s3rver.run();
  const upstreamPort = addr.port;

  const proxy = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, 'http://x');
      if (url.pathname.startsWith('/__proxy/')) return control(req, res, url, body);
      stats.requests++;
      const op = opName(req, url);
      stats.byOp[op] = (stats.byOp[op] || 0) + 1;
      const t0 = process.hrtime.bigint();
      res.on('finish', () => { stats.msByOp[op] = (stats.msByOp[op] || 0) + Number(process.hrtime.bigint() - t0) / 1e6; });
      const bad = verify(req, body);
      if (bad) {
        stats.rejected++;
        console.error(`rejected ${req.method} ${req.url}: ${bad[1]} (${bad[2]}) auth=${(req.headers.authorization || '').replace(/Signature=.*/, '')}`);
        return xmlError(res, bad[0], bad[1], bad[2]);
      }
      stats.verified++;
      const fault = takeFault(op, req);
      if (fault) {
        stats.faults++;
        if (fault.action === 'reset') { req.socket.destroy(); return; }
        if (fault.action === 'status')
          return xmlError(res, fault.status, fault.code || 'InternalError', fault.message || 'injected fault');
      }
      const go = () => {
        const parts = decodeURIComponent(url.pathname).split('/');
        const uploadId = url.searchParams.get('uploadId');
        if (op === 'AbortMultipartUpload') {
          if (!openUploads.delete(uploadId)) return xmlError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
          res.writeHead(204); return res.end();
        }
        if ((op === 'UploadPart' || op === 'CompleteMultipartUpload') && !openUploads.has(uploadId))
          return xmlError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
        if (op === 'ListMultipartUploads') {
          const xml = listUploadsXml(parts[1], url.searchParams.get('prefix') || '');
          res.writeHead(200, { 'Content-Type': 'application/xml' }); return res.end(xml);
        }
        const drop = !!(fault && fault.action === 'drop');
        const cond = req.headers['if-none-match'];
        if (op === 'PutObject' && cond !== undefined) {
          // S3 supports only '*' on writes
          if (cond !== '*')
            return xmlError(res, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented',
              '<Header>If-None-Match</Header>');
          // one conditional PUT of a key at a time: the HEAD and the write
          // must not interleave with another's
          return withKeyLock(parts.slice(1).join('/'), (release) => {
            headUpstream(upstreamPort, url.pathname, (status) => {
              if (status === 200) {
                release();
                stats.preconditionFailed++;
                if (drop) { req.socket.destroy(); return; }
                return xmlError(res, 412, 'PreconditionFailed',
                  'At least one of the pre-conditions you specified did not hold', '<Condition>If-None-Match</Condition>');
              }
              forward(req, res, body, upstreamPort, op, url, { drop, done: release });
            });
          });
        }
        forward(req, res, body, upstreamPort, op, url, { drop });
      };
      if (fault && fault.action === 'delay') setTimeout(go, fault.ms || 1000); else go();
    });
  });
  proxy.keepAliveTimeout = 30000;
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const creds = credsServer();
  await new Promise((r) => creds.listen(0, '127.0.0.1', r));
  const state = { pid: process.pid, s3rver: `http://127.0.0.1:${upstreamPort}`,
    endpoint: `http://127.0.0.1:${proxy.address().port}`, data: dataDir,
    creds: `http://127.0.0.1:${creds.address().port}`,
    akid: 'AKIDDELTALOADTEST', secret: keys.get('AKIDDELTALOADTEST').secret };
  fs.writeFileSync(path.join(stateDir, 'servers.json.tmp'), JSON.stringify(state, null, 1));
  fs.renameSync(path.join(stateDir, 'servers.json.tmp'), path.join(stateDir, 'servers.json'));
  const stop = () => { proxy.close(); creds.close(); s3rver.close().then(() => process.exit(0)); setTimeout(() => process.exit(0), 2000); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
main().catch((e) => { console.error(e); process.exit(1); });
