// This tab's view of the browser's one event stream (feed-hub.js): through a SharedWorker where
// there is one; else the tabs elect a leader with the Web Locks API, which holds the stream and
// relays it over a BroadcastChannel (a new leader takes over when it closes); else (neither
// API) the tab holds a stream of its own.
import { FeedHub } from './feed-hub.js';

const LOCK = 'uasyncd.feed.leader';
const TO_TABS = 'uasyncd.feed.out';
const TO_LEADER = 'uasyncd.feed.in';

// onMessage(msg): each hub message ({t: 'status' | 'open' | 'msg', ...}). Returns {mode,
// send(msg)}; send takes the tab-to-hub messages of feed-hub.js.
export function connectFeed(token, onMessage) {
  const canLead = Boolean(globalThis.navigator?.locks) && typeof BroadcastChannel === 'function';
  const kind = typeof SharedWorker === 'function' ? 'worker' : canLead ? 'leader' : 'own';
  const fallback = () => (canLead && kind !== 'own' ? viaLeader(token, onMessage) : viaOwnStream(token, onMessage));
  if (kind !== 'worker') return fallback();
  // A worker that fails to start (refused by a policy, say) hands over to the next way.
  const facade = { mode: 'worker', send: () => {} };
  try {
    const worker = viaWorker(token, onMessage, () => {
      const next = fallback();
      facade.mode = next.mode;
      facade.send = next.send;
    });
    facade.send = worker.send;
  } catch {
    const next = fallback();
    facade.mode = next.mode;
    facade.send = next.send;
  }
  return facade;
}

function viaWorker(token, onMessage, onFailure) {
  const worker = new SharedWorker('feed-worker.js', { type: 'module', name: 'uasyncd-feed' });
  worker.addEventListener('error', onFailure, { once: true });
  const port = worker.port;
  port.onmessage = (e) => onMessage(e.data);
  port.start();
  const send = (msg) => port.postMessage(msg);
  let lastToken = token;
  let lastFollow = [];
  send({ t: 'join', token });
  addEventListener('pagehide', () => send({ t: 'leave' }));
  addEventListener('pageshow', (e) => {
    if (!e.persisted) return;  // back from the back/forward cache: the worker forgot this tab
    send({ t: 'join', token: lastToken });
    send({ t: 'follow', ids: lastFollow });
  });
  return {
    mode: 'worker',
    send(msg) {
      if (msg.t === 'token') lastToken = msg.token;
      if (msg.t === 'follow') lastFollow = msg.ids;
      send(msg);
    },
  };
}

function viaLeader(token, onMessage) {
  const out = new BroadcastChannel(TO_TABS);
  const inbox = new BroadcastChannel(TO_LEADER);
  const tab = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  let hub = null;
  let lastToken = token;
  let lastFollow = [];
  // As the leader sees the other tabs: one client each (for its follow set); what they hear
  // comes through the one relay client below, not through these.
  const others = new Map();
  const self = { post: (msg) => onMessage(msg) };
  const toLeader = (msg) => inbox.postMessage({ from: tab, msg });
  const introduce = () => {
    toLeader({ t: 'join', token: lastToken });
    if (lastFollow.length) toLeader({ t: 'follow', ids: lastFollow });
  };

  out.onmessage = (e) => {
    if (hub) return;
    if (e.data?.t === 'rejoin') introduce();
    else onMessage(e.data);
  };
  inbox.onmessage = (e) => {
    if (!hub) return;
    const { from, msg } = e.data ?? {};
    if (typeof from !== 'string' || !msg) return;
    if (msg.t === 'leave') {
      const client = others.get(from);
      others.delete(from);
      if (client) hub.leave(client);
      return;
    }
    let client = others.get(from);
    if (!client) {
      client = { post: () => {} };
      others.set(from, client);
    }
    hub.receive(client, msg);
    if (msg.t === 'join') for (const m of hub.greeting()) out.postMessage(m);
  };

  navigator.locks.request(LOCK, () => {
    hub = new FeedHub();
    hub.join({ post: (msg) => out.postMessage(msg) }, lastToken);
    hub.join(self, lastToken);
    if (lastFollow.length) hub.receive(self, { t: 'follow', ids: lastFollow });
    // The other tabs introduce themselves again: their follow sets and tokens reach the new
    // leader, and (a stream having been down) they reload what they show when it opens.
    out.postMessage({ t: 'rejoin' });
    return new Promise(() => {});  // held until this tab goes away
  }).catch(() => {});
  onMessage({ t: 'status', mode: 'connecting' });
  introduce();
  addEventListener('pagehide', () => {
    if (!hub) toLeader({ t: 'leave' });
  });
  return {
    mode: 'leader',
    get leading() {
      return hub !== null;
    },
    send(msg) {
      if (msg.t === 'token') lastToken = msg.token;
      if (msg.t === 'follow') lastFollow = msg.ids;
      if (hub) hub.receive(self, msg);
      else toLeader(msg);
    },
  };
}

function viaOwnStream(token, onMessage) {
  const hub = new FeedHub();
  const self = { post: (msg) => onMessage(msg) };
  hub.join(self, token);
  return { mode: 'own', send: (msg) => hub.receive(self, msg) };
}
