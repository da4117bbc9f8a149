// Shared by tests/event and tests/lambda: a scratch SQLite source, a config
// (sqlite source, file target, sqlite state) and a check() that counts failures.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

let failures = 0;
function check(name, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || detail === undefined ? '' : ': ' + detail}`);
  if (!ok) failures++;
}
function failed() { return failures; }

// a fresh work dir with src.db (tables orders: 3 rows, items: 2 rows) and
// deltaload.json naming orders, items and "ghost" (inactive, no source table)
function setup(work) {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const sql = spawnSync('sqlite3', [path.join(work, 'src.db'),
    'create table orders(id integer primary key, seq integer, v text);' +
    "insert into orders(seq, v) values (1, 'a'), (2, 'b'), (3, 'c');" +
    'create table items(id integer primary key, seq integer); insert into items(seq) values (1), (2);']);
  if (sql.error || sql.status !== 0) {
    console.log('SKIP: the sqlite3 command (Debian package sqlite3) is needed to build the test source');
    process.exit(77);
  }
  const item = (name, active) => ({ targetTableName: name, sourceSchema: 'main', sourceTable: name,
    filtercolumn: 'seq', filteroperator: 'gte', startvalue: '1', activeflag: active, ouputs3Prefix: 'raw' });
  const cfg = {
    source: { plugin: 'sqlite', options: { path: 'src.db' } },
    target: { plugin: 'file', options: { path: 'lake', format: 'csv', fsync: false } },
    state: { plugin: 'sqlite', options: { path: 'state.db' } },
    tables: [item('orders', 'Y'), item('items', 'Y'), item('ghost', 'N')],
  };
  fs.writeFileSync(path.join(work, 'deltaload.json'), JSON.stringify(cfg, null, 1));
  return cfg;
}

function sql(work, text) {
  const r = spawnSync('sqlite3', [path.join(work, 'src.db'), text]);
  if (r.status !== 0) throw new Error('sqlite3: ' + r.stderr);
}

module.exports = { check, failed, setup, sql };
