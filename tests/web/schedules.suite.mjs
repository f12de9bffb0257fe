// The schedules panel as a user drives it, against schedules made through the API: the list
// with its next fire times in the browser's zone, a last run that opens its task, pause and
// resume, "Run now", delete behind the confirmation, the add form with the daemon's message at
// the field it names, a fire showing without a reload, fetching only while the panel is open and
// the tab visible, and axe-core in light and dark mode at 1280 and 390 px.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { apiCall, openPage, startDaemon } from './harness.mjs';
import {
  assertNoAxeViolations, confirm, horizontalOverflow, newContext, openFold, rowSel, screenshotPath,
  waitUntil,
} from './helpers.mjs';

const ZONE = 'America/New_York';
const card = (name) => `#schedule-list li[data-name="${name}"]`;

// "2026-12-02 20:30:00": the instant on the wall clock of `timeZone`.
function wallClock(seconds, timeZone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    second: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(seconds * 1000)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

async function addSchedule(base, body) {
  const r = await apiCall(base, 'POST', '/api/schedules', body);
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data;
}

const getSchedule = async (base, name) => apiCall(base, 'GET', `/api/schedules/${name}`);

describe('schedules panel', () => {
  let daemon;
  let context;
  before(async () => {
    daemon = await startDaemon();
    // The browser in another zone than the daemon's schedules: times show on the user's clock.
    context = await newContext({ timezoneId: ZONE });
  });
  after(async () => {
    await context?.close();
    await daemon?.stop();
  });

  test('lists each schedule: when, next fire in local time (5 on demand), last run, counts', async () => {
    await addSchedule(daemon.base, {
      name: 'nightly', cron: '30 2 * * *', timezone: 'Europe/Berlin', spec: { name: 'nightly report', value: 1 },
    });
    await addSchedule(daemon.base, { name: 'hourly', every: 3600, spec: { name: 'hourly sweep', value: 2 } });
    const { data: run } = await apiCall(daemon.base, 'POST', '/api/schedules/nightly/trigger');
    await waitUntil(async () => (await apiCall(daemon.base, 'GET', `/api/tasks/${run.id}`)).data.state === 'done',
      { what: 'the triggered run to finish' });
    const nightly = (await getSchedule(daemon.base, 'nightly')).data;

    const page = await openPage(context, daemon.base);
    // Folded, the panel asks nothing of the daemon; unfolded, it lists.
    await openFold(page, 'schedules-panel');
    await page.waitForSelector(`${card('nightly')} .sched-last a:text-is("${run.id}")`);
    assert.equal(await page.locator('#schedule-list > li').count(), 2);
    assert.match(await page.textContent('#schedules-summary'), /^2 schedules\. Times in E[SD]T\.$/);

    assert.equal((await page.textContent(`${card('nightly')} .sched-when`)).trim(), '30 2 * * * Europe/Berlin');
    assert.equal((await page.textContent(`${card('hourly')} .sched-when`)).trim(), 'every 3,600 s (1 h 0 min)');
    // 02:30 in Berlin, shown on New York's clock (20:30 or 21:30 the day before).
    const next = page.locator(`${card('nightly')} time.next-time`);
    assert.match(await next.textContent(), new RegExp(`^${wallClock(nightly.next_fires[0], ZONE)} E[SD]T$`));
    assert.equal(await next.getAttribute('datetime'), new Date(nightly.next_fires[0] * 1000).toISOString());
    assert.match(await next.getAttribute('title'), / UTC$/);
    assert.match(await page.textContent(`${card('nightly')} .sched-until`), /^\(in (\d+ h \d+ min|\d+ min \d+ s|\d+ s)\)$/);
    // The next five, on demand.
    assert.equal(await page.locator(`${card('nightly')} .fires-list`).isVisible(), false);
    await page.click(`${card('nightly')} .fires summary`);
    const five = await page.locator(`${card('nightly')} .fires-list time`).evaluateAll(
      (times) => times.map((t) => t.getAttribute('datetime')));
    assert.deepEqual(five, nightly.next_fires.map((s) => new Date(s * 1000).toISOString()));

    assert.equal(await page.getAttribute(`${card('nightly')} .sched-last .badge`, 'data-state'), 'done');
    assert.equal(await page.textContent(`${card('nightly')} .sched-counts`), '1 run, 0 skipped');
    assert.equal(await page.innerText(`${card('hourly')} .sched-last`), 'none yet');
    assert.equal(await page.textContent(`${card('hourly')} .badge.sched-active`), '↻active');

    // The last run is a link that opens the task's detail, as a task id does elsewhere.
    await page.click(`${card('nightly')} .sched-last a`);
    await page.waitForSelector(`#detail-id:text-is("${run.id}")`);
    await page.waitForSelector('#detail-body .times dd:text-is("nightly")');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'detail-title');
    assert.match(page.url(), new RegExp(`[?&]task=${run.id}$`));
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('pause and resume: the card and the daemon agree; a change made elsewhere shows too', async () => {
    const page = await openPage(context, daemon.base);
    await openFold(page, 'schedules-panel');
    const pause = `${card('nightly')} button.sched-pause`;
    await page.waitForSelector(`${pause}:text-is("Pause")`);
    assert.equal(await page.getAttribute(pause, 'aria-label'), 'Pause nightly');
    // From the keyboard: the button keeps the focus as its label turns to "Resume".
    await page.focus(pause);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`${card('nightly')}[data-paused]`);
    assert.equal((await getSchedule(daemon.base, 'nightly')).data.paused, true);
    assert.equal(await page.textContent(pause), 'Resume');
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('sched-pause')), true);
    assert.equal(await page.textContent(`${card('nightly')} .badge.sched-paused`), '‖paused');
    assert.equal(await page.innerText(`${card('nightly')} .sched-next`), 'none while paused');
    assert.equal(await page.locator(`${card('nightly')} time.next-time`).isVisible(), false);
    assert.equal(await page.textContent('#schedules-status'), 'Paused nightly.');
    await page.waitForSelector('#schedules-summary:has-text("2 schedules, 1 paused.")');

    await page.keyboard.press('Space');
    await page.waitForSelector(`${card('nightly')}:not([data-paused]) time.next-time`);
    assert.equal((await getSchedule(daemon.base, 'nightly')).data.paused, false);
    assert.equal(await page.textContent(pause), 'Pause');

    // Another client pauses it: the panel's polling (every 5 s while open) shows it.
    assert.equal((await apiCall(daemon.base, 'POST', '/api/schedules/hourly/pause')).status, 200);
    await page.waitForSelector(`${card('hourly')}[data-paused]`, { timeout: 15000 });
    await apiCall(daemon.base, 'POST', '/api/schedules/hourly/resume');
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('"Run now" makes a task of the schedule, opened in the detail and listed', async () => {
    const page = await openPage(context, daemon.base);
    await openFold(page, 'schedules-panel');
    await page.waitForSelector(`${card('hourly')} .sched-last:has-text("none yet")`);
    await page.click(`${card('hourly')} button.sched-trigger`);
    await page.waitForSelector('#schedules-status:has-text("hourly made t")');
    const id = /made (t\d+)/.exec(await page.textContent('#schedules-status'))[1];
    const { data: task } = await apiCall(daemon.base, 'GET', `/api/tasks/${id}`);
    assert.equal(task.schedule, 'hourly');
    assert.equal(task.name, 'hourly sweep');
    await page.waitForSelector(`#detail-id:text-is("${id}")`);
    await page.waitForSelector('#detail-body .times dd:text-is("hourly")');
    await page.waitForSelector(`${rowSel(id)} td.name:text-is("hourly sweep")`);
    // The card's last run follows, with the run's state.
    await page.waitForSelector(`${card('hourly')} .sched-last a:text-is("${id}")`);
    await page.waitForSelector(`${card('hourly')} .sched-last .badge[data-state="done"]`);
    await page.waitForSelector(`${card('hourly')} .sched-counts:text-is("1 run, 0 skipped")`);
    // Its re-run is a task of its own: not the schedule's (which only the daemon may say).
    await page.click('#detail-rerun');
    await page.waitForFunction((old) => /^t\d+$/.test(document.querySelector('#detail-id')?.textContent ?? '') &&
      document.querySelector('#detail-id').textContent !== old, id);
    const rerun = (await page.textContent('#detail-id')).trim();
    const { data: again } = await apiCall(daemon.base, 'GET', `/api/tasks/${rerun}`);
    assert.equal(again.name, 'hourly sweep');
    assert.ok(!again.schedule, JSON.stringify(again.schedule));
    assert.equal(await page.textContent('#detail-error'), '');
    await page.waitForSelector(`${card('hourly')} .sched-counts:text-is("1 run, 0 skipped")`);
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('a schedule that fires shows its runs without a reload', async () => {
    await addSchedule(daemon.base, { name: 'often', every: 1.5, spec: { name: 'often', value: 3 } });
    const page = await openPage(context, daemon.base);
    await openFold(page, 'schedules-panel');
    await page.waitForSelector(card('often'));
    // Fetched again just after each fire time (every 1.5 s here), not only every 5 s: the
    // counts change twice, each time within 3 fire periods.
    const counts = page.locator(`${card('often')} .sched-counts`);
    for (let i = 0; i < 2; ++i) {
      const before = await counts.textContent();
      await waitUntil(async () => (await counts.textContent()) !== before, { timeout: 4500, what: `fire ${i + 1} shown` });
    }
    assert.match(await counts.textContent(), /^\d+ runs, 0 skipped; last fired /);
    assert.match(await page.textContent(`${card('often')} .sched-last a`), /^t\d+$/);
    await apiCall(daemon.base, 'DELETE', '/api/schedules/often');
    await page.waitForSelector(card('often'), { state: 'detached', timeout: 15000 });
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('delete asks first; "Keep it" keeps it; then it goes and the focus stays in the list', async () => {
    await addSchedule(daemon.base, { name: 'doomed', every: 3600, spec: { value: 1 } });
    const page = await openPage(context, daemon.base);
    await openFold(page, 'schedules-panel');
    await page.click(`${card('doomed')} button.sched-delete`);
    assert.equal(await page.textContent('#confirm-title'), 'Delete schedule doomed?');
    assert.equal(await page.textContent('#confirm-yes'), 'Delete schedule');
    await confirm(page, false);
    assert.equal((await getSchedule(daemon.base, 'doomed')).status, 200);
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('sched-delete')), true);

    await page.click(`${card('doomed')} button.sched-delete`);
    await confirm(page);
    await page.waitForSelector(card('doomed'), { state: 'detached' });
    assert.equal((await getSchedule(daemon.base, 'doomed')).status, 404);
    assert.equal(await page.textContent('#schedules-status'), 'Deleted schedule doomed.');
    // The card after it has the focus.
    assert.equal(await page.evaluate(() => document.activeElement?.closest('#schedule-list > li')?.dataset.name), 'hourly');
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });

  test('the add form shows the daemon\'s 400 message at the field it names', async () => {
    const page = await openPage(context, daemon.base);
    await openFold(page, 'schedules-panel');
    await page.click('#schedule-add > summary');
    assert.equal(await page.inputValue('#sched-timezone'), ZONE);

    await page.fill('#sched-name', 'reports');
    await page.fill('#sched-cron', '61 * * * *');
    await page.click('#sched-add');
    await page.waitForSelector('#sched-cron-error:text-is("$.cron: minute field: 61 is out of range 0-59")');
    assert.equal(await page.getAttribute('#sched-cron', 'aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'sched-cron');
    // Editing the field clears its message.
    await page.fill('#sched-cron', '*/5 * * * *');
    assert.equal(await page.textContent('#sched-cron-error'), '');
    assert.equal(await page.getAttribute('#sched-cron', 'aria-invalid'), null);

    await page.fill('#sched-timezone', 'Mars/Olympus');
    await page.click('#sched-add');
    await page.waitForSelector('#sched-timezone-error:text-is("$.timezone: unknown time zone \\"Mars/Olympus\\"")');
    await page.fill('#sched-timezone', 'Europe/Berlin');

    await page.fill('#sched-spec', '{"sleep": ');
    await page.click('#sched-add');
    await page.waitForSelector('#sched-spec-error:has-text("Not valid JSON")');
    await page.fill('#sched-spec', '{"gather": [{"sleep": 1}, {"sleep": -1}]}');
    await page.click('#sched-add');
    await page.waitForSelector('#sched-spec-error:has-text("$.spec.gather[1].sleep")');

    // A name taken: the conflict (409) is the name's.
    await page.fill('#sched-spec', '{"name": "report", "value": 1}');
    await page.fill('#sched-name', 'nightly');
    await page.click('#sched-add');
    await page.waitForSelector('#sched-name-error:has-text("a schedule named nightly exists already")');

    // An interval instead of a cron expression.
    await page.fill('#sched-name', 'reports');
    await page.check('#sched-kind-every');
    assert.equal(await page.locator('#sched-cron').isVisible(), false);
    await page.fill('#sched-every', '0');
    await page.click('#sched-add');
    await page.waitForSelector('#sched-every-error:has-text("$.every: must be a number of seconds")');
    await page.fill('#sched-every', '7200');
    await page.selectOption('#sched-overlap', 'queue');
    await page.click('#sched-add');
    await page.waitForSelector('#sched-form-status:text-is("Added reports.")');
    await page.waitForSelector(`${card('reports')} .sched-when:text-is("every 7,200 s (2 h 0 min)")`);
    const made = (await getSchedule(daemon.base, 'reports')).data;
    assert.equal(made.every, 7200);
    assert.equal(made.overlap, 'queue');
    assert.deepEqual(made.spec, { name: 'report', value: 1 });
    assert.equal(await page.inputValue('#sched-name'), '');
    assert.deepEqual(page.consoleErrors([/\/api\/schedules$/]), []);
    await page.close();
  });

  test('fetches only while the panel is open and the tab visible', async () => {
    const page = await openPage(context, daemon.base);
    const asked = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/schedules') asked.push(Date.now());
    });
    await page.waitForTimeout(1500);
    assert.equal(asked.length, 0, 'folded: no requests');
    await openFold(page, 'schedules-panel');
    await page.waitForSelector(card('nightly'));
    // That it polls while open and shown, the pause test checks (a change made elsewhere).
    // Hidden (another tab in front): nothing until it is shown again.
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    const hiddenAt = asked.length;
    await page.waitForTimeout(5500);
    assert.equal(asked.length, hiddenAt, 'hidden: no requests');
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await waitUntil(() => asked.length > hiddenAt, { timeout: 2000, what: 'a fetch when shown again' });
    // Folded again: no more.
    await page.click('#schedules-panel > summary');
    await page.waitForTimeout(300);
    const foldedAt = asked.length;
    await page.waitForTimeout(5500);
    assert.equal(asked.length, foldedAt, 'folded again: no requests');
    assert.deepEqual(page.consoleErrors(), []);
    await page.close();
  });
});

describe('schedules and queues panels: screens', () => {
  let daemon;
  let queues;
  before(async () => {
    daemon = await startDaemon();
    await addSchedule(daemon.base, {
      name: 'nightly', cron: '30 2 * * *', timezone: 'Europe/Berlin', spec: { name: 'nightly report', value: 1 },
    });
    await addSchedule(daemon.base, { name: 'paused.one', every: 90, spec: { value: 1 } });
    await apiCall(daemon.base, 'POST', '/api/schedules/paused.one/pause');
    await addSchedule(daemon.base, { name: `${'long-name-'.repeat(12)}end`, cron: '0 */2 * * MON-FRI', spec: { value: 1 } });
    await apiCall(daemon.base, 'POST', '/api/schedules/nightly/trigger');
    queues = (await apiCall(daemon.base, 'GET', '/api/queues')).status === 200;
    if (queues) {
      await apiCall(daemon.base, 'PUT', '/api/queues/builds', { max_running: 1 });
      for (let i = 0; i < 2; ++i) await apiCall(daemon.base, 'POST', '/api/tasks', { name: `build ${i}`, queue: 'builds', sleep: 3600 });
    }
  });
  after(async () => {
    await daemon?.stop();
  });

  async function openAll(page) {
    await openFold(page, 'schedules-panel');
    await page.waitForSelector(`${card('nightly')} .sched-last .badge`);
    await page.click(`${card('nightly')} .fires summary`);
    await page.click('#schedule-add > summary');
    if (queues) {
      await openFold(page, 'queues-panel');
      await page.waitForSelector('#queue-list li[data-name="builds"]');
    }
  }

  for (const scheme of ['light', 'dark']) {
    test(`1280 px, ${scheme}: axe-core finds nothing in the open panels; screenshot`, async () => {
      const context = await newContext({ colorScheme: scheme });
      try {
        const page = await openPage(context, daemon.base);
        await openAll(page);
        await assertNoAxeViolations(page, `schedules 1280 px ${scheme}`);
        // An error at a field, and the confirmation, too.
        await page.fill('#sched-cron', 'nope');
        await page.fill('#sched-name', 'x');
        await page.click('#sched-add');
        await page.waitForSelector('#sched-cron-error:not(:empty)');
        await assertNoAxeViolations(page, `schedules 1280 px ${scheme}, field error`);
        await page.click(`${card('nightly')} button.sched-delete`);
        await page.waitForSelector('#confirm-dialog[open]');
        await assertNoAxeViolations(page, `schedules 1280 px ${scheme}, confirmation`);
        await confirm(page, false);
        await page.locator('#schedules-panel').screenshot({ path: screenshotPath(`schedules-1280${scheme === 'dark' ? '-dark' : ''}.png`) });
        if (queues) await page.locator('#queues-panel').screenshot({ path: screenshotPath(`queues-1280${scheme === 'dark' ? '-dark' : ''}.png`) });
        assert.ok(await horizontalOverflow(page) <= 0);
        assert.deepEqual(page.consoleErrors([/\/api\/schedules$/]), []);
      } finally {
        await context.close();
      }
    });

    test(`390 px, ${scheme}: no sideways scrolling, axe-core finds nothing; screenshot`, async () => {
      const context = await newContext({ colorScheme: scheme, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      try {
        const page = await openPage(context, daemon.base);
        await openAll(page);
        assert.ok(await horizontalOverflow(page) <= 0, 'no sideways scrolling at 390 px');
        await assertNoAxeViolations(page, `schedules 390 px ${scheme}`);
        // Each card's buttons stay inside the card.
        const outside = await page.evaluate(() => [...document.querySelectorAll('.card button, .card input')].filter((b) => {
          const r = b.getBoundingClientRect();
          const c = b.closest('.card').getBoundingClientRect();
          return r.left < c.left || r.right > c.right;
        }).length);
        assert.equal(outside, 0);
        await page.locator('#schedules-panel').screenshot({ path: screenshotPath(`schedules-390${scheme === 'dark' ? '-dark' : ''}.png`) });
        assert.deepEqual(page.consoleErrors(), []);
      } finally {
        await context.close();
      }
    });
  }

  test('the panels\' icons have glyphs in the page\'s fonts', async () => {
    const context = await newContext();
    try {
      const page = await openPage(context, daemon.base);
      await openAll(page);
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
        const icons = [...document.querySelectorAll('#schedules-panel .badge .icon, #queues-panel .badge .icon')];
        return icons.filter((icon) => {
          const font = getComputedStyle(icon).font;
          return pixels(icon.textContent, font) === pixels('\u{10FFFD}', font);
        }).map((icon) => icon.textContent);
      });
      assert.deepEqual(missing, []);
    } finally {
      await context.close();
    }
  });
});
