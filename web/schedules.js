// The schedules panel (GET /api/schedules, docs/dashboard-api.md section 11): each schedule's
// name, when it fires, its next fire times, its last run and its counts, with pause or resume,
// "Run now" and delete. Cards are built once per schedule and updated in place, so focus and an
// unfolded list of fire times survive the polling.
import { api, isUnreachable } from './api.js';
import { confirmAction } from './confirm.js';
import { el, placeViews, setText } from './dom.js';
import { loadList, Poller } from './poll.js';
import { ScheduleForm } from './schedule-form.js';
import { badge, setBadge } from './states.js';
import { fmtDuration, fmtFire, fmtUntil, fmtUtc, zoneName } from './time.js';

const POLL_MS = 5000;
// The daemon keeps up to 10,000 schedules; cards for that many would make every poll slow.
const MAX_SHOWN = 200;
// Refetched this long after a fire time, so its run shows without waiting for the next poll.
const AFTER_FIRE_S = 0.3;
const fmt = (n) => n.toLocaleString('en');
const plural = (n, one, many = `${one}s`) => `${fmt(n)} ${n === 1 ? one : many}`;

function setFireTime(node, seconds) {
  setText(node, fmtFire(seconds));
  node.title = fmtUtc(seconds);
  node.dateTime = new Date(seconds * 1000).toISOString();
}

function whenNodes(s) {
  if (Number.isFinite(s.every)) {
    return [`every ${fmt(s.every)} s`, s.every >= 60 ? ` (${fmtDuration(s.every)})` : ''];
  }
  return [el('code', { class: 'cron' }, s.cron ?? ''), ' ', el('span', { class: 'muted' }, s.timezone ?? 'UTC')];
}

const fact = (label, dd) => el('div', {}, el('dt', {}, label), dd);

export class SchedulesPanel {
  // root: the panel's <details>; onOpenTask(id): show a task's detail; onTriggered(task): the
  // run "Run now" made (the page shows it as it shows a submitted task).
  constructor({ root, onOpenTask, onTriggered }) {
    Object.assign(this, { root, onOpenTask, onTriggered });
    this.views = new Map();  // schedule name -> its card
    this.loadFailed = false;  // the error shown is the last fetch's, cleared by the next answer
    this.dueDone = null;  // the fire time already refetched for
    this.summary = el('p', { class: 'note', id: 'schedules-summary' });
    this.status = el('p', { class: 'note', id: 'schedules-status', role: 'status' });
    this.error = el('p', { class: 'field-error', id: 'schedules-error', role: 'alert' });
    this.list = el('ul', { class: 'cards', id: 'schedule-list', 'aria-label': 'Schedules' });
    this.empty = el('p', { class: 'empty', id: 'schedules-empty', hidden: true }, 'No schedules yet: add one below.');
    this.form = new ScheduleForm({ onAdded: () => this.poller.refresh() });
    root.querySelector('.fold-body').append(this.summary, this.status, this.error, this.list,
      this.empty, this.form.root);
    this.poller = new Poller(() => this.load(), { isOpen: () => root.open, intervalMs: POLL_MS });
    root.addEventListener('toggle', () => this.poller.wake());
  }

  refresh() {
    return this.poller.refresh();
  }

  load() {
    return loadList(this, '/api/schedules', 'schedules', 'schedules');
  }

  show(schedules) {
    const shown = schedules.slice(0, MAX_SHOWN);
    const names = new Set(shown.map((s) => s.name));
    for (const name of [...this.views.keys()]) if (!names.has(name)) this.drop(name);
    placeViews(this.list, this.views, shown, (s) => s.name, (s) => this.build(s),
      (v, s) => this.update(v, s));
    const paused = schedules.filter((s) => s.paused).length;
    setText(this.summary, schedules.length
      ? `${plural(schedules.length, 'schedule')}${paused ? `, ${fmt(paused)} paused` : ''}. Times in ${zoneName()}.` +
        (schedules.length > MAX_SHOWN ? ` The first ${fmt(MAX_SHOWN)} are shown.` : '')
      : '');
    this.empty.hidden = schedules.length > 0;
    this.tick(Date.now() / 1000);
  }

