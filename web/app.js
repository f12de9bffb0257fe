// Wires the dashboard together. Transitions from the event stream are queued and applied once
// per animation frame, so a burst of them costs one render, not one per event.
import {
  api, currentToken, hasFeature, isUnreachable, onReachability, onTokenChange, setFeatures,
  setTokenPrompt,
} from './api.js';
import { BulkBar } from './bulk.js';
import { ThroughputChart } from './chart.js';
import { Detail } from './detail.js';
import { el, setText } from './dom.js';
import { HealthPanel } from './health.js';
import { InstancesPanel } from './instances.js';
import { Pager } from './pager.js';
import { QueuesPanel } from './queues.js';
import { SchedulesPanel } from './schedules.js';
import { STATES, badge } from './states.js';
import { setupSubmit } from './submit.js';
import { merge, seqOf, TaskTable } from './table.js';
import { fmtClock, zoneName } from './time.js';
import { isTaskId, readUrl, writeUrl } from './url-state.js';

const $ = (id) => document.getElementById(id);
const STATS_MIN_INTERVAL_MS = 250;
const STATS_IDLE_MS = 5000;
const POLL_MS = 1000;
const HIDDEN_FLUSH_MS = 250;
const HIDDEN_QUEUE_MAX = 20000;

// Read by the benchmark (bench/dashboard_bench.mjs) and the browser tests.
const metrics = {
  events: 0, batches: 0, frames: 0, applied: 0, flushMs: 0, maxFlushMs: 0, firstRenderMs: null,
};
globalThis.uasyncdDashboard = { metrics };

// ---- token prompt --------------------------------------------------------------------------
setTokenPrompt((refused) => new Promise((resolve) => {
  const dialog = $('token-dialog');
  const input = $('token-input');
  setText($('token-message'), refused
    ? 'That token was refused. Enter the daemon\'s token.'
    : 'This daemon asks for a token. It is kept for this tab only.');
  input.value = '';
  const done = (e) => {
    e.preventDefault();
    if (!input.value) return;
    $('token-form').removeEventListener('submit', done);
    dialog.close();
    resolve(input.value);
  };
  $('token-form').addEventListener('submit', done);
  // The page is useless without the token: Escape must not close the prompt.
  dialog.addEventListener('cancel', (e) => e.preventDefault());
  dialog.showModal();
  input.focus();
}));

// ---- connection: one event stream per browser, shared by its tabs (bug 1) -----------------
let offlineSince = null;  // daemon-out-of-reach time (seconds), or null
let feedMode = 'connecting';
let apiDown = false;
let polling = false;

// The clock durations count against: it stops while the daemon is out of reach.
const now = () => offlineSince ?? Date.now() / 1000;

function setOffline(off) {
  if (off === (offlineSince !== null)) return;
  offlineSince = off ? Date.now() / 1000 : null;
  document.body.toggleAttribute('data-stale', off);
  for (const tag of document.querySelectorAll('.stale-tag')) tag.hidden = !off;
  $('offline-banner').hidden = !off;
  tick();  // the running times stop at the moment the daemon was lost, not a second later
  if (off) setText($('offline-since'), `since ${fmtClock(offlineSince)} ${zoneName()}`);
  // Back: a stream says so with 'open' (and the page fetches everything again then); polling
  // fetches again here.
  else if (polling) resync();
}

// Out of reach from the first failed reconnect until the stream is live again (a reconnect
// attempt in between changes nothing); when polling, while the last call failed.
function updateOffline() {
  if (polling) setOffline(apiDown);
  else if (feedMode === 'reconnecting') setOffline(true);
  else if (feedMode === 'live') setOffline(false);
}

onReachability((ok) => {
  apiDown = !ok;
  if (polling || !ok) updateOffline();
});

const LABELS = {
  connecting: 'connecting…',
  live: 'live',
  polling: 'polling (no event stream)',
  unauthorized: 'waiting for the token',
};

