// The live feed: GET /api/events (SSE, each message a JSON array of task transitions), kept
// connected with exponential backoff. A daemon without the endpoint (404) is polled instead.
import { authHeaders, currentToken, needToken } from './api.js';
import { readSse } from './sse.js';

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const POLL_MS = 1000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Live {
  // onEvents(items): a batch of transitions; onStatus(mode, detail): for the indicator;
  // onResync(): after (re)connecting, since transitions during the gap were missed;
  // onPoll(): one polling round when there is no event stream.
  constructor({ onEvents, onStatus, onResync, onPoll }) {
    Object.assign(this, { onEvents, onStatus, onResync, onPoll });
    this.abort = new AbortController();
  }

  start() {
    this.run();
  }

  stop() {
    this.abort.abort();
  }

  async run() {
    let delay = MIN_DELAY_MS;
    while (!this.abort.signal.aborted) {
      this.onStatus('connecting');
      let connected = false;
      try {
        const used = currentToken();
        const res = await fetch('/api/events', {
          headers: { Accept: 'text/event-stream', ...authHeaders() },
          cache: 'no-store',
          signal: this.abort.signal,
        });
        if (res.status === 401) {
          await needToken(used);
          continue;
        }
        if (res.status === 404 || res.status === 405) {
          this.poll();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        connected = true;
        delay = MIN_DELAY_MS;
        this.onStatus('live');
        this.onResync();
        await readSse(res.body, (data, event) => this.message(data, event));
      } catch (e) {
        if (this.abort.signal.aborted) return;
      }
      if (connected) delay = MIN_DELAY_MS;
      // Jitter, so that many tabs do not reconnect to a restarted daemon in lockstep.
      const wait = delay * (0.75 + Math.random() * 0.5);
      this.onStatus('reconnecting', wait);
      await sleep(wait);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }

  message(data, event) {
    // The daemon dropped transitions for this slow reader: what is shown may be stale.
    if (event === 'lost') {
      this.onResync();
      return;
    }
    let items;
    try {
      items = JSON.parse(data);
    } catch {
      return;  // not ours to show; the next batch or a resync brings the state
    }
    this.onEvents(Array.isArray(items) ? items : [items]);
  }

  async poll() {
    this.onStatus('polling');
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        await this.onPoll();
        if (failures) this.onStatus('polling');
        failures = 0;
      } catch {
        failures += 1;
        this.onStatus('offline');
      }
      await sleep(Math.min(POLL_MS * 2 ** failures, MAX_DELAY_MS));
    }
  }
}
