// The detail pane and the keyboard: focus across live refreshes (bug 6), the timeout box's
// errors (bug 8), links and the jump box, spec and re-run, attempts and waiting time, one time
// zone, exec output once with ANSI colours, the pane in view, the table as one Tab stop, step
// buttons named by step, names isolated and spelled out, long names.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { apiCall, openPage, startDaemon } from './harness.mjs';
import {
  daemonFixture, newContext, pointerAway, rowSel, submit, waitForRowState, waitForStepState,
  waitUntil,
} from './helpers.mjs';

const GATHER = {
  name: 'three sleepers',
  gather: [{ name: 'bar', sleep: 3600 }, { name: 'baz', sleep: 3600 }, { name: 'qux', sleep: 3600 }],
  return_exceptions: true,
};

describe('detail pane', () => {
  const env = daemonFixture(['--allow-exec']);

  test('bug 6: focus stays on a step\'s cancel button while the pane updates live', async () => {
    const t = await submit(env.daemon.base, GATHER);
    const page = await openPage(env.context, env.daemon.base);
    await page.click(rowSel(t.id));
    await waitForStepState(page, `${t.id}.2`, 'running');
    await page.focus(`#detail-body button[data-step="${t.id}.2"]`);
    // Another client cancels a sibling: the pane refreshes its step tree.
    assert.equal((await apiCall(env.daemon.base, 'POST', `/api/tasks/${t.id}.1/cancel`)).status, 202);
    await waitForStepState(page, `${t.id}.1`, 'cancelled');
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.step), `${t.id}.2`);
    // The cancelled step's own button goes; the others stay.
    assert.equal(await page.locator(`#detail-body button[data-step="${t.id}.1"]`).isVisible(), false);
    assert.deepEqual(page.consoleErrors(), []);
    await apiCall(env.daemon.base, 'POST', `/api/tasks/${t.id}/cancel`);
    await page.close();
  });

  test('bug 8: a timeout of -1 gets the daemon\'s message, not the browser\'s popup', async () => {
    const t = await submit(env.daemon.base, { name: 'bad timeout', sleep: 3600 });
    const page = await openPage(env.context, env.daemon.base);
    await page.click(rowSel(t.id));
    await page.waitForSelector('#timeout-input');
    await page.fill('#timeout-input', '-1');
    await page.click('#detail-body button:has-text("Set timeout")');
    await page.waitForSelector('#detail-error:has-text("$.timeout: expected a non-negative number")');
    assert.equal((await apiCall(env.daemon.base, 'GET', `/api/tasks/${t.id}`)).data.state, 'running');
    assert.deepEqual(page.consoleErrors([/\/timeout$/]), []);
    await apiCall(env.daemon.base, 'POST', `/api/tasks/${t.id}/cancel`);
    await page.close();
  });

  test('links: filter, page and open task are in the address; reload and Back restore them', async () => {
    await Promise.all(Array.from({ length: 60 }, (_, i) => submit(env.daemon.base, { name: `linked ${i}`, value: i })));
    // All done and the stream up before paging: otherwise (a loaded machine) a refetch of the
    // older page brings tasks that finished since, and the rows (reused by position) change
    // under the click.
    await waitUntil(async () => (await apiCall(env.daemon.base, 'GET', '/api/tasks?state=done&q=linked')).data.total === 60,
      { what: '60 linked tasks done' });
    const page = await openPage(env.context, env.daemon.base);
    await page.waitForSelector('#connection[data-state="live"]');
    await page.click('#counts button[data-state="done"]');
    await page.waitForURL(/[?&]state=done/);
    // The filtered page on screen before paging from it: "Older" pages from the rows shown, and
    // on a loaded machine the unfiltered ones can still be there (CI, 2 Dec: a timeout here).
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#task-rows tr')];
      return document.querySelector('#task-rows').getAttribute('aria-busy') === 'false' &&
        rows.length > 0 && rows.every((tr) => tr.dataset.state === 'done');
    });
    await page.click('#page-older');
    await page.waitForURL(/[?&]before=t\d+/);
    const first = await page.locator('#task-rows tr').first().getAttribute('data-id');
    await page.click(rowSel(first));
    await page.waitForURL(new RegExp(`[?&]task=${first}(&|$)`));
    await page.waitForSelector(`#detail-id:text-is("${first}")`);
    const label = await page.textContent('#page-label');
    // A reload (or the link, shared) opens the same view.
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.waitForSelector('html[data-ready=true]');
    assert.equal(await page.inputValue('#filter-state'), 'done');
    assert.equal(await page.getAttribute('#counts button[data-state="done"]', 'aria-pressed'), 'true');
    assert.equal(await page.locator('#task-rows tr').first().getAttribute('data-id'), first);
    await page.waitForSelector(`#detail-id:text-is("${first}")`);
    assert.equal(await page.textContent('#page-label'), label);
    // Back: the same page, no task open.
    await page.goBack({ waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => !location.search.includes('task='));
    await page.waitForSelector('#detail-placeholder', { state: 'visible' });
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('the jump box opens a task or a step by id, and says what it wants otherwise', async () => {
    const t = await submit(env.daemon.base, GATHER);
    const page = await openPage(env.context, env.daemon.base);
    await page.fill('#jump-input', `${t.id}.2`);
    await page.press('#jump-input', 'Enter');
    await page.waitForSelector(`#detail-body li.target[data-step-id="${t.id}.2"]`);
    assert.equal(await page.textContent('#detail-body h2'), 'three sleepers');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'detail-title');
    await page.waitForURL(new RegExp(`task=${t.id}\\.2`));
    await page.fill('#jump-input', 'job 7');
    await page.press('#jump-input', 'Enter');
    await page.waitForSelector('#jump-error:has-text("t42")');
    assert.equal(await page.getAttribute('#jump-input', 'aria-invalid'), 'true');
    await page.fill('#jump-input', 't999999');
    await page.press('#jump-input', 'Enter');
    await page.waitForSelector('#detail-notice:has-text("t999999 is not known to the daemon")');
    assert.deepEqual(page.consoleErrors([/\/api\/tasks\/t999999$/]), []);
    await apiCall(env.daemon.base, 'POST', `/api/tasks/${t.id}/cancel`);
    await page.close();
  });

  test('the spec shows pretty with a copy button; re-run submits it again; attempts show', async () => {
    const spec = { name: 'again', sequence: [{ sleep: 0.01 }, { value: 7 }] };
    const t = await submit(env.daemon.base, spec);
    const ctx = await newContext();
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await openPage(ctx, env.daemon.base);
    await waitForRowState(page, t.id, 'done');
    await page.click(rowSel(t.id));
    await page.waitForSelector('#detail-body .result');
    await page.click('#detail-body .spec summary');
    assert.deepEqual(JSON.parse(await page.textContent('#detail-body .spec-json')), spec);
    assert.match(await page.textContent('#detail-body .spec-json'), /\n {2}"name": "again"/);
    await page.click('#detail-body button:has-text("Copy spec")');
    await page.waitForSelector('#detail-body .spec .note:text-is("Copied.")');
    assert.deepEqual(JSON.parse(await page.evaluate(() => navigator.clipboard.readText())), spec);
    assert.equal(await page.textContent('#detail-body dt:text-is("Attempts") + dd'), '1');
    await page.click('#detail-rerun');
    await page.waitForFunction((old) => {
      const id = document.querySelector('#detail-id')?.textContent;
      return id && id !== old;
    }, t.id);
    const rerun = await page.textContent('#detail-id');
    await page.waitForURL(new RegExp(`task=${rerun}`));
    const copy = (await apiCall(env.daemon.base, 'GET', `/api/tasks/${rerun}`)).data;
    assert.deepEqual(copy.spec, spec);
    await waitForRowState(page, rerun, 'done');
    assert.deepEqual(page.consoleErrors(), []);
    await ctx.close();
  });

  test('times are local with the zone named, UTC on hover', async () => {
    const t = await submit(env.daemon.base, { name: 'in Kolkata', value: 1 });
    const ctx = await newContext({ timezoneId: 'Asia/Kolkata', locale: 'en-US' });
    const page = await openPage(ctx, env.daemon.base);
    assert.equal(await page.textContent('#zone'), '(GMT+5:30)');
    await page.click(rowSel(t.id));
    await page.waitForSelector('#detail-body .result');
    const created = page.locator('#detail-body dt:text-is("Created") + dd time');
    const shown = await created.textContent();
    const utc = await created.getAttribute('title');
    assert.match(shown, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} GMT\+5:30$/);
    assert.match(utc, / UTC$/);
    const local = new Date(`${shown.slice(0, 23).replace(' ', 'T')}+05:30`).getTime();
    const inUtc = new Date(`${utc.slice(0, 23).replace(' ', 'T')}Z`).getTime();
    assert.equal(local, inUtc);
    assert.ok(Math.abs(local / 1000 - t.created) < 0.002, `${shown} is ${t.created}`);
    // The table's times are in the same zone (its column is the start time, not the creation).
    const started = await page.locator('#detail-body dt:text-is("Started") + dd time').textContent();
    assert.match(started, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} GMT\+5:30$/);
    const cell = page.locator(`${rowSel(t.id)} td.started time`);
    assert.equal(await cell.textContent(), started.slice(11, 23));
    assert.deepEqual(page.consoleErrors(), []);
    await ctx.close();
  });

  test('a pending task shows how long it has waited', async () => {
    const d = await startDaemon(['--max-running', '1']);
    try {
      const blocker = await submit(d.base, { name: 'blocker', sleep: 3600 });
      const waiting = await submit(d.base, { name: 'waits', value: 1 });
      const page = await openPage(env.context, d.base);
      await page.click(rowSel(waiting.id));
      const dd = page.locator('#detail-body dt:text-is("Waiting") + dd');
      await dd.waitFor();
      // Shown with a figure from the start (it was an empty row until the first answer).
      const a = await dd.textContent();
      assert.match(a, /\d( ms| s)$/);
      // It counts up.
      await page.waitForFunction((before) => [...document.querySelectorAll('#detail-body dt')]
        .some((dt) => dt.textContent === 'Waiting' && dt.nextElementSibling.textContent !== before), a);
      await apiCall(d.base, 'POST', `/api/tasks/${blocker.id}/cancel`);
      await waitForRowState(page, waiting.id, 'done');
      // The list and the open task are refreshed by separate requests: the row may say done a
      // poll before the detail pane does, so wait (bounded) for the pane to drop the figure.
      await page.locator('#detail-body dt:text-is("Waiting")').waitFor({ state: 'hidden', timeout: 5000 });
      assert.deepEqual(page.consoleErrors(), []);
      await page.close();
    } finally {
      await d.stop();
    }
  });

  test('exec output shows once, with its ANSI colours rendered and escapes gone', async () => {
    const t = await submit(env.daemon.base, {
      name: 'colours',
      exec: ['sh', '-c', 'printf "\\033[31m%s\\033[0m \\033[1;32m%s\\033[0m\\033]0;title\\007\\n" $((40+2))red $((6*7))green; echo $((5*5))oops >&2'],
    });
    const page = await openPage(env.context, env.daemon.base);
    await waitForRowState(page, t.id, 'done');
    await page.click(rowSel(t.id));
    await page.waitForSelector('#detail-body .log .ansi-fg-1');
    assert.equal(await page.textContent('#detail-body .log .ansi-fg-1'), '42red');
    assert.equal(await page.textContent('#detail-body .log .ansi-bold.ansi-fg-2'), '42green');
    assert.match(await page.textContent('#detail-body .log .stderr'), /25oops/);
    const out = await page.textContent('#detail-body .log .stdout');
    assert.equal(out, '42red 42green\n');
    const text = await page.evaluate(() => document.querySelector('#detail-body').innerText);
    for (const word of ['42red', '42green', '25oops']) {
      assert.equal(text.split(word).length - 1, 1, `"${word}" shown once in the pane`);
    }
    assert.match(text, /exit_code": 0/);
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('the pane stays in view when a low row is clicked', async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => submit(env.daemon.base, { name: `tall ${i}`, value: i })));
    const page = await openPage(env.context, env.daemon.base);
    const last = page.locator('#task-rows tr').last();
    await last.scrollIntoViewIfNeeded();
    await last.click();
    await page.waitForSelector('#detail-body .result');
    const box = await page.locator('#detail').boundingBox();
    const height = page.viewportSize().height;
    assert.ok(box.y >= 0 && box.y < height / 2, `the pane's top at ${box.y}`);
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });
});

