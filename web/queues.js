// The queues panel (GET /api/queues, docs/dashboard-api.md section 12): per named queue its
// running, pending and scheduled tasks and its finish rate, its limit of tasks running at once
// (editable) and whether it is paused. Cards are built once per queue and updated in place; a
// limit being typed is never overwritten by the polling.
import { api, isUnreachable } from './api.js';
import { displayName, el, nameNode, placeViews, setText } from './dom.js';
import { loadList, Poller } from './poll.js';

const POLL_MS = 2000;
const fmt = (n) => (Number.isFinite(n) ? n.toLocaleString('en') : '–');
const plural = (n, one, many = `${one}s`) => `${fmt(n)} ${n === 1 ? one : many}`;
// A slow queue's rate keeps two decimals: 0.02 /s is not "0.0 /s".
const rate = (r) => {
  if (!Number.isFinite(r)) return '–';
  return `${r === 0 ? '0' : r < 1 ? r.toFixed(2) : r < 10 ? r.toFixed(1) : fmt(Math.round(r))} /s`;
};

const fact = (label, dd) => el('div', {}, el('dt', {}, label), dd);

export class QueuesPanel {
  // root: the panel's <details>.
  constructor({ root }) {
    this.root = root;
    this.views = new Map();  // queue name -> its card
    this.serial = 0;  // element ids: queue names may hold any character
    this.loadFailed = false;
    this.summary = el('p', { class: 'note', id: 'queues-summary' });
    this.status = el('p', { class: 'note', id: 'queues-status', role: 'status' });
    this.error = el('p', { class: 'field-error', id: 'queues-error', role: 'alert' });
    this.list = el('ul', { class: 'cards', id: 'queue-list', 'aria-label': 'Queues' });
    this.empty = el('p', { class: 'empty', id: 'queues-empty', hidden: true },
      'No queues yet: a task joins one with "queue": "name" in its spec.');
    root.querySelector('.fold-body').append(this.summary, this.status, this.error, this.list, this.empty);
    this.poller = new Poller(() => this.load(), { isOpen: () => root.open, intervalMs: POLL_MS });
    root.addEventListener('toggle', () => this.poller.wake());
  }

  refresh() {
    return this.poller.refresh();
  }

  // Live task transitions change the counts: one fetch for a burst of them.
  noticeTasks(items) {
    if (items.length && this.views.size) this.poller.soon(500);
  }

  load() {
    return loadList(this, '/api/queues', 'queues', 'queues');
  }

  show(queues) {
    const names = new Set(queues.map((q) => q.name));
    for (const [name, v] of [...this.views]) {
      if (names.has(name)) continue;
      this.views.delete(name);
      const near = v.li.nextElementSibling ?? v.li.previousElementSibling;
      const focused = v.li.contains(document.activeElement);
      v.li.remove();
      if (focused) (near ?? this.root.querySelector('summary')).focus();
    }
    placeViews(this.list, this.views, queues, (q) => q.name, (q) => this.build(q),
      (v, q) => this.update(v, q));
    const paused = queues.filter((q) => q.paused).length;
    setText(this.summary, queues.length
      ? `${plural(queues.length, 'queue')}${paused ? `, ${fmt(paused)} paused` : ''}.` : '');
    this.empty.hidden = queues.length > 0;
  }

