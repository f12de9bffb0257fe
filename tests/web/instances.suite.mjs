// The instances panel (GET /api/instances, docs/dashboard-api.md section 13): against a real
// single daemon, one instance marked as this one whose running count follows a task; a cluster's
// answer (faked in the browser: names are user input) shown as text, with stale and stopping
// instances flagged; and without the "instances" feature, no panel and no request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { apiCall, openPage, startDaemon } from './harness.mjs';
import { assertNoAxeViolations, newContext, openFold, submit, waitUntil } from './helpers.mjs';

const icard = (id) => `#instance-list li[data-id="${id}"]`;

describe('instances panel', () => {
  let daemon;
  let context;
  before(async () => {
    daemon = await startDaemon();
    context = await newContext();
  });
  after(async () => {
    await context?.close();
    await daemon?.stop();
  });

  test('a single daemon: one instance, this one, its running count following a task', async () => {
    const stats = (await apiCall(daemon.base, 'GET', '/api/stats')).data;
    assert.ok(stats.features.includes('instances'), JSON.stringify(stats.features));
    const answer = (await apiCall(daemon.base, 'GET', '/api/instances')).data;
    assert.equal(answer.cluster, false);
    assert.equal(answer.instances.length, 1);

    const page = await openPage(context, daemon.base);
    await page.waitForSelector('#instances-panel:not([hidden])');
    await openFold(page, 'instances-panel');
    const card = icard(0);
    await page.waitForSelector(`${card} .i-running:text-is("0")`);
    assert.equal(await page.locator('#instance-list > li').count(), 1);
    assert.equal(await page.textContent(`${card} .card-name`), 'local');
    assert.equal(await page.getAttribute(card, 'data-self'), '');
    assert.equal(await page.textContent(`${card} .badge.inst-self`), '◉this instance');
    assert.equal(await page.locator(`${card} .badge.inst-self`).isVisible(), true);
    assert.equal(await page.textContent(`${card} .i-id`), '0');
    assert.match(await page.textContent(`${card} .i-heartbeat`), /^\d\.\d s ago$/);
    assert.equal(await page.getAttribute(card, 'data-stale'), null);
    assert.equal(await page.locator(`${card} .badge.inst-stale`).isVisible(), false);
    assert.equal(await page.textContent(`${card} .i-stopping`), 'no');
    // A single daemon reports no start time: the fact is left out rather than shown empty.
    assert.equal(await page.locator(`${card} .i-started`).isVisible(), 'started' in answer.instances[0]);
    assert.equal(await page.textContent('#instances-summary'), 'Not a cluster: this daemon alone.');

    // A task runs: the count follows (live transitions ask again within 0.5 s; polls every 2 s).
    const task = await submit(daemon.base, { name: 'instances sleeper', sleep: 30 });
    await page.waitForSelector(`${card} .i-running:text-is("1")`, { timeout: 10000 });
    await waitUntil(async () => (await apiCall(daemon.base, 'GET', `/api/tasks/${task.id}`)).data.state === 'running',
      { what: 'the task to run' });
    const cancel = await apiCall(daemon.base, 'POST', `/api/tasks/${task.id}/cancel`);
    assert.ok([200, 202].includes(cancel.status), JSON.stringify(cancel.data));
    await page.waitForSelector(`${card} .i-running:text-is("0")`, { timeout: 10000 });
    assert.equal((await apiCall(daemon.base, 'GET', `/api/tasks/${task.id}`)).data.state, 'cancelled');
    assert.equal(await page.locator('#instance-list > li').count(), 1);

    await assertNoAxeViolations(page, 'instances panel open');
    assert.deepEqual(page.consoleErrors(), []);
    assert.deepEqual(page.failedResponses, []);
    await page.close();
  });

  test('a cluster\'s names are shown as text; stale and stopping instances are flagged', async () => {
    const evil = '<img src=x onerror="globalThis.pwned=1">';
    const fake = {
      cluster: true,
      instances: [
        { id: 7, name: 'uasyncd-a', started: 1796200000, heartbeat_age: 0.4, running: 3, stopping: false, self: true },
        { id: 9, name: evil, started: 1796200100.5, heartbeat_age: 12.3, running: 1234, stopping: true, self: false },
        { id: 12, name: 'invoice\u202Efdp.exe', heartbeat_age: 1.25, running: 0, stopping: false, self: false },
      ],
    };
    const own = await newContext();
    try {
      await own.route(/\/api\/instances$/, (route) => route.fulfill({ json: fake }));
      const page = await openPage(own, daemon.base);
      await openFold(page, 'instances-panel');
      await page.waitForSelector(icard(12));
      assert.deepEqual(await page.locator('#instance-list > li').evaluateAll((lis) => lis.map((li) => li.dataset.id)),
        ['7', '9', '12']);
      assert.equal(await page.textContent('#instances-summary'), '3 instances sharing one database, 1 stale, 1 stopping.');

      // This page's instance.
      assert.equal(await page.locator(`${icard(7)} .badge.inst-self`).isVisible(), true);
      assert.equal(await page.textContent(`${icard(7)} .i-heartbeat`), '0.4 s ago');
      assert.equal(await page.textContent(`${icard(7)} .i-running`), '3');
      assert.match(await page.textContent(`${icard(7)} .i-started time`), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.000 /);

      // The name is text, not markup; stale and stopping say so with a badge, not colour alone.
      assert.equal(await page.textContent(`${icard(9)} .card-name`), evil);
      assert.equal(await page.locator('#instances-panel img').count(), 0);
      assert.equal(await page.evaluate(() => globalThis.pwned), undefined);
      assert.equal(await page.getAttribute(icard(9), 'data-self'), null);
      assert.equal(await page.locator(`${icard(9)} .badge.inst-self`).isVisible(), false);
      assert.equal(await page.getAttribute(icard(9), 'data-stale'), '');
      assert.equal(await page.locator(`${icard(9)} .badge.inst-stale`).isVisible(), true);
      assert.equal(await page.textContent(`${icard(9)} .i-heartbeat`), '12 s ago (over 5 s: stale)');
      assert.equal(await page.locator(`${icard(9)} .badge.inst-stopping`).isVisible(), true);
      assert.equal(await page.textContent(`${icard(9)} .i-stopping`), 'yes: shutting down');
      assert.equal(await page.textContent(`${icard(9)} .i-running`), '1,234');

      // A text direction control is spelled out; no start time, no "Started".
      assert.equal(await page.textContent(`${icard(12)} .card-name`), 'invoice[U+202E]fdp.exe');
      assert.equal(await page.locator(`${icard(12)} .card-name .ctl`).count(), 1);
      assert.equal(await page.locator(`${icard(12)} .i-started`).isVisible(), false);
      assert.equal(await page.textContent(`${icard(12)} .i-heartbeat`), '1.3 s ago');

      // The badges' icons have glyphs in the page's fonts.
      const missing = await page.evaluate(() => {
        const canvas = document.createElement('canvas');
        canvas.width = 64;
        canvas.height = 64;
        const ctx = canvas.getContext('2d', { willReadFrequently: true });
        const pixels = (text, font) => {
          ctx.clearRect(0, 0, 64, 64);
          ctx.font = font;
          ctx.fillText(text, 8, 40);
          return ctx.getImageData(0, 0, 64, 64).data.join(',');
        };
        return [...document.querySelectorAll('#instances-panel .badge .icon')].filter((icon) => {
          const font = getComputedStyle(icon).font;
          return pixels(icon.textContent, font) === pixels('\u{10FFFD}', font);
        }).map((icon) => icon.textContent);
      });
      assert.deepEqual(missing, []);

      // An instance gone from the answer goes from the panel.
      fake.instances.splice(1, 1);
      await page.waitForSelector(icard(9), { state: 'detached', timeout: 10000 });
      assert.equal(await page.textContent('#instances-summary'), '2 instances sharing one database.');
      await assertNoAxeViolations(page, 'instances panel, a cluster');
      assert.deepEqual(page.consoleErrors(), []);
      await page.close();
    } finally {
      await own.close();
    }
  });

  test('without the "instances" feature the panel stays hidden and asks nothing', async () => {
    const own = await newContext();
    try {
      await own.route(/\/api\/stats$/, async (route) => {
        const response = await route.fetch();
        const json = await response.json();
        json.features = (json.features ?? []).filter((f) => f !== 'instances');
        await route.fulfill({ response, json });
      });
      const asked = [];
      own.on('request', (r) => {
        if (/\/api\/instances/.test(r.url())) asked.push(r.url());
      });
      const page = await openPage(own, daemon.base);
      // Unfolded by a script (a user cannot reach it): still nothing without the feature.
      await page.evaluate(() => {
        document.getElementById('instances-panel').open = true;
      });
      // Long enough for a poll, and for a live transition to reach the page.
      await submit(daemon.base, { name: 'no instances panel', value: 1 });
      await page.waitForTimeout(2500);
      assert.equal(await page.locator('#instances-panel').isVisible(), false);
      assert.equal(await page.getAttribute('#instances-panel', 'hidden'), '');
      assert.deepEqual(asked, []);
      assert.deepEqual(page.consoleErrors(), []);
      await page.close();
    } finally {
      await own.close();
    }
  });
});
