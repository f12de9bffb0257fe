// Wires the dashboard together. Transitions from the event stream are queued and applied once
// per animation frame, so a burst of them costs one render, not one per event.
import { api, setTokenPrompt } from './api.js';
import { el, setText } from './dom.js';
import { Detail } from './detail.js';
import { Live } from './live.js';
import { STATES, badge } from './states.js';
import { setupSubmit } from './submit.js';
import { TaskTable } from './table.js';

const $ = (id) => document.getElementById(id);
const STATS_MIN_INTERVAL_MS = 250;

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

// ---- counts per state ----------------------------------------------------------------------
const countCells = new Map();
for (const state of STATES) {
  const n = el('span', { class: 'count-n', text: '–' });
  countCells.set(state, n);
  $('counts').append(el('li', {},
    el('button', { type: 'button', class: 'count', 'data-state': state, title: 'Show only these',
      onclick: () => applyFilter(state, $('filter-name').value.trim()) },
    badge(state), n)));
}

let statsLoading = null;
let statsAgain = false;
let statsLast = 0;
function refreshStats() {
  if (statsLoading) {
    statsAgain = true;
    return statsLoading;
  }
  const wait = Math.max(0, statsLast + STATS_MIN_INTERVAL_MS - Date.now());
  statsLoading = new Promise((r) => setTimeout(r, wait))
    .then(() => api('GET', '/api/stats'))
    .then(({ data }) => {
      statsLast = Date.now();
      for (const [state, n] of countCells) setText(n, (data.tasks?.[state] ?? 0).toLocaleString('en'));
    })
    .finally(() => {
      statsLoading = null;
      if (statsAgain) {
        statsAgain = false;
        refreshStats();
      }
    });
  return statsLoading;
}

// ---- table, filters, detail ----------------------------------------------------------------
const detail = new Detail({
  placeholder: $('detail-placeholder'),
  body: $('detail-body'),
  onChanged: () => refreshStats(),
});

const table = new TaskTable({
  tbody: $('task-rows'),
  empty: $('empty'),
  pageLabel: $('page-label'),
  buttons: { newest: $('page-newest'), newer: $('page-newer'), older: $('page-older') },
  onSelect: (id) => {
    table.select(id);
    detail.show(id);
  },
  onError: (message) => setText($('table-error'), message),
});

for (const state of STATES) $('filter-state').append(el('option', { value: state }, state));

function applyFilter(state, name) {
  $('filter-state').value = state;
  $('filter-name').value = name;
  for (const b of document.querySelectorAll('.count')) {
    b.setAttribute('aria-pressed', String(b.dataset.state === state));
  }
  table.setFilter({ state, name }).catch(() => {});
}

$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  applyFilter($('filter-state').value, $('filter-name').value.trim());
});
$('filter-state').addEventListener('change', () => {
  applyFilter($('filter-state').value, $('filter-name').value.trim());
});

setupSubmit({
  form: $('submit-form'),
  select: $('example'),
  note: $('example-note'),
  textarea: $('spec'),
  error: $('submit-error'),
  result: $('submit-result'),
  onSubmitted: (task) => {
    enqueue([task]);
    table.select(task.id);
    detail.show(task.id);
  },
});

// ---- live updates, batched per frame -------------------------------------------------------
let queue = new Map();
let touchedTasks = new Set();
let frameRequested = false;

// Transitions are {type: submitted|started|finished, id, name, state, time, error} for tasks
// and {type: "step", id: <task id>, step: <step id>, state, ...} for steps.
function enqueue(items) {
  metrics.events += items.length;
  metrics.batches += 1;
  for (const item of items) {
    if (!item || typeof item.id !== 'string') continue;
    if (item.type === 'step') {
      touchedTasks.add(item.id);
      continue;
    }
    const update = { id: item.id };
    for (const k of ['name', 'kind', 'state', 'error', 'started', 'finished', 'duration', 'result']) {
      if (k in item) update[k] = item[k];
    }
    if (item.type === 'started' && typeof item.time === 'number') update.started = item.time;
    if (item.type === 'finished' && typeof item.time === 'number') update.finished = item.time;
    const prev = queue.get(item.id);
    queue.set(item.id, prev ? { ...prev, ...update } : update);
    touchedTasks.add(item.id);
  }
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(flush);
  }
}

function flush() {
  const t0 = performance.now();
  frameRequested = false;
  const items = [...queue.values()];
  const touched = touchedTasks;
  queue = new Map();
  touchedTasks = new Set();
  metrics.frames += 1;
  metrics.applied += items.length;
  if (table.apply(items)) table.reload().catch(() => {});
  if (detail.id && touched.has(detail.id)) detail.refresh();
  if (items.length) refreshStats().catch(() => {});
  const spent = performance.now() - t0;
  metrics.flushMs += spent;
  metrics.maxFlushMs = Math.max(metrics.maxFlushMs, spent);
}

const indicator = $('connection');
const LABELS = {
  connecting: 'connecting…',
  live: 'live',
  polling: 'polling (no event stream)',
  offline: 'offline, retrying',
};
const live = new Live({
  onEvents: enqueue,
  onStatus: (mode, waitMs) => {
    indicator.dataset.state = mode;
    setText($('connection-text'), mode === 'reconnecting'
      ? `disconnected, retrying in ${Math.ceil(waitMs / 1000)} s`
      : LABELS[mode] ?? mode);
  },
  onResync: () => {
    table.reload().catch(() => {});
    refreshStats().catch(() => {});
    detail.refresh();
  },
  onPoll: async () => {
    await Promise.all([refreshStats(), table.onFirstPage ? table.reload() : null, detail.refresh()]);
  },
});

setInterval(() => table.tick(), 1000);

async function start() {
  const t0 = performance.now();
  await Promise.all([table.reload().catch(() => {}), refreshStats().catch(() => {})]);
  metrics.firstRenderMs = performance.now();
  performance.mark('uasyncd:first-render', { detail: { fetchMs: performance.now() - t0 } });
  document.documentElement.dataset.ready = 'true';
  live.start();
}

start();