  // A card goes; the keyboard's place goes to the card beside it, not to the page's start.
  drop(name) {
    const v = this.views.get(name);
    if (!v) return;
    this.views.delete(name);
    const focused = v.li.contains(document.activeElement);
    const near = v.li.nextElementSibling ?? v.li.previousElementSibling;
    v.li.remove();
    if (focused) (near ?? this.root.querySelector('summary')).focus();
  }

  build(s) {
    const id = `sched-${s.name}`;
    const v = { name: s.name, s, busy: false, whenKey: null, firesKey: null };
    v.title = el('span', { class: 'card-name mono', id: `${id}-name` }, s.name);
    v.state = el('span', { class: 'badge' }, el('span', { class: 'icon', 'aria-hidden': 'true' }), el('span'));
    v.pause = el('button', { type: 'button', class: 'small sched-pause', onclick: () => this.pause(v) });
    v.trigger = el('button', {
      type: 'button', class: 'small sched-trigger', 'aria-label': `Run now: ${s.name}`, onclick: () => this.trigger(v),
    }, 'Run now');
    v.remove = el('button', {
      type: 'button', class: 'small danger sched-delete', 'aria-label': `Delete ${s.name}`, onclick: () => this.remove(v),
    }, 'Delete');
    v.when = el('dd', { class: 'sched-when' });
    v.next = el('time', { class: 'next-time' });
    v.until = el('span', { class: 'muted sched-until' });
    v.nextNone = el('span', { class: 'muted' });
    v.firesList = el('ol', { class: 'fires-list' });
    v.fires = el('details', { class: 'fires' },
      el('summary', { 'aria-label': `Next 5 fires of ${s.name}` }, 'Next 5'), v.firesList);
    v.lastLink = el('a', { class: 'mono task-link', onclick: (e) => this.openRun(e, v) });
    v.lastBadge = badge('pending');
    v.lastNote = el('span', { class: 'muted' });
    v.counts = el('dd', { class: 'sched-counts' });
    v.li = el('li', { class: 'card sched', 'data-name': s.name, tabindex: '-1', 'aria-labelledby': `${id}-name` },
      el('div', { class: 'card-head' }, v.title, v.state,
        el('div', { class: 'card-actions' }, v.pause, v.trigger, v.remove)),
      el('dl', { class: 'facts' },
        fact('When', v.when),
        fact('Next', el('dd', { class: 'sched-next' }, v.next, ' ', v.until, v.nextNone, v.fires)),
        fact('Last run', el('dd', { class: 'sched-last' }, v.lastLink, ' ', v.lastBadge, v.lastNote)),
        fact('Runs', v.counts)));
    return v;
  }

  update(v, s) {
    v.s = s;
    const paused = Boolean(s.paused);
    v.li.toggleAttribute('data-paused', paused);
    const cls = `badge ${paused ? 'sched-paused' : 'sched-active'}`;
    if (v.state.className !== cls) v.state.className = cls;
    // Shape as well as colour: two bars while paused, a turning arrow while it fires.
    setText(v.state.firstChild, paused ? '‖' : '↻');
    setText(v.state.lastChild, paused ? 'paused' : 'active');
    setText(v.pause, paused ? 'Resume' : 'Pause');
    v.pause.setAttribute('aria-label', `${paused ? 'Resume' : 'Pause'} ${s.name}`);

    const whenKey = Number.isFinite(s.every) ? `every ${s.every}` : `${s.cron}\n${s.timezone}`;
    if (v.whenKey !== whenKey) {
      v.whenKey = whenKey;
      v.when.replaceChildren(...whenNodes(s));
    }

    const fires = Array.isArray(s.next_fires) ? s.next_fires.filter(Number.isFinite) : [];
    v.next.hidden = fires.length === 0;
    v.until.hidden = fires.length === 0;
    v.fires.hidden = fires.length < 2;
    setText(v.nextNone, fires.length ? '' : paused ? 'none while paused' : 'none');
    if (fires.length) setFireTime(v.next, fires[0]);
    const firesKey = fires.join(',');
    if (v.firesKey !== firesKey) {
      v.firesKey = firesKey;
      v.firesList.replaceChildren(...fires.map((t) => {
        const time = el('time');
        setFireTime(time, t);
        return el('li', {}, time);
      }));
    }

    const last = s.last_run && typeof s.last_run.id === 'string' ? s.last_run : null;
    v.lastLink.hidden = !last;
    if (last) {
      setText(v.lastLink, last.id);
      const href = `?task=${encodeURIComponent(last.id)}`;
      if (v.lastLink.getAttribute('href') !== href) v.lastLink.setAttribute('href', href);
    }
    v.lastBadge.hidden = !last?.state;
    if (last?.state) setBadge(v.lastBadge, last.state);
    setText(v.lastNote, !last ? 'none yet' : last.state ? '' : '(no longer kept)');

    let counts = `${plural(s.runs ?? 0, 'run')}, ${fmt(s.skipped ?? 0)} skipped`;
    if (Number.isFinite(s.last_fire)) counts += `; last fired ${fmtFire(s.last_fire)}`;
    if (Number.isFinite(s.waiting_fire)) counts += `; the fire of ${fmtFire(s.waiting_fire)} waits for the last run to end`;
    setText(v.counts, counts);
  }

