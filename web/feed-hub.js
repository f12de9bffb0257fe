// The one event stream of a browser, fanned out to its tabs. It runs in a SharedWorker
// (feed-worker.js) or, where there is none, in the tab that holds the leader lock (feed.js).
// A browser opens at most six HTTP/1.1 connections per host for all its tabs together: one
// stream per tab froze the seventh. Output of followed tasks comes on the same stream once the
// daemon offers it (feature "events.follow", docs/dashboard-api.md); the follow set sent is
// the union of what every tab shows.
//
// Messages from a tab: {t:'join', token}, {t:'token', token}, {t:'follow', ids}, {t:'retry'},
// {t:'leave'}. To the tabs: {t:'status', mode, wait}, {t:'open'} after each (re)connection,
// {t:'msg', data, event} for each SSE message, passed on unparsed (each tab parses its own).
import { EventStream } from './live.js';

const MAX_FOLLOWED = 64;

export class FeedHub {
  constructor() {
    this.clients = new Map();  // client -> {follow: string[]}
    this.token = '';
    this.tokenWaiters = [];
    this.status = { t: 'status', mode: 'connecting' };
    this.streamId = null;
    this.hello = null;
    this.followSent = '';
    this.followTimer = null;
    this.stream = null;
  }

  // client: {post(message)}.
  join(client, token) {
    this.clients.set(client, { follow: [] });
    if (typeof token === 'string' && token) this.setToken(token);
    for (const msg of this.greeting()) client.post(msg);
    if (!this.stream) {
      this.stream = new EventStream({
        token: () => this.token,
        tokenRefused: (used) => (this.token !== used ? Promise.resolve()
          : new Promise((resolve) => this.tokenWaiters.push(resolve))),
        onStatus: (mode, wait) => {
          if (mode !== 'live') {
            this.streamId = null;
            this.hello = null;
          }
          this.status = { t: 'status', mode, wait };
          this.broadcast(this.status);
        },
        onOpen: () => {
          this.followSent = '';
          this.broadcast({ t: 'open' });
        },
        onMessage: (data, event) => this.message(data, event),
      });
      this.stream.start();
    }
  }

  leave(client) {
    this.clients.delete(client);
    this.followChanged();
  }

  receive(client, msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.t === 'join') this.join(client, msg.token);
    else if (msg.t === 'leave') this.leave(client);
    else if (msg.t === 'token') this.setToken(msg.token);
    else if (msg.t === 'retry') this.stream?.retryNow();
    else if (msg.t === 'follow' && this.clients.has(client)) {
      const ids = Array.isArray(msg.ids) ? msg.ids.filter((x) => typeof x === 'string') : [];
      this.clients.get(client).follow = ids;
      this.followChanged();
    }
  }

  // What a tab joining late needs to know: the stream's state and its greeting.
  greeting() {
    return this.hello ? [this.status, this.hello] : [this.status];
  }

  setToken(token) {
    if (typeof token !== 'string' || token === this.token) return;
    this.token = token;
    const waiters = this.tokenWaiters;
    this.tokenWaiters = [];
    for (const w of waiters) w();
  }

  broadcast(msg) {
    for (const client of this.clients.keys()) client.post(msg);
  }

  message(data, event) {
    if (event === 'hello') {
      this.hello = { t: 'msg', data, event };
      try {
        const hello = JSON.parse(data);
        if (Array.isArray(hello.features) && hello.features.includes('events.follow') &&
            typeof hello.stream === 'string') {
          this.streamId = hello.stream;
          this.followChanged();
        }
      } catch {
        // an unreadable greeting: the stream works, following falls back to polling
      }
    }
    this.broadcast({ t: 'msg', data, event });
  }

  followChanged() {
    if (this.followTimer) return;
    // Tabs change what they show in bursts (a click refetches, reselects): one request for all.
    this.followTimer = setTimeout(() => {
      this.followTimer = null;
      this.sendFollow();
    }, 30);
  }

  async sendFollow() {
    if (!this.streamId) return;
    const ids = [...new Set([...this.clients.values()].flatMap((c) => c.follow))].sort()
      .slice(0, MAX_FOLLOWED);
    const key = `${this.streamId} ${ids.join(',')}`;
    if (key === this.followSent) return;
    this.followSent = key;
    try {
      const res = await fetch(`/api/events/${encodeURIComponent(this.streamId)}/follow`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}) },
        body: JSON.stringify({ tasks: ids }),
        cache: 'no-store',
      });
      if (!res.ok) this.followSent = '';
    } catch {
      this.followSent = '';
    }
  }
}
