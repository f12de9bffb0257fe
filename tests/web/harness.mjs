// Starts the real daemon binary (path in UASYNCD_BIN) on an ephemeral loopback port, and
// Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium) headless through playwright-core.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-dev-shm-usage', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // A DNS-rebinding attacker's name that resolves to loopback (origin.suite.mjs).
  '--host-resolver-rules=MAP rebind.test 127.0.0.1',
];

export function daemonPath() {
  const bin = process.env.UASYNCD_BIN;
  if (!bin) throw new Error('set UASYNCD_BIN to the uasyncd binary to test');
  return bin;
}

// A daemon on `listen` (default: any free loopback port), in memory unless `dataDir` is given.
export async function startDaemon(extraArgs = [], { dataDir, listen = '127.0.0.1:0' } = {}) {
  const storage = dataDir ? ['--data-dir', dataDir, '--sync', 'normal'] : ['--ephemeral'];
  const child = spawn(daemonPath(), ['--listen', listen, '--log-level', 'warn', ...storage, ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start: ${out}`)), 30000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on [^:\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`daemon exited with ${code}: ${out}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    port,
    child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

// JSON API calls from the test itself (for setup and to check what the page shows).
export async function apiCall(base, method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(base + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = text;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, data };
}

// Whether this daemon serves the event stream (the page polls when it does not).
export async function hasEventStream(base, token) {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/events`, {
    signal: abort.signal,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  abort.abort();
  return res.status === 200;
}

// A page whose console errors, uncaught exceptions and dialogs are recorded. Chromium reports a
// fetch answered 4xx as a console error "Failed to load resource"; tests that provoke such an
// answer on purpose list the URL patterns in `expectedHttpErrors`.
export async function openPage(context, url, { ready = true } = {}) {
  const page = await context.newPage();
  const problems = [];
  const failedResponses = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push({ text: msg.text(), url: msg.location()?.url ?? '' });
  });
  page.on('pageerror', (err) => problems.push({ text: `uncaught: ${err.message}`, url: '' }));
  page.on('dialog', (d) => {
    problems.push({ text: `dialog: ${d.message()}`, url: '' });
    d.dismiss();
  });
  page.on('response', (r) => {
    if (r.status() >= 400) failedResponses.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  if (ready) await page.waitForSelector('html[data-ready=true]');
  page.consoleErrors = (expectedHttpErrors = []) => problems.filter((p) => {
    if (!p.text.startsWith('Failed to load resource')) return true;
    return !expectedHttpErrors.some((re) => re.test(p.url));
  });
  page.failedResponses = failedResponses;
  return page;
}
