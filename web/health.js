// The header's health panel, from GET /api/stats: version, uptime, loop lag, running (of
// --max-running) and retained (of --keep-finished). The limits show once the daemon reports
// them (docs/dashboard-api.md); uptime counts on between fetches while connected.
import { el, setText } from './dom.js';
import { fmtDuration } from './time.js';

const fmt = (n) => n.toLocaleString('en');

export class HealthPanel {
  constructor(list) {
    this.items = {};
    for (const [key, label] of [['version', 'Version'], ['uptime', 'Up'], ['lag', 'Loop lag'],
      ['running', 'Running'], ['retained', 'Retained']]) {
      const dd = el('dd', { id: `health-${key}` }, '–');
      this.items[key] = dd;
      list.append(el('div', { class: 'health-item' }, el('dt', {}, label), dd));
    }
    this.uptime = null;
    this.at = 0;
  }

  show(stats) {
    const i = this.items;
    setText(i.version, stats.version ?? '–');
    if (Number.isFinite(stats.uptime_seconds)) {
      this.uptime = stats.uptime_seconds;
      this.at = Date.now() / 1000;
    }
    if (Number.isFinite(stats.loop_lag_seconds)) {
      const ms = stats.loop_lag_seconds * 1000;
      setText(i.lag, `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`);
    }
    const running = stats.tasks?.running ?? 0;
    const max = stats.max_running;
    setText(i.running, Number.isFinite(max) ? `${fmt(running)} / ${max ? fmt(max) : 'no limit'}` : fmt(running));
    const retained = stats.retained;
    const keep = stats.keep_finished;
    if (Number.isFinite(retained)) {
      setText(i.retained, Number.isFinite(keep) ? `${fmt(retained)} (keeps ${fmt(keep)} finished)` : fmt(retained));
    }
    this.tick(Date.now() / 1000);
  }

  // `now`: stops while the daemon is out of reach.
  tick(now) {
    if (this.uptime === null) return;
    const s = Math.floor(this.uptime + Math.max(0, now - this.at));
    setText(this.items.uptime, s < 60 ? `${s} s` : fmtDuration(s));
  }
}