function onStatus(mode, waitMs) {
  // Joining a stream already live (another tab's): what changed since the first page was
  // fetched is fetched again.
  if (mode === 'live' && !everLive) {
    everLive = true;
    resync();
  }
  feedMode = mode;
  const indicator = $('connection');
  indicator.dataset.state = mode;
  const retry = mode === 'reconnecting' ? `retrying in ${Math.max(1, Math.ceil((waitMs ?? 0) / 1000))} s` : '';
  setText($('connection-text'), mode === 'reconnecting' ? `disconnected, ${retry}` : LABELS[mode] ?? mode);
  setText($('offline-retry'), retry ? `Retrying in ${Math.max(1, Math.ceil(waitMs / 1000))} s.` : 'Retrying.');
  if (mode === 'polling' && !polling) startPolling();
  updateOffline();
}

let followOk = false;  // the stream carries output of followed tasks ("events.follow")
let everLive = false;
function onFeed(msg) {
  if (!msg || typeof msg !== 'object') return;
  if (msg.t === 'status') onStatus(msg.mode, msg.wait);
  else if (msg.t === 'open') resync();
  else if (msg.t === 'msg') onStreamMessage(msg.data, msg.event);
}

function onStreamMessage(data, event) {
  if (event === 'lost') {
    // The daemon dropped transitions for this slow reader: what is shown may be stale.
    resync();
    return;
  }
  let value;
  try {
    value = JSON.parse(data);
  } catch {
    return;  // not ours to show; the next batch or a resync brings the state
  }
  if (event === 'message') enqueue(Array.isArray(value) ? value : [value]);
  else if (event === 'hello') {
    followOk = Array.isArray(value?.features) && value.features.includes('events.follow');
    if (followOk) detail.output.streamReady();
  }
  else if (event === 'output') detail.output.frame(value);
  else if (event === 'output-end') detail.output.ended(value?.id);
}

// Connected once the first page is on screen: the stream (and, the first time, the worker's
// scripts) would otherwise compete with the first render's requests. What happened before it
// connected is fetched again when it is first live.
let feed = null;
const feedSend = (msg) => feed?.send(msg);
// How this tab gets the stream ('worker' | 'leader' | 'own'), for the tests.
globalThis.uasyncdDashboard.feedMode = () => feed?.mode;
globalThis.uasyncdDashboard.feedLeading = () => Boolean(feed?.leading);
globalThis.uasyncdDashboard.canFollow = () => followOk && feedMode === 'live';
onTokenChange((token) => feedSend({ t: 'token', token }));
$('retry-now').addEventListener('click', () => {
  feedSend({ t: 'retry' });
  refreshStats().catch(() => {});
});

// ---- counts, health, throughput ------------------------------------------------------------
const countCells = new Map();
for (const state of STATES) {
  const n = el('span', { class: 'count-n', text: '–' });
  countCells.set(state, n);
  $('counts').append(el('li', {},
    el('button', { type: 'button', class: 'count', 'data-state': state, 'aria-pressed': 'false',
      title: 'Show only these (again: show all)',
      onclick: () => applyFilter({ state: table.filter.state === state ? '' : state, q: $('filter-name').value.trim() }) },
    badge(state), n)));
}
const health = new HealthPanel($('health'));
const chart = new ThroughputChart({ figure: $('throughput'), note: $('chart-note'), summary: $('chart-summary') });
let lastStats = null;

let statsLoading = null;
let statsAgain = false;
let statsLast = 0;
function refreshStats() {
  if (statsLoading) {
    statsAgain = true;
    return statsLoading;
  }
  const wait = Math.max(0, statsLast + STATS_MIN_INTERVAL_MS - Date.now());
  statsLoading = (wait ? new Promise((r) => setTimeout(r, wait)) : Promise.resolve())
    .then(() => api('GET', '/api/stats'))
    .then(({ data }) => showStats(data))
    .finally(() => {
      statsLast = Date.now();
      statsLoading = null;
      if (statsAgain) {
        statsAgain = false;
        refreshStats().catch(() => {});
      }
    });
  return statsLoading;
}

