// sched-eventbridge at the wire. A local endpoint (loopback) stands in for
// EventBridge Scheduler and EventBridge: it
//   - checks every request's SigV4 signature with an independent signer
//     (tests/node/lib/sigv4_verify.js, npm aws4);
//   - turns the request back into the operation's input, sends that input
//     through the OFFICIAL AWS SDK for JavaScript v3 (@aws-sdk/client-scheduler,
//     @aws-sdk/client-eventbridge, pinned in tests/node) to a capturing
//     endpoint, and compares method, path, query, X-Amz-Target, Content-Type
//     and the JSON body with what deltaload sent (idempotency tokens: both
//     must be UUIDs); a difference fails the request with "WireMismatch";
//   - keeps the schedules, rules and targets, so show, idempotent re-deploy
//     and remove are exercised;
//   - injects errors on request (ConflictException, ResourceNotFoundException,
//     ValidationException, ThrottlingException).
// It is not an emulator of the services: their validation and semantics are
// not reproduced, and nothing here ran against AWS itself.
//
// Usage: node wire_test.js <deltaload> <work-dir>   (NODE_PATH = tests/node/node_modules)
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const { execFile } = require('child_process');
const { verifySigV4 } = require(path.join(__dirname, '../node/lib/sigv4_verify'));
const sched = require('@aws-sdk/client-scheduler');
const events = require('@aws-sdk/client-eventbridge');

const [, , BIN, WORK] = process.argv;
const AKID = 'AKIDEXAMPLEWIRE', SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const keys = new Map([[AKID, { secret: SECRET }]]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let failures = 0;
function check(name, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || detail === undefined ? '' : ': ' + detail}`);
  if (!ok) failures++;
}

function readBody(req) {
  return new Promise((resolve) => { const c = []; req.on('data', (d) => c.push(d)); req.on('end', () => resolve(Buffer.concat(c))); });
}

// ---- the capturing endpoint the official SDK talks to ----------------------------
let captured = null;
const capture = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const bad = verifySigV4(req, body, { keys });
  captured = { method: req.method, url: req.url, headers: req.headers, body: body.toString(), sigError: bad };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{}');
});

const sdkCfg = (port) => ({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`,
  credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, maxAttempts: 1 });

// What the official SDK sends for the same operation and input.
async function sdkRequest(op, input, service) {
  captured = null;
  const port = capture.address().port;
  try {
    if (service === 'scheduler') {
      const c = new sched.SchedulerClient(sdkCfg(port));
      await c.send(new sched[`${op}Command`](input));
    } else {
      const c = new events.EventBridgeClient(sdkCfg(port));
      await c.send(new events[`${op}Command`](input));
    }
  } catch (e) { /* the canned {} may not parse as the output: only the request matters */ }
  return captured;
}

function splitUrl(url) {
  const i = url.indexOf('?');
  const p = i < 0 ? url : url.slice(0, i);
  const q = new URLSearchParams(i < 0 ? '' : url.slice(i + 1));
  return { path: p, query: q };
}

// deltaload's request → the operation and the SDK input
function toInput(req, body) {
  const target = req.headers['x-amz-target'];
  if (target) {
    const op = target.replace(/^AWSEvents\./, '');
    return { service: 'events', op, input: JSON.parse(body || '{}') };
  }
  const { path: p, query } = splitUrl(req.url);
  const m = /^\/schedules\/([^/]+)$/.exec(p);
  if (!m) return null;
  const Name = decodeURIComponent(m[1]);
  const b = body.length ? JSON.parse(body) : {};
  const op = { POST: 'CreateSchedule', PUT: 'UpdateSchedule', GET: 'GetSchedule', DELETE: 'DeleteSchedule' }[req.method];
  const input = { ...b, Name };
  if (query.get('groupName')) input.GroupName = query.get('groupName');
  if (query.get('clientToken')) input.ClientToken = query.get('clientToken');
  for (const k of ['StartDate', 'EndDate']) if (typeof input[k] === 'number') input[k] = new Date(input[k] * 1000);
  return { service: 'scheduler', op, input };
}

