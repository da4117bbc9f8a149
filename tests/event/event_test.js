// `deltaload run --event FILE|-`: the payloads EventBridge delivers to a
// target (samples/, see samples/README.md) run the tables they name, or every
// active one, and print the per-table results as JSON; payloads that are
// neither are refused with exit 2.
// Usage: node event_test.js <deltaload> <work-dir>
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { check, failed, setup, sql } = require('./common');

const [, , BIN, WORK] = process.argv;
const SAMPLES = path.join(__dirname, 'samples');
setup(WORK);

function run(args, input) {
  const r = spawnSync(BIN, args, { cwd: WORK, input, encoding: 'utf8', timeout: 30000 });
  let doc = null;
  try { doc = JSON.parse(r.stdout); } catch (e) { /* checked by the caller */ }
  return { code: r.status, doc, out: r.stdout, err: r.stderr };
}
const byName = (doc, name) => (doc && doc.tables || []).find((t) => t.table === name);

// the Scheduler input naming one table (the shape `schedule deploy` sends)
let r = run(['run', '--event', path.join(SAMPLES, 'scheduler-input.json')]);
check('scheduler input: exit 0', r.code === 0, `${r.code} ${r.err}`);
check('scheduler input: JSON results', r.doc && r.doc.event && r.doc.event.kind === 'input', r.out);
check('scheduler input: only the named table', r.doc && r.doc.tables.length === 1, r.out);
let t = byName(r.doc, 'orders');
check('orders committed with its window and rows', t && t.outcome === 'committed' && t.rows === 3 &&
  t.window.low === '1' && t.window.low_inclusive === true && t.window.high === '3' && !('error' in t), JSON.stringify(t));
check('config named by the event', r.doc && r.doc.config === 'deltaload.json', r.out);
check('exit_code in the document', r.doc && r.doc.exit_code === 0, r.out);

// the scheduled-event envelope (a rule target without input), from stdin: every active table
sql(WORK, "insert into orders(seq, v) values (4, 'd');");
r = run(['-c', 'deltaload.json', 'run', '--event', '-'], fs.readFileSync(path.join(SAMPLES, 'scheduled-event.json')));
check('scheduled event: exit 0', r.code === 0, `${r.code} ${r.err}`);
check('scheduled event: kind, id and time kept', r.doc && r.doc.event.kind === 'scheduled-event' &&
  r.doc.event.id === '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa' && r.doc.event.time === '2015-10-08T16:53:06Z', r.out);
check('scheduled event: every active table (not the inactive one)', r.doc && r.doc.tables.length === 2 &&
  byName(r.doc, 'items') && byName(r.doc, 'orders') && !byName(r.doc, 'ghost'), r.out);
t = byName(r.doc, 'orders');
check('orders: the next window only', t && t.outcome === 'committed' && t.rows === 1 && t.window.low === '3' &&
  t.window.low_inclusive === false && t.window.high === '4', JSON.stringify(t));
t = byName(r.doc, 'items');
check('items committed', t && t.outcome === 'committed' && t.rows === 2, JSON.stringify(t));

// "tables": [] is every active table; nothing new now
r = run(['run', '--event', path.join(SAMPLES, 'scheduler-input-all.json')]);
check('empty table list: every active table, noop', r.code === 0 && r.doc && r.doc.tables.length === 2 &&
  r.doc.tables.every((x) => x.outcome === 'noop'), r.out);

// a table that fails: its error in the results, exit 1, the others go on
sql(WORK, "insert into orders(seq, v) values (5, 'e');");
const cfgPath = path.join(WORK, 'deltaload.json');
const cfg = JSON.parse(fs.readFileSync(cfgPath));
cfg.tables.push({ ...cfg.tables[0], targetTableName: 'broken', sourceTable: 'no_such_table' });
fs.writeFileSync(path.join(WORK, 'broken.json'), JSON.stringify(cfg));
r = run(['run', '--event', '-'], JSON.stringify({ deltaload: { config: 'broken.json', tables: ['broken', 'orders'] } }));
check('failed table: exit 1', r.code === 1, `${r.code} ${r.err}`);
t = byName(r.doc, 'broken');
check('failed table: status and error', t && t.outcome === 'failed' && /no_such_table/.test(t.error || ''), JSON.stringify(t));
t = byName(r.doc, 'orders');
check('the other table still committed', t && t.outcome === 'committed' && t.rows === 1, JSON.stringify(t));

// payloads that are neither: exit 2, an error document on stdout
const bad = [
  ['an EC2 state-change event', fs.readFileSync(path.join(SAMPLES, 'ec2-state-change.json'), 'utf8'),
    /not a scheduled event/],
  ['not JSON', '{"deltaload": ', /not JSON/],
  ['a JSON array', '[1, 2]', /expected a JSON object/],
  ['tables not an array', '{"deltaload": {"tables": "orders"}}', /must be an array/],
  ['a table name not a string', '{"deltaload": {"tables": ["orders", 7]}}', /non-empty strings/],
  ['an unknown member', '{"deltaload": {"table": ["orders"]}}', /unknown member "deltaload"."table"/],
  ['config not a string', '{"deltaload": {"config": 1}}', /"config" must be a non-empty string/],
  ['an unrelated object', '{"hello": "world"}', /neither an EventBridge scheduled event/],
];
for (const [name, payload, re] of bad) {
  r = run(['run', '--event', '-'], payload);
  check(`refused: ${name}`, r.code === 2 && r.doc && r.doc.code === 'InvalidEvent' && r.doc.exit_code === 2 &&
    re.test(r.doc.error), `${r.code} ${r.out} ${r.err}`);
}
// a config the event names that does not exist: exit 3
r = run(['run', '--event', '-'], '{"deltaload": {"config": "missing.json"}}');
check('missing config: exit 3 and an error document', r.code === 3 && r.doc && /missing\.json/.test(r.doc.error),
  `${r.code} ${r.out}`);
// --event with --table is a usage error; a missing file too
r = run(['run', '--event', '-', '--table', 'orders'], '{}');
check('--event with --table: exit 2', r.code === 2, `${r.code} ${r.err}`);
r = run(['run', '--event', path.join(WORK, 'nope.json')]);
check('unreadable event file: exit 2', r.code === 2 && r.doc && /cannot open/.test(r.doc.error), `${r.code} ${r.out}`);

// the lake holds each row once (orders: 1..5, items: 1..2)
const csv = (dir) => {
  let rows = [];
  const walk = (d) => { for (const f of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, f.name);
    if (f.isDirectory() && !f.name.startsWith('_')) walk(p);
    else if (f.isFile() && f.name.endsWith('.csv')) rows = rows.concat(fs.readFileSync(p, 'utf8').trim().split('\n').slice(1));
  } };
  if (fs.existsSync(dir)) walk(dir);
  return rows;
};
const lakeOrders = csv(path.join(WORK, 'lake', 'raw', 'main', 'orders'));
check('lake: orders loaded once each', lakeOrders.length === 5, lakeOrders.join(' | '));

console.log(failed() ? `${failed()} check(s) failed` : 'all checks passed');
process.exit(failed() ? 1 : 0);
