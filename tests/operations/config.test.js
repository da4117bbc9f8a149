// `deltaload config check` (every problem listed, nothing opened) and
// "include" (a base config merged under a deployment's).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { scratch, makeSource, writeConfig, dl, PLUGINS } = require('./lib.js');

test('config check: ok, then every problem listed with exit 3', () => {
  const dir = scratch('config-check');
  makeSource(dir, 1);
  let r = dl(writeConfig(dir), ['config', 'check']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok \(2 tables in the file\)/);
  assert.ok(!fs.existsSync(path.join(dir, 'state.db')), 'the state store was not opened');
  const bad = writeConfig(dir, {
    source: { plugin: 'sqlite', options: { path: 'x.db', colour: 'red' } },
    target: { plugin: 'nosuchplugin', options: {} },
  }, [
    { targetTableName: 'a', sourceTable: 'a', filtercolumn: 'id', filteroperator: 'sometimes' },
    { targetTableName: 'b', sourceTable: 'b' },
    { targetTableName: 'b', sourceTable: 'b2' },
  ]);
  r = dl(bad, ['config', 'check', '--json']);
  assert.equal(r.code, 3);
  const o = JSON.parse(r.stdout);
  assert.equal(o.ok, false);
  assert.equal(o.problems.length, 4, JSON.stringify(o.problems));
  assert.match(o.problems.join('\n'), /source: .*unknown option 'colour'/);
  assert.match(o.problems.join('\n'), /target: .*nosuchplugin/);
  assert.match(o.problems.join('\n'), /tables\[0\]: .*sometimes/);
  assert.match(o.problems.join('\n'), /tables\[2\]: targetTableName 'b' is listed twice/);
  r = dl(bad, ['config', 'check']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /4 problems/);
  assert.equal(dl(bad, ['config', 'frobnicate']).code, 2);
});

test('include: a base config under a deployment one; the deployment wins, objects merge by key', () => {
  const dir = scratch('config-include');
  makeSource(dir, 7);
  const base = {
    plugin_dirs: [PLUGINS],
    source: { plugin: 'sqlite', options: { path: path.join(dir, 'source.db') } },
    target: { plugin: 'file', options: { path: path.join(dir, 'lake'), format: 'csv' } },
    state: { plugin: 'sqlite', options: { path: path.join(dir, 'base-state.db') } },
    engine: { parallelism: 2, retries: 0 },
    tables: [{ targetTableName: 'orders', sourceTable: 'orders', filtercolumn: 'id' }],
  };
  fs.mkdirSync(path.join(dir, 'common'));
  fs.writeFileSync(path.join(dir, 'common', 'base.json'), JSON.stringify(base));
  fs.writeFileSync(path.join(dir, 'common', 'nested.json'),
    JSON.stringify({ include: ['base.json'], engine: { retries: 1 } }));
  const dep = path.join(dir, 'prod.json');
  fs.writeFileSync(dep, JSON.stringify({
    include: ['common/nested.json'],
    state: { options: { path: path.join(dir, 'prod-state.db') } },
  }));
  let r = dl(dep, ['config', 'check']);
  assert.equal(r.code, 0, r.stderr);
  r = dl(dep, ['run', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).tables[0].rows, 7);
  assert.ok(fs.existsSync(path.join(dir, 'prod-state.db')), 'the deployment state path wins');
  assert.ok(!fs.existsSync(path.join(dir, 'base-state.db')));
  r = dl(dep, ['status', '--json']);
  assert.equal(JSON.parse(r.stdout).plugins.state.plugin, 'sqlite', 'plugin kept from the base');
  fs.writeFileSync(path.join(dir, 'loop.json'), JSON.stringify({ include: ['loop.json'] }));
  r = dl(path.join(dir, 'loop.json'), ['config', 'check']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /more than 8 deep/);
  fs.writeFileSync(path.join(dir, 'missing.json'), JSON.stringify({ include: ['nope.json'] }));
  r = dl(path.join(dir, 'missing.json'), ['config', 'check']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /cannot open included config .*nope\.json/);
});
