// Notifications: a webhook receiver (JSON and Slack formats, filters,
// summaries, retries, timeouts, the URL's secret never printed), a command
// receiver (the event on stdin), and SNS Publish checked at the wire: the
// signature by an independent SigV4 implementation (tests/node/lib), the
// body compared byte for byte with what the AWS SDK for JavaScript v3 sends
// for the same Publish to the same endpoint.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { scratch, makeSource, writeConfig, dlAsync, recorder } = require('./lib.js');
const { verifySigV4 } = require(path.join(__dirname, '..', 'node', 'lib', 'sigv4_verify.js'));

const SECRET = 'T0PSECRET-9f8e7d';

function noSecret(r) {
  assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), 'the webhook secret is never printed');
}

test('webhook: filters, formats, summary, and the secret stays out of every message', async () => {
  const dir = scratch('notify-webhook');
  makeSource(dir, 10);
  const rec = await recorder();
  const url = (p) => `${rec.base}/hook/${p}/${SECRET}?token=${SECRET}`;
  const cfg = writeConfig(dir, { notify: [
    { type: 'webhook', url: url('fail') },                                  // default: failures only
    { type: 'webhook', url: url('all'), on: 'all' },
    { type: 'webhook', url: url('orders'), on: 'all', tables: ['orders'] },
    { type: 'webhook', url: url('slack'), format: 'slack' },
    { type: 'webhook', url: url('summary'), on: 'all', summary: true },
  ] });
  const r = await dlAsync(cfg, ['run']);
  rec.close();
  assert.equal(r.code, 1, r.stderr);
  noSecret(r);
  const by = (p) => rec.seen.filter((s) => s.url.startsWith(`/hook/${p}/`)).map((s) => s);
  for (const s of rec.seen) {
    assert.equal(s.method, 'POST');
    assert.equal(s.headers['content-type'], 'application/json');
  }
  const fail = by('fail').map((s) => JSON.parse(s.body));
  assert.equal(fail.length, 1);
  assert.equal(fail[0].event, 'load');
  assert.equal(fail[0].table, 'broken');
  assert.equal(fail[0].status, 'failed');
  assert.match(fail[0].error, /no_such_table/);
  assert.ok('window' in fail[0] && 'duration_ms' in fail[0] && 'rows' in fail[0]);
  const all = by('all').map((s) => JSON.parse(s.body)).sort((a, b) => a.table.localeCompare(b.table));
  assert.deepEqual(all.map((e) => [e.table, e.status]), [['broken', 'failed'], ['orders', 'committed']]);
  assert.equal(all[1].rows, 10);
  assert.equal(all[1].window.high, '10');
  assert.equal(all[1].error, null);
  const orders = by('orders').map((s) => JSON.parse(s.body));
  assert.deepEqual(orders.map((e) => e.table), ['orders']);
  const slack = by('slack').map((s) => JSON.parse(s.body));
  assert.equal(slack.length, 1);
  assert.deepEqual(Object.keys(slack[0]), ['text']);
  assert.match(slack[0].text, /Table: broken\nStatus: failed\n/);
  assert.match(slack[0].text, /Error: .*no_such_table/);
  const summary = by('summary').map((s) => JSON.parse(s.body));
  assert.equal(summary.length, 1);
  assert.equal(summary[0].event, 'cycle');
  assert.equal(summary[0].status, 'failed');
  assert.equal(summary[0].loads, 2);
  assert.equal(summary[0].failed, 1);
  assert.equal(summary[0].tables.length, 2);
});

test('webhook: a failing or silent receiver is retried within its timeout, logged (redacted), and the load goes on', async () => {
  const dir = scratch('notify-webhook-bad');
  makeSource(dir, 3);
  const rec = await recorder((req) => (req.url.startsWith('/500/') ? [500, 'no'] : null));
  test.after(() => rec.close());
  const cfg = writeConfig(dir, { notify: [
    { type: 'webhook', url: `${rec.base}/500/${SECRET}`, on: 'all', retries: 2, tables: ['orders'] },
    { type: 'webhook', url: `${rec.base}/hang/${SECRET}`, on: 'all', timeout_seconds: 1, retries: 3, tables: ['orders'] },
  ] }, [{ targetTableName: 'orders', sourceTable: 'orders', filtercolumn: 'id' }]);
  const r = await dlAsync(cfg, ['run', '--json']);
  rec.close();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).tables[0].outcome, 'committed');
  noSecret(r);
  assert.equal(rec.seen.filter((s) => s.url.startsWith('/500/')).length, 3, 'one try and two retries');
  assert.match(r.stderr, /notify\[0\] \(webhook http:\/\/127\.0\.0\.1:\d+\/…\) about orders failed .*HTTP status 500/);
  assert.match(r.stderr, /notify\[1\] \(webhook http:\/\/127\.0\.0\.1:\d+\/…\) about orders failed/);
  assert.ok(r.ms < 1000 + 3000 + 2500, `bounded by the timeouts (${r.ms} ms)`);
});

