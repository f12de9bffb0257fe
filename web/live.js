// One connection to GET /api/events (SSE), kept open with exponential backoff. It imports
// nothing that needs a window, so it runs in a SharedWorker as well as in a tab.
import { readSse } from './sse.js';

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export class EventStream {
  // token(): the bearer token to send ('' for none); tokenRefused(used): resolves once a token
  // other than `used` is known; onMessage(data, event): each SSE message; onStatus(mode,
  // waitMs): 'connecting' | 'live' | 'reconnecting' | 'unauthorized' | 'polling' (the daemon
  // has no event stream: 404/405, and the stream stops); onOpen(): after each (re)connection,
  // since transitions during the gap were missed.
  constructor({ token, tokenRefused, onMessage, onStatus, onOpen }) {
    Object.assign(this, { token, tokenRefused, onMessage, onStatus, onOpen });
    this.abort = new AbortController();
    this.wake = null;
  }

  start() {
    this.run();
  }

  stop() {
    this.abort.abort();
    this.wake?.();
  }

  // Ends a backoff wait at once ("retry now").
  retryNow() {
    this.wake?.();
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = null;
    });
  }

  async run() {
    let delay = MIN_DELAY_MS;
    while (!this.abort.signal.aborted) {
      this.onStatus('connecting');
      try {
        const used = this.token();
        const res = await fetch('/api/events', {
          headers: { Accept: 'text/event-stream', ...(used ? { Authorization: `Bearer ${used}` } : {}) },
          cache: 'no-store',
          signal: this.abort.signal,
        });
        if (res.status === 401) {
          this.onStatus('unauthorized');
          await this.tokenRefused(used);
          continue;
        }
        if (res.status === 404 || res.status === 405) {
          this.onStatus('polling');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        delay = MIN_DELAY_MS;
        this.onStatus('live');
        this.onOpen();
        await readSse(res.body, (data, event) => this.onMessage(data, event));
      } catch {
        if (this.abort.signal.aborted) return;
      }
      // Jitter, so that many browsers do not reconnect to a restarted daemon in lockstep.
      const wait = delay * (0.75 + Math.random() * 0.5);
      this.onStatus('reconnecting', wait);
      await this.sleep(wait);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}
