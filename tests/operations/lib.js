// Helpers shared by the operations tests: a scratch directory under the
// build tree, a SQLite source made with the sqlite3 shell, configs and runs
// of the deltaload binary.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const BIN = process.env.DLD_BIN;
const PLUGINS = process.env.DLD_PLUGIN_DIR;

function scratch(name) {
  const base = process.env.DLD_OPS_SCRATCH || path.join(__dirname, '..', '..', 'build', 'ops-scratch');
  const dir = path.join(base, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function sqlite(db, sql) {
  const r = spawnSync('sqlite3', [db], { input: sql, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return r.stdout;
}

// orders(id, v) with ids 1..n
function makeSource(dir, n) {
  const db = path.join(dir, 'source.db');
  sqlite(db, `CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, v TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ${n})
INSERT OR IGNORE INTO orders SELECT i, 'row ' || i FROM c;`);
  return db;
}

function addRows(db, from, to) {
  sqlite(db, `WITH RECURSIVE c(i) AS (SELECT ${from} UNION ALL SELECT i+1 FROM c WHERE i < ${to})
INSERT INTO orders SELECT i, 'row ' || i FROM c;`);
}

function writeConfig(dir, extra = {}, tables = null) {
  const cfg = {
    plugin_dirs: [PLUGINS],
    source: { plugin: 'sqlite', options: { path: path.join(dir, 'source.db') } },
    target: { plugin: 'file', options: { path: path.join(dir, 'lake'), format: 'csv' } },
    state: { plugin: 'sqlite', options: { path: path.join(dir, 'state.db') } },
    scheduler: { plugin: 'local', options: { expression: 'rate(1 second)' } },
    engine: { retries: 0 },
    tables: tables || [
      { targetTableName: 'orders', sourceTable: 'orders', filtercolumn: 'id', filteroperator: 'gte', startvalue: '0' },
      { targetTableName: 'broken', sourceTable: 'no_such_table', filtercolumn: 'id' },
    ],
    ...extra,
  };
  const file = path.join(dir, 'deltaload.json');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

function dl(cfgFile, args, opts = {}) {
  const r = spawnSync(BIN, ['-c', cfgFile, ...args], {
    encoding: 'utf8', timeout: 60000, input: opts.input, env: { ...process.env, ...(opts.env || {}) },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// The same without blocking the event loop (servers in the test answer meanwhile).
function dlAsync(cfgFile, args, opts = {}) {
  const { spawn } = require('node:child_process');
  let child;
  const promise = new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(BIN, ['-c', cfgFile, ...args], { env: { ...process.env, ...(opts.env || {}) } });
    child = p;
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
  promise.child = child; // to signal it
  return promise;
}

// An HTTP server on loopback that records each request; `answer(req, body)`
// returns [status, body] or null to never answer.
function recorder(answer) {
  const http = require('node:http');
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const a = answer ? answer(req, body) : [200, 'ok'];
      if (a === null) return; // hang
      res.writeHead(a[0], { 'content-type': a[2] || 'text/plain' });
      res.end(a[1]);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, seen, base: `http://127.0.0.1:${server.address().port}`,
      close: () => { server.closeAllConnections(); server.close(); } });
  }));
}

module.exports = { dlAsync, recorder, BIN, PLUGINS, scratch, sqlite, makeSource, addRows, writeConfig, dl };
