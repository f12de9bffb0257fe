// The task table: one page of GET /api/tasks (newest first, cursor-paged), so the page costs
// the same with 100 or 100,000 retained tasks. Rows are kept and updated in place.
//
// Live updates: rows change in place; a task that stops matching the filter leaves (bug 2);
// new tasks enter the newest page at the top, unless the user is reading the table (pointer or
// focus in it, scrolled into it) or paused it: then they wait in the "N new tasks" bar and rows
// that left stay, marked, until the user is done, so nothing moves under the reader's eyes.
//
// Keyboard: the table is one Tab stop (roving tabindex on rows); arrows, Home/End, PageUp/
// PageDown move; Enter opens the detail; Space ticks the row for bulk actions.
import { api, hasFeature } from './api.js';
import { displayName, el, setName, setText } from './dom.js';
import { badge, isFinal, setBadge, stateRank } from './states.js';
import { durationOf, fmtDuration, setTime } from './time.js';

export const PAGE_SIZES = [25, 50, 100, 200, 500];
export const DEFAULT_PAGE_SIZE = 50;
const SETTLE_MS = 600;
const REFILL_MS = 400;

export const seqOf = (id) => Number(String(id).slice(1).split('.')[0]);

// ASCII case folding, as the daemon's search does (docs/dashboard-api.md).
const fold = (s) => String(s).replace(/[A-Z]+/g, (m) => m.toLowerCase());

export class TaskTable {
  // wrap: the scrolling box around the table; callbacks: onOpen(id, {focus}), onError(text),
  // onPage(info) after each load or live change of what the pager shows, onLive(info) for the
  // new-tasks bar, onChecked(ids) when the ticked rows change.
  constructor({ tbody, wrap, empty, onOpen, onError, onPage, onLive, onChecked }) {
    Object.assign(this, { tbody, wrap, empty, onOpen, onError, onPage, onLive, onChecked });
    this.filter = { state: '', q: '' };
    this.size = DEFAULT_PAGE_SIZE;
    // Where the page is: {cursor} (older than a task; null: the newest page), {after} (newer
    // than a task, daemon feature "tasks.paging") or {last: true} (the oldest page).
    this.position = { cursor: null };
    this.cursorStack = [];  // cursors of the pages before this one, to page back without "after"
    this.pageIndex = 0;  // 0-based, as far as this page knows (exact on the newest page)
    this.shown = null;  // the query the rows on screen came from
    this.tasks = [];  // summaries shown, newest first
    this.byId = new Map();
    this.rows = new Map();  // id -> {tr, cells} of the tasks shown
    this.rowAt = [];  // the rows in table order
    this.next = null;
    this.prev = null;
    this.total = null;  // from the daemon (feature "tasks.paging"), kept up to date live
    this.offset = null;
    this.totalHint = null;  // from the counts, when the filter is by state alone
    this.openId = null;
    this.focusId = null;
    this.checked = new Set();
    this.incoming = new Map();  // new tasks held back while the user reads
    this.incomingMore = 0;  // held back beyond a page's worth (shown by a reload)
    this.paused = false;
    this.pointerIn = false;
    this.scrolledPast = null;  // the table's top above the window's (null: measure again)
    this.wrapScrolled = false;  // the table's own box is scrolled down (noted at each scroll)
    this.loading = null;
    this.reloadWanted = false;
    this.duringLoad = null;  // while a page is on its way: the live updates that came meanwhile
    this.keepPlace = false;  // the load asked for last refreshes the rows shown (refresh())
    this.settleTimer = null;
    this.refillTimer = null;
    this.clockNow = () => Date.now() / 1000;
    this.listen();
  }

  listen() {
    const { tbody, wrap } = this;
    wrap.addEventListener('pointerenter', () => {
      this.pointerIn = true;
    });
    wrap.addEventListener('pointerleave', () => {
      this.pointerIn = false;
      this.settleSoon();
    });
    tbody.addEventListener('focusout', () => this.settleSoon());
    wrap.addEventListener('scroll', () => {
      // Read here, where a scroll has just laid the page out, not in every live update (a read
      // after the DOM changed would force a layout in the middle of one).
      this.wrapScrolled = wrap.scrollTop > 0;
      this.settleSoon();
    }, { passive: true });
    addEventListener('scroll', () => {
      this.scrolledPast = null;
      if (this.incoming.size || this.hasGone()) this.settleSoon();
    }, { passive: true });
    addEventListener('resize', () => {
      this.scrolledPast = null;
    }, { passive: true });
    tbody.addEventListener('click', (e) => {
      const tr = e.target.closest('tr[data-id]');
      if (!tr) return;
      if (e.target.closest('input[type=checkbox]')) {
        this.toggleChecked(tr.dataset.id, e.target.checked);
        return;
      }
      this.setFocus(tr.dataset.id, false);
      this.onOpen(tr.dataset.id, { focus: false });
    });
    tbody.addEventListener('keydown', (e) => this.key(e));
  }

