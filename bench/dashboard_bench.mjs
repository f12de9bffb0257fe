// Dashboard figures (not pass/fail): with 100,000 finished tasks retained, the time to the
// first render of the page; then whether the page keeps up with ~1,000 task transitions per
// second (frames, long tasks, and how far behind it is once the load stops).
//
//   (cd tests/web && npm ci)   # playwright-core, used from there
//   UASYNCD_BIN=build/release/server/uasyncd node bench/dashboard_bench.mjs
//
// Env: TASKS (100000), RATE (transitions/s wanted, 1000), SECONDS (10).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// The harness (and so playwright-core) comes from the browser tests' package.
const { apiCall, hasEventStream, launchBrowser, startDaemon } =
  await import(path.join(here, '../tests/web/harness.mjs'));

const TASKS = Number(process.env.TASKS ?? 100000);
const RATE = Number(process.env.RATE ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function submitMany(base, n, concurrency = 32) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await apiCall(base, 'POST', '/api/tasks', { name: `bench ${i}`, value: i });
      if (r.status !== 201) throw new Error(`submit: ${r.status} ${JSON.stringify(r.data)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const daemon = await startDaemon(['--keep-finished', String(TASKS * 2), '--http-threads', '32']);
const browser = await launchBrowser();
try {
  const live = await hasEventStream(daemon.base);
  let t = performance.now();
  await submitMany(daemon.base, TASKS);
  const fillSeconds = (performance.now() - t) / 1000;
  const stats = (await apiCall(daemon.base, 'GET', '/api/stats')).data;
  console.log(`retained ${stats.retained} tasks (${stats.tasks.done} done), submitted in ${fillSeconds.toFixed(1)} s`);
  console.log(`event stream: ${live ? 'yes (/api/events)' : 'no: the page polls /api/tasks'}`);

  // Time to first render: from navigation start to the first table and counts on screen.
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const firsts = [];
  for (let i = 0; i < 5; ++i) {
    const page = await context.newPage();
    await page.goto(daemon.base, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('html[data-ready=true]');
    firsts.push(await page.evaluate(() => performance.getEntriesByName('uasyncd:first-render')[0].startTime));
    const rows = await page.locator('#task-rows tr').count();
    if (rows !== 50) throw new Error(`expected a full first page, got ${rows} rows`);
    await page.close();
  }
  console.log(`first render with ${stats.retained} retained: median ${median(firsts).toFixed(0)} ms ` +
    `(runs: ${firsts.map((x) => x.toFixed(0)).join(', ')}; target <= 1000 ms)`);

  // Keeping up: tasks {"sleep_ms": 0} at RATE/2 per second (each runs, then finishes: about
  // two transitions), while the page records its frames.
  const page = await context.newPage();
  await page.goto(daemon.base, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('html[data-ready=true]');
  await page.evaluate(() => {
    const m = (globalThis.benchFrames = { gaps: [], longTasks: 0, longTaskMs: 0, last: performance.now() });
    const frame = (now) => {
      m.gaps.push(now - m.last);
      m.last = now;
      m.raf = requestAnimationFrame(frame);
    };
    m.raf = requestAnimationFrame(frame);
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        m.longTasks += 1;
        m.longTaskMs += e.duration;
      }
    }).observe({ type: 'longtask' });
  });
  const before = await page.evaluate(() => ({ ...globalThis.uasyncdDashboard.metrics }));
  const perSecond = Math.max(1, Math.round(RATE / 2));
  const started = performance.now();
  let submitted = 0;
  let lastId = null;
  const inflight = new Set();
  while (performance.now() - started < SECONDS * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
    while (submitted < due) {
      const p = apiCall(daemon.base, 'POST', '/api/tasks', { name: 'load', sleep_ms: 0 }).then((r) => {
        if (r.status === 201) lastId = r.data.id;
        inflight.delete(p);
      });
      inflight.add(p);
      submitted += 1;
    }
    await sleep(5);
  }
  await Promise.all(inflight);
  const loadEnd = performance.now();
  const achieved = submitted / ((loadEnd - started) / 1000);
  // Caught up when the newest task shows as done and the done count matches the daemon's.
  const want = (await apiCall(daemon.base, 'GET', '/api/stats')).data.tasks.done;
  await page.waitForFunction(([id, done]) => {
    const row = document.querySelector(`#task-rows tr[data-id="${id}"]`);
    const n = document.querySelector('#counts button[data-state="done"] .count-n')?.textContent;
    return row?.dataset.state === 'done' && n === done.toLocaleString('en');
  }, [lastId, want], { timeout: 60000, polling: 50 });
  const catchUpMs = performance.now() - loadEnd;
  const frames = await page.evaluate(() => {
    const m = globalThis.benchFrames;
    cancelAnimationFrame(m.raf);
    const gaps = m.gaps.slice(1).sort((a, b) => a - b);
    const q = (p) => gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * p))];
    return { count: gaps.length, p50: q(0.5), p99: q(0.99), max: gaps[gaps.length - 1],
      over50: gaps.filter((g) => g > 50).length, longTasks: m.longTasks, longTaskMs: m.longTaskMs };
  });
  const after = await page.evaluate(() => ({ ...globalThis.uasyncdDashboard.metrics }));
  const seconds = (loadEnd - started) / 1000;
  const events = after.events - before.events;
  console.log(`load: ${submitted} tasks in ${seconds.toFixed(1)} s (${achieved.toFixed(0)} tasks/s, ` +
    `~${(2 * achieved).toFixed(0)} transitions/s)`);
  console.log(`page: ${events} transitions received (${(events / seconds).toFixed(0)}/s) in ` +
    `${after.batches - before.batches} batches, applied in ${after.frames - before.frames} frames ` +
    `(${(after.flushMs - before.flushMs).toFixed(0)} ms of script applying them, longest ` +
    `${after.maxFlushMs.toFixed(1)} ms)`);
  console.log(`frames: ${frames.count} (p50 ${frames.p50.toFixed(1)} ms, p99 ${frames.p99.toFixed(1)} ms, ` +
    `max ${frames.max.toFixed(1)} ms, ${frames.over50} over 50 ms); long tasks: ${frames.longTasks} ` +
    `totalling ${frames.longTaskMs.toFixed(0)} ms`);
  console.log(`caught up ${catchUpMs.toFixed(0)} ms after the load stopped`);
  await context.close();
} finally {
  await browser.close();
  await daemon.stop();
}
