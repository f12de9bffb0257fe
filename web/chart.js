// Tasks finished per second by final state over the last 15 minutes, drawn as stacked areas in
// a hand-made SVG (no library). The daemon's ring buffer (GET /api/stats/history, feature
// "stats.history") fills it at once; without it the chart starts empty when the page opens.
// Live "finished" transitions add to it between fetches.
import { el, setText } from './dom.js';

export const FINAL_STATES = ['done', 'failed', 'cancelled', 'timed_out', 'interrupted'];
const SPAN_S = 900;
const COLUMN_S = 5;
const COLUMNS = SPAN_S / COLUMN_S;
const W = 900;
const H = 100;
const SVG_NS = 'http://www.w3.org/2000/svg';

const svg = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};

// A round ceiling for the y axis: 1, 2, 5, 10, 20, 50, ...
function niceCeil(x) {
  if (x <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

export class ThroughputChart {
  constructor({ figure, note, summary }) {
    Object.assign(this, { figure, note, summary });
    this.seconds = new Map();  // whole second (daemon clock) -> counts per final state
    this.skew = 0;  // daemon clock minus this browser's, in seconds
    this.fromServer = false;
    this.since = Date.now() / 1000;
    this.svg = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' });
    this.grid = svg('line', { x1: 0, x2: W, y1: 0.5, y2: 0.5, class: 'grid' });
    this.svg.append(this.grid);
    this.paths = FINAL_STATES.map((s) => {
      const p = svg('path', { class: `area a-${s}`, d: '' });
      this.svg.append(p);
      return p;
    });
    this.peak = el('span', { class: 'chart-peak' });
    figure.querySelector('.chart-plot').append(this.peak, this.svg);
    this.queued = false;
  }

  now() {
    return Date.now() / 1000 + this.skew;
  }

  // GET /api/stats/history: {resolution, end, states, finished: {state: [counts...]}}.
  load(history) {
    const res = Number(history?.resolution) || 1;
    const end = Number(history?.end);
    if (!Number.isFinite(end) || !history.finished) return;
    this.skew = end - Date.now() / 1000;
    this.fromServer = true;
    const fresh = new Map();
    for (const state of FINAL_STATES) {
      const counts = history.finished[state];
      if (!Array.isArray(counts)) continue;
      const i0 = FINAL_STATES.indexOf(state);
      counts.forEach((n, i) => {
        if (!n) return;
        const second = Math.floor(end - (counts.length - i) * res);
        const row = fresh.get(second) ?? new Array(FINAL_STATES.length).fill(0);
        row[i0] += n;
        fresh.set(second, row);
      });
    }
    // Seconds after the history's end keep what the live transitions counted.
    for (const [second, row] of this.seconds) if (second >= end) fresh.set(second, row);
    this.seconds = fresh;
    this.draw();
  }

  // A task reached final `state` at `time` (daemon clock, seconds).
  count(state, time) {
    const i = FINAL_STATES.indexOf(state);
    if (i < 0) return;
    const second = Math.floor(typeof time === 'number' ? time : this.now());
    let row = this.seconds.get(second);
    if (!row) {
      row = new Array(FINAL_STATES.length).fill(0);
      this.seconds.set(second, row);
    }
    row[i] += 1;
    this.draw();
  }

  // At most once a second: a burst of transitions costs one redraw.
  draw() {
    if (this.queued) return;
    this.queued = true;
    setTimeout(() => {
      this.queued = false;
      this.render();
    }, 1000);
  }

  render() {
    const now = this.now();
    const start = Math.floor(now) - SPAN_S;
    const cols = Array.from({ length: COLUMNS }, () => new Array(FINAL_STATES.length).fill(0));
    const totals = new Array(FINAL_STATES.length).fill(0);
    for (const [second, row] of this.seconds) {
      if (second < start) {
        this.seconds.delete(second);
        continue;
      }
      const c = Math.min(COLUMNS - 1, Math.floor((second - start) / COLUMN_S));
      for (let i = 0; i < row.length; ++i) {
        cols[c][i] += row[i];
        totals[i] += row[i];
      }
    }
    let peak = 0;
    for (const col of cols) peak = Math.max(peak, col.reduce((a, b) => a + b, 0) / COLUMN_S);
    const top = niceCeil(peak);
    const x = (c) => ((c + 0.5) * W) / COLUMNS;
    const y = (v) => H - (v / top) * H;
    const base = new Array(COLUMNS).fill(0);
    FINAL_STATES.forEach((state, i) => {
      const upper = cols.map((col, c) => base[c] + col[i] / COLUMN_S);
      if (!totals[i]) {
        this.paths[i].setAttribute('d', '');
        return;
      }
      let d = `M${x(0).toFixed(1)} ${y(upper[0]).toFixed(2)}`;
      for (let c = 1; c < COLUMNS; ++c) d += `L${x(c).toFixed(1)} ${y(upper[c]).toFixed(2)}`;
      for (let c = COLUMNS - 1; c >= 0; --c) d += `L${x(c).toFixed(1)} ${y(base[c]).toFixed(2)}`;
      this.paths[i].setAttribute('d', `${d}Z`);
      for (let c = 0; c < COLUMNS; ++c) base[c] = upper[c];
    });
    setText(this.peak, `${top.toLocaleString('en')}/s`);
    const since = this.fromServer ? 'last 15 minutes' : 'since this page opened';
    setText(this.note, this.fromServer ? '' : '(since this page opened: this daemon keeps no history)');
    const parts = FINAL_STATES.flatMap((s, i) => (totals[i] ? [`${totals[i].toLocaleString('en')} ${s.replace('_', ' ')}`] : []));
    setText(this.summary, `Finished, ${since}: ${parts.length ? parts.join(', ') : 'none'}; ` +
      `peak ${peak.toFixed(peak < 10 ? 1 : 0)} per second.`);
    this.figure.dataset.total = String(totals.reduce((a, b) => a + b, 0));
  }
}