  // ---- what is shown ------------------------------------------------------------------------
  get onNewest() {
    return !this.position.last && !this.position.after && !this.position.cursor;
  }

  // Reading: the pointer is on the table, or the keyboard is in it (a row focused by a click
  // does not count: the user then reads the detail pane), or it is scrolled into.
  get reading() {
    if (this.pointerIn) return true;
    const active = document.activeElement;
    if (this.tbody.contains(active) && active.matches(':focus-visible')) return true;
    if (this.wrapScrolled) return true;
    // Measured after a scroll only: a measurement in every live update would force a layout.
    if (this.scrolledPast === null) this.scrolledPast = this.wrap.getBoundingClientRect().top < 0;
    return this.scrolledPast;
  }

  get holding() {
    return this.paused || this.reading;
  }

  matches(task) {
    const { state, q } = this.filter;
    if (state && task.state !== state) return false;
    if (!q) return true;
    if (hasFeature('tasks.search')) return fold(task.name ?? '').includes(fold(q));
    return task.name === q;
  }

  setFilter(filter) {
    this.filter = { state: filter.state ?? '', q: filter.q ?? '' };
    return this.go({ cursor: null }, 0, []);
  }

  setSize(size) {
    this.size = PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE;
    return this.go({ cursor: null }, 0, []);
  }

  // Restores a page from a link: {cursor} or {last}; `pageIndex` as the link says.
  restore({ filter, size, cursor, last, pageIndex }) {
    this.filter = { state: filter.state ?? '', q: filter.q ?? '' };
    this.size = PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE;
    const position = last ? { last: true } : { cursor: cursor ?? null };
    // Without "after", a page reached from a link pages back to the newest in one step.
    const stack = cursor || last ? [null] : [];
    return this.go(position, cursor || last ? Math.max(1, pageIndex ?? 1) : 0, stack);
  }

  first() {
    return this.go({ cursor: null }, 0, []);
  }

  older() {
    if (!this.next) return Promise.resolve();
    return this.go({ cursor: this.next }, this.shownIndex() + 1,
      [...this.cursorStack, this.shown?.position.cursor ?? null]);
  }

  newer() {
    if (this.onNewest) return Promise.resolve();
    if (this.prev && hasFeature('tasks.paging')) {
      return this.go({ after: this.prev }, Math.max(0, this.shownIndex() - 1), this.cursorStack.slice(0, -1));
    }
    const stack = [...this.cursorStack];
    const cursor = stack.pop() ?? null;
    return this.go(cursor ? { cursor } : { cursor: null }, Math.max(0, this.shownIndex() - 1), stack);
  }

  last() {
    if (!hasFeature('tasks.paging')) return Promise.resolve();
    return this.go({ last: true }, null, [null]);
  }

  shownIndex() {
    return this.shown?.pageIndex ?? this.pageIndex ?? 0;
  }

  go(position, pageIndex, stack) {
    this.position = position;
    this.pageIndex = pageIndex;
    this.cursorStack = stack;
    this.incoming.clear();
    this.incomingMore = 0;
    this.checked.clear();
    this.onChecked?.([]);
    this.keepPlace = false;
    return this.reload();
  }

  // Fetches the rows shown again (after a gap in the event stream). While the user reads the
  // newest page or paused it, tasks newer than its top row go to the "N new tasks" bar, as
  // live ones do: a reconnect must not push the rows down under the reader.
  refresh() {
    this.keepPlace = true;
    return this.reload();
  }