function normBody(text) {
  if (!text) return null;
  const j = JSON.parse(text);
  if (j.ClientToken !== undefined) j.ClientToken = UUID.test(j.ClientToken) ? '<uuid>' : `<not a uuid: ${j.ClientToken}>`;
  return j;
}
function normQuery(q) {
  const out = {};
  for (const [k, v] of q) out[k] = k === 'clientToken' ? (UUID.test(v) ? '<uuid>' : `<not a uuid: ${v}>`) : v;
  return out;
}
function sorted(x) {
  if (Array.isArray(x)) return x.map(sorted);
  if (x && typeof x === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sorted(x[k])]));
  return x;
}

// ---- the stand-in endpoint ------------------------------------------------------------
const state = { schedules: new Map(), rules: new Map(), targets: new Map() };
const faults = []; // { op, code, status, count }
const log = [];    // { op, service, mismatch }
const nowS = () => Math.floor(Date.now() / 1000);

function answer(res, status, obj, errType) {
  const h = { 'content-type': 'application/json', 'x-amzn-requestid': 'req-' + log.length };
  if (errType) h['x-amzn-errortype'] = errType;
  res.writeHead(status, h);
  res.end(JSON.stringify(obj));
}
function fail(res, service, status, code, message) {
  // JSON 1.1 (events) names the error in the body; REST-JSON in a header
  if (service === 'events') answer(res, status, { __type: code, message });
  else answer(res, status, { Message: message }, code);
}

function apply(service, op, input, res) {
  if (service === 'scheduler') {
    const key = `${input.GroupName || 'default'}/${input.Name}`;
    const arn = `arn:aws:scheduler:us-east-1:123456789012:schedule/${key}`;
    if (op === 'CreateSchedule') {
      if (state.schedules.has(key)) return fail(res, service, 409, 'ConflictException', `Schedule ${input.Name} already exists.`);
      const { ClientToken, ...s } = input;
      state.schedules.set(key, { ...s, GroupName: input.GroupName || 'default', Arn: arn, CreationDate: nowS(), LastModificationDate: nowS() });
      return answer(res, 200, { ScheduleArn: arn });
    }
    const have = state.schedules.get(key);
    if (!have) return fail(res, service, 404, 'ResourceNotFoundException', `Schedule ${input.Name} does not exist.`);
    if (op === 'UpdateSchedule') {
      const { ClientToken, ...s } = input;
      state.schedules.set(key, { ...s, GroupName: input.GroupName || 'default', Arn: arn, CreationDate: have.CreationDate, LastModificationDate: nowS() });
      return answer(res, 200, { ScheduleArn: arn });
    }
    if (op === 'GetSchedule') {
      const out = { ...have };
      for (const k of ['StartDate', 'EndDate']) if (out[k] instanceof Date) out[k] = out[k].getTime() / 1000;
      return answer(res, 200, out);
    }
    if (op === 'DeleteSchedule') { state.schedules.delete(key); return answer(res, 200, {}); }
  } else {
    const name = input.Name || input.Rule;
    if (op === 'PutRule') {
      state.rules.set(name, { Name: name, Arn: `arn:aws:events:us-east-1:123456789012:rule/${name}`, EventBusName: 'default', ...input });
      return answer(res, 200, { RuleArn: state.rules.get(name).Arn });
    }
    if (!state.rules.has(name)) return fail(res, service, 400, 'ResourceNotFoundException', `Rule ${name} does not exist on EventBus default.`);
    if (op === 'DescribeRule') return answer(res, 200, state.rules.get(name));
    const targets = state.targets.get(name) || [];
    if (op === 'PutTargets') {
      const ids = new Set(input.Targets.map((t) => t.Id));
      state.targets.set(name, targets.filter((t) => !ids.has(t.Id)).concat(input.Targets));
      return answer(res, 200, { FailedEntryCount: 0, FailedEntries: [] });
    }
    if (op === 'ListTargetsByRule') return answer(res, 200, { Targets: targets });
    if (op === 'RemoveTargets') {
      state.targets.set(name, targets.filter((t) => !input.Ids.includes(t.Id)));
      return answer(res, 200, { FailedEntryCount: 0, FailedEntries: [] });
    }
    if (op === 'DeleteRule') {
      if (targets.length) return fail(res, service, 400, 'ValidationException', 'Rule can\'t be deleted since it has targets.');
      state.rules.delete(name); state.targets.delete(name); return answer(res, 200, {});
    }
  }
  return fail(res, service, 400, 'UnknownOperationException', op);
}

