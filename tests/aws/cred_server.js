// Local stand-ins for the remote credential sources, for tests/aws:
//   EC2 instance metadata (IMDSv2: token PUT, role list, role credentials),
//   the container credentials endpoint (ECS/EKS, with an Authorization token),
//   STS AssumeRoleWithWebIdentity.
// Prints "port <n>" once listening. GET /__counts returns how often each was
// asked (to check caching and refresh). EXPIRY_S (env) sets how far ahead
// the handed-out credentials expire (default 3600).
'use strict';
const http = require('http');
const counts = { imds_token: 0, imds_role: 0, imds_creds: 0, container: 0, sts: 0 };
const expirySeconds = Number(process.env.EXPIRY_S || 3600);
const expiration = () => new Date(Date.now() + expirySeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

function json(res, status, obj) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(s) });
  res.end(s);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/__counts') return json(res, 200, counts);
    if (url.pathname === '/latest/api/token' && req.method === 'PUT') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) { res.writeHead(400); return res.end(); }
      counts.imds_token++;
      res.writeHead(200); return res.end('imds-session-token-42');
    }
    if (url.pathname.startsWith('/latest/meta-data/iam/security-credentials/')) {
      if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session-token-42') { res.writeHead(401); return res.end(); }
      const role = url.pathname.slice('/latest/meta-data/iam/security-credentials/'.length);
      if (!role) { counts.imds_role++; res.writeHead(200); return res.end('deltaload-role\n'); }
      if (role !== 'deltaload-role') { res.writeHead(404); return res.end(); }
      counts.imds_creds++;
      return json(res, 200, { Code: 'Success', Type: 'AWS-HMAC', AccessKeyId: 'ASIAIMDSEXAMPLE',
        SecretAccessKey: 'imds/secret', Token: 'imds-session', Expiration: expiration() });
    }
    if (url.pathname === '/container/creds' || url.pathname === '/v2/credentials/abc') {
      if (req.headers.authorization !== 'container-auth-token') { res.writeHead(403); return res.end(); }
      counts.container++;
      return json(res, 200, { AccessKeyId: 'ASIACONTAINEREXAMPLE', SecretAccessKey: 'container/secret',
        Token: 'container-session', Expiration: expiration() });
    }
    if (url.pathname === '/' && req.method === 'POST') {
      const p = new URLSearchParams(body);
      counts.sts++;
      if (p.get('Action') !== 'AssumeRoleWithWebIdentity' || p.get('WebIdentityToken') !== 'web-identity-jwt' ||
          p.get('RoleArn') !== 'arn:aws:iam::123456789012:role/deltaload') {
        res.writeHead(400, { 'Content-Type': 'text/xml' });
        return res.end('<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>' +
          '<Message>bad token</Message></Error><RequestId>sts-req-1</RequestId></ErrorResponse>');
      }
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      return res.end('<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>' +
        '<AccessKeyId>ASIAWEBIDEXAMPLE</AccessKeyId><SecretAccessKey>web/secret</SecretAccessKey>' +
        `<SessionToken>web-session</SessionToken><Expiration>${expiration()}</Expiration></Credentials>` +
        '</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>');
    }
    res.writeHead(404); res.end();
  });
});
server.listen(0, '127.0.0.1', () => { console.log(`port ${server.address().port}`); });
process.on('SIGTERM', () => process.exit(0));
