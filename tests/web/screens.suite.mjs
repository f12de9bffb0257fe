// Screens: 1280 px and 390 px, light and dark, axe-core with no violations in each, no
// sideways scrolling down to 320 px (WCAG 1.4.10 reflow: 1280 px at 400% zoom), and the
// screenshots (test-output/, listed in the report).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { openPage, startDaemon } from './harness.mjs';
import {
  assertNoAxeViolations, horizontalOverflow, newContext, pointerAway, rowSel, screenshotPath,
  submit, waitForStepState,
} from './helpers.mjs';

describe('screens', () => {
  let daemon;
  let gather;
  before(async () => {
    daemon = await startDaemon(['--allow-exec']);
    for (let i = 0; i < 8; ++i) await submit(daemon.base, { name: `nightly report ${i}`, value: i });
    await submit(daemon.base, { name: 'fails', fail: 'boom' });
    await submit(daemon.base, { name: 'invoice\u202Efdp.exe', value: 1 });
    await submit(daemon.base, { name: `${'a-rather-long-task-name-'.repeat(8)}end`, value: 1 });
    await submit(daemon.base, {
      name: 'build',
      exec: ['sh', '-c', 'printf "\\033[32mok\\033[0m compiled %s files\\n" $((3*4)); echo "warning: slow" >&2'],
    });
    gather = await submit(daemon.base, {
      name: 'gather example',
      gather: [{ name: 'bar', sleep: 3600 }, { name: 'barking', sequence: [{ sleep: 3600 }, { value: 42 }] },
        { name: 'foo timeout', wait_for: { name: 'foo', sleep: 3600 }, timeout: 3600 }],
      return_exceptions: true,
    });
  });
  after(async () => {
    await daemon?.stop();
  });

  for (const scheme of ['light', 'dark']) {
    test(`1280 px, ${scheme}: axe-core finds nothing; screenshot`, async () => {
      const context = await newContext({ colorScheme: scheme });
      try {
        const page = await openPage(context, daemon.base);
        await pointerAway(page);
        await page.click(rowSel(gather.id));
        await waitForStepState(page, `${gather.id}.6`, 'running');
        assert.equal(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches), scheme === 'dark');
        await assertNoAxeViolations(page, `1280 px ${scheme}`);
        await page.screenshot({ path: screenshotPath(`dashboard-1280${scheme === 'dark' ? '-dark' : ''}.png`) });
        // The confirmation dialog, too.
        await page.click('#detail-cancel');
        await page.waitForSelector('#confirm-dialog[open]');
        await assertNoAxeViolations(page, `1280 px ${scheme}, confirmation`);
        await page.click('#confirm-no');
        assert.ok(await horizontalOverflow(page) <= 0);
        assert.deepEqual(page.consoleErrors(), []);
      } finally {
        await context.close();
      }
    });

    test(`390 px, ${scheme}: no sideways scrolling, detail below the table, axe-core finds nothing; screenshots`, async () => {
      const context = await newContext({ colorScheme: scheme, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      try {
        const page = await openPage(context, daemon.base);
        assert.ok(await horizontalOverflow(page) <= 0, 'no sideways scrolling at 390 px');
        await assertNoAxeViolations(page, `390 px ${scheme}`);
        const suffix = scheme === 'dark' ? '-dark' : '';
        await page.screenshot({ path: screenshotPath(`dashboard-390${suffix}.png`), fullPage: true });
        // A tap on a row brings its detail into view.
        await page.tap(`${rowSel(gather.id)} td.name`);
        await waitForStepState(page, `${gather.id}.6`, 'running');
        const box = await page.locator('#detail').boundingBox();
        assert.ok(box.y >= -1 && box.y < 844, `detail at ${box.y}`);
        assert.ok(await horizontalOverflow(page) <= 0, 'no sideways scrolling with the detail open');
        await assertNoAxeViolations(page, `390 px ${scheme}, detail`);
        await page.screenshot({ path: screenshotPath(`dashboard-390-detail${suffix}.png`) });
        assert.deepEqual(page.consoleErrors(), []);
      } finally {
        await context.close();
      }
    });
  }

  test('reflow: 320 px (1280 px at 400%) and 640 px (at 200%) never scroll sideways', async () => {
    const context = await newContext();
    try {
      const page = await openPage(context, daemon.base);
      await page.click(rowSel(gather.id));
      await waitForStepState(page, `${gather.id}.6`, 'running');
      for (const width of [800, 640, 320]) {
        await page.setViewportSize({ width, height: 800 });
        assert.ok(await horizontalOverflow(page) <= 0, `${width} px scrolls sideways`);
        assert.equal(await page.locator('#task-rows tr').first().isVisible(), true);
        assert.equal(await page.locator('#detail-body').isVisible(), true);
      }
      await page.screenshot({ path: screenshotPath('dashboard-320.png'), fullPage: true });
      assert.deepEqual(page.consoleErrors(), []);
    } finally {
      await context.close();
    }
  });
  // An icon the page's fonts lack draws as the fallback box, which says nothing (the scheduled
  // state's U+23F2 did, in Debian's Chromium with its DejaVu fonts). Each state's icon, drawn in
  // its own computed font, must differ from a code point no font has.
  test('every state icon has a glyph in the fonts the page gets', async () => {
    const context = await newContext();
    try {
      const page = await openPage(context, daemon.base);
      const drawnLikeNoGlyph = await page.evaluate(() => {
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
        const icons = [...document.querySelectorAll('#counts .badge .icon')];
        return {
          count: icons.length,
          missing: icons.filter((icon) => {
            const font = getComputedStyle(icon).font;
            return pixels(icon.textContent, font) === pixels('\u{10FFFD}', font);
          }).map((icon) => icon.closest('.badge').dataset.state),
        };
      });
      assert.equal(drawnLikeNoGlyph.count, 8);
      assert.deepEqual(drawnLikeNoGlyph.missing, []);
    } finally {
      await context.close();
    }
  });
});
