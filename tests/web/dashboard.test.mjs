// Browser tests of the dashboard: the real daemon, Debian's Chromium, the page as a user
// drives it. Run with UASYNCD_BIN=<path to uasyncd> node --test (see package.json).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { apiCall, hasEventStream, launchBrowser, openPage, startDaemon } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outputDir = process.env.TEST_OUTPUT_DIR || path.resolve(here, '../../test-output');
const XSS_NAME = '<img src=x onerror=alert(1)>';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const stepState = (page, stepId) =>
  page.locator(`#detail-body li[data-step-id="${stepId}"]`).first().getAttribute('data-state');

async function waitForStepState(page, stepId, state, timeout = 10000) {
  await page.waitForSelector(`#detail-body li[data-step-id="${stepId}"][data-state="${state}"]`,
    { timeout });
}

async function waitForRowState(page, id, state, timeout = 10000) {
  await page.waitForSelector(`#task-rows tr[data-id="${id}"][data-state="${state}"]`, { timeout });
}

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
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
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
    const js = await fetch(`${daemon.base}/app.js`);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    const missing = await fetch(`${daemon.base}/nope.js`);
    assert.equal(missing.status, 404);
  });

  test('opens with counts, an empty table and the connection state', async () => {
    const page = await openPage(context, daemon.base);
    await page.waitForSelector(`#connection[data-state="${live ? 'live' : 'polling'}"]`);
    assert.equal(await page.locator('#counts li').count(), 7);
    assert.equal(await page.locator('#counts button[data-state="running"] .count-n').textContent(), '0');
    assert.equal(await page.locator('#empty').isVisible(), true);
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
    seed.gather[1].sequence[0].sleep = 2;
    seed.gather[2].timeout = 3;
    await page.fill('#spec', JSON.stringify(seed, null, 2));
    await page.click('#submit-button');

    await page.waitForSelector('#submit-result:has-text("submitted")');
    const id = (await page.textContent('#submit-result')).replace('submitted ', '');
    await page.waitForSelector(`#task-rows tr[data-id="${id}"]`);
    assert.equal(await page.textContent(`#task-rows tr[data-id="${id}"] td:nth-child(2)`), 'gather example');
    assert.equal(await page.textContent(`#task-rows tr[data-id="${id}"] td:nth-child(3)`), 'gather');
    await waitForRowState(page, id, 'running');
    for (const child of ['1', '2', '5']) await waitForStepState(page, `${id}.${child}`, 'running');
    // Counts come from /api/stats, fetched at most 4 times a second: wait for them to catch up.
    await page.waitForSelector('#counts button[data-state="running"] .count-n:text-is("1")');

    // The seed cancels bar while barking still sleeps: here through bar's cancel button.
    await page.click(`#detail-body button[data-step="${id}.1"]`);
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
    await page.click('#detail-body button:has-text("Cancel task")');
    await waitForRowState(page, id, 'cancelled');
    await page.waitForSelector('#detail-body .error-text:has-text("CancelledError")');
    assert.equal(await page.locator('#detail-body button:has-text("Cancel task")').isDisabled(), true);
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
    const cell = page.locator(`#task-rows tr[data-id="${task.id}"] td:nth-child(2)`);
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
    await page.waitForSelector(`#counts button[data-state="done"] .count-n:text-is("${before + 120}")`);
    assert.equal(await page.locator('#task-rows tr').count(), 50);
    await page.click('#counts button[data-state="done"]');
    await page.waitForSelector('#task-rows[aria-busy="false"]');
    assert.ok(await page.evaluate(() => [...document.querySelectorAll('#task-rows tr')]
      .every((tr) => tr.dataset.state === 'done')), 'only done tasks under the done filter');
    const firstPage = await page.locator('#task-rows tr').first().getAttribute('data-id');
    await page.click('#page-older');
    await page.waitForSelector('#page-label:text-is("page 2")');
    const secondPage = await page.locator('#task-rows tr').first().getAttribute('data-id');
    assert.ok(Number(secondPage.slice(1)) < Number(firstPage.slice(1)), 'older tasks on page 2');
    await page.click('#page-newer');
    await page.waitForSelector('#page-label:text-is("page 1")');
    assert.equal(await page.locator('#task-rows tr').first().getAttribute('data-id'), firstPage);
    assert.deepEqual(page.consoleErrors(expected), []);
    await page.close();
  });

  test('stays usable at 800 px and writes screenshots', async () => {
    mkdirSync(outputDir, { recursive: true });
    await apiCall(daemon.base, 'POST', '/api/tasks', {
      name: 'gather example',
      gather: [{ name: 'bar', sleep: 3600 }, { name: 'barking', sequence: [{ sleep: 3600 }, { value: 42 }] },
        { name: 'foo timeout', wait_for: { name: 'foo', sleep: 3600 }, timeout: 3600 }],
      return_exceptions: true,
    });
    await apiCall(daemon.base, 'POST', '/api/tasks', { name: 'fails', fail: 'boom' });
    const page = await openPage(context, daemon.base);
    await page.locator('#task-rows tr', { hasText: 'gather example' }).first().click();
    await page.waitForSelector('#detail-body li[data-step-id$=".6"]');
    await page.screenshot({ path: path.join(outputDir, 'dashboard.png') });
    await page.setViewportSize({ width: 800, height: 900 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than an 800px window`);
    assert.equal(await page.locator('#task-rows tr').first().isVisible(), true);
    assert.equal(await page.locator('#detail-body').isVisible(), true);
    await page.screenshot({ path: path.join(outputDir, 'dashboard-800.png'), fullPage: true });
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
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
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
    // A reload in the same tab keeps the token: no prompt.
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.waitForSelector('html[data-ready=true]');
    await page.waitForSelector('#task-rows tr td:text-is("secret task")');
    assert.equal(await page.locator('#token-dialog[open]').count(), 0);
    assert.deepEqual(page.consoleErrors(expected), []);
    await page.close();
  });
});