let historyLoaded = false;
function showStats(data) {
  lastStats = data;
  const hadSearch = hasFeature('tasks.search');
  setFeatures(data.features);
  if (hasFeature('tasks.search') !== hadSearch) searchChanged();
  if (hasFeature('stats.history') && !historyLoaded) loadHistory();
  instances.setAvailable(hasFeature('instances'));
  for (const [state, n] of countCells) setText(n, (data.tasks?.[state] ?? 0).toLocaleString('en'));
  health.show(data);
  const { state, q } = table.filter;
  table.totalHint = q ? null : state ? data.tasks?.[state] ?? null
    : Object.values(data.tasks ?? {}).reduce((a, b) => a + b, 0);
  table.reportPage();
  bulk.update([...table.checked]);
}

function loadHistory() {
  historyLoaded = true;
  api('GET', '/api/stats/history').then(({ data }) => chart.load(data)).catch(() => {
    historyLoaded = false;
  });
}

// ---- table, filters, pager, detail ---------------------------------------------------------
const pagers = [];
const table = new TaskTable({
  tbody: $('task-rows'),
  wrap: $('table-wrap'),
  empty: $('empty'),
  onOpen: (id, { focus }) => openTask(id, { focus, push: true }),
  onError: (message) => setText($('table-error'), message),
  onPage: (info) => {
    for (const p of pagers) p.show(info);
    syncUrl();
  },
  onLive: showLive,
  onChecked: (ids) => bulk.update(ids),
});
table.clockNow = now;

const pagerActions = {
  onFirst: () => table.first().catch(() => {}),
  onNewer: () => table.newer().catch(() => {}),
  onOlder: () => table.older().catch(() => {}),
  onLast: () => table.last().catch(() => {}),
  onSize: (n) => table.setSize(n).catch(() => {}),
};
pagers.push(new Pager($('pager-top'), { primary: true, ...pagerActions }),
  new Pager($('pager-bottom'), { primary: false, ...pagerActions }));

const bulk = new BulkBar({
  root: $('bulk'),
  table,
  totalOf: () => table.total ?? (table.filter.q ? null : table.totalHint),
  onDone: (removedIds) => {
    if (removedIds.length) table.apply([], removedIds);
    table.reload().catch(() => {});
    refreshStats().catch(() => {});
  },
});

// The new-tasks bar and the pause toggle. The bar's room is kept whether it shows or not, so
// its coming and going moves nothing.
function showLive({ newCount, gone, paused, newest }) {
  const button = $('new-tasks');
  const parts = [];
  if (newCount) parts.push(`${newCount.toLocaleString('en')} new task${newCount === 1 ? '' : 's'}`);
  if (gone) parts.push(`${gone.toLocaleString('en')} changed`);
  button.hidden = parts.length === 0;
  setText(button, parts.length ? `Show ${parts.join(', ')}` : '');
  let note = '';
  if (paused) note = 'Paused: the list holds still; states still update.';
  else if (!newest) note = 'Older page: new tasks appear on the newest page.';
  else if (parts.length) note = 'Held while you read the table.';
  else note = 'Live.';
  setText($('live-note'), note);
  $('pause').setAttribute('aria-pressed', String(paused));
  setText($('pause'), paused ? 'Resume' : 'Pause');
}
$('new-tasks').addEventListener('click', () => {
  if (!table.onNewest) {
    table.first().catch(() => {});
    return;
  }
  table.settle();
  table.focusFirst();
});
$('pause').addEventListener('click', () => table.setPaused(!table.paused));

for (const state of STATES) $('filter-state').append(el('option', { value: state }, state));

function searchChanged() {
  setText($('filter-name-label'), hasFeature('tasks.search') ? 'Name contains' : 'Name (exact)');
}

