// The instances panel (GET /api/instances, docs/dashboard-api.md section 13): the daemons that
// share this one's database (cluster mode, docs/cluster.md), or this daemon alone. Per instance
// its name, id, running tasks, heartbeat age (flagged stale past STALE_S) and whether it is
// stopping; the one this page talks to is marked. Shown only when the daemon announces the
// "instances" feature; cards are built once per instance and updated in place, as the queues'.
import { el, nameNode, placeViews, setName, setText } from './dom.js';
import { loadList, Poller } from './poll.js';
import { fmtDuration, setTime } from './time.js';

const POLL_MS = 2000;
// A live instance beats every lease-ttl / 5 seconds (2 s at the default ttl of 10): an age past
// this is a missed beat or two.
export const STALE_S = 5;
const fmt = (n) => (Number.isFinite(n) ? n.toLocaleString('en') : '–');
const plural = (n, one, many = `${one}s`) => `${fmt(n)} ${n === 1 ? one : many}`;

// "0.4 s ago", "12 s ago", "3 min 5 s ago".
export function fmtAge(s) {
  if (!Number.isFinite(s)) return '–';
  const age = Math.max(0, s);
  if (age < 10) return `${age.toFixed(1)} s ago`;
  if (age < 60) return `${Math.floor(age)} s ago`;
  return `${fmtDuration(age)} ago`;
}

const isStale = (i) => Number.isFinite(i.heartbeat_age) && i.heartbeat_age > STALE_S;
const fact = (label, dd) => el('div', {}, el('dt', {}, label), dd);
const flag = (cls, icon, text) => el('span', { class: `badge ${cls}`, hidden: true },
  el('span', { class: 'icon', 'aria-hidden': 'true' }, icon), text);

export class InstancesPanel {
  // root: the panel's <details> (hidden until the feature is announced).
  constructor({ root }) {
    this.root = root;
    this.available = false;
    this.views = new Map();  // instance id -> its card
    this.serial = 0;  // element ids: the daemon's ids are numbers, but names may hold anything
    this.loadFailed = false;
    this.summary = el('p', { class: 'note', id: 'instances-summary' });
    this.error = el('p', { class: 'field-error', id: 'instances-error', role: 'alert' });
    this.list = el('ul', { class: 'cards', id: 'instance-list', 'aria-label': 'Instances' });
    root.querySelector('.fold-body').append(this.summary, this.error, this.list);
    this.poller = new Poller(() => this.load(), { isOpen: () => this.available && root.open, intervalMs: POLL_MS });
    root.addEventListener('toggle', () => this.poller.wake());
  }

  // From each /api/stats answer: whether the daemon announces "instances". Never asked otherwise.
  setAvailable(on) {
    if (on === this.available) return;
    this.available = on;
    this.root.hidden = !on;
    this.poller.wake();
  }

  refresh() {
    return this.poller.refresh();
  }

  // A task starting or ending changes a running count: one fetch for a burst of them.
  noticeTasks(items) {
    if (items.length && this.views.size) this.poller.soon(500);
  }

  load() {
    return loadList(this, '/api/instances', 'instances', 'instances');
  }

  show(instances, data) {
    const list = instances.filter((i) => i && typeof i === 'object');
    const keys = new Set(list.map((i) => String(i.id)));
    for (const [key, v] of [...this.views]) {
      if (keys.has(key)) continue;
      this.views.delete(key);
      const near = v.li.nextElementSibling ?? v.li.previousElementSibling;
      const focused = v.li.contains(document.activeElement);
      v.li.remove();
      if (focused) (near ?? this.root.querySelector('summary')).focus();
    }
    placeViews(this.list, this.views, list, (i) => String(i.id), (i) => this.build(i),
      (v, i) => this.update(v, i));
    const stale = list.filter(isStale).length;
    const stopping = list.filter((i) => i.stopping === true).length;
    const extra = `${stale ? `, ${fmt(stale)} stale` : ''}${stopping ? `, ${fmt(stopping)} stopping` : ''}`;
    setText(this.summary, data?.cluster === true
      ? `${plural(list.length, 'instance')} sharing one database${extra}.`
      : `Not a cluster: this daemon alone${extra}.`);
  }

  build(i) {
    const id = `instance-${++this.serial}`;
    const v = { key: String(i.id), id };
    v.title = nameNode(i.name, { class: 'nm card-name', id: `${id}-name` });
    v.self = flag('inst-self', '◉', 'this instance');
    v.stale = flag('inst-stale', '◌', 'stale');
    v.stoppingBadge = flag('inst-stopping', '■', 'stopping');
    v.ident = el('dd', { class: 'i-id mono' });
    v.running = el('dd', { class: 'i-running' });
    v.heartbeat = el('dd', { class: 'i-heartbeat' });
    v.startedTime = el('time');
    v.started = fact('Started', el('dd', { class: 'i-started' }, v.startedTime));
    v.stopping = el('dd', { class: 'i-stopping' });
    v.li = el('li', { class: 'card instance', 'data-id': v.key, tabindex: '-1', 'aria-labelledby': `${id}-name` },
      el('div', { class: 'card-head' }, v.title, v.self, v.stale, v.stoppingBadge),
      el('dl', { class: 'facts' },
        fact('Id', v.ident), fact('Running', v.running), fact('Heartbeat', v.heartbeat), v.started,
        fact('Stopping', v.stopping)));
    return v;
  }

  update(v, i) {
    v.i = i;
    setName(v.title, i.name);
    const self = i.self === true;
    const stale = isStale(i);
    const stopping = i.stopping === true;
    v.li.toggleAttribute('data-self', self);
    v.li.toggleAttribute('data-stale', stale);
    v.li.toggleAttribute('data-stopping', stopping);
    v.self.hidden = !self;
    v.stale.hidden = !stale;
    v.stoppingBadge.hidden = !stopping;
    setText(v.ident, i.id ?? '–');
    setText(v.running, fmt(i.running));
    setText(v.heartbeat, fmtAge(i.heartbeat_age) + (stale ? ` (over ${STALE_S} s: stale)` : ''));
    const started = Number.isFinite(i.started) ? i.started : null;
    v.started.hidden = started === null;
    if (started !== null) setTime(v.startedTime, started, true);
    setText(v.stopping, stopping ? 'yes: shutting down' : 'no');
  }
}