  build(q) {
    const id = `queue-${++this.serial}`;
    const label = displayName(q.name);
    const v = { name: q.name, q, id, busy: false, limitShown: null };
    v.title = nameNode(q.name, { class: 'nm card-name', id: `${id}-name` });
    v.pausedBadge = el('span', { class: 'badge sched-paused', hidden: true },
      el('span', { class: 'icon', 'aria-hidden': 'true' }, '‖'), 'paused');
    v.running = el('dd', { class: 'q-running' });
    v.pending = el('dd', { class: 'q-pending' });
    v.scheduled = el('dd', { class: 'q-scheduled' });
    v.rate = el('dd', { class: 'q-rate' });
    v.limit = el('input', {
      id: `${id}-limit`, class: 'q-limit', type: 'text', inputmode: 'numeric', size: '5', autocomplete: 'off',
      // Named with its queue: every card has a "Max running" field.
      'aria-labelledby': `${id}-limit-label ${id}-name`, 'aria-describedby': `${id}-limit-hint ${id}-limit-error`,
    });
    v.limitError = el('p', { class: 'field-error', id: `${id}-limit-error`, role: 'alert' });
    v.limit.addEventListener('input', () => this.clearLimitError(v));
    // novalidate: the daemon's message explains a bad limit, not the browser's popup.
    v.limitForm = el('form', { class: 'row q-limit-form', novalidate: true, onsubmit: (e) => this.setLimit(e, v) },
      el('label', { for: `${id}-limit`, id: `${id}-limit-label` }, 'Max running'), v.limit,
      el('button', { type: 'submit', class: 'small', 'aria-label': `Set the limit of ${label}` }, 'Set'),
      el('span', { class: 'hint', id: `${id}-limit-hint` }, '0: no limit'));
    v.pause = el('input', {
      type: 'checkbox', id: `${id}-paused`, class: 'q-paused', 'aria-label': `Paused: ${label}`, onchange: () => this.setPaused(v),
    });
    v.li = el('li', { class: 'card queue', 'data-name': q.name, tabindex: '-1', 'aria-labelledby': `${id}-name` },
      el('div', { class: 'card-head' }, v.title, v.pausedBadge,
        el('label', { class: 'choice card-actions', for: `${id}-paused` }, v.pause, 'Paused')),
      el('dl', { class: 'facts' },
        fact('Running', v.running), fact('Pending', v.pending), fact('Scheduled', v.scheduled),
        fact('Finished (last minute)', v.rate)),
      v.limitForm, v.limitError);
    return v;
  }

  // `ownLimit`: the answer to the user's own limit, which the field then shows.
  update(v, q, { ownLimit = false } = {}) {
    v.q = q;
    const paused = Boolean(q.paused);
    v.li.toggleAttribute('data-paused', paused);
    v.pausedBadge.hidden = !paused;
    if (!v.busy) v.pause.checked = paused;
    const max = Number.isFinite(q.max_running) ? q.max_running : 0;
    setText(v.running, max ? `${fmt(q.running)} of ${fmt(max)}` : `${fmt(q.running)} (no limit)`);
    setText(v.pending, fmt(q.pending));
    setText(v.scheduled, fmt(q.scheduled));
    setText(v.rate, rate(q.finished_per_second));
    // The field follows the daemon unless the user is typing a new limit in it.
    const editing = document.activeElement === v.limit || (v.limitShown !== null && v.limit.value !== v.limitShown);
    if (ownLimit || !editing) {
      v.limitShown = String(max);
      v.limit.value = v.limitShown;
    }
  }

  clearLimitError(v) {
    setText(v.limitError, '');
    v.limit.removeAttribute('aria-invalid');
  }

  async put(v, body, what) {
    if (v.busy) return null;
    v.busy = true;
    v.li.setAttribute('aria-busy', 'true');
    this.loadFailed = false;
    setText(this.error, '');
    try {
      const { data } = await api('PUT', `/api/queues/${encodeURIComponent(v.name)}`, body);
      return data;
    } catch (e) {
      if (isUnreachable(e)) setText(this.error, `Could not reach the daemon to ${what} (${e.message}).`);
      else throw e;
      return null;
    } finally {
      v.busy = false;
      v.li.removeAttribute('aria-busy');
    }
  }

  async setLimit(e, v) {
    e.preventDefault();
    this.clearLimitError(v);
    const raw = v.limit.value.trim();
    const n = Number(raw);
    // Sent as a number when it is one, else as typed: the daemon's message explains it.
    const value = raw !== '' && Number.isFinite(n) ? n : raw;
    try {
      const data = await this.put(v, { max_running: value }, `set the limit of ${displayName(v.name)}`);
      if (data && this.views.get(v.name) === v) {
        this.update(v, data, { ownLimit: true });
        setText(this.status, `${displayName(v.name)}: ${data.max_running ? `at most ${fmt(data.max_running)} running` : 'no limit'}.`);
      }
    } catch (err) {
      setText(v.limitError, err.message);
      v.limit.setAttribute('aria-invalid', 'true');
    }
    this.poller.refresh();
  }

  async setPaused(v) {
    const paused = v.pause.checked;
    try {
      const data = await this.put(v, { paused }, `${paused ? 'pause' : 'resume'} ${displayName(v.name)}`);
      if (data && this.views.get(v.name) === v) {
        this.update(v, data);
        setText(this.status, `${displayName(v.name)}: ${data.paused ? 'paused, its pending tasks wait' : 'resumed'}.`);
      }
    } catch (err) {
      setText(this.error, `Could not ${paused ? 'pause' : 'resume'} ${displayName(v.name)}: ${err.message}`);
    }
    if (!v.busy) v.pause.checked = Boolean(v.q.paused);
    this.poller.refresh();
  }
}