function showFilter({ state, q }) {
  $('filter-state').value = state;
  $('filter-name').value = q;
  for (const b of document.querySelectorAll('.count')) {
    b.setAttribute('aria-pressed', String(b.dataset.state === state));
  }
}

function applyFilter(filter) {
  showFilter(filter);
  if (lastStats) showStats(lastStats);
  table.setFilter(filter).then(() => {
    if (lastStats) showStats(lastStats);
  }).catch(() => {});
  urlPush = true;
}

$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  applyFilter({ state: $('filter-state').value, q: $('filter-name').value.trim() });
});
$('filter-state').addEventListener('change', () => {
  applyFilter({ state: $('filter-state').value, q: $('filter-name').value.trim() });
});

const narrow = matchMedia('(max-width: 1099px)');
const detail = new Detail({
  placeholder: $('detail-placeholder'),
  body: $('detail-body'),
  onChanged: () => refreshStats().catch(() => {}),
  onGone: (id) => {
    table.apply([], [id]);
    refreshStats().catch(() => {});
  },
  onOpen: (id, task) => {
    if (task) enqueue([task]);
    openTask(id, { focus: false, push: true });
  },
  follow: (ids) => feedSend({ t: 'follow', ids }),
  canFollow: () => followOk && feedMode === 'live',
});

let openId = null;
function openTask(id, { focus = false, push = false } = {}) {
  openId = id;
  table.setOpen(id.split('.')[0]);
  const shown = detail.show(id, table.byId.get(id.split('.')[0]));
  if (focus) {
    detail.focusHeading();
  } else if (narrow.matches && push) {
    // One column: the pane is below the table; bring it into view.
    $('detail').scrollIntoView({ block: 'start' });
  }
  urlPush = push;
  syncUrl();
  return shown;
}

$('jump').addEventListener('submit', (e) => {
  e.preventDefault();
  const id = $('jump-input').value.trim();
  if (!isTaskId(id)) {
    setText($('jump-error'), 'Enter a task id such as t42, or a step id such as t42.3.');
    $('jump-input').setAttribute('aria-invalid', 'true');
    return;
  }
  setText($('jump-error'), '');
  $('jump-input').removeAttribute('aria-invalid');
  openTask(id, { focus: true, push: true });
});

// ---- the address: filter, page, size, open task --------------------------------------------
let urlPush = false;
let restoring = true;  // until the view in the address is on screen, the address stays as it is
function syncUrl() {
  if (restoring) return;
  const info = table.shown;
  const position = info?.position ?? table.position;
  // A page other than the newest is linked by the task just above its first row, so the link
  // opens the same rows however the page was reached (older, newer, "after").
  const first = table.tasks[0];
  const cursor = position.last || table.onNewest ? null
    : first ? `t${seqOf(first.id) + 1}` : position.cursor ?? null;
  writeUrl({
    state: table.filter.state,
    q: table.filter.q,
    cursor,
    last: Boolean(position.last),
    page: info?.pageIndex !== null && info?.pageIndex !== undefined ? info.pageIndex + 1 : null,
    size: table.size !== 50 ? table.size : null,
    task: openId,
  }, { push: urlPush });
  urlPush = false;
}

async function restoreFromUrl() {
  const view = readUrl();
  restoring = true;
  try {
    showFilter({ state: view.state, q: view.q });
    const loads = [table.restore({
      filter: { state: view.state, q: view.q }, size: view.size, cursor: view.cursor,
      last: view.last, pageIndex: view.page ? view.page - 1 : null,
    }).catch(() => {})];
    if (view.task) {
      openId = view.task;
      table.setOpen(view.task.split('.')[0]);
      loads.push(detail.show(view.task));
    } else if (openId) {
      openId = null;
      detail.close();
      table.setOpen(null);
    }
    await Promise.all(loads);
  } finally {
    restoring = false;
  }
}
addEventListener('popstate', () => restoreFromUrl());

