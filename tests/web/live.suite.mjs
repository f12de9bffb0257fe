// Live updates: rows that leave a filter (bug 2), durations of tasks that finish within one
// batch (bug 4), tasks gone from the daemon (bug 3, as far as today's API tells), new rows held
// back while the user reads, the pause toggle, the throughput chart, and the disconnected state
// with recovery (bug 5).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { apiCall, openPage, startDaemon } from './harness.mjs';
import {
  confirm, daemonFixture, holdFeed, newContext, pointerAway, rowSel, submit, waitForCount,
  waitForRowState,
} from './helpers.mjs';

async function withOwnDaemon(fn) {
  const daemon = await startDaemon([]);
  const context = await newContext();
  try {
    await fn(daemon, context);
  } finally {
    await context.close();
    await daemon.stop();
  }
}

const rowIds = (page) => page.evaluate(() => [...document.querySelectorAll('#task-rows tr')].map((tr) => tr.dataset.id));

describe('live updates', () => {
  const env = daemonFixture();

  test('bug 2: a filtered view drops the tasks that leave the filter', async () => {
    const page = await openPage(env.context, env.daemon.base);
    await page.selectOption('#filter-state', 'running');
    await page.waitForSelector('#task-rows[aria-busy="false"]', { state: 'attached' });
    const tasks = await Promise.all([0, 1, 2].map((i) => submit(env.daemon.base, { name: `brief ${i}`, sleep: 0.8 })));
    for (const t of tasks) await page.waitForSelector(rowSel(t.id));
    // They finish: done is not running, so they leave the running view.
    await page.waitForFunction((ids) => ids.every((id) => !document.querySelector(`#task-rows tr[data-id="${id}"]`)),
      tasks.map((t) => t.id));
    assert.equal(await page.locator('#empty').isVisible(), true);
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('bug 2: while the pointer is on the table, rows that left stay marked until it moves away', async () => {
    const page = await openPage(env.context, env.daemon.base);
    await page.selectOption('#filter-state', 'running');
    await page.waitForSelector('#task-rows[aria-busy="false"]', { state: 'attached' });
    const t = await submit(env.daemon.base, { name: 'read me', sleep: 0.8 });
    await page.waitForSelector(rowSel(t.id));
    await page.hover(rowSel(t.id));
    await page.waitForSelector(`${rowSel(t.id)}[data-gone="filter"]`);
    assert.match(await page.textContent(rowSel(t.id)), /no longer matches/);
    assert.match(await page.textContent('#new-tasks'), /1 changed/);
    await pointerAway(page);
    await page.waitForSelector(rowSel(t.id), { state: 'detached' });
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('bug 4: tasks that finish within one event batch show their duration', async () => {
    const page = await openPage(env.context, env.daemon.base);
    await pointerAway(page);
    const tasks = await Promise.all([0, 1, 2, 3, 4].map((i) => submit(env.daemon.base, { name: `quick ${i}`, value: i })));
    for (const t of tasks) {
      await waitForRowState(page, t.id, 'done');
      const duration = await page.textContent(`${rowSel(t.id)} td:last-child`);
      assert.match(duration, /^(\d+ ms|\d+\.\d+ s)$/, `duration of ${t.id}: "${duration}"`);
    }
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('new tasks wait in the "N new tasks" bar while the user reads the table: nothing shifts', async () => {
    await Promise.all(Array.from({ length: 5 }, (_, i) => submit(env.daemon.base, { name: `base ${i}`, value: i })));
    const page = await openPage(env.context, env.daemon.base);
    const first = (await rowIds(page))[0];
    await page.hover(`${rowSel(first)} td.name`);
    await page.evaluate(() => {
      globalThis.shift = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) globalThis.shift += e.value;
      }).observe({ type: 'layout-shift' });
    });
    const fresh = await Promise.all(Array.from({ length: 12 }, (_, i) => submit(env.daemon.base, { name: `fresh ${i}`, value: i })));
    await page.waitForSelector('#new-tasks:text-is("Show 12 new tasks")');
    assert.equal((await rowIds(page))[0], first, 'the rows under the pointer did not move');
    assert.equal(await page.textContent('#live-note'), 'Held while you read the table.');
    await page.waitForTimeout(200);
    const shift = await page.evaluate(() => globalThis.shift);
    assert.ok(shift < 0.01, `layout shift ${shift} while the user reads`);
    // Shown on request, newest first, and focus lands on the first row. The 12 submits ran
    // side by side: the newest is the highest id, not the last of the array.
    const newest = fresh.reduce((a, b) => (Number(a.id.slice(1)) > Number(b.id.slice(1)) ? a : b));
    await page.click('#new-tasks');
    await page.waitForSelector(`#task-rows tr:first-child[data-id="${newest.id}"]`);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.id), newest.id);
    assert.equal(await page.locator('#new-tasks').isVisible(), false);
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('a burst of new tasks enters at the top with no layout shift', async () => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => submit(env.daemon.base, { name: `before ${i}`, value: i })));
    const page = await openPage(env.context, env.daemon.base);
    await pointerAway(page);
    await page.evaluate(() => {
      globalThis.shift = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) globalThis.shift += e.value;
      }).observe({ type: 'layout-shift' });
    });
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(env.daemon.base, { name: `burst ${i}`, value: i })));
    const newest = burst.reduce((a, b) => (Number(a.id.slice(1)) > Number(b.id.slice(1)) ? a : b));
    await page.waitForSelector(`#task-rows tr:first-child[data-id="${newest.id}"][data-state="done"]`);
    await page.waitForTimeout(200);
    const shift = await page.evaluate(() => globalThis.shift);
    assert.ok(shift < 0.01, `layout shift ${shift} for a burst of 20`);
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('pause holds the list still (states still update); resume shows what came', async () => {
    const running = await submit(env.daemon.base, { name: 'runs while paused', sleep: 0.6 });
    const page = await openPage(env.context, env.daemon.base);
    await page.click('#pause');
    assert.equal(await page.getAttribute('#pause', 'aria-pressed'), 'true');
    assert.equal(await page.textContent('#pause'), 'Resume');
    const held = await Promise.all([0, 1, 2].map((i) => submit(env.daemon.base, { name: `held ${i}`, value: i })));
    await page.waitForSelector('#new-tasks:text-is("Show 3 new tasks")');
    assert.match(await page.textContent('#live-note'), /^Paused/);
    for (const t of held) assert.equal(await page.locator(rowSel(t.id)).count(), 0);
    // A row on screen still changes state in place.
    await waitForRowState(page, running.id, 'done');
    await page.click('#pause');
    assert.equal(await page.getAttribute('#pause', 'aria-pressed'), 'false');
    for (const t of held) await page.waitForSelector(rowSel(t.id));
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('tasks that came before the stream was up wait in the bar while paused', () => withOwnDaemon(async (daemon, context) => {
    for (let i = 0; i < 3; ++i) await submit(daemon.base, { name: `seen ${i}`, value: i });
    // The page connects its event stream after the first render (feed.js): held back here, so
    // that tasks arrive in the gap, which the page learns about by fetching the list again.
    const release = await holdFeed(context);
    const page = await openPage(context, daemon.base);
    await page.click('#pause');
    const held = [];
    for (let i = 0; i < 3; ++i) held.push(await submit(daemon.base, { name: `in the gap ${i}`, value: i }));
    release();
    await page.waitForSelector('#connection[data-state="live"]');
    await page.waitForSelector('#new-tasks:text-is("Show 3 new tasks")');
    for (const t of held) assert.equal(await page.locator(rowSel(t.id)).count(), 0);
    await page.click('#pause');
    for (const t of held) await page.waitForSelector(rowSel(t.id));
    assert.deepEqual((await rowIds(page)).slice(0, 3), [...held].reverse().map((t) => t.id));
    assert.deepEqual(page.consoleErrors(), []);
  }));

  test('a submit whose answer comes after the task\'s events leaves the row in its final state', () => withOwnDaemon(async (daemon, context) => {
    const page = await openPage(context, daemon.base);
    await pointerAway(page);
    await page.waitForSelector('#connection[data-state="live"]');
    // The answer to the submit is held until the stream has shown the task done (a loaded
    // machine orders them so at times): the answer's "pending" is older news.
    await page.route(/\/api\/tasks$/, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const response = await route.fetch();
      const { id } = await response.json();
      await page.waitForSelector(`${rowSel(id)}[data-state="done"]`);
      return route.fulfill({ response });
    });
    await page.locator('#submit-panel summary').click();
    await page.fill('#spec', '{"name": "overtaken", "value": 1}');
    await page.click('#submit-button');
    await page.waitForSelector('#submit-result:has-text("submitted t")');
    const id = (await page.textContent('#submit-result')).replace('submitted ', '');
    await page.waitForSelector(`#detail-id:text-is("${id}")`);
    // Two frames: the answer's update has been applied by then.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.equal(await page.getAttribute(rowSel(id), 'data-state'), 'done');
    await page.waitForSelector('#detail-body .result');
    assert.deepEqual(page.consoleErrors(), []);
  }));

  test('bug 3: a task deleted while the page had no stream: its row says so when opened, then leaves with its count', () => withOwnDaemon(async (daemon, context) => {
    const t = await submit(daemon.base, { name: 'to vanish', value: 1 });
    await submit(daemon.base, { name: 'stays', value: 2 });
    // No event stream yet, so the removal event cannot reach the page: it finds out on its own.
    const release = await holdFeed(context);
    const page = await openPage(context, daemon.base);
    await waitForRowState(page, t.id, 'done');
    await waitForCount(page, 'done', 2);
    assert.equal((await apiCall(daemon.base, 'DELETE', `/api/tasks/${t.id}`)).status, 200);
    await page.click(rowSel(t.id));
    await page.waitForSelector('#detail-notice:has-text("not known to the daemon")');
    assert.doesNotMatch(await page.textContent('#detail-body'), /no task or step/);
    assert.equal(await page.textContent('#detail-body h2'), 'to vanish', 'the name it had');
    // The pointer is still on the row: it stays, marked, until the pointer moves away.
    await page.waitForSelector(`${rowSel(t.id)}[data-gone="removed"]`);
    await pointerAway(page);
    await page.waitForSelector(rowSel(t.id), { state: 'detached' });
    await waitForCount(page, 'done', 1);
    release();
    await page.waitForSelector('#connection[data-state="live"]');
    assert.deepEqual(page.consoleErrors([/\/api\/tasks\/t\d+$/]), []);
  }));

  test('delete from the page asks first, then the row, the detail and the count go', async () => {
    const t = await submit(env.daemon.base, { name: 'delete me', value: 2 });
    const page = await openPage(env.context, env.daemon.base);
    await page.click(rowSel(t.id));
    await page.waitForSelector('#detail-delete');
    const done = (await apiCall(env.daemon.base, 'GET', '/api/stats')).data.tasks.done;
    await waitForCount(page, 'done', done);
    await page.click('#detail-delete');
    assert.match(await page.textContent('#confirm-title'), new RegExp(`Delete ${t.id}\\?`));
    await confirm(page);
    await page.waitForSelector(`#detail-placeholder:text-is("Deleted ${t.id}.")`);
    await page.waitForSelector(rowSel(t.id), { state: 'detached' });
    await waitForCount(page, 'done', done - 1);
    assert.equal((await apiCall(env.daemon.base, 'GET', `/api/tasks/${t.id}`)).status, 404);
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('bulk cancel and delete of the selected rows, each with a count and a confirmation', async () => {
    const tasks = await Promise.all([0, 1, 2].map((i) => submit(env.daemon.base, { name: `bulk sleeper ${i}`, sleep: 3600 })));
    const page = await openPage(env.context, env.daemon.base);
    for (const t of tasks) await page.click(`${rowSel(t.id)} input[type=checkbox]`);
    await page.waitForSelector('#bulk-count:text-is("3 selected")');
    await page.click('#bulk-cancel');
    assert.equal(await page.textContent('#confirm-title'), 'Cancel 3 tasks?');
    await confirm(page);
    for (const t of tasks) await waitForRowState(page, t.id, 'cancelled');
    await page.waitForSelector('#bulk-status:has-text("Cancelled 3 tasks")');
    // Keyboard: Space ticks the focused row.
    await page.focus(rowSel(tasks[0].id));
    await page.keyboard.press('Space');
    for (const t of tasks.slice(1)) await page.click(`${rowSel(t.id)} input[type=checkbox]`);
    await page.waitForSelector('#bulk-count:text-is("3 selected")');
    await page.click('#bulk-delete');
    assert.equal(await page.textContent('#confirm-title'), 'Delete 3 tasks?');
    await confirm(page);
    for (const t of tasks) await page.waitForSelector(rowSel(t.id), { state: 'detached' });
    for (const t of tasks) assert.equal((await apiCall(env.daemon.base, 'GET', `/api/tasks/${t.id}`)).status, 404);
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('the throughput chart counts tasks as they finish, each once', () => withOwnDaemon(async (daemon, context) => {
    const page = await openPage(context, daemon.base);
    await pointerAway(page);
    // Submitted at once, maybe before the page's event stream is up: the tasks that finished
    // before it count too (from the daemon's history), and none twice.
    await Promise.all(Array.from({ length: 20 }, (_, i) => submit(daemon.base, { name: `counted ${i}`, value: i })));
    await page.waitForFunction(() => Number(document.querySelector('#throughput').dataset.total) === 20);
    await page.waitForSelector('#connection[data-state="live"]');
    await page.waitForSelector('#chart-summary:has-text("20 done")');
    assert.notEqual(await page.getAttribute('#throughput path.a-done', 'd'), '');
    // Nothing more arrives later (a second history answer must replace, not add).
    await page.waitForTimeout(2500);
    assert.equal(await page.getAttribute('#throughput', 'data-total'), '20');
    assert.deepEqual(page.consoleErrors(), []);
  }));
});

describe('disconnected', () => {
  let dir;
  let daemon;
  let context;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'uasyncd-web-'));
    daemon = await startDaemon([], { dataDir: dir });
    context = await newContext();
  });
  after(async () => {
    await context?.close();
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('bug 5: the daemon goes away and comes back: banner, stale data, stopped clocks, then all clear', async () => {
    const t = await submit(daemon.base, { name: 'through the outage', sleep: 3600 });
    const page = await openPage(context, daemon.base);
    await page.waitForSelector('#connection[data-state="live"]');
    await page.click(rowSel(t.id));
    await page.waitForSelector('#detail-body h2:text-is("through the outage")');
    await daemon.stop();
    await page.waitForSelector('#offline-banner', { state: 'visible' });
    assert.equal(await page.evaluate(() => document.body.hasAttribute('data-stale')), true);
    assert.equal(await page.locator('#tasks-panel .stale-tag').isVisible(), true);
    // A refresh of the detail fails meanwhile...
    await page.click(rowSel(t.id));
    await page.waitForSelector('#detail-error:has-text("Could not reach the daemon")');
    // ...and the running task's duration no longer counts.
    const frozen = await page.textContent(`${rowSel(t.id)} td.duration`);
    await page.waitForTimeout(1300);
    assert.equal(await page.textContent(`${rowSel(t.id)} td.duration`), frozen);
    daemon = await startDaemon([], { dataDir: dir, listen: `127.0.0.1:${daemon.port}` });
    // On a slow machine the page's own retry may have found the daemon already (the banner and
    // its button are gone): the click is dispatched either way, never waited on.
    await page.dispatchEvent('#retry-now', 'click');
    await page.waitForSelector('#offline-banner', { state: 'hidden' });
    await page.waitForSelector('#connection[data-state="live"]');
    // The daemon cancelled the task when it stopped: the page shows it, and no stale error.
    await waitForRowState(page, t.id, 'cancelled');
    await page.waitForSelector('#detail-body .badge[data-state="cancelled"]');
    assert.equal(await page.textContent('#detail-error'), '');
    assert.equal(await page.evaluate(() => document.body.hasAttribute('data-stale')), false);
    assert.deepEqual(page.consoleErrors([/\/api\//]), []);
    await page.close();
  });
});
