// Bug 1: a browser opens at most six HTTP/1.1 connections per host for all its tabs. With one
// event stream per tab (two while following output) the seventh tab froze. The tabs now share
// one stream: through a SharedWorker, or (a browser without one) through a leader tab elected
// with the Web Locks API; output is followed without a connection of its own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { openPage, startDaemon } from './harness.mjs';
import { newContext, pointerAway, rowSel, submit, waitForRowState } from './helpers.mjs';

const TABS = 8;
const TICKER = {
  name: 'ticker',
  exec: ['sh', '-c', 'i=0; while [ $i -lt 600 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done'],
};

// In every tab: the live stream works, a running exec task's output shows (followed), a filter
// and another task's detail load.
async function everyTabWorks(daemon, pages, ticker, alpha) {
  for (const page of pages) await pointerAway(page);
  const fresh = await submit(daemon.base, { name: 'seen by all', value: 1 });
  for (const page of pages) await waitForRowState(page, fresh.id, 'done');
  for (const page of pages) {
    await page.click(rowSel(ticker.id));
    await page.waitForSelector('#detail-body .log:has-text("tick")');
  }
  for (const page of pages) {
    await page.fill('#filter-name', 'alpha');
    await page.press('#filter-name', 'Enter');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#task-rows tr')];
      return rows.length > 0 && rows.every((tr) => tr.querySelector('td.name').textContent === 'alpha');
    }, null);
    await page.click(rowSel(alpha.id));
    await page.waitForSelector(`#detail-body #detail-id:text-is("${alpha.id}")`);
    await page.waitForSelector('#detail-body .result');
  }
}

describe('many tabs', () => {
  let daemon;
  let ticker;
  let alpha;
  before(async () => {
    daemon = await startDaemon(['--allow-exec']);
    ticker = await submit(daemon.base, TICKER);
    alpha = await submit(daemon.base, { name: 'alpha', value: 'a' });
    await submit(daemon.base, { name: 'beta', value: 'b' });
  });
  after(async () => {
    await daemon?.stop();
  });

  test(`bug 1: ${TABS} tabs share one event stream (SharedWorker): every tab loads details, output and filters`, async () => {
    const context = await newContext();
    try {
      const pages = [];
      for (let i = 0; i < TABS; ++i) pages.push(await openPage(context, daemon.base));
      for (const page of pages) {
        await page.waitForSelector('#connection[data-state="live"]');
        assert.equal(await page.evaluate(() => globalThis.uasyncdDashboard.feedMode()), 'worker');
      }
      await everyTabWorks(daemon, pages, ticker, alpha);
      for (const page of pages) assert.deepEqual(page.consoleErrors(), []);
    } finally {
      await context.close();
    }
  });

  test(`bug 1: without SharedWorker a leader tab relays the stream to ${TABS} tabs; another takes over when it closes`, async () => {
    const context = await newContext();
    await context.addInitScript(() => {
      delete globalThis.SharedWorker;
    });
    try {
      const pages = [];
      for (let i = 0; i < TABS; ++i) pages.push(await openPage(context, daemon.base));
      for (const page of pages) {
        await page.waitForSelector('#connection[data-state="live"]');
        assert.equal(await page.evaluate(() => globalThis.uasyncdDashboard.feedMode()), 'leader');
      }
      const leaders = [];
      for (const [i, page] of pages.entries()) {
        if (await page.evaluate(() => globalThis.uasyncdDashboard.feedLeading())) leaders.push(i);
      }
      assert.equal(leaders.length, 1, `one leader, not ${leaders.length}`);
      await everyTabWorks(daemon, pages, ticker, alpha);
      // The leader goes; one of the others holds the stream now, and every tab stays live.
      const [gone] = pages.splice(leaders[0], 1);
      await gone.close();
      for (const page of pages) {
        await page.fill('#filter-name', '');
        await page.press('#filter-name', 'Enter');
        await pointerAway(page);
      }
      const after = await submit(daemon.base, { name: 'after the leader left', value: 2 });
      for (const page of pages) await waitForRowState(page, after.id, 'done', 15000);
      let leading = 0;
      for (const page of pages) leading += await page.evaluate(() => globalThis.uasyncdDashboard.feedLeading()) ? 1 : 0;
      assert.equal(leading, 1);
      for (const page of pages) assert.deepEqual(page.consoleErrors(), []);
    } finally {
      await context.close();
    }
  });
});