setupSubmit({
  form: $('submit-form'),
  select: $('example'),
  note: $('example-note'),
  textarea: $('spec'),
  error: $('submit-error'),
  result: $('submit-result'),
  onSubmitted: (task) => {
    enqueue([task]);
    openTask(task.id, { focus: false, push: true });
  },
});

const schedules = new SchedulesPanel({
  root: $('schedules-panel'),
  onOpenTask: (id) => openTask(id, { focus: true, push: true }),
  onTriggered: (task) => {
    enqueue([task]);
    openTask(task.id, { focus: false, push: true });
  },
});
const queues = new QueuesPanel({ root: $('queues-panel') });
const instances = new InstancesPanel({ root: $('instances-panel') });

// ---- live updates, batched per frame -------------------------------------------------------
let queue = new Map();
let removedQueue = new Map();  // id -> reason
let touchedTasks = new Set();
let flushRequested = false;
let resyncOnShow = false;

// Transitions are {type: submitted|started|finished, id, name, kind, state, time, error} for
// tasks, {type: "step", id: <task id>, step: <step id>, state, ...} for steps, and (daemon
// feature "events.removed") {type: "removed", id, reason: deleted|evicted}.
function enqueue(items) {
  metrics.events += items.length;
  metrics.batches += 1;
  for (const item of items) {
    if (!item || typeof item.id !== 'string') continue;
    if (item.type === 'step') {
      touchedTasks.add(item.id);
      continue;
    }
    if (item.type === 'removed') {
      queue.delete(item.id);
      removedQueue.set(item.id, item.reason ?? 'removed');
      continue;
    }
    const update = { id: item.id };
    for (const k of ['name', 'kind', 'state', 'error', 'created', 'run_at', 'started', 'finished', 'duration', 'result', 'attempts']) {
      if (k in item) update[k] = item[k];
    }
    if (typeof item.time === 'number') {
      update._time = item.time;
      if (item.type === 'submitted') update.created = item.time;
      if (item.type === 'started') update.started = item.time;
      if (item.type === 'finished') {
        update.finished = item.time;
        chart.count(item.state, item.time);
      }
    } else {
      // A snapshot (the answer to a submit) is as recent as the latest time it carries: when
      // the stream's events overtook it, it must not take the task back to "pending".
      const at = Math.max(...['created', 'started', 'finished'].map((k) => item[k]).filter(Number.isFinite));
      if (Number.isFinite(at)) update._time = at;
    }
    const prev = queue.get(item.id);
    if (!prev) queue.set(item.id, update);
    else if (merge(prev, update) && update._time > (prev._time ?? -Infinity)) prev._time = update._time;
    touchedTasks.add(item.id);
  }
  if (document.hidden && queue.size > HIDDEN_QUEUE_MAX) {
    // A hidden tab that no one looks at: forget the backlog, fetch afresh when shown.
    queue = new Map();
    touchedTasks = new Set();
    resyncOnShow = true;
  }
  if (!flushRequested) {
    flushRequested = true;
    const wait = Math.max(0, nextFlushAt - performance.now());
    // Hidden tabs get no animation frames: a timer still applies the updates, less often.
    if (document.hidden) setTimeout(flush, Math.max(wait, HIDDEN_FLUSH_MS));
    else if (wait > 0) setTimeout(() => requestAnimationFrame(flush), wait);
    else requestAnimationFrame(flush);
  }
}

// Under a flood of transitions (FLOOD_ITEMS tasks or more in one render), rendering each frame
// would leave the page no time for its user: a frame that took long (script, layout and paint,
// measured to the next frame) delays the next render by twice its excess, at most
// MAX_FLUSH_GAP_MS. Fewer updates render in the next frame.
const MAX_FLUSH_GAP_MS = 250;
const FLOOD_ITEMS = 100;
const FRAME_MS = 1000 / 60;
let nextFlushAt = 0;

