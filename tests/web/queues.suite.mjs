// The queues panel as a user drives it: counts per queue after tasks are submitted to one
// ({"queue": "builds"} in the spec), the limit changed from the page (and a bad one refused at
// the field), pause and resume. Skipped while the daemon serves no GET /api/queues.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { apiCall, openPage, startDaemon } from './harness.mjs';
import { newContext, openFold, submit, waitUntil } from './helpers.mjs';

const qcard = (name) => `#queue-list li[data-name="${name}"]`;
const getQueue = async (base, name) => (await apiCall(base, 'GET', `/api/queues/${name}`)).data;

describe('queues panel', () => {
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
  test('shows each queue\'s counts, following the tasks submitted to it', async () => {
    assert.equal((await apiCall(daemon.base, 'PUT', '/api/queues/builds', { max_running: 1 })).status, 200);
    for (let i = 0; i < 3; ++i) await submit(daemon.base, { name: `build ${i}`, queue: 'builds', sleep: 3600 });
    const page = await openPage(context, daemon.base);
    await openFold(page, 'queues-panel');
    await page.waitForSelector(`${qcard('builds')} .q-running:text-is("1 of 1")`);
    assert.equal(await page.textContent(`${qcard('builds')} .q-pending`), '2');
    assert.equal(await page.textContent(`${qcard('builds')} .q-scheduled`), '0');
    assert.match(await page.textContent(`${qcard('builds')} .q-rate`), /^0 \/s$/);
    assert.equal(await page.inputValue(`${qcard('builds')} input.q-limit`), '1');
    assert.equal(await page.locator(`${qcard('builds')} .badge.sched-paused`).isVisible(), false);
    const listed = (await apiCall(daemon.base, 'GET', '/api/queues')).data.queues.map((q) => q.name);
    assert.deepEqual(await page.locator('#queue-list > li').evaluateAll((lis) => lis.map((li) => li.dataset.name)), listed);

    // Live: a delayed task and another pending one show without a reload.
    await submit(daemon.base, { name: 'later build', queue: 'builds', delay: 3600, value: 1 });
    await submit(daemon.base, { name: 'build 3', queue: 'builds', sleep: 3600 });
    await page.waitForSelector(`${qcard('builds')} .q-scheduled:text-is("1")`, { timeout: 10000 });
    await page.waitForSelector(`${qcard('builds')} .q-pending:text-is("3")`, { timeout: 10000 });
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('the limit is set from the page; a bad one gets the daemon\'s message at the field', async () => {
    const page = await openPage(context, daemon.base);
    await openFold(page, 'queues-panel');
    const limit = `${qcard('builds')} input.q-limit`;
    await page.waitForSelector(`${qcard('builds')} .q-running:text-is("1 of 1")`);

    // What is being typed is not overwritten by the polling (every 2 s).
    await page.fill(limit, '5');
    await page.waitForTimeout(2500);
    assert.equal(await page.inputValue(limit), '5');

    await page.fill(limit, '-1');
    await page.click(`${qcard('builds')} .q-limit-form button`);
    const error = `${qcard('builds')} .field-error`;
    await page.waitForSelector(`${error}:text-is("$.max_running: expected a whole number from 0 (no limit) to 1000000")`);
    assert.equal(await page.getAttribute(limit, 'aria-invalid'), 'true');
    assert.equal((await getQueue(daemon.base, 'builds')).max_running, 1);

    // Enter in the field sets it; two of the pending tasks start.
    await page.fill(limit, '3');
    assert.equal(await page.textContent(error), '');
    await page.press(limit, 'Enter');
    await page.waitForSelector(`${qcard('builds')} .q-running:text-is("3 of 3")`);
    await page.waitForSelector(`${qcard('builds')} .q-pending:text-is("1")`);
    assert.equal(await page.textContent('#queues-status'), 'builds: at most 3 running.');
    assert.equal((await getQueue(daemon.base, 'builds')).max_running, 3);
    assert.equal(await page.inputValue(limit), '3');

    // 0: no limit.
    await page.fill(limit, '0');
    await page.press(limit, 'Enter');
    await page.waitForSelector(`${qcard('builds')} .q-running:text-is("4 (no limit)")`);
    await page.waitForSelector(`${qcard('builds')} .q-pending:text-is("0")`);
    assert.deepEqual(page.consoleErrors([/\/api\/queues\/builds$/]), []);
    await page.close();
  });

  test('pausing holds the queue\'s pending tasks; resuming starts them', async () => {
    const page = await openPage(context, daemon.base);
    await openFold(page, 'queues-panel');
    const box = `${qcard('builds')} input.q-paused`;
    await page.waitForSelector(`${qcard('builds')} .q-running:text-is("4 (no limit)")`);
    assert.equal(await page.isChecked(box), false);
    // From the keyboard.
    await page.focus(box);
    await page.keyboard.press('Space');
    await page.waitForSelector(`${qcard('builds')}[data-paused] .badge.sched-paused`);
    assert.equal((await getQueue(daemon.base, 'builds')).paused, true);
    assert.equal(await page.isChecked(box), true);
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('q-paused')), true);

    const held = await submit(daemon.base, { name: 'held build', queue: 'builds', sleep: 3600 });
    await page.waitForSelector(`${qcard('builds')} .q-pending:text-is("1")`, { timeout: 10000 });
    assert.equal((await apiCall(daemon.base, 'GET', `/api/tasks/${held.id}`)).data.state, 'pending');
    // Other queues go on.
    const other = await submit(daemon.base, { name: 'elsewhere', sleep: 0.01 });
    await waitUntil(async () => (await apiCall(daemon.base, 'GET', `/api/tasks/${other.id}`)).data.state === 'done',
      { what: 'a task of the default queue to run' });

    await page.uncheck(box);
    await page.waitForSelector(`${qcard('builds')}:not([data-paused]) .q-running:text-is("5 (no limit)")`);
    await page.waitForSelector(`${qcard('builds')} .q-pending:text-is("0")`);
    assert.equal((await getQueue(daemon.base, 'builds')).paused, false);
    assert.equal(await page.locator(`${qcard('builds')} .badge.sched-paused`).isVisible(), false);
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });
});
