// `deltaload report --html`: the page opened in headless Chromium (Debian's
// chromium driven by playwright-core): the charts drew the right number of
// points, failures are marked with their error, and the page made no
// network request.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { scratch, makeSource, addRows, writeConfig, dl } = require('./lib.js');

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

test('report: charts in a real browser, no network', { skip: CHROMIUM ? false : 'chromium is not installed (scripts/setup.sh installs it)' }, async () => {
  const dir = scratch('report');
  const db = makeSource(dir, 10);
  const cfg = writeConfig(dir);
  assert.equal(dl(cfg, ['run']).code, 1);
  addRows(db, 11, 30);
  assert.equal(dl(cfg, ['run']).code, 1);
  addRows(db, 31, 35);
  assert.equal(dl(cfg, ['run']).code, 1);
  const html = path.join(dir, 'report.html');
  let r = dl(cfg, ['report', '--html', html, '--since', '1d']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*report\.html \(2 tables\)/);
  assert.doesNotMatch(fs.readFileSync(html, 'utf8'), /<script|src=|href=/i, 'nothing to fetch');

  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const url = 'file://' + html;
    const requests = [];
    page.on('request', (q) => { if (q.url() !== url) requests.push(q.url()); });
    await page.goto(url);
    const charts = await page.$$eval('svg.chart', (svgs) => svgs.map((s) => ({
      table: s.dataset.table, kind: s.dataset.kind, declared: Number(s.dataset.points),
      ok: s.querySelectorAll('circle.pt').length, fail: s.querySelectorAll('rect.pt.fail').length,
      width: s.getBoundingClientRect().width,
      drawn: [...s.querySelectorAll('.pt')].filter((p) => p.getBoundingClientRect().width > 0).length,
    })));
    const get = (t, k) => charts.find((c) => c.table === t && c.kind === k);
    assert.deepEqual([get('orders', 'rows').ok, get('orders', 'rows').fail], [3, 0]);
    assert.equal(get('orders', 'duration').ok, 3);
    assert.equal(get('orders', 'watermark').ok, 3);
    assert.deepEqual([get('broken', 'rows').ok, get('broken', 'rows').fail], [0, 3]);
    assert.equal(get('broken', 'watermark'), undefined, 'no watermark without a committed load');
    for (const c of charts) {
      assert.ok(c.width > 100, `${c.table}/${c.kind} rendered`);
      assert.equal(c.drawn, c.declared, `${c.table}/${c.kind}: every point drawn`);
    }
    // rows per load of orders in time order: 10, 20, 5 → highest point is the second
    const ys = await page.$$eval('svg.chart[data-table="orders"][data-kind="rows"] circle.pt', (cs) => cs.map((c) => Number(c.getAttribute('cy'))));
    assert.ok(ys[1] < ys[0] && ys[0] < ys[2], `y order ${ys}`);
    const errors = await page.$$eval('section[data-table="broken"] ul.errors li', (li) => li.map((x) => x.textContent));
    assert.equal(errors.length, 3);
    assert.match(errors[0], /no_such_table/);
    const latest = await page.$$eval('#latest tr', (tr) => tr.length);
    assert.equal(latest, 3);
    assert.deepEqual(requests, [], 'the page made no network request');
  } finally {
    await browser.close();
  }
  // --since in the future leaves no loads
  r = dl(cfg, ['report', '--html', html, '--since', '2999-01-01']);
  assert.equal(r.code, 0);
  assert.match(fs.readFileSync(html, 'utf8'), /data-kind="rows" data-points="0"/);
  assert.equal(dl(cfg, ['report', '--html', html, '--since', 'yesterday']).code, 2);
});