  // One load at a time; a reload asked for meanwhile runs once after it. The promise settles
  // when the rows of the last load asked for are on screen.
  reload() {
    this.reloadWanted = true;
    if (!this.loading) {
      this.tbody.setAttribute('aria-busy', 'true');
      this.loading = (async () => {
        try {
          while (this.reloadWanted) {
            this.reloadWanted = false;
            try {
              await this.fetchPage();
            } catch (e) {
              if (!this.reloadWanted) throw e;
            }
          }
        } finally {
          this.loading = null;
          this.tbody.setAttribute('aria-busy', 'false');
        }
      })();
    }
    return this.loading;
  }

  query() {
    const { filter, size, position } = this;
    const q = new URLSearchParams({ limit: String(size) });
    if (filter.state) q.set('state', filter.state);
    if (filter.q) q.set(hasFeature('tasks.search') ? 'q' : 'name', filter.q);
    if (position.cursor) q.set('cursor', position.cursor);
    if (position.after) q.set('after', position.after);
    if (position.last) q.set('last', '1');
    return q;
  }

  async fetchPage() {
    const asked = { filter: this.filter, size: this.size, position: this.position,
      pageIndex: this.pageIndex };
    // Kept across a load superseded by another: those updates are the next rows' too (merge()
    // drops what the fetched page already shows a later state of).
    this.duringLoad ??= [];
    try {
      const { data } = await api('GET', `/api/tasks?${this.query()}`);
      // A newer page or filter was asked for meanwhile: its load, next, shows the rows.
      if (this.reloadWanted) return;
      const keepPlace = this.keepPlace && this.holding && this.sameNewestView(asked);
      this.keepPlace = false;
      // "Newer" reached the newest page: it is the live one again.
      if (asked.position.after && !data.prev_cursor) {
        asked.position = { cursor: null };
        asked.pageIndex = 0;
        this.position = asked.position;
        this.cursorStack = [];
      }
      this.shown = asked;
      const fetched = Array.isArray(data.tasks) ? data.tasks : [];
      const top = keepPlace ? Math.max(...this.tasks.map((t) => seqOf(t.id))) : Infinity;
      const held = fetched.filter((t) => seqOf(t.id) > top);
      this.tasks = held.length ? fetched.filter((t) => seqOf(t.id) <= top) : fetched;
      this.byId = new Map(this.tasks.map((t) => [t.id, t]));
      this.next = data.next_cursor ?? null;
      this.prev = data.prev_cursor ?? null;
      this.total = Number.isFinite(data.total) ? data.total : null;
      this.offset = Number.isFinite(data.offset) ? data.offset : null;
      if (this.offset !== null) this.shown.pageIndex = Math.floor(this.offset / this.size);
      // The oldest page, known only to the daemon: it has no older page, and its position
      // comes from the totals.
      if (asked.position.last && this.total !== null) {
        this.shown.pageIndex = Math.max(0, Math.ceil(this.total / this.size) - 1);
      }
      this.incoming = new Map(held.map((t) => [t.id, t]));
      this.incomingMore = 0;
      this.onError('');
      const late = this.duringLoad;
      this.duringLoad = null;
      this.render();
      // Transitions that came while the page was on its way; those older than it are dropped.
      if (late.length) this.apply(late.flatMap((x) => x.updates), late.flatMap((x) => x.removed));
      else this.reportLive();
    } catch (e) {
      this.onError(`Could not load tasks: ${e.message}`);
      throw e;
    } finally {
      if (this.duringLoad && !this.reloadWanted) {
        // The load failed: the rows shown are the old ones, and these updates are theirs.
        const late = this.duringLoad;
        this.duringLoad = null;
        this.apply(late.flatMap((x) => x.updates), late.flatMap((x) => x.removed));
      }
      this.reportPage();
    }
  }

  // Whether `asked` is the newest page of the view on screen, rows and all.
  sameNewestView(asked) {
    const shown = this.shown;
    const newest = (p) => !p.last && !p.after && !p.cursor;
    return Boolean(shown) && this.tasks.length > 0 && newest(asked.position) && newest(shown.position) &&
      shown.size === asked.size && shown.filter.state === asked.filter.state && shown.filter.q === asked.filter.q;
  }

