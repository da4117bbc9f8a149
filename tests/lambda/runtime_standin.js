// A local STAND-IN for the AWS Lambda Runtime API (loopback only), enough
// for `deltaload lambda`: it is not Lambda and not the AWS runtime interface
// emulator. It hands out queued events on GET .../invocation/next (with the
// Lambda-Runtime-* headers the documentation lists), records what comes back
// on .../invocation/ID/response, .../invocation/ID/error and .../init/error,
// and answers 202 as the documented API does. With the queue empty, /next is
// held open, as the real API holds it until an invocation arrives.
'use strict';
const http = require('http');

const PREFIX = '/2018-06-01/runtime';

function startStandIn() {
  const queue = [];
  const posted = [];   // {kind: 'response'|'error'|'init-error', id, body, errorType}
  const waiters = [];  // callbacks waiting for a post
  let nextCalls = 0;
  let seq = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const reply = (status, obj) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
      if (req.method === 'GET' && req.url === `${PREFIX}/invocation/next`) {
        nextCalls++;
        const ev = queue.shift();
        if (!ev) return; // held open: no invocation
        const id = `8476a536-e9f4-11e8-9739-2dfe598c${String(++seq).padStart(4, '0')}`;
        ev.id = id;
        res.writeHead(200, {
          'content-type': 'application/json',
          'Lambda-Runtime-Aws-Request-Id': id,
          'Lambda-Runtime-Deadline-Ms': String(Date.now() + 60000),
          'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:deltaload',
          'Lambda-Runtime-Trace-Id': 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1',
        });
        res.end(ev.payload);
        return;
      }
      let m = req.method === 'POST' && req.url.match(new RegExp(`^${PREFIX}/invocation/([^/]+)/(response|error)$`));
      if (m) {
        posted.push({ kind: m[2], id: m[1], body, errorType: req.headers['lambda-runtime-function-error-type'],
          contentType: req.headers['content-type'] });
        reply(202, { status: 'OK' });
        waiters.splice(0).forEach((w) => w());
        return;
      }
      if (req.method === 'POST' && req.url === `${PREFIX}/init/error`) {
        posted.push({ kind: 'init-error', body, errorType: req.headers['lambda-runtime-function-error-type'] });
        reply(202, { status: 'OK' });
        waiters.splice(0).forEach((w) => w());
        return;
      }
      reply(404, { errorMessage: `stand-in: no route ${req.method} ${req.url}`, errorType: 'NotFound' });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    address: `127.0.0.1:${server.address().port}`,
    enqueue(payload) { const ev = { payload }; queue.push(ev); return ev; },
    posted,
    nextCalls: () => nextCalls,
    close() { server.closeAllConnections && server.closeAllConnections(); server.close(); },
  })));
}

module.exports = { startStandIn };