test('command: the event as JSON on stdin; a failing command is logged, not fatal', async () => {
  const dir = scratch('notify-command');
  makeSource(dir, 4);
  const out = path.join(dir, 'events.jsonl');
  const recv = path.join(__dirname, 'receiver.js');
  const cfg = writeConfig(dir, { notify: [
    { type: 'command', command: [process.execPath, recv, out] },
    { type: 'command', command: [process.execPath, recv, out + '.2', '3'], on: 'all' },
    { type: 'command', command: [path.join(dir, 'does-not-exist')] },
  ] });
  const r = await dlAsync(cfg, ['run']);
  assert.equal(r.code, 1, r.stderr);
  const events = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(events.length, 1);
  assert.equal(events[0].table, 'broken');
  assert.equal(events[0].status, 'failed');
  assert.match(events[0].host, /:\d+:/); // host:pid:nonce, the owner in leases
  assert.equal(fs.readFileSync(out + '.2', 'utf8').trim().split('\n').length, 2);
  assert.match(r.stderr, /notify\[1\] \(command .*exited with status 3/);
  assert.match(r.stderr, /notify\[2\] \(command .*cannot start/);
});

test('bad notify entries are configuration errors that never echo the URL', async () => {
  const dir = scratch('notify-conf');
  makeSource(dir, 1);
  const bad = [
    [{ type: 'pager' }, /notify\[0\]\.type must be one of/],
    [{ type: 'webhook', url: `ftp://x/${SECRET}` }, /notify\[0\]\.url must be an http/],
    [{ type: 'webhook', url: `http://x/${SECRET}`, on: 'sometimes' }, /notify\[0\]\.on must be/],
    [{ type: 'command', command: 'page-me' }, /notify\[0\]\.command must be a non-empty list/],
    [{ type: 'sns', topic_arn: 'ops' }, /notify\[0\]\.topic_arn must be an SNS topic ARN/],
    [{ type: 'webhook', url: `http://x/${SECRET}`, colour: 'red' }, /unknown key 'colour'/],
  ];
  for (const [entry, re] of bad) {
    const r = await dlAsync(writeConfig(dir, { notify: [entry] }), ['status']);
    assert.equal(r.code, 3, JSON.stringify(entry));
    assert.match(r.stderr, re);
    noSecret(r);
  }
});

test('sns: Publish signed (checked by an independent signer) and byte-identical to the AWS SDK for JavaScript v3', async () => {
  const dir = scratch('notify-sns');
  makeSource(dir, 5);
  const keys = new Map([['AKIDOPS', { secret: 'opsSecretKey/123' }]]);
  const xml = '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId>'
    + '</PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>';
  const rec = await recorder((req, body) => {
    const bad = verifySigV4(req, body, { keys, service: 'sns' });
    return bad ? [403, bad.message] : [200, xml, 'text/xml'];
  });
  test.after(() => rec.close());
  const topic = 'arn:aws:sns:eu-west-1:123456789012:deltaload-ops';
  const cfg = writeConfig(dir, { notify: [
    { type: 'sns', topic_arn: topic, endpoint: rec.base },
    { type: 'sns', topic_arn: topic, endpoint: rec.base, on: 'all', summary: true },
  ] });
  const env = {
    AWS_ACCESS_KEY_ID: 'AKIDOPS', AWS_SECRET_ACCESS_KEY: 'opsSecretKey/123', AWS_SESSION_TOKEN: '',
    AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-creds'),
    AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: '', AWS_DEFAULT_REGION: '', AWS_PROFILE: '',
  };
  for (const k of Object.keys(env)) if (env[k] === '') delete env[k];
  const childEnv = { ...env };
  for (const k of ['AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_SNS'])
    delete process.env[k];
  const r = await dlAsync(cfg, ['run'], { env: childEnv });
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /notify.*failed/, 'every Publish was accepted');
  assert.equal(rec.seen.length, 2, 'one failure message, one summary');
  for (const s of rec.seen) {
    assert.equal(verifySigV4({ headers: s.headers, method: s.method, url: s.url }, s.body, { keys, service: 'sns' }), null);
    assert.match(s.headers.authorization, /Credential=AKIDOPS\/\d{8}\/eu-west-1\/sns\/aws4_request/);
  }
  const ours = rec.seen.map((s) => s);
  const fields = (body) => Object.fromEntries(new URLSearchParams(body));
  const f = fields(ours[0].body);
  assert.equal(f.Action, 'Publish');
  assert.equal(f.TopicArn, topic);
  assert.match(f.Subject, /^deltaload: broken failed: /);
  assert.ok(f.Subject.length <= 100);
  assert.match(f.Message, /Table: broken\nStatus: failed\n(Load: \d+ \(delta\)\n)?Window: .*\nRows: 0, files: 0, bytes: 0\nDuration: .* s\nError: .*no_such_table/);
  assert.equal(f['MessageAttributes.entry.2.Name'], 'table');
  assert.equal(f['MessageAttributes.entry.2.Value.StringValue'], 'broken');
  const s2 = fields(ours[1].body);
  assert.equal(s2['MessageAttributes.entry.1.Value.StringValue'], 'cycle');
  assert.match(s2.Message, /2 load\(s\), 1 failed/);

  // The same Publish through the official SDK, to the same endpoint.
  const { SNSClient, PublishCommand } = require('@aws-sdk/client-sns');
  const client = new SNSClient({ region: 'eu-west-1', endpoint: rec.base,
    credentials: { accessKeyId: 'AKIDOPS', secretAccessKey: 'opsSecretKey/123' } });
  for (const o of ours) {
    const g = fields(o.body);
    const attrs = {};
    for (let i = 1; g[`MessageAttributes.entry.${i}.Name`]; i++)
      attrs[g[`MessageAttributes.entry.${i}.Name`]] = { DataType: g[`MessageAttributes.entry.${i}.Value.DataType`],
        StringValue: g[`MessageAttributes.entry.${i}.Value.StringValue`] };
    const n = rec.seen.length;
    const res = await client.send(new PublishCommand({ TopicArn: g.TopicArn, Subject: g.Subject, Message: g.Message,
      MessageAttributes: attrs }));
    assert.equal(res.MessageId, 'm-1');
    const sdk = rec.seen[n];
    assert.equal(o.body, sdk.body, 'the body is what the AWS SDK sends');
    assert.equal(o.headers['content-type'], sdk.headers['content-type']);
    assert.equal(o.url, sdk.url);
  }
  client.destroy();
  rec.close();
});
