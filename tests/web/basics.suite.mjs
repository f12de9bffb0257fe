// The dashboard's first features, as a user drives them: the page and its CSP, counts, submit,
// cancel, timeout, validation errors, names as text, state filter and paging, the token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { apiCall, hasEventStream, openPage, startDaemon } from './harness.mjs';
import {
  confirm, newContext, pointerAway, waitForCount, waitForRowState, waitForStepState,
} from './helpers.mjs';

const XSS_NAME = '<img src=x onerror=alert(1)>';

const stepState = (page, stepId) =>
  page.locator(`#detail-body li[data-step-id="${stepId}"]`).first().getAttribute('data-state');

describe('dashboard without a token', () => {
  let daemon;
  let context;
  let live;
  // Until the daemon serves /api/events the page polls, after one 404 on it.
  let expected;
  before(async () => {
    daemon = await startDaemon();
    live = await hasEventStream(daemon.base);
    expected = live ? [] : [/\/api\/events$/];
    context = await newContext();
  });
  after(async () => {
    await context?.close();
    await daemon?.stop();
  });

  test('serves the page from the binary with a strict CSP and no inline script', async () => {
    const res = await fetch(`${daemon.base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'an inline <script>');
    assert.doesNotMatch(html, /https?:\/\//, 'a reference to another origin');
    for (const file of ['app.js', 'feed-worker.js']) {
      const js = await fetch(`${daemon.base}/${file}`);
      assert.match(js.headers.get('content-type'), /^text\/javascript/);
      assert.match(js.headers.get('content-security-policy'), /script-src 'self'/);
    }
    const missing = await fetch(`${daemon.base}/nope.js`);
    assert.equal(missing.status, 404);
  });

  test('opens with counts, an empty table and the connection state', async () => {
    const page = await openPage(context, daemon.base);
    await page.waitForSelector(`#connection[data-state="${live ? 'live' : 'polling'}"]`);
    assert.equal(await page.locator('#counts li').count(), 8);
    assert.equal(await page.locator('#counts button[data-state="scheduled"] .count-n').textContent(), '0');
    assert.equal(await page.locator('#counts button[data-state="running"] .count-n').textContent(), '0');
    assert.equal(await page.locator('#empty').isVisible(), true);
    // The health panel: what GET /api/stats says today.
    const stats = (await apiCall(daemon.base, 'GET', '/api/stats')).data;
    assert.equal(await page.textContent('#health-version'), stats.version);
    assert.match(await page.textContent('#health-uptime'), /^\d+ s$|min|h/);
    assert.match(await page.textContent('#health-lag'), /^\d+(\.\d)? ms$/);
    assert.equal(await page.textContent('#health-running'), '0 / no limit');
    assert.deepEqual(page.consoleErrors(expected), []);
    await page.close();
  });

  test('gather seed example from the form: children go running, then cancelled / done / timed_out live', async () => {
    const page = await openPage(context, daemon.base);
    await page.evaluate(() => {
      window.notReloaded = true;
    });
    await page.locator('#submit-panel summary').click();
    await page.selectOption('#example', 'gather');
    // The seed's spec in seconds, scaled down to keep the test short on the real clock.
    const seed = JSON.parse(await page.inputValue('#spec'));
    assert.equal(seed.gather.length, 3);
    seed.gather[1].sequence[0].sleep = 4;
    seed.gather[2].timeout = 5;
    await page.fill('#spec', JSON.stringify(seed, null, 2));
    await page.click('#submit-button');

    await page.waitForSelector('#submit-result:has-text("submitted")');
    const id = (await page.textContent('#submit-result')).replace('submitted ', '');
    await page.waitForSelector(`#task-rows tr[data-id="${id}"]`);
    assert.equal(await page.textContent(`#task-rows tr[data-id="${id}"] td.name`), 'gather example');
    assert.equal(await page.textContent(`#task-rows tr[data-id="${id}"] td.kind`), 'gather');
    await waitForRowState(page, id, 'running');
    for (const child of ['1', '2', '5']) await waitForStepState(page, `${id}.${child}`, 'running');
    // Counts come from /api/stats, fetched at most 4 times a second: wait for them to catch up.
    await page.waitForSelector('#counts button[data-state="running"] .count-n:text-is("1")');

    // The seed cancels bar while barking still sleeps: here through bar's cancel button.
    await page.click(`#detail-body button[data-step="${id}.1"]`);
    await confirm(page);
    await waitForStepState(page, `${id}.1`, 'cancelled');
    assert.equal(await stepState(page, `${id}.2`), 'running');
    await waitForStepState(page, `${id}.2`, 'done');
    await waitForStepState(page, `${id}.5`, 'timed_out');
    await waitForRowState(page, id, 'done');
    await page.waitForSelector('#detail-body .result');
    const result = JSON.parse(await page.textContent('#detail-body .result'));
    assert.equal(result[1], 42);
    assert.equal(result[0].error.type, 'CancelledError');
    assert.equal(result[2].error.type, 'TimeoutError');
    await page.waitForSelector('#counts button[data-state="done"] .count-n:text-is("1")');
    assert.equal(await page.evaluate(() => window.notReloaded), true);
    assert.deepEqual(page.consoleErrors(expected), []);
    await page.close();
  });

  test('cancels a long sleep from the page', async () => {
    const page = await openPage(context, daemon.base);
    await page.locator('#submit-panel summary').click();
    await page.fill('#spec', '{"name": "long sleep", "sleep": 3600}');
    await page.click('#submit-button');
    await page.waitForSelector('#submit-result:has-text("submitted")');
    const id = (await page.textContent('#submit-result')).replace('submitted ', '');
    await waitForRowState(page, id, 'running');
    await page.click(`#task-rows tr[data-id="${id}"]`);
    await page.waitForSelector('#detail-body h2:text-is("long sleep")');
    // Cancel asks first; "Keep it" leaves the task running.
    await page.click('#detail-body button:has-text("Cancel task")');
    assert.match(await page.textContent('#confirm-title'), new RegExp(`Cancel ${id}\\?`));
    await confirm(page, false);
    await page.waitForTimeout(300);
    assert.equal((await apiCall(daemon.base, 'GET', `/api/tasks/${id}`)).data.state, 'running');
    await page.click('#detail-body button:has-text("Cancel task")');
    await confirm(page);
    await waitForRowState(page, id, 'cancelled');
    await page.waitForSelector('#detail-body .error-text:has-text("CancelledError")');
    // A finished task has no cancel or timeout controls.
    assert.equal(await page.locator('#detail-cancel').isVisible(), false);
    assert.equal(await page.locator('#timeout-input').isVisible(), false);
    const server = await apiCall(daemon.base, 'GET', `/api/tasks/${id}`);
    assert.equal(server.data.state, 'cancelled');
    assert.deepEqual(page.consoleErrors(expected), []);
    await page.close();
  });

  test('sets a timeout on a running task from the page', async () => {
    const { data: task } = await apiCall(daemon.base, 'POST', '/api/tasks', { name: 'to time out', sleep: 3600 });
    const page = await openPage(context, daemon.base);
    await page.click(`#task-rows tr[data-id="${task.id}"]`);
    await page.waitForSelector('#detail-body h2:text-is("to time out")');
    await page.fill('#timeout-input', '0.3');
    await page.click('#detail-body button:has-text("Set timeout")');
    await waitForRowState(page, task.id, 'timed_out');
    assert.deepEqual(page.consoleErrors(expected), []);
    await page.close();
  });

  test('shows the server validation error next to the spec', async () => {
    const page = await openPage(context, daemon.base);
    await page.locator('#submit-panel summary').click();
    await page.fill('#spec', '{"gather": [{"sleep": 1}, {"sleep": -1}]}');
    await page.click('#submit-button');
    await page.waitForSelector('#submit-error:has-text("$.gather[1].sleep")');
    assert.equal(await page.getAttribute('#spec', 'aria-invalid'), 'true');
    // Editing clears it.
    await page.fill('#spec', '{"value": 1}');
    assert.equal(await page.textContent('#submit-error'), '');
    assert.deepEqual(page.consoleErrors([...expected, /\/api\/tasks$/]), []);
    await page.close();
  });

  test('renders a task named like markup as text', async () => {
    const { data: task } = await apiCall(daemon.base, 'POST', '/api/tasks',
      { name: XSS_NAME, value: XSS_NAME });
    const page = await openPage(context, daemon.base);
    const cell = page.locator(`#task-rows tr[data-id="${task.id}"] td.name`);
    assert.equal(await cell.textContent(), XSS_NAME);
    await page.click(`#task-rows tr[data-id="${task.id}"]`);
    await page.waitForSelector('#detail-body .result');
    assert.equal(await page.textContent('#detail-body h2'), XSS_NAME);
    assert.equal(JSON.parse(await page.textContent('#detail-body .result')), XSS_NAME);
    assert.equal(await page.locator('img').count(), 0);
    // The filter takes the name as typed, too.
    await page.fill('#filter-name', XSS_NAME);
    await page.press('#filter-name', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#task-rows tr').length === 1);
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(page.consoleErrors(expected), []);  // includes: no alert() dialog
    await page.close();
  });

  test('filters by state and pages through many tasks', async () => {
    const before = (await apiCall(daemon.base, 'GET', '/api/stats')).data.tasks.done;
    await Promise.all(Array.from({ length: 120 }, (_, i) =>
      apiCall(daemon.base, 'POST', '/api/tasks', { name: `bulk ${i}`, value: i })));
    const page = await openPage(context, daemon.base);
    const done = before + 120;
    await waitForCount(page, 'done', done);
    assert.equal(await page.locator('#task-rows tr').count(), 50);
    await page.click('#counts button[data-state="done"]');
    await page.waitForSelector('#task-rows[aria-busy="false"]');
    assert.ok(await page.evaluate(() => [...document.querySelectorAll('#task-rows tr')]
      .every((tr) => tr.dataset.state === 'done')), 'only done tasks under the done filter');
    // "1–50 of N": the total of a state filter comes from the counts.
    const of = (a, b) => `${a}–${b} of ${done.toLocaleString('en')}`;
    await page.waitForSelector(`#page-label:text-is("${of(1, 50)}")`);
    assert.equal(await page.textContent('#pager-bottom .page-label'), of(1, 50));
    const firstPage = await page.locator('#task-rows tr').first().getAttribute('data-id');
    await page.click('#page-older');
    await page.waitForSelector(`#page-label:text-is("${of(51, 100)}")`);
    const secondPage = await page.locator('#task-rows tr').first().getAttribute('data-id');
    assert.ok(Number(secondPage.slice(1)) < Number(firstPage.slice(1)), 'older tasks on page 2');
    // The bottom pager works the same.
    await page.click('#pager-bottom button:has-text("Newer")');
    await page.waitForSelector(`#page-label:text-is("${of(1, 50)}")`);
    assert.equal(await page.locator('#task-rows tr').first().getAttribute('data-id'), firstPage);
    // Page size.
    await page.selectOption('#page-size', '100');
    await page.waitForSelector(`#page-label:text-is("${of(1, 100)}")`);
    assert.equal(await page.locator('#task-rows tr').count(), 100);
    assert.equal(await page.locator('#page-newer').isDisabled(), true);
    assert.deepEqual(page.consoleErrors(expected), []);
    await page.close();
  });
});

describe('dashboard with a token', () => {
  const TOKEN = 's3cret-token';
  let daemon;
  let context;
  let expected;
  before(async () => {
    daemon = await startDaemon(['--token', TOKEN]);
    expected = [/\/api\//];  // the 401s that make the page ask
    if (!(await hasEventStream(daemon.base, TOKEN))) expected.push(/\/api\/events$/);
    context = await newContext();
  });
  after(async () => {
    await context?.close();
    await daemon?.stop();
  });

  test('asks for the token, refuses a wrong one, then sends it as a bearer token', async () => {
    await apiCall(daemon.base, 'POST', '/api/tasks', { name: 'secret task', value: 1 }, TOKEN);
    // The first render waits for the token, so the page is not waited for as ready.
    const page = await openPage(context, daemon.base, { ready: false });
    await page.waitForSelector('#token-dialog[open]');
    await page.fill('#token-input', 'wrong');
    await page.click('#token-submit');
    await page.waitForSelector('#token-message:has-text("refused")');
    await page.fill('#token-input', TOKEN);
    await page.click('#token-submit');
    await page.waitForSelector('#token-dialog', { state: 'hidden' });
    await page.waitForSelector('#task-rows tr td:text-is("secret task")');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('uasyncd.token')), TOKEN);
    // The shared event stream got the token too: a task submitted elsewhere shows live.
    await page.waitForSelector('#connection[data-state="live"]');
    await pointerAway(page);
    const { data: later } = await apiCall(daemon.base, 'POST', '/api/tasks', { name: 'later task', value: 2 }, TOKEN);
    await page.waitForSelector(`#task-rows tr[data-id="${later.id}"][data-state="done"]`);
    // A reload in the same tab keeps the token: no prompt.
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.waitForSelector('html[data-ready=true]');
    await page.waitForSelector('#task-rows tr td:text-is("secret task")');
    assert.equal(await page.locator('#token-dialog[open]').count(), 0);
    assert.deepEqual(page.consoleErrors(expected), []);
    await page.close();
  });
});
