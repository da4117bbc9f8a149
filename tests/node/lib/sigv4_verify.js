// SigV4 verification of an incoming request with an independent
// implementation (npm aws4), for the test proxies in front of stand-in AWS
// services. Protocol-neutral: it says what is wrong (`kind`), and each proxy
// answers in its service's own error format (S3's XML, DynamoDB's JSON).
//
//   const { verifySigV4 } = require('../node/lib/sigv4_verify');
//   const bad = verifySigV4(req, body, { keys, skewMs, service: 'dynamodb' });
//   // null when the request is correctly signed, else
//   // { kind, message, akid }   kind: 'missing' | 'malformed' | 'unknown-key' |
//   //   'bad-token' | 'bad-date' | 'skew' | 'no-content-sha' | 'content-sha' |
//   //   'missing-signed-header' | 'wrong-service' | 'bad-signature'
//
// keys: Map AKID -> { secret, token? }; skewMs: the server clock's offset
// from this machine's; service: the signing name the request must carry
// (undefined: any); requireContentSha256: S3's x-amz-content-sha256 rules.
'use strict';
const crypto = require('crypto');
const aws4 = require('aws4');

function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

function verifySigV4(req, body, opts) {
  const keys = opts.keys;
  const skewMs = opts.skewMs || 0;
  const auth = req.headers.authorization;
  if (!auth) return { kind: 'missing', message: 'Request is missing Authentication Token' };
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { kind: 'malformed', message: 'The authorization header is malformed' };
  const [, akid, , region, service, signedHeaders, signature] = m;
  if (opts.service && service !== opts.service)
    return { kind: 'wrong-service', akid, message: `Credential should be scoped to correct service: '${opts.service}'.` };
  const key = keys.get(akid);
  if (!key) return { kind: 'unknown-key', akid, message: 'The security token included in the request is invalid.' };
  if (key.token && req.headers['x-amz-security-token'] !== key.token)
    return { kind: 'bad-token', akid, message: 'The security token included in the request is invalid.' };
  const date = parseAmzDate(req.headers['x-amz-date']);
  if (isNaN(date)) return { kind: 'bad-date', akid, message: 'X-Amz-Date missing or malformed' };
  const now = Date.now() + skewMs;
  if (Math.abs(date - now) > 15 * 60 * 1000) {
    const fmt = (t) => new Date(t).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    return { kind: 'skew', akid,
      message: `Signature expired: ${fmt(date)} is now earlier than ${fmt(now - 15 * 60 * 1000)} (${fmt(now)} - 15 min.)` };
  }
  const claimed = req.headers['x-amz-content-sha256'];
  if (opts.requireContentSha256) {
    if (!claimed) return { kind: 'no-content-sha', akid, message: 'Missing required header for this request: x-amz-content-sha256' };
    if (claimed !== 'UNSIGNED-PAYLOAD' && claimed !== crypto.createHash('sha256').update(body).digest('hex'))
      return { kind: 'content-sha', akid, message: 'The provided x-amz-content-sha256 header does not match what was computed.' };
  }
  const signed = signedHeaders.split(';');
  const headers = {};
  for (const name of signed) {
    if (!(name in req.headers)) return { kind: 'missing-signed-header', akid, message: `signed header ${name} is missing` };
    headers[name] = req.headers[name];
  }
  // aws4 adds Content-Type and Content-Length to a request with a body when
  // they are absent; they are left out of the comparison unless signed
  const ignore = {};
  if (!signed.includes('content-length')) ignore['content-length'] = true;
  if (!signed.includes('content-type')) ignore['content-type'] = true;
  const signOpts = { host: req.headers.host, method: req.method, path: req.url, headers, service, region,
    extraHeadersToIgnore: ignore };
  // the payload hash: the signed x-amz-content-sha256 if any (S3), else the body's
  if (!signed.includes('x-amz-content-sha256')) signOpts.body = body;
  aws4.sign(signOpts, { accessKeyId: akid, secretAccessKey: key.secret });
  const want = /Signature=([0-9a-f]{64})/.exec(signOpts.headers.Authorization)[1];
  const wantSigned = /SignedHeaders=([^,]+)/.exec(signOpts.headers.Authorization)[1];
  if (wantSigned !== signedHeaders || want !== signature)
    return { kind: 'bad-signature', akid,
      message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.' };
  return null;
}

module.exports = { verifySigV4, parseAmzDate };
