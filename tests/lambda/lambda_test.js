// `deltaload lambda` against a local stand-in of the Lambda Runtime API
// (runtime_standin.js; not Lambda itself): invocations with the scheduled
// event and the Scheduler's input get the per-table results as the response;
// an invalid event, an invocation whose table fails and a config that does
// not load get their errors posted (invocation error, init error).
// Usage: node lambda_test.js <deltaload> <work-dir>
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { check, failed, setup, sql } = require('../event/common');
const { startStandIn } = require('./runtime_standin');

const [, , BIN, WORK] = process.argv;
const SAMPLES = path.join(__dirname, '../event/samples');

function runLambda(env, args) {
  return new Promise((resolve) => {
    const p = spawn(BIN, ['lambda', ...args], { cwd: WORK, env: { ...process.env, ...env } });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 30000);
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err }); });
  });
}

(async () => {
  setup(WORK);
  const cfg = JSON.parse(fs.readFileSync(path.join(WORK, 'deltaload.json')));
  cfg.tables.push({ ...cfg.tables[0], targetTableName: 'broken', sourceTable: 'no_such_table' });
  fs.writeFileSync(path.join(WORK, 'broken.json'), JSON.stringify(cfg));

  const api = await startStandIn();
  const inv = [
    api.enqueue(fs.readFileSync(path.join(SAMPLES, 'scheduler-input.json'), 'utf8')),
    api.enqueue(fs.readFileSync(path.join(SAMPLES, 'scheduled-event.json'), 'utf8')),
    api.enqueue(fs.readFileSync(path.join(SAMPLES, 'ec2-state-change.json'), 'utf8')),
    api.enqueue('{"deltaload": {"config": "broken.json", "tables": ["broken", "orders"]}}'),
    api.enqueue('not json at all'),
  ];
  sql(WORK, "insert into items(seq) values (3);");
  const r = await runLambda({ AWS_LAMBDA_RUNTIME_API: api.address, DELTALOAD_CONFIG: 'deltaload.json' },
    ['--max-invocations', String(inv.length)]);
  check('lambda: exits 0 after its invocations', r.code === 0, `${r.code} ${r.signal} ${r.err}`);
  check('lambda: asked the stand-in for each invocation', api.nextCalls() === inv.length, api.nextCalls());
  const post = (ev) => api.posted.filter((p) => p.id === ev.id);
  const one = (ev) => { const p = post(ev); return p.length === 1 ? p[0] : null; };

  let p = one(inv[0]);
  let doc = p && p.kind === 'response' ? JSON.parse(p.body) : null;
  check('scheduler input: a response (not an error)', doc !== null, JSON.stringify(post(inv[0])));
  check('scheduler input: orders committed, 3 rows, window [1, 3]', doc && doc.tables.length === 1 &&
    doc.tables[0].table === 'orders' && doc.tables[0].outcome === 'committed' && doc.tables[0].rows === 3 &&
    doc.tables[0].window.high === '3' && doc.exit_code === 0, p && p.body);
  check('response is JSON', p && p.contentType === 'application/json', p && p.contentType);

  p = one(inv[1]);
  doc = p && p.kind === 'response' ? JSON.parse(p.body) : null;
  check('scheduled event: a response with every active table', doc && doc.event.kind === 'scheduled-event' &&
    doc.tables.length === 2 && doc.config === 'deltaload.json', p && p.body);
  const items = doc && doc.tables.find((t) => t.table === 'items');
  check('scheduled event: items committed 3 rows', items && items.outcome === 'committed' && items.rows === 3,
    JSON.stringify(items));

  p = one(inv[2]);
  let e = p && p.kind === 'error' ? JSON.parse(p.body) : null;
  check('invalid event: its error posted', e && e.errorType === 'InvalidEvent' && /not a scheduled event/.test(e.errorMessage) &&
    p.errorType === 'InvalidEvent', JSON.stringify(post(inv[2])));

  p = one(inv[3]);
  e = p && p.kind === 'error' ? JSON.parse(p.body) : null;
  check('failing invocation: its error posted (TablesFailed, naming the table)', e && e.errorType === 'TablesFailed' &&
    /1 of 2 tables failed: broken: .*no_such_table/.test(e.errorMessage) && Array.isArray(e.stackTrace),
    JSON.stringify(post(inv[3])));
  check('failing invocation: the other table went on', /"table":"orders","outcome":"committed"/.test(r.err), r.err);

  p = one(inv[4]);
  e = p && p.kind === 'error' ? JSON.parse(p.body) : null;
  check('not JSON: InvalidEvent', e && e.errorType === 'InvalidEvent' && /not JSON/.test(e.errorMessage), JSON.stringify(p));
  check('no init error when the config loads', !api.posted.some((x) => x.kind === 'init-error'));
  api.close();

  // a config that does not load: an init error, and no invocation taken
  const api2 = await startStandIn();
  api2.enqueue('{}');
  const r2 = await runLambda({ AWS_LAMBDA_RUNTIME_API: api2.address, DELTALOAD_CONFIG: 'missing.json' }, []);
  const ie = api2.posted.find((x) => x.kind === 'init-error');
  const ieBody = ie ? JSON.parse(ie.body) : null;
  check('init error posted', ieBody && ieBody.errorType === 'ConfigError' && /missing\.json/.test(ieBody.errorMessage) &&
    ie.errorType === 'ConfigError', JSON.stringify(api2.posted));
  check('init error: exit 3, no invocation taken', r2.code === 3 && api2.nextCalls() === 0, `${r2.code} ${api2.nextCalls()}`);
  api2.close();

  // the binary installed as `bootstrap`, started without a command, is the loop
  const api3 = await startStandIn();
  const ev3 = api3.enqueue(fs.readFileSync(path.join(SAMPLES, 'scheduler-input.json'), 'utf8'));
  fs.copyFileSync(BIN, path.join(WORK, 'bootstrap'));
  fs.chmodSync(path.join(WORK, 'bootstrap'), 0o755);
  const boot = spawn(path.join(WORK, 'bootstrap'), [], { cwd: WORK,
    env: { ...process.env, AWS_LAMBDA_RUNTIME_API: api3.address, DELTALOAD_CONFIG: 'deltaload.json' } });
  let bootErr = '';
  boot.stderr.on('data', (d) => { bootErr += d; });
  for (let i = 0; i < 200 && !api3.posted.length; i++) await new Promise((res) => setTimeout(res, 50));
  boot.kill('SIGKILL'); // it waits on /next, held open by the stand-in
  const b = api3.posted.find((x) => x.id === ev3.id);
  check('as bootstrap without a command: the response posted', b && b.kind === 'response' &&
    JSON.parse(b.body).tables[0].table === 'orders', `${JSON.stringify(api3.posted)} ${bootErr}`);
  api3.close();

  // outside Lambda
  const r3 = spawnSync(BIN, ['lambda'], { cwd: WORK, env: { ...process.env, AWS_LAMBDA_RUNTIME_API: '' }, encoding: 'utf8' });
  check('without AWS_LAMBDA_RUNTIME_API: exit 2 with a message', r3.status === 2 && /AWS_LAMBDA_RUNTIME_API/.test(r3.stderr),
    `${r3.status} ${r3.stderr}`);

  console.log(failed() ? `${failed()} check(s) failed` : 'all checks passed');
  process.exit(failed() ? 1 : 0);
})().catch((e) => { console.log('FAIL', e); process.exit(1); });
