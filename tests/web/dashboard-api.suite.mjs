// Items of issue 14 that need the daemon's side (docs/dashboard-api.md): each test drives the
// page against the API that document specifies.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

import { apiCall, openPage, startDaemon } from './harness.mjs';
import {
  confirm, holdFeed, newContext, pointerAway, rowSel, submit, waitForRowState,
  waitUntil,
} from './helpers.mjs';

async function withDaemon(args, fn, options) {
  const daemon = await startDaemon(args, options);
  const context = await newContext();
  try {
    await fn(daemon, context);
  } finally {
    await context.close();
    await daemon.stop();
  }
}

async function features(base) {
  return (await apiCall(base, 'GET', '/api/stats')).data.features ?? [];
}

describe('the daemon\'s side of the dashboard (docs/dashboard-api.md)', () => {
  test('bug 3: a task deleted by another client or evicted leaves the page at once',
    () => withDaemon(['--keep-finished', '3'], async (daemon, context) => {
      assert.ok((await features(daemon.base)).includes('events.removed'));
      const tasks = [];
      for (let i = 0; i < 3; ++i) tasks.push(await submit(daemon.base, { name: `kept ${i}`, value: i }));
      const page = await openPage(context, daemon.base);
      // The events are what is tested: the stream must be up (late on a loaded machine; a
      // removal missed meanwhile is found by the refetch, and the detail's 404 says less).
      await page.waitForSelector('#connection[data-state="live"]');
      await page.click(rowSel(tasks[0].id));
      await page.waitForSelector('#detail-body .result');
      await pointerAway(page);
      // A fourth finished task evicts the oldest: its row goes, its detail says why.
      await submit(daemon.base, { name: 'evicts', value: 4 });
      await page.waitForSelector(rowSel(tasks[0].id), { state: 'detached' });
      await page.waitForSelector(`#detail-notice:has-text("${tasks[0].id} was evicted")`);
      await page.waitForSelector('#counts button[data-state="done"] .count-n:text-is("3")');
      // Another client deletes one: gone from the page too.
      assert.equal((await apiCall(daemon.base, 'DELETE', `/api/tasks/${tasks[1].id}`)).status, 200);
      await page.waitForSelector(rowSel(tasks[1].id), { state: 'detached' });
      await page.waitForSelector('#counts button[data-state="done"] .count-n:text-is("2")');
      assert.deepEqual(page.consoleErrors(), []);
    }));

  // Killed 3 s into its run (heartbeats were stored at about 1 s and 2 s in, so a heartbeat late
  // by up to a second on a loaded machine still leaves one over 1 s in), down 3 s, restarted:
  // the duration shown is how long the task ran, up to the kill, never the outage.
  test('bug 7: an interrupted task\'s duration leaves out the outage', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'uasyncd-web-'));
    try {
      let daemon = await startDaemon([], { dataDir: dir });
      const t = await submit(daemon.base, { name: 'cut short', sleep: 3600 });
      await new Promise((r) => setTimeout(r, 3000));
      await daemon.stop('SIGKILL');
      const killedAt = Date.now() / 1000;
      await new Promise((r) => setTimeout(r, 3000));
      daemon = await startDaemon([], { dataDir: dir });
      const context = await newContext();
      try {
        const record = (await apiCall(daemon.base, 'GET', `/api/tasks/${t.id}`)).data;
        assert.equal(record.state, 'interrupted');
        assert.ok(record.interrupted_at >= killedAt + 3, `found after the outage: ${JSON.stringify(record)}`);
        const page = await openPage(context, daemon.base);
        await waitForRowState(page, t.id, 'interrupted');
        const shown = await page.textContent(`${rowSel(t.id)} td.duration`);
        const seconds = Number(/^([\d.]+) s$/.exec(shown)?.[1]);
        const ranFor = killedAt - record.started;
        assert.ok(seconds >= 1 && seconds <= ranFor + 0.01,
          `ran ${ranFor.toFixed(2)} s until the kill, then down 3 s: shown "${shown}"`);
        assert.deepEqual(page.consoleErrors(), []);
      } finally {
        await context.close();
        await daemon.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('search: the name filter is a case-insensitive substring',
    () => withDaemon([], async (daemon, context) => {
      const a = await submit(daemon.base, { name: 'Nightly JOB 1', value: 1 });
      const b = await submit(daemon.base, { name: 'job-2', value: 2 });
      await submit(daemon.base, { name: 'other', value: 3 });
      const page = await openPage(context, daemon.base);
      assert.equal(await page.textContent('#filter-name-label'), 'Name contains');
      await page.fill('#filter-name', 'job');
      await page.press('#filter-name', 'Enter');
      await page.waitForFunction(() => document.querySelectorAll('#task-rows tr').length === 2);
      const ids = await page.evaluate(() => [...document.querySelectorAll('#task-rows tr')].map((tr) => tr.dataset.id));
      assert.deepEqual(ids, [b.id, a.id]);
      await page.waitForURL(/[?&]q=job/);
      assert.deepEqual(page.consoleErrors(), []);
    }));

  test('paging: totals under any filter, and the oldest page',
    () => withDaemon([], async (daemon, context) => {
      const tasks = [];
      for (let i = 0; i < 130; ++i) tasks.push(await submit(daemon.base, { name: `page me ${i}`, value: i }));
      await submit(daemon.base, { name: 'not me', value: 0 });
      const page = await openPage(context, daemon.base);
      await page.fill('#filter-name', 'page me');
      await page.press('#filter-name', 'Enter');
      await page.waitForSelector('#page-label:text-is("1–50 of 130")');
      await page.click('#page-last');
      await page.waitForSelector('#page-label:text-is("101–130 of 130")');
      assert.equal(await page.locator('#task-rows tr').last().getAttribute('data-id'), tasks[0].id);
      assert.equal(await page.locator('#page-older').isDisabled(), true);
      await page.click('#page-newer');
      await page.waitForSelector('#page-label:text-is("51–100 of 130")');
      // A link to a page keeps its place after a reload, Newer included.
      await page.reload({ waitUntil: 'domcontentloaded' });
      await page.waitForSelector('#page-label:text-is("51–100 of 130")');
      await page.click('#page-newer');
      await page.waitForSelector('#page-label:text-is("1–50 of 130")');
      assert.deepEqual(page.consoleErrors(), []);
    }));

  test('a pending task shows its place in the queue',
    () => withDaemon(['--max-running', '1'], async (daemon, context) => {
      const blocker = await submit(daemon.base, { name: 'blocker', sleep: 3600 });
      const queued = [];
      for (let i = 0; i < 3; ++i) queued.push(await submit(daemon.base, { name: `queued ${i}`, value: i }));
      const page = await openPage(context, daemon.base);
      await page.click(rowSel(queued[2].id));
      await page.waitForSelector('#detail-body dt:text-is("Queue position") + dd:text-is("3 of 3")');
      await apiCall(daemon.base, 'POST', `/api/tasks/${blocker.id}/cancel`);
      await waitForRowState(page, queued[2].id, 'done');
      assert.equal(await page.locator('#detail-body dt:text-is("Queue position")').isVisible(), false);
      assert.deepEqual(page.consoleErrors(), []);
    }));

  test('health: running of max-running, retention; a fresh page draws 15 minutes of history at once',
    () => withDaemon(['--max-running', '4', '--keep-finished', '500'], async (daemon, context) => {
      assert.ok((await features(daemon.base)).includes('stats.history'));
      for (let i = 0; i < 10; ++i) await submit(daemon.base, { name: `history ${i}`, value: i });
      const history = (await apiCall(daemon.base, 'GET', '/api/stats/history')).data;
      assert.equal(history.finished.done.length, 900);
      // The page opens after the tasks finished: no live event tells it about them.
      await new Promise((r) => setTimeout(r, 1100));
      const page = await openPage(context, daemon.base);
      assert.equal(await page.textContent('#health-running'), '0 / 4');
      assert.equal(await page.textContent('#health-retained'), '10 (keeps 500 finished)');
      await page.waitForFunction(() => Number(document.querySelector('#throughput').dataset.total) === 10, null);
      assert.equal(await page.textContent('#chart-note'), '');
      assert.deepEqual(page.consoleErrors(), []);
    }));

  test('following output rides the shared event stream: no output polling, no extra connection',
    () => withDaemon(['--allow-exec'], async (daemon, context) => {
      assert.ok((await features(daemon.base)).includes('events.follow'));
      const t = await submit(daemon.base, {
        name: 'ticker', exec: ['sh', '-c', 'i=0; while [ $i -lt 100 ]; do echo tick $i; i=$((i+1)); sleep 0.05; done'],
      });
      const page = await openPage(context, daemon.base);
      // Until the stream is up (late on a loaded machine) the pane fetches the output instead.
      await page.waitForFunction(() => globalThis.uasyncdDashboard.canFollow());
      const outputRequests = [];
      page.on('request', (r) => {
        if (r.url().includes('/output')) outputRequests.push(r.url());
      });
      await page.click(rowSel(t.id));
      await page.waitForSelector('#detail-body .log:has-text("tick 60")');
      await waitForRowState(page, t.id, 'done');
      await page.waitForSelector('#detail-body .log:has-text("tick 99")');
      // One fetch of what was there when following began, one of the stored output at the end,
      // and at most one more if the stream's start-up resync came after the click; polling
      // would have fetched once a second for the 5 s the ticker runs.
      assert.ok(outputRequests.length <= 3, outputRequests.join('\n'));
      assert.ok(outputRequests.every((u) => !u.includes('follow=')));
      const text = await page.textContent('#detail-body .log .stdout');
      assert.equal(text.split('\n').filter(Boolean).length, 100, 'each line once');
      assert.deepEqual(page.consoleErrors(), []);
    }));

  test('output shown before the stream was up is followed on it once it is: the fetching stops',
    () => withDaemon(['--allow-exec'], async (daemon, context) => {
      const t = await submit(daemon.base, {
        name: 'long ticker', exec: ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo tick $i; i=$((i+1)); sleep 0.05; done'],
      });
      const release = await holdFeed(context);
      const page = await openPage(context, daemon.base);
      const outputRequests = [];
      page.on('request', (r) => {
        if (r.url().includes('/output')) outputRequests.push(r.url());
      });
      await page.click(rowSel(t.id));
      await page.waitForSelector('#detail-body .log:has-text("tick 1")');
      await waitUntil(() => outputRequests.length >= 2, { what: 'the pane fetching the output' });
      release();
      await page.waitForFunction(() => globalThis.uasyncdDashboard.canFollow());
      const lastLine = async () => Math.max(...(await page.textContent('#detail-body .log .stdout'))
        .split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1])));
      // Following starts with a fetch or two (the stream's greeting and its resync); their
      // request events reach this process a little later than the page sends them, so they are
      // let settle for 10 lines (0.5 s of output). After that the lines come on the stream
      // alone: 40 more (2 s, two rounds of the old polling) with no fetch at all.
      const from = await lastLine();
      await waitUntil(async () => (await lastLine()) >= from + 10, { what: '10 more lines' });
      const before = outputRequests.length;
      const settled = await lastLine();
      await waitUntil(async () => (await lastLine()) >= settled + 40, { what: '40 more lines' });
      assert.deepEqual(outputRequests.slice(before), [], 'no output fetch while following');
      const text = await page.textContent('#detail-body .log .stdout');
      const lines = text.split('\n').filter(Boolean);
      assert.equal(new Set(lines).size, lines.length, 'each line once');
      await apiCall(daemon.base, 'POST', `/api/tasks/${t.id}/cancel`);
      assert.deepEqual(page.consoleErrors(), []);
    }));

  test('bulk: cancel every task matching the filter, with the count confirmed',
    () => withDaemon([], async (daemon, context) => {
      const tasks = [];
      for (let i = 0; i < 5; ++i) tasks.push(await submit(daemon.base, { name: `sweep ${i}`, sleep: 3600 }));
      const keep = await submit(daemon.base, { name: 'keep running', sleep: 3600 });
      const page = await openPage(context, daemon.base);
      await page.fill('#filter-name', 'sweep');
      await page.press('#filter-name', 'Enter');
      await page.waitForFunction(() => document.querySelectorAll('#task-rows tr').length === 5);
      await page.click('#bulk-cancel-all');
      await page.waitForSelector('#confirm-text:has-text("5 tasks match")');
      await confirm(page);
      for (const t of tasks) await waitForRowState(page, t.id, 'cancelled');
      await page.waitForSelector('#bulk-status:has-text("Cancelled 5 tasks of 5 matching")');
      await waitUntil(async () => (await apiCall(daemon.base, 'GET', `/api/tasks/${keep.id}`)).data.state === 'running');
      assert.deepEqual(page.consoleErrors(), []);
    }));
});
