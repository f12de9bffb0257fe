// Keeps a panel's data fresh while someone can see it: the panel open and the tab visible. Its
// list is fetched when it opens and when the tab comes back, then every `intervalMs`, and
// sooner when asked (after an action, or when a live event says it changed). A hidden tab or a
// folded panel costs no requests. One fetch at a time: asks that come meanwhile make one more.
import { api, isUnreachable } from './api.js';
import { setText } from './dom.js';

// One fetch of a panel's list: GET `path`, whose `key` holds the array `panel.show` takes (with
// the whole answer as its second argument, for fields beside the list). A failure is said in `panel.error` (and thrown, for the Poller to retry), cleared by the next
// success. `what` names the list in the message ("schedules").
export async function loadList(panel, path, key, what) {
  try {
    const { data } = await api('GET', path);
    if (panel.loadFailed) setText(panel.error, '');
    panel.loadFailed = false;
    panel.show(Array.isArray(data?.[key]) ? data[key] : [], data);
  } catch (e) {
    panel.loadFailed = true;
    setText(panel.error, isUnreachable(e) ? `Could not reach the daemon (${e.message}).`
      : e.status === 404 ? `This daemon does not serve ${what} (GET ${path}: 404).` : e.message);
    throw e;
  }
}

export class Poller {
  // load(): fetches and shows (its errors are its own to show); isOpen(): the panel is unfolded.
  constructor(load, { isOpen, intervalMs }) {
    Object.assign(this, { load, isOpen, intervalMs });
    this.running = null;
    this.again = false;
    this.timer = null;
    this.dueAt = Infinity;
    this.after = Infinity;  // asked for during a fetch: the wait after it
    document.addEventListener('visibilitychange', () => this.wake());
  }

  get shown() {
    return document.visibilityState === 'visible' && this.isOpen();
  }

  // Fetches now if the panel is shown; the promise settles once the last fetch asked for is in.
  refresh() {
    if (!this.shown) {
      this.stop();
      return Promise.resolve();
    }
    this.stop();
    this.again = true;
    this.running ??= (async () => {
      try {
        while (this.again) {
          this.again = false;
          await this.load().catch(() => {});
        }
      } finally {
        this.running = null;
        this.plan(Math.min(this.after, this.intervalMs));
        this.after = Infinity;
      }
    })();
    return this.running;
  }

  // A fetch within `ms` (events come in bursts: one fetch for the burst). During a fetch, `ms`
  // after it: the change may have come after the daemon answered, and a flood of events still
  // makes one fetch per `ms` at most.
  soon(ms = 300) {
    if (!this.shown) return;
    if (this.running) this.after = Math.min(this.after, ms);
    else this.plan(ms);
  }

  // The panel was opened or folded, or the tab shown or hidden.
  wake() {
    if (this.shown) this.refresh();
    else this.stop();
  }

  plan(ms) {
    if (!this.shown) return;
    const at = performance.now() + ms;
    if (this.timer !== null && at >= this.dueAt) return;
    clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dueAt = Infinity;
      this.refresh();
    }, ms);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = Infinity;
  }
}