const server = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const text = body.toString();
  const parsed = toInput(req, text);
  if (!parsed) return answer(res, 404, { message: 'no such route' });
  const { service, op, input } = parsed;
  const entry = { service, op, mismatch: null };
  log.push(entry);
  const bad = verifySigV4(req, body, { keys, service });
  if (bad) { entry.mismatch = 'signature: ' + bad.kind; return fail(res, service, 403, 'InvalidSignatureException', bad.message); }
  // the same operation through the official SDK
  const ref = await sdkRequest(op, input, service);
  const diffs = [];
  if (!ref) diffs.push('the official SDK sent nothing');
  else {
    if (ref.sigError) diffs.push('the SDK request did not verify: ' + ref.sigError.kind);
    const a = splitUrl(req.url), b = splitUrl(ref.url);
    if (req.method !== ref.method) diffs.push(`method ${req.method} vs SDK ${ref.method}`);
    if (a.path !== b.path) diffs.push(`path ${a.path} vs SDK ${b.path}`);
    const qa = JSON.stringify(sorted(normQuery(a.query))), qb = JSON.stringify(sorted(normQuery(b.query)));
    if (qa !== qb) diffs.push(`query ${qa} vs SDK ${qb}`);
    if ((req.headers['x-amz-target'] || '') !== (ref.headers['x-amz-target'] || ''))
      diffs.push(`x-amz-target ${req.headers['x-amz-target']} vs SDK ${ref.headers['x-amz-target']}`);
    const cta = (req.headers['content-type'] || '').split(';')[0], ctb = (ref.headers['content-type'] || '').split(';')[0];
    if (cta !== ctb) diffs.push(`content-type ${cta} vs SDK ${ctb}`);
    const ba = JSON.stringify(sorted(normBody(text))), bb = JSON.stringify(sorted(normBody(ref.body)));
    if (ba !== bb) diffs.push(`body\n  ours ${ba}\n  SDK  ${bb}`);
  }
  if (diffs.length) { entry.mismatch = diffs.join('; '); return fail(res, service, 400, 'WireMismatch', entry.mismatch); }
  const f = faults.find((x) => x.op === op && x.count > 0);
  if (f) { f.count--; entry.fault = f.code; return fail(res, service, f.status, f.code, `injected ${f.code}`); }
  return apply(service, op, input, res);
});