  // ---- live ---------------------------------------------------------------------------------
  // updates: task summaries, partial ({id, state, ...}, `_time`: when the daemon sent it);
  // removed: ids of tasks deleted or evicted.
  apply(updates, removed = []) {
    if (this.duringLoad) {
      this.duringLoad.push({ updates, removed });
      return;
    }
    const holding = this.holding;
    let changed = false;
    let dropped = false;
    for (const id of removed) {
      this.incoming.delete(id);
      this.checked.delete(id);
      const t = this.byId.get(id);
      if (!t) continue;
      changed = true;
      if (this.total !== null) this.total -= 1;
      if (holding) t._gone = 'removed';
      else {
        this.drop(id);
        dropped = true;
      }
    }
    for (const u of updates) {
      const t = this.byId.get(u.id);
      if (t) {
        if (!merge(t, u)) continue;
        changed = true;
        const fits = this.matches(t);
        if (!fits && !t._gone) {
          if (this.total !== null) this.total -= 1;
          if (holding) t._gone = 'filter';
          else {
            this.drop(t.id);
            dropped = true;
          }
        } else if (fits && t._gone === 'filter') {
          delete t._gone;
          if (this.total !== null) this.total += 1;
        }
        continue;
      }
      if (!this.onNewest) continue;  // only the newest page takes new rows
      const held = this.incoming.get(u.id);
      if (held) {
        merge(held, u);
        if (!this.matches(held)) this.incoming.delete(u.id);
        continue;
      }
      if (u.name === undefined || u.state === undefined || !this.matches(u)) continue;
      const oldest = this.tasks[this.tasks.length - 1];
      if (this.tasks.length >= this.size && oldest && seqOf(u.id) < seqOf(oldest.id)) continue;
      if (this.total !== null) this.total += 1;
      if (holding) {
        if (this.incoming.size < this.size) this.incoming.set(u.id, strip(u));
        else this.incomingMore += 1;
      } else {
        this.insert(strip(u));
        changed = true;
      }
    }
    if (dropped && this.next) this.refillSoon();
    if (changed) this.render();
    this.reportPage();
    this.reportLive();
  }

  insert(task) {
    this.byId.set(task.id, task);
    const seq = seqOf(task.id);
    let i = 0;
    while (i < this.tasks.length && seqOf(this.tasks[i].id) > seq) i += 1;
    this.tasks.splice(i, 0, task);
    if (this.tasks.length > this.size) {
      for (const gone of this.tasks.splice(this.size)) this.byId.delete(gone.id);
      this.next = this.tasks[this.tasks.length - 1].id;
    }
  }

  drop(id) {
    this.byId.delete(id);
    const i = this.tasks.findIndex((t) => t.id === id);
    if (i >= 0) this.tasks.splice(i, 1);
  }

  hasGone() {
    return this.tasks.some((t) => t._gone);
  }

  // The page is short of rows after some left: fetch it again (when no one is reading it).
  refillSoon() {
    clearTimeout(this.refillTimer);
    this.refillTimer = setTimeout(() => {
      if (this.holding) this.refillSoon();
      else this.reload().catch(() => {});
    }, REFILL_MS);
  }

