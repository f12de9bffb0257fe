// A web page the user happens to visit must not drive the daemon (issue 9): cross-site request
// forgery from another origin (here another loopback port) and DNS rebinding (a name of the
// attacker's resolving to 127.0.0.1: Chromium maps rebind.test there, see CHROMIUM_ARGS).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { apiCall, startDaemon } from './harness.mjs';
import { newContext } from './helpers.mjs';

// The attacker's site: /form?action=URL auto-submits a form POST there; /blank is a page to run
// fetch() from.
async function startAttackerSite() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    res.setHeader('Content-Type', 'text/html');
    if (url.pathname === '/form') {
      const action = url.searchParams.get('action');
      res.end(`<!doctype html><form method="POST" action="${action}">` +
        '<input type="hidden" name="a" value="b"></form>' +
        '<script>document.forms[0].submit()</script>');
    } else {
      res.end('<!doctype html><title>blank</title>');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

async function taskState(daemon, id, token) {
  return (await apiCall(daemon.base, 'GET', `/api/tasks/${id}`, undefined, token)).data.state;
}

for (const token of [undefined, 'sekrit']) {
  describe(`pages of other origins ${token ? 'with' : 'without'} a token`, () => {
    let daemon;
    let attacker;
    let context;
    let victim;
    before(async () => {
      attacker = await startAttackerSite();
      daemon = await startDaemon(token ? ['--token', token] : []);
      context = await newContext();
    });
    after(async () => {
      await context?.close();
      await daemon?.stop();
      attacker?.close();
    });
    const submit = async (name) => {
      const r = await apiCall(daemon.base, 'POST', '/api/tasks', { name, sleep: 3600 }, token);
      assert.equal(r.status, 201);
      return r.data.id;
    };

    test('an auto-submitted form POST from another port cannot cancel a task', async () => {
      victim = await submit('victim of a form');
      const page = await context.newPage();
      const target = `${daemon.base}/api/tasks/${victim}/cancel`;
      const answered = page.waitForResponse((r) => r.url() === target);
      await page.goto(`${attacker.base}/form?action=${encodeURIComponent(target)}`,
        { waitUntil: 'domcontentloaded' });
      const res = await answered;
      assert.equal(res.status(), 403);
      assert.equal((await res.json()).error.code, 'forbidden_origin');
      assert.equal(await taskState(daemon, victim, token), 'running');
      await page.close();
    });

    test('fetch from another origin: JSON submit fails its preflight, no-cors cancel is refused',
      async () => {
        victim = await submit('victim of fetch');
        const before = (await apiCall(daemon.base, 'GET', '/api/tasks', undefined, token)).data;
        const page = await context.newPage();
        await page.goto(`${attacker.base}/blank`, { waitUntil: 'domcontentloaded' });
        const outcome = await page.evaluate(async ({ base, id }) => {
          let json;
          try {
            const r = await fetch(`${base}/api/tasks`, {
              method: 'POST', headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ name: 'planted', sleep: 1 }),
            });
            json = `answered ${r.status}`;
          } catch {
            json = 'blocked';
          }
          // A simple request (no preflight): the browser sends it, the page cannot read the answer.
          await fetch(`${base}/api/tasks/${id}/cancel`, { method: 'POST', mode: 'no-cors' });
          return json;
        }, { base: daemon.base, id: victim });
        assert.equal(outcome, 'blocked');
        assert.equal(await taskState(daemon, victim, token), 'running');
        const now = (await apiCall(daemon.base, 'GET', '/api/tasks', undefined, token)).data;
        assert.equal(JSON.stringify(now.tasks.map((t) => t.id)),
          JSON.stringify(before.tasks.map((t) => t.id)));
        // The preflight itself: no Access-Control-Allow-* header for an origin not listed.
        const preflight = await fetch(`${daemon.base}/api/tasks`, {
          method: 'OPTIONS',
          headers: { Origin: attacker.base, 'Access-Control-Request-Method': 'POST' },
        });
        assert.equal([...preflight.headers.keys()].filter((k) => k.startsWith('access-control-')).length, 0);
        await page.close();
      });

    test('a page under a rebound name (foreign Host) is refused, and so are its requests',
      async () => {
        victim = await submit('victim of rebinding');
        const page = await context.newPage();
        const rebound = `http://rebind.test:${daemon.port}`;
        const res = await page.goto(`${rebound}/`, { waitUntil: 'domcontentloaded' });
        assert.equal(res.status(), 403);
        // Same origin as far as the browser knows: no preflight, Origin matches the Host.
        const status = await page.evaluate(async (id) => {
          const r = await fetch(`/api/tasks/${id}/cancel`, { method: 'POST' });
          return r.status;
        }, victim);
        assert.equal(status, 403);
        assert.equal(await taskState(daemon, victim, token), 'running');
        await page.close();
      });
  });
}

describe('an origin listed with --allow-origin', () => {
  let daemon;
  let attacker;
  let context;
  before(async () => {
    attacker = await startAttackerSite();
    daemon = await startDaemon(['--allow-origin', attacker.base]);
    context = await newContext();
  });
  after(async () => {
    await context?.close();
    await daemon?.stop();
    attacker?.close();
  });

  test('may submit with fetch (CORS preflight answered) and cancel', async () => {
    const page = await context.newPage();
    await page.goto(`${attacker.base}/blank`, { waitUntil: 'domcontentloaded' });
    const answers = await page.evaluate(async (base) => {
      const r = await fetch(`${base}/api/tasks`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'from a listed origin', sleep: 3600 }),
      });
      const task = await r.json();
      const c = await fetch(`${base}/api/tasks/${task.id}/cancel`, { method: 'POST' });
      return { submit: r.status, cancel: c.status, id: task.id };
    }, daemon.base);
    assert.equal(answers.submit, 201);
    assert.equal(answers.cancel, 202);
    await page.close();
  });
});
