// The task table: one page of GET /api/tasks (newest first, cursor-paged), so the page costs
// the same with 100 or 100,000 retained tasks. Rows are kept and updated in place.
import { api } from './api.js';
import { durationOf, el, fmtDateTime, fmtDuration, fmtTime, setText } from './dom.js';
import { badge, isFinal, setBadge } from './states.js';

export const PAGE_SIZE = 50;

const seqOf = (id) => Number(String(id).slice(1));

export class TaskTable {
  constructor({ tbody, empty, pageLabel, buttons, onSelect, onError }) {
    Object.assign(this, { tbody, empty, pageLabel, buttons, onSelect, onError });
    this.filter = { state: '', name: '' };
    this.cursors = [null];  // cursor of each page visited; the last is the current page's
    // What the rows on screen were fetched with: a click during a load must not label the old
    // rows with the new page, nor page onward from a cursor of a page not yet shown.
    this.shown = { cursors: [null], filter: this.filter };
    this.next = null;
    this.tasks = [];  // summaries shown, newest first
    this.rows = new Map();  // id -> {tr, cells}
    this.selected = null;
    this.loading = null;
    this.reloadWanted = false;
    buttons.newest.addEventListener('click', () => this.go([null]));
    buttons.newer.addEventListener('click', () => this.go(this.shown.cursors.slice(0, -1)));
    buttons.older.addEventListener('click',
      () => this.next && this.go([...this.shown.cursors, this.next]));
  }

  get onFirstPage() {
    return this.shown.cursors.length === 1;
  }

  setFilter(filter) {
    this.filter = filter;
    return this.go([null]);
  }

  go(cursors) {
    if (cursors.length === 0) return Promise.resolve();
    this.cursors = cursors;
    return this.reload();
  }

  // One load at a time; a reload asked for meanwhile runs once after it.
  reload() {
    if (this.loading) {
      this.reloadWanted = true;
      return this.loading;
    }
    this.tbody.setAttribute('aria-busy', 'true');
    this.loading = this.fetchPage().finally(() => {
      this.loading = null;
      if (this.reloadWanted) {
        this.reloadWanted = false;
        this.reload();
      } else {
        this.tbody.setAttribute('aria-busy', 'false');
      }
    });
    return this.loading;
  }

  async fetchPage() {
    const { cursors, filter } = this;
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (filter.state) q.set('state', filter.state);
    if (filter.name) q.set('name', filter.name);
    const cursor = cursors[cursors.length - 1];
    if (cursor) q.set('cursor', cursor);
    try {
      const { data } = await api('GET', `/api/tasks?${q}`);
      // A newer page or filter was asked for meanwhile: its load, next, shows the rows.
      if (this.reloadWanted) return;
      this.shown = { cursors, filter };
      this.tasks = data.tasks;
      this.next = data.next_cursor;
      this.onError('');
    } catch (e) {
      this.onError(e.message);
      throw e;
    }
    this.render();
  }

  matches(task) {
    const { filter } = this.shown;
    return (!filter.state || task.state === filter.state) &&
      (!filter.name || task.name === filter.name);
  }

  // Applies a batch of task summaries (from the event stream or a submit). Returns true when
  // a task the page should show is not known well enough to show, so the page must be fetched.
  apply(updates) {
    let refetch = false;
    let inserted = false;
    for (const u of updates) {
      const current = this.tasks.find((t) => t.id === u.id);
      if (current) {
        Object.assign(current, u);
        if (current.started && current.finished) current.duration = current.finished - current.started;
        continue;
      }
      if (!this.onFirstPage) continue;
      const newest = this.tasks.length ? seqOf(this.tasks[0].id) : 0;
      if (seqOf(u.id) <= newest) continue;  // an older task that left or never matched the page
      if (u.name === undefined || u.state === undefined || u.kind === undefined) {
        refetch = true;
        continue;
      }
      if (!this.matches(u)) continue;
      this.tasks.push({ ...u });
      inserted = true;
    }
    if (inserted) {
      this.tasks.sort((a, b) => seqOf(b.id) - seqOf(a.id));
      if (this.tasks.length > PAGE_SIZE) {
        this.tasks.length = PAGE_SIZE;
        this.next = this.tasks[PAGE_SIZE - 1].id;
      }
    }
    this.render();
    return refetch;
  }

  select(id) {
    this.selected = id;
    for (const [rid, row] of this.rows) row.tr.setAttribute('aria-selected', String(rid === id));
  }

  makeRow(task) {
    const cells = {
      id: el('td', { class: 'mono' }),
      name: el('td', { class: 'name' }),
      kind: el('td', { class: 'mono' }),
      state: el('td'),
      started: el('td', { class: 'mono' }),
      duration: el('td', { class: 'num' }),
    };
    cells.badge = badge(task.state);
    cells.state.append(cells.badge);
    const tr = el('tr', { tabindex: '0', 'data-id': task.id }, Object.values(cells).slice(0, 6));
    const open = () => this.onSelect(tr.dataset.id);
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        open();
      }
    });
    return { tr, cells };
  }

  render() {
    const now = Date.now() / 1000;
    const keep = new Map();
    let prev = null;
    for (const task of this.tasks) {
      const row = this.rows.get(task.id) ?? this.makeRow(task);
      keep.set(task.id, row);
      const c = row.cells;
      setText(c.id, task.id);
      setText(c.name, task.name);
      c.name.title = task.name ?? '';
      setText(c.kind, task.kind ?? '');
      setBadge(c.badge, task.state);
      row.tr.dataset.state = task.state;
      setText(c.started, fmtTime(task.started));
      c.started.title = fmtDateTime(task.started);
      setText(c.duration, fmtDuration(durationOf(task, now)));
      row.tr.setAttribute('aria-selected', String(task.id === this.selected));
      // Moves only rows out of place, so an update of rows in place touches no row order.
      const want = prev ? prev.nextSibling : this.tbody.firstChild;
      if (want !== row.tr) this.tbody.insertBefore(row.tr, want);
      prev = row.tr;
    }
    for (const [id, row] of this.rows) if (!keep.has(id)) row.tr.remove();
    this.rows = keep;
    this.empty.hidden = this.tasks.length > 0;
    const page = this.shown.cursors.length;
    setText(this.pageLabel, `page ${page}`);
    this.buttons.newer.disabled = page === 1;
    this.buttons.newest.disabled = page === 1;
    this.buttons.older.disabled = !this.next;
  }

  // Running tasks' durations count up between transitions.
  tick() {
    const now = Date.now() / 1000;
    for (const task of this.tasks) {
      if (isFinal(task.state) || !task.started) continue;
      const row = this.rows.get(task.id);
      if (row) setText(row.cells.duration, fmtDuration(durationOf(task, now)));
    }
  }
}