  settleSoon() {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      if (!this.holding) this.settle();
    }, SETTLE_MS);
  }

  // Shows what was held back: new tasks in, rows that left out.
  settle() {
    clearTimeout(this.settleTimer);
    if (this.incomingMore > 0) {
      this.reload().catch(() => {});
      return;
    }
    let changed = false;
    for (const t of [...this.tasks]) {
      if (t._gone) {
        this.drop(t.id);
        changed = true;
      }
    }
    for (const t of this.incoming.values()) {
      if (this.matches(t) && !this.byId.has(t.id)) {
        this.insert(t);
        changed = true;
      }
    }
    this.incoming.clear();
    if (changed) this.render();
    if (changed && this.next && this.tasks.length < this.size) this.refillSoon();
    this.reportLive();
    this.reportPage();
  }

  setPaused(paused) {
    this.paused = paused;
    if (!paused) this.settleSoon();
    this.reportLive();
  }

  reportLive() {
    const gone = this.tasks.reduce((n, t) => n + (t._gone ? 1 : 0), 0);
    this.onLive?.({ newCount: this.incoming.size + this.incomingMore, gone, paused: this.paused,
      newest: this.onNewest });
  }

  reportPage() {
    const shown = this.shown;
    const index = shown?.pageIndex ?? null;
    const total = this.total ?? (this.filter.q ? null : this.totalHint);
    let from = null;
    if (this.offset !== null) from = this.offset + 1;
    else if (index !== null) from = index * this.size + 1;
    this.onPage?.({
      from: this.tasks.length ? from : null,
      to: this.tasks.length && from !== null ? from + this.tasks.length - 1 : null,
      count: this.tasks.length,
      total,
      pageIndex: index,
      newest: this.onNewest,
      canNewer: !this.onNewest,
      canOlder: Boolean(this.next),
      canLast: hasFeature('tasks.paging') && !(shown?.position.last) && Boolean(this.next),
      lastSupported: hasFeature('tasks.paging'),
      position: this.position,
      size: this.size,
      filter: this.filter,
    });
  }

  // ---- selection, focus, keys ---------------------------------------------------------------
  setOpen(id) {
    this.openId = id;
    for (const [rid, row] of this.rows) {
      if (rid === id) row.tr.setAttribute('aria-current', 'true');
      else row.tr.removeAttribute('aria-current');
    }
  }

  setFocus(id, move) {
    this.focusId = id;
    for (const [rid, row] of this.rows) row.tr.tabIndex = rid === id ? 0 : -1;
    if (move) this.rows.get(id)?.tr.focus();
  }

  focusFirst() {
    const first = this.tasks[0];
    if (first) this.setFocus(first.id, true);
  }

  key(e) {
    const tr = e.target.closest('tr[data-id]');
    if (!tr || e.target !== tr) return;
    const ids = this.tasks.map((t) => t.id);
    const i = ids.indexOf(tr.dataset.id);
    const moveTo = (j) => {
      e.preventDefault();
      const k = Math.max(0, Math.min(ids.length - 1, j));
      if (ids[k]) this.setFocus(ids[k], true);
    };
    switch (e.key) {
      case 'ArrowDown': return moveTo(i + 1);
      case 'ArrowUp': return moveTo(i - 1);
      case 'Home': return moveTo(0);
      case 'End': return moveTo(ids.length - 1);
      case 'PageDown': return moveTo(i + 10);
      case 'PageUp': return moveTo(i - 10);
      case 'Enter':
        e.preventDefault();
        this.onOpen(tr.dataset.id, { focus: true });
        return undefined;
      case ' ':
        e.preventDefault();
        this.toggleChecked(tr.dataset.id, !this.checked.has(tr.dataset.id));
        return undefined;
      default:
        return undefined;
    }
  }

  toggleChecked(id, on) {
    if (on) this.checked.add(id);
    else this.checked.delete(id);
    const box = this.rows.get(id)?.cells.check;
    if (box) box.checked = on;
    this.onChecked?.([...this.checked]);
  }

  checkPage(on) {
    for (const t of this.tasks) {
      if (on) this.checked.add(t.id);
      else this.checked.delete(t.id);
    }
    for (const [id, row] of this.rows) row.cells.check.checked = this.checked.has(id);
    this.onChecked?.([...this.checked]);
  }

  checkedTasks() {
    return [...this.checked].map((id) => this.byId.get(id)).filter(Boolean);
  }

  // ---- rendering ----------------------------------------------------------------------------
  makeRow(task) {
    const check = el('input', { type: 'checkbox', tabindex: '-1', 'aria-label': `Select ${task.id}` });
    const cells = {
      select: el('td', { class: 'sel' }, check),
      id: el('td', { class: 'mono id' }),
      name: el('td', { class: 'name nm' }),
      kind: el('td', { class: 'mono kind' }),
      state: el('td', { class: 'state' }),
      started: el('td', { class: 'mono started' }, el('time')),
      duration: el('td', { class: 'num duration' }),
    };
    cells.check = check;
    cells.badge = badge(task.state);
    cells.gone = el('span', { class: 'gone-note' });
    cells.state.append(cells.badge, cells.gone);
    const tr = el('tr', { tabindex: '-1', 'data-id': task.id },
      cells.select, cells.id, cells.name, cells.kind, cells.state, cells.started, cells.duration);
    return { tr, cells };
  }

  // Row elements are positional: the i-th <tr> shows the i-th task. New tasks at the top change
  // the rows' contents, never their positions, so a burst shifts no layout (a shift is what
  // loses a reader's place) and costs no DOM moves.
  render() {
    const now = this.clockNow();
    const active = document.activeElement;
    const hadFocus = this.tbody.contains(active) ? active.closest('tr[data-id]') : null;
    const focusedTask = hadFocus?.dataset.id ?? null;
    const focusIndex = hadFocus ? this.rowAt.findIndex((r) => r.tr === hadFocus) : -1;
    const keep = new Map();
    this.tasks.forEach((task, i) => {
      let row = this.rowAt[i];
      const duration = fmtDuration(durationOf(task, now));
      const checked = this.checked.has(task.id);
      const current = task.id === this.openId;
      // What the row shows, in one string: an unchanged row costs no DOM reads or writes.
      const shows = [task.id, task.name, task.kind, task.state, task.started, duration, checked,
        task._gone, current].join('\u0000');
      if (row && row.shows === shows) {
        keep.set(task.id, row);
        return;
      }
      if (!row) {
        row = this.makeRow(task);
        this.rowAt[i] = row;
        this.tbody.append(row.tr);
      }
      row.shows = shows;
      keep.set(task.id, row);
      const c = row.cells;
      if (row.tr.dataset.id !== task.id) {
        row.tr.dataset.id = task.id;
        c.check.setAttribute('aria-label', `Select ${task.id}`);
      }
      setText(c.id, task.id);
      setName(c.name, task.name);
      const full = displayName(task.name);
      if (c.name.title !== full) c.name.title = full;
      setText(c.kind, task.kind ?? '');
      setBadge(c.badge, task.state);
      if (row.tr.dataset.state !== task.state) row.tr.dataset.state = task.state;
      setTime(c.started.firstChild, task.started);
      setText(c.duration, duration);
      if (c.check.checked !== checked) c.check.checked = checked;
      if (task._gone) {
        row.tr.dataset.gone = task._gone;
        setText(c.gone, task._gone === 'removed' ? ' (deleted)' : ' (no longer matches)');
      } else if (row.tr.dataset.gone) {
        delete row.tr.dataset.gone;
        setText(c.gone, '');
      }
      if (current !== row.tr.hasAttribute('aria-current')) {
        if (current) row.tr.setAttribute('aria-current', 'true');
        else row.tr.removeAttribute('aria-current');
      }
    });
    while (this.rowAt.length > this.tasks.length) this.rowAt.pop().tr.remove();
    this.rows = keep;
    // One row is the table's Tab stop: the one last focused, else the open one, else the first.
    if (focusedTask && keep.has(focusedTask)) this.focusId = focusedTask;
    if (!keep.has(this.focusId)) this.focusId = keep.has(this.openId) ? this.openId : this.tasks[0]?.id ?? null;
    for (const [id, row] of keep) {
      const t = id === this.focusId ? 0 : -1;
      if (row.tr.tabIndex !== t) row.tr.tabIndex = t;
    }
    // Focus follows its task to the row that shows it now; a focused task that left hands focus
    // to the row in its place (or the last), never to <body>.
    if (hadFocus && focusIndex >= 0) {
      const target = keep.get(focusedTask)?.tr ?? this.rowAt[Math.min(focusIndex, this.rowAt.length - 1)]?.tr;
      if (target) {
        if (!keep.has(focusedTask)) this.setFocus(target.dataset.id, false);
        if (target !== document.activeElement) target.focus({ preventScroll: true });
      }
    }
    this.empty.hidden = this.tasks.length > 0;
  }

  // Running tasks' durations count up between transitions (up to `now`).
  tick(now) {
    for (const task of this.tasks) {
      if (isFinal(task.state) || !task.started) continue;
      const row = this.rows.get(task.id);
      if (row) setText(row.cells.duration, fmtDuration(durationOf(task, now)));
    }
  }
}

// Merges a live update into a summary; false when the update is older than what is known (a
// transition sent before the page was fetched), so a finished task never shows running again.
export function merge(task, u) {
  const time = u._time;
  if (typeof time === 'number' && u.state !== undefined &&
      stateRank(u.state) < stateRank(task.state)) {
    const known = task.finished ?? task.started ?? task.created ?? 0;
    if (time <= known) return false;
    // A newer move down is a retry: the previous run's outcome no longer applies.
    for (const k of ['finished', 'duration', 'result', 'error']) delete task[k];
    if (u.state === 'pending') delete task.started;
  }
  for (const [k, v] of Object.entries(u)) {
    if (k !== '_time' && k !== 'id') task[k] = v;
  }
  return true;
}

function strip(u) {
  const t = { ...u };
  delete t._time;
  return t;
}