function flush(frameStart) {
  if (!flushRequested) return;
  const t0 = performance.now();
  flushRequested = false;
  // Only a flood counts: a slow machine's slow frames with a few updates each render at once.
  const flood = queue.size + removedQueue.size >= FLOOD_ITEMS;
  if (typeof frameStart === 'number' && flood) {
    requestAnimationFrame((nextFrame) => {
      const excess = nextFrame - frameStart - FRAME_MS;
      nextFlushAt = excess > FRAME_MS ? performance.now() + Math.min(MAX_FLUSH_GAP_MS, 2 * excess) : 0;
    });
  } else {
    nextFlushAt = 0;
  }
  const items = [...queue.values()];
  const removed = removedQueue;
  const touched = touchedTasks;
  queue = new Map();
  removedQueue = new Map();
  touchedTasks = new Set();
  metrics.frames += 1;
  metrics.applied += items.length;
  table.apply(items, [...removed.keys()]);
  if (detail.id && removed.has(detail.id)) detail.gone(removed.get(detail.id));
  else if (detail.id && touched.has(detail.id)) detail.refresh();
  if (items.length || removed.size) refreshStats().catch(() => {});
  if (items.length) {
    schedules.noticeTasks(items);
    queues.noticeTasks(items);
    instances.noticeTasks(items);
  }
  const spent = performance.now() - t0;
  metrics.flushMs += spent;
  metrics.maxFlushMs = Math.max(metrics.maxFlushMs, spent);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && resyncOnShow) {
    resyncOnShow = false;
    resync();
  }
});

// After a gap in the stream (a reconnect, a 'lost' notice): everything shown is fetched again,
// once for all the reasons that come together (a stream's 'live' and 'open').
let resyncQueued = false;
function resync() {
  if (resyncQueued) return;
  resyncQueued = true;
  setTimeout(() => {
    resyncQueued = false;
    refetchAll();
  }, 0);
}

function refetchAll() {
  table.refresh().catch(() => {});
  refreshStats().catch(() => {});
  detail.refresh();
  detail.output.refetch();
  schedules.refresh();
  queues.refresh();
  instances.refresh();
  if (hasFeature('stats.history')) {
    loadHistory();
    // The history ends with the last complete second: tasks that finished in this one before
    // the stream came back are in the next answer, not in the events this page received.
    setTimeout(() => {
      if (hasFeature('stats.history')) loadHistory();
    }, 1000 - (Date.now() % 1000) + 100);
  }
}

// Without an event stream (an older daemon) each tab polls.
async function startPolling() {
  polling = true;
  for (;;) {
    try {
      await Promise.all([refreshStats(),
        table.onNewest && !table.holding ? table.reload() : null, detail.refresh()]);
    } catch {
      // the reachability hook marks the page offline
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function tick() {
  const t = now();
  table.tick(t);
  detail.tick(t);
  health.tick(t);
  schedules.tick(t);
}
setInterval(tick, 1000);
// Uptime, loop lag and counts stay fresh on a quiet daemon too.
setInterval(() => {
  if (!document.hidden) refreshStats().catch(() => {});
}, STATS_IDLE_MS);

async function start() {
  setText($('zone'), `(${zoneName()})`);
  const t0 = performance.now();
  const view = readUrl();
  const stats = refreshStats().catch((e) => {
    if (isUnreachable(e)) setOffline(true);
  });
  // A name filter from a link needs to know whether the daemon searches by substring.
  if (view.q) await stats;
  await Promise.all([restoreFromUrl(), stats]);
  table.reportLive();
  metrics.firstRenderMs = performance.now();
  performance.mark('uasyncd:first-render', { detail: { fetchMs: performance.now() - t0 } });
  document.documentElement.dataset.ready = 'true';
  // Loaded only now: its modules are not needed for the first render.
  const { connectFeed } = await import('./feed.js');
  feed = connectFeed(currentToken(), onFeed);
}

start();