describe('keyboard and names', () => {
  const env = daemonFixture();

  test('the table is one Tab stop: arrows move, Enter opens the detail and moves focus there', async () => {
    const tasks = [];
    for (let i = 0; i < 5; ++i) tasks.push(await submit(env.daemon.base, { name: `key ${i}`, value: i }));
    const g = await submit(env.daemon.base, GATHER);
    const page = await openPage(env.context, env.daemon.base);
    await pointerAway(page);
    await page.focus('#select-page');
    await page.keyboard.press('Tab');  // past the bulk buttons (disabled: not focusable)
    const onRow = () => page.evaluate(() => document.activeElement?.closest('#task-rows tr')?.dataset.id ?? null);
    await waitForFocusInTable(page);
    assert.equal(await onRow(), g.id, 'Tab lands on the first row');
    await page.keyboard.press('Tab');
    assert.equal(await onRow(), null, 'one more Tab leaves the table');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await onRow(), g.id);
    await page.keyboard.press('ArrowDown');
    assert.equal(await onRow(), tasks[4].id);
    await page.keyboard.press('End');
    const ids = await page.evaluate(() => [...document.querySelectorAll('#task-rows tr')].map((tr) => tr.dataset.id));
    assert.equal(await onRow(), ids[ids.length - 1]);
    await page.keyboard.press('Home');
    assert.equal(await onRow(), g.id);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`#detail-id:text-is("${g.id}")`);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'detail-title');
    // Leaving and coming back lands on the row last used, and only one row is tabbable.
    assert.equal(await page.locator('#task-rows tr[tabindex="0"]').count(), 1);
    // Step buttons say which step they cancel.
    await page.getByRole('button', { name: `Cancel step bar (${g.id}.1)` }).waitFor();
    await page.getByRole('button', { name: `Cancel step qux (${g.id}.3)` }).waitFor();
    assert.deepEqual(page.consoleErrors(), []);
    await apiCall(env.daemon.base, 'POST', `/api/tasks/${g.id}/cancel`);
    await page.close();
  });

  test('names are isolated and their direction controls spelled out; long names truncate with the full name on hover', async () => {
    const tricky = await submit(env.daemon.base, { name: 'invoice\u202Efdp.exe', value: 1 });
    const long = await submit(env.daemon.base, { name: `${'very-long-name-'.repeat(16)}end`, value: 2 });
    const page = await openPage(env.context, env.daemon.base);
    const cell = `${rowSel(tricky.id)} td.name`;
    await page.waitForSelector(cell);
    assert.equal(await page.evaluate((sel) => getComputedStyle(document.querySelector(sel)).unicodeBidi, cell), 'isolate');
    const shown = await page.evaluate((sel) => document.querySelector(sel).innerText, cell);
    assert.equal(shown, 'invoice[U+202E]fdp.exe');
    assert.equal(await page.evaluate((sel) => document.querySelector(sel).textContent.includes('\u202E'), cell), false);
    // Laid out left to right as written: "fdp.exe" comes after "invoice", in that order.
    const order = await page.evaluate((sel) => {
      const bdi = document.querySelector(sel);
      const range = document.createRange();
      const text = bdi.lastChild;
      range.setStart(text, 0);
      range.setEnd(text, 1);
      const f = range.getBoundingClientRect().left;
      range.setStart(text, text.length - 1);
      range.setEnd(text, text.length);
      return { f, e: range.getBoundingClientRect().left, start: bdi.firstChild.textContent };
    }, cell);
    assert.equal(order.start, 'invoice');
    assert.ok(order.f < order.e, 'the name reads in its written order');
    await page.click(rowSel(tricky.id));
    await page.waitForSelector('#detail-body .result');
    assert.equal(await page.evaluate(() => document.querySelector('#detail-body h2').innerText), 'invoice[U+202E]fdp.exe');
    // The long name: cut with an ellipsis in the table, whole in its title and in the pane.
    const longCell = `${rowSel(long.id)} td.name`;
    assert.equal(await page.getAttribute(longCell, 'title'), long.name);
    assert.ok(await page.evaluate((sel) => {
      const td = document.querySelector(sel);
      return td.scrollWidth > td.clientWidth;
    }, longCell), 'truncated in the table');
    await page.click(rowSel(long.id));
    await page.waitForSelector(`#detail-body h2:text-is("${long.name}")`);
    const fits = await page.evaluate(() => {
      const h = document.querySelector('#detail-body h2');
      return h.getBoundingClientRect().right <= document.querySelector('#detail').getBoundingClientRect().right;
    });
    assert.ok(fits, 'the pane wraps the long name');
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });
});

async function waitForFocusInTable(page) {
  for (let i = 0; i < 12; ++i) {
    if (await page.evaluate(() => Boolean(document.activeElement?.closest('#task-rows')))) return;
    await page.keyboard.press('Tab');
  }
  throw new Error('Tab never reached the table');
}