// ---- the driver ------------------------------------------------------------------------------
function writeConfig(file, options) {
  fs.writeFileSync(file, JSON.stringify({ scheduler: { plugin: 'eventbridge', options } }, null, 1));
}
// asynchronous: the endpoint answers from this same process
function run(cfg, args, env) {
  return new Promise((resolve) => {
    execFile(BIN, ['-c', cfg, ...args], { encoding: 'utf8', timeout: 30000,
      env: { ...process.env, AWS_ACCESS_KEY_ID: AKID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: 'us-east-1',
        AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true', ...env } },
    (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      let json = null;
      try { json = JSON.parse(stdout); } catch (e) { /* not JSON */ }
      resolve({ code, out: stdout, err: stderr, json });
    });
  });
}
function opsSince(n) { return log.slice(n).map((e) => e.op + (e.fault ? `!${e.fault}` : '') + (e.mismatch ? '!MISMATCH' : '')); }
function noSecret(r) { return !(r.out + r.err).includes(SECRET); }

async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  await new Promise((r) => capture.listen(0, '127.0.0.1', r));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  const cfg = path.join(WORK, 'eb.json');
  const base = { endpoint, name: 'orders-hourly', group: 'etl', expression: 'cron(0 * * * ? *)', timezone: 'Europe/Berlin',
    role_arn: 'arn:aws:iam::123456789012:role/deltaload-scheduler', config_path: '/etc/deltaload/deltaload.json' };

  // ---- scheduler mode, Lambda target -----------------------------------------------------
  writeConfig(cfg, { ...base, target_arn: 'arn:aws:lambda:us-east-1:123456789012:function:deltaload',
    flexible_window_minutes: 15, start_date: '2030-01-01T00:00:00Z', end_date: '2031-01-01T00:00:00Z',
    retry_max_attempts: 3, retry_max_event_age_s: 3600, dead_letter_arn: 'arn:aws:sqs:us-east-1:123456789012:dlq',
    description: 'deltaload hourly' });
  let n = log.length;
  let r = await run(cfg, ['--json', 'schedule', 'show']);
  check('show before deploy: nothing deployed', r.code === 0 && r.json && r.json.deployed === null, r.err);
  r = await run(cfg, ['--json', 'schedule', 'deploy', '--table', 'orders']);
  check('deploy creates', r.code === 0 && r.json && r.json.action === 'created', r.out + r.err);
  check('deploy: GetSchedule then CreateSchedule', JSON.stringify(opsSince(n)) === JSON.stringify(['GetSchedule', 'GetSchedule', 'CreateSchedule']) ||
    JSON.stringify(opsSince(n)) === JSON.stringify(['GetSchedule', 'CreateSchedule']), JSON.stringify(opsSince(n)));
  const s = state.schedules.get('etl/orders-hourly');
  check('the schedule as stored', s && s.ScheduleExpression === 'cron(0 * * * ? *)' && s.ScheduleExpressionTimezone === 'Europe/Berlin' &&
    s.FlexibleTimeWindow.Mode === 'FLEXIBLE' && s.FlexibleTimeWindow.MaximumWindowInMinutes === 15 &&
    s.Target.RetryPolicy.MaximumRetryAttempts === 3 && s.Target.DeadLetterConfig.Arn.endsWith(':dlq') &&
    s.StartDate instanceof Date && s.StartDate.toISOString() === '2030-01-01T00:00:00.000Z' && s.State === 'ENABLED', JSON.stringify(s));
  check('Lambda input names config and tables', s && JSON.stringify(JSON.parse(s.Target.Input)) ===
    JSON.stringify({ deltaload: { config: '/etc/deltaload/deltaload.json', tables: ['orders'] } }), s && s.Target.Input);
  n = log.length;
  r = await run(cfg, ['--json', 'schedule', 'deploy', '--table', 'orders']);
  check('re-deploy is idempotent (unchanged, GetSchedule only)', r.code === 0 && r.json && r.json.action === 'unchanged' &&
    JSON.stringify(opsSince(n)) === '["GetSchedule"]', r.out + r.err + JSON.stringify(opsSince(n)));
  r = await run(cfg, ['--json', 'schedule', 'show']);
  check('show: in sync', r.code === 0 && r.json && r.json.in_sync === true && r.json.deployed.Name === 'orders-hourly', r.out + r.err);
  // the config changes: show says what differs, deploy updates in place
  writeConfig(cfg, { ...base, expression: 'cron(30 2 * * ? *)', state: 'DISABLED', target_arn: 'arn:aws:lambda:us-east-1:123456789012:function:deltaload',
    flexible_window_minutes: 15, start_date: '2030-01-01T00:00:00Z', end_date: '2031-01-01T00:00:00Z',
    retry_max_attempts: 3, retry_max_event_age_s: 3600, dead_letter_arn: 'arn:aws:sqs:us-east-1:123456789012:dlq',
    description: 'deltaload hourly' });
  r = await run(cfg, ['schedule', 'show']);
  check('show (text) names the differing fields', r.code === 0 && /differs: ScheduleExpression: deployed "cron\(0 \* \* \* \? \*\)", config "cron\(30 2 \* \* \? \*\)"/.test(r.out) &&
    /differs: State: deployed "ENABLED", config "DISABLED"/.test(r.out), r.out + r.err);
  n = log.length;
  r = await run(cfg, ['--json', 'schedule', 'deploy', '--table', 'orders']);
  check('deploy updates in place', r.code === 0 && r.json && r.json.action === 'updated' && r.json.differences.length === 2 &&
    JSON.stringify(opsSince(n)) === '["GetSchedule","UpdateSchedule"]', r.out + r.err + JSON.stringify(opsSince(n)));
  check('updated schedule stored', state.schedules.get('etl/orders-hourly').State === 'DISABLED');
  // injected errors
  faults.push({ op: 'GetSchedule', code: 'ThrottlingException', status: 400, count: 2 });
  n = log.length;
  r = await run(cfg, ['--json', 'schedule', 'show']);
  check('throttling is retried', r.code === 0 && r.json && r.json.in_sync === true &&
    JSON.stringify(opsSince(n)) === '["GetSchedule!ThrottlingException","GetSchedule!ThrottlingException","GetSchedule"]', JSON.stringify(opsSince(n)) + r.err);
  faults.push({ op: 'UpdateSchedule', code: 'ValidationException', status: 400, count: 1 });
  writeConfig(cfg, { ...base, expression: 'rate(2 hours)', target_arn: 'arn:aws:lambda:us-east-1:123456789012:function:deltaload' });
  r = await run(cfg, ['schedule', 'deploy']);
  check('ValidationException: exit 3 with the service message', r.code === 3 && /UpdateSchedule orders-hourly.*ValidationException: injected ValidationException/.test(r.err), r.code + ' ' + r.err);
  // a schedule created by someone else between GetSchedule and CreateSchedule
  state.schedules.clear();
  faults.push({ op: 'CreateSchedule', code: 'ConflictException', status: 409, count: 1 });
  // the conflict answer leaves nothing; emulate the other writer's schedule
  const racer = { Name: 'orders-hourly', GroupName: 'etl', ScheduleExpression: 'rate(1 day)', ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' }, State: 'ENABLED', Target: { Arn: 'arn:aws:lambda:us-east-1:123456789012:function:other', RoleArn: base.role_arn } };
  const origFind = faults.find.bind(faults);
  faults.find = (fn) => { const f = origFind(fn); if (f && f.code === 'ConflictException') state.schedules.set('etl/orders-hourly', { ...racer }); return f; };
  n = log.length;
  r = await run(cfg, ['--json', 'schedule', 'deploy']);
  faults.find = origFind;
  check('ConflictException on create: reads it back and updates', r.code === 0 && r.json && r.json.action === 'updated' &&
    JSON.stringify(opsSince(n)) === '["GetSchedule","CreateSchedule!ConflictException","GetSchedule","UpdateSchedule"]' &&
    state.schedules.get('etl/orders-hourly').ScheduleExpression === 'rate(2 hours)', JSON.stringify(opsSince(n)) + r.out + r.err);
  // remove, then remove again
  n = log.length;
  r = await run(cfg, ['--json', 'schedule', 'remove']);
  check('remove deletes', r.code === 0 && r.json && r.json.removed === true && !state.schedules.has('etl/orders-hourly') &&
    JSON.stringify(opsSince(n)) === '["DeleteSchedule"]', r.out + r.err);
  r = await run(cfg, ['--json', 'schedule', 'remove']);
  check('remove again: ResourceNotFoundException is "nothing deployed"', r.code === 0 && r.json && r.json.removed === false, r.out + r.err);

  // ---- scheduler mode, ECS target -------------------------------------------------------------
  writeConfig(cfg, { ...base, target_arn: 'arn:aws:ecs:us-east-1:123456789012:cluster/etl',
    ecs_task_definition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/deltaload:7', ecs_launch_type: 'FARGATE',
    ecs_subnets: 'subnet-1,subnet-2', ecs_security_groups: 'sg-1', ecs_assign_public_ip: false });
  r = await run(cfg, ['--json', 'schedule', 'deploy', '--table', 'orders', '--table', 'customers']);
  const ecs = state.schedules.get('etl/orders-hourly');
  check('ECS target: EcsParameters and container overrides', r.code === 0 && ecs && ecs.Target.EcsParameters.TaskCount === 1 &&
    ecs.Target.EcsParameters.NetworkConfiguration.awsvpcConfiguration.Subnets.join() === 'subnet-1,subnet-2' &&
    JSON.stringify(JSON.parse(ecs.Target.Input)) === JSON.stringify({ containerOverrides: [{ name: 'deltaload',
      command: ['-c', '/etc/deltaload/deltaload.json', 'run', '--table', 'orders', '--table', 'customers'] }] }), r.out + r.err);
  r = await run(cfg, ['--json', 'schedule', 'remove']);
  check('ECS schedule removed', r.code === 0 && r.json.removed === true);

  // ---- rule mode (classic EventBridge), any-ARN target --------------------------------------------
  writeConfig(cfg, { endpoint, mode: 'rule', name: 'deltaload-hourly', expression: 'rate(1 hour)',
    target_arn: 'arn:aws:sqs:us-east-1:123456789012:deltaload-runs', config_path: '/etc/deltaload/deltaload.json', description: 'hourly' });
  n = log.length;
  r = await run(cfg, ['--json', 'schedule', 'deploy']);
  check('rule deploy: DescribeRule, PutRule, PutTargets', r.code === 0 && r.json && r.json.action === 'created' &&
    JSON.stringify(opsSince(n)) === '["DescribeRule","PutRule","PutTargets"]', JSON.stringify(opsSince(n)) + r.out + r.err);
  check('rule and target stored', state.rules.get('deltaload-hourly').ScheduleExpression === 'rate(1 hour)' &&
    state.targets.get('deltaload-hourly')[0].Id === 'deltaload' &&
    JSON.parse(state.targets.get('deltaload-hourly')[0].Input).deltaload.config === '/etc/deltaload/deltaload.json');
  n = log.length;
  r = await run(cfg, ['--json', 'schedule', 'deploy']);
  check('rule re-deploy is idempotent', r.code === 0 && r.json.action === 'unchanged' &&
    JSON.stringify(opsSince(n)) === '["DescribeRule","ListTargetsByRule"]', JSON.stringify(opsSince(n)));
  writeConfig(cfg, { endpoint, mode: 'rule', name: 'deltaload-hourly', expression: 'cron(0 * * * ? *)',
    target_arn: 'arn:aws:sqs:us-east-1:123456789012:deltaload-runs', config_path: '/etc/deltaload/deltaload.json', description: 'hourly' });
  r = await run(cfg, ['--json', 'schedule', 'show']);
  check('rule show: the expression differs', r.code === 0 && r.json.in_sync === false && r.json.differences.length === 1 &&
    r.json.differences[0].field === 'Rule.ScheduleExpression', r.out + r.err);
  n = log.length;
  r = await run(cfg, ['--json', 'schedule', 'deploy']);
  check('rule update: PutRule only', r.code === 0 && r.json.action === 'updated' &&
    JSON.stringify(opsSince(n)) === '["DescribeRule","ListTargetsByRule","PutRule"]', JSON.stringify(opsSince(n)));
  n = log.length;
  r = await run(cfg, ['--json', 'schedule', 'remove']);
  check('rule remove: RemoveTargets then DeleteRule', r.code === 0 && r.json.removed === true && !state.rules.has('deltaload-hourly') &&
    JSON.stringify(opsSince(n)) === '["DescribeRule","ListTargetsByRule","RemoveTargets","DeleteRule"]', JSON.stringify(opsSince(n)));
  writeConfig(cfg, { endpoint, mode: 'rule', expression: 'cron(0 9 * * ? *)', timezone: 'Europe/Berlin', target_arn: 'arn:aws:sqs:x' });
  r = await run(cfg, ['schedule', 'deploy']);
  check('rule mode refuses a time zone', r.code === 3 && /UTC only/.test(r.err), r.err);

  // ---- no signature problems, no mismatches, no secret in any output ----------------------------------
  const bad = log.filter((e) => e.mismatch);
  check(`every request (${log.length}) matched the official SDK and verified`, bad.length === 0, JSON.stringify(bad.slice(0, 3), null, 1));
  check('operations covered', ['CreateSchedule', 'UpdateSchedule', 'GetSchedule', 'DeleteSchedule', 'PutRule', 'PutTargets',
    'DescribeRule', 'ListTargetsByRule', 'RemoveTargets', 'DeleteRule'].every((op) => log.some((e) => e.op === op)));
  server.close(); capture.close();
  if (failures) { console.log(`${failures} failed`); process.exit(1); }
}
main().catch((e) => { console.error(e); process.exit(1); });