  // Counts down to each next fire; once one has come, fetches again to show its run.
  tick(now) {
    let soonest = Infinity;
    for (const v of this.views.values()) {
      const next = v.s.paused ? null : v.s.next_fires?.[0];
      if (!Number.isFinite(next)) continue;
      setText(v.until, `(${fmtUntil(next, now)})`);
      soonest = Math.min(soonest, next);
    }
    if (soonest + AFTER_FIRE_S <= now && this.dueDone !== soonest) {
      this.dueDone = soonest;
      this.poller.soon(0);
    }
  }

  // Live task transitions: when one is a last run shown, its state here follows.
  noticeTasks(items) {
    if (!this.views.size) return;
    const lastRuns = new Map();
    for (const v of this.views.values()) if (v.s.last_run?.id) lastRuns.set(v.s.last_run.id, v.s.last_run.state);
    if (items.some((t) => lastRuns.has(t.id) && t.state && t.state !== lastRuns.get(t.id))) this.poller.soon();
  }

  openRun(e, v) {
    // A middle or modified click opens the link's own address (a new tab shows that task).
    if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    if (v.s.last_run?.id) this.onOpenTask(v.s.last_run.id);
  }

  // One request for a card at a time. The button stays enabled (a disabled button drops the
  // keyboard's focus); a second press meanwhile does nothing.
  async act(v, what, method, path) {
    if (v.busy) return null;
    v.busy = true;
    v.li.setAttribute('aria-busy', 'true');
    this.loadFailed = false;
    setText(this.error, '');
    try {
      return await api(method, path);
    } catch (e) {
      setText(this.error, isUnreachable(e) ? `Could not reach the daemon to ${what} ${v.name} (${e.message}).`
        : `Could not ${what} ${v.name}: ${e.message}`);
      return null;
    } finally {
      v.busy = false;
      v.li.removeAttribute('aria-busy');
    }
  }

  async pause(v) {
    const resume = Boolean(v.s.paused);
    const path = `/api/schedules/${encodeURIComponent(v.name)}/${resume ? 'resume' : 'pause'}`;
    const res = await this.act(v, resume ? 'resume' : 'pause', 'POST', path);
    if (res?.data && this.views.get(v.name) === v) {
      this.update(v, res.data);
      setText(this.status, `${resume ? 'Resumed' : 'Paused'} ${v.name}.`);
    }
    this.poller.refresh();
  }

  async trigger(v) {
    const res = await this.act(v, 'run', 'POST', `/api/schedules/${encodeURIComponent(v.name)}/trigger`);
    if (res?.data?.id) {
      setText(this.status, `${v.name} made ${res.data.id}.`);
      this.onTriggered(res.data);
    }
    this.poller.refresh();
  }

  async remove(v) {
    const ok = await confirmAction({
      title: `Delete schedule ${v.name}?`,
      text: 'It fires no more, and cannot be resumed. The tasks it made stay.',
      action: 'Delete schedule',
    });
    if (!ok) return;
    const res = await this.act(v, 'delete', 'DELETE', `/api/schedules/${encodeURIComponent(v.name)}`);
    if (res) {
      this.drop(v.name);
      setText(this.status, `Deleted schedule ${v.name}.`);
    }
    this.poller.refresh();
  }
}
