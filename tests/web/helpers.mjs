// What the browser test suites share: the browser, the output folder, axe-core, and waits for
// what the page shows.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { after, before } from 'node:test';

import { apiCall, launchBrowser, startDaemon } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const outputDir = process.env.TEST_OUTPUT_DIR || path.resolve(here, '../../test-output');

let browserPromise = null;
// One Chromium for the whole run (closed by dashboard.test.mjs).
export function browser() {
  browserPromise ??= launchBrowser();
  return browserPromise;
}
export async function closeBrowser() {
  if (browserPromise) await (await browserPromise).close();
}

export async function newContext(options = {}) {
  return (await browser()).newContext({ viewport: { width: 1280, height: 860 }, ...options });
}

// For the tests of one describe(): a daemon started with `args` and a browser context, made
// before the first test and closed after the last (read them as fixture.daemon, .context).
export function daemonFixture(args = []) {
  const fixture = { daemon: null, context: null };
  before(async () => {
    fixture.daemon = await startDaemon(args);
    fixture.context = await newContext();
  });
  after(async () => {
    await fixture.context?.close();
    await fixture.daemon?.stop();
  });
  return fixture;
}

export function screenshotPath(name) {
  mkdirSync(outputDir, { recursive: true });
  return path.join(outputDir, name);
}

// axe-core evaluated in the page through the debugging protocol (not a <script>: the page's CSP
// rightly refuses inline script), then run on the whole document.
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof globalThis.axe === 'object'))) {
    await page.evaluate(`${axeSource}\n;true`);
  }
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
  }));
}

export async function assertNoAxeViolations(page, what) {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe-core violations (${what}):\n${JSON.stringify(violations, null, 2)}`);
}

export async function horizontalOverflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

export const rowSel = (id) => `#task-rows tr[data-id="${id}"]`;

export async function waitForRowState(page, id, state, timeout = 30000) {
  try {
    await page.waitForSelector(`${rowSel(id)}[data-state="${state}"]`, { timeout });
  } catch (e) {
    // Say what the page showed instead, so that a failure on CI can be told apart.
    const seen = await page.evaluate((rowId) => ({
      row: document.querySelector(`#task-rows tr[data-id="${rowId}"]`)?.dataset.state ?? 'no row',
      connection: document.querySelector('#connection')?.dataset.state,
      bar: document.querySelector('#new-tasks')?.textContent,
      note: document.querySelector('#live-note')?.textContent,
      scrollY,
    }), id).catch(() => null);
    e.message += `\n${id}: wanted ${state}, the page shows ${JSON.stringify(seen)}`;
    throw e;
  }
}

export async function waitForStepState(page, stepId, state, timeout = 30000) {
  await page.waitForSelector(`#detail-body li[data-step-id="${stepId}"][data-state="${state}"]`,
    { timeout });
}

export async function waitForCount(page, state, n, timeout = 30000) {
  await page.waitForSelector(`#counts button[data-state="${state}"] .count-n:text-is("${n.toLocaleString('en')}")`,
    { timeout });
}

// Answers the page's confirmation dialog.
export async function confirm(page, yes = true) {
  await page.waitForSelector('#confirm-dialog[open]');
  await page.click(yes ? '#confirm-yes' : '#confirm-no');
  await page.waitForSelector('#confirm-dialog', { state: 'hidden' });
}

export async function submit(base, spec, token) {
  const r = await apiCall(base, 'POST', '/api/tasks', spec, token);
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data;
}

export async function waitUntil(fn, { timeout = 30000, interval = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// Holds back the page's event stream (connected after the first render, from feed.js) in every
// page of `context` until the returned function is called: what happens meanwhile reaches the
// page only by fetching.
export async function holdFeed(context) {
  let release;
  const gate = new Promise((resolve) => {
    release = resolve;
  });
  await context.route(/\/feed\.js$/, async (route) => {
    await gate;
    await route.continue();
  });
  return release;
}

// Unfolds one of the page's folded panels (<details id=...>), unless it is open already.
export async function openFold(page, id) {
  if (!(await page.locator(`#${id}`).evaluate((d) => d.open))) await page.click(`#${id} > summary`);
}

// Moves the pointer off the table (the page holds new rows back while it is over it).
export async function pointerAway(page) {
  await page.mouse.move(2, 2);
}
