// Exec output in the detail pane, shown once (not again in the step tree or the result), with
// ANSI colours rendered. A finished task's output is fetched once. A running one is followed
// without a connection of its own: on the browser's one event stream where the daemon offers
// it (feature "events.follow", frames {id, step, stream, data, offset}), else by fetching
// GET .../output again each second while the pane is on screen.
import { api } from './api.js';
import { ansiNodes } from './ansi.js';
import { el, setText } from './dom.js';
import { isFinal } from './states.js';

const SHOWN_CHARS = 64 * 1024;
const POLL_MS = 1000;
const encoder = new TextEncoder();

export function usesExec(spec) {
  if (!spec || typeof spec !== 'object') return false;
  if (Array.isArray(spec)) return spec.some(usesExec);
  if ('exec' in spec) return true;
  return Object.entries(spec).some(([k, v]) => k !== 'value' && usesExec(v));
}

export class OutputView {
  // follow(ids): tells the event stream which tasks' output this tab wants (may be []).
  constructor({ follow, canFollow }) {
    Object.assign(this, { follow, canFollow });
    this.box = el('section', { class: 'output', hidden: true, 'aria-labelledby': 'output-title' },
      el('h3', { id: 'output-title' }, 'Output'),
      (this.note = el('p', { class: 'note' })),
      (this.pre = el('pre', { class: 'log', tabindex: '0', 'aria-label': 'Exec output' })));
    this.taskId = null;
    this.steps = new Map();  // step id -> {argv, state, out: {text, bytes}, err: {text, bytes}}
    this.timer = null;
    this.fetching = false;
    this.finalFetched = false;
    this.drawQueued = false;
    this.following = false;
  }

  // Called with each new state of the task shown.
  show(task) {
    if (!usesExec(task.spec)) {
      this.stop();
      return;
    }
    if (task.id !== this.taskId) {
      this.stop();
      this.taskId = task.id;
      this.box.hidden = false;
    }
    const final = isFinal(task.state);
    if (final) {
      this.unfollow();
      if (!this.finalFetched) {
        this.finalFetched = true;
        this.fetch();
      }
      return;
    }
    if (this.canFollow()) {
      if (!this.following) {
        this.following = true;
        this.clearPoll();
        this.fetch().then(() => this.follow([this.taskId]));
      }
    } else if (!this.timer) {
      this.fetch();
      this.timer = setInterval(() => {
        if (!document.hidden) this.fetch();
      }, POLL_MS);
    }
  }

  // The event stream carries output now (it came up after the task was shown): follow there
  // instead of fetching every second until the task ends.
  streamReady() {
    if (!this.timer || !this.taskId || !this.canFollow()) return;
    this.clearPoll();
    this.following = true;
    this.fetch().then(() => this.follow([this.taskId]));
  }

  clearPoll() {
    clearInterval(this.timer);
    this.timer = null;
  }

  unfollow() {
    this.clearPoll();
    if (this.following) {
      this.following = false;
      this.follow([]);
    }
  }

  stop() {
    this.unfollow();
    this.taskId = null;
    this.steps.clear();
    this.finalFetched = false;
    this.box.hidden = true;
    this.pre.replaceChildren();
    setText(this.note, '');
  }

  // One fetch at a time; one asked for meanwhile runs after it (the last word is the latest).
  async fetch() {
    if (!this.taskId) return;
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    this.fetching = true;
    const id = this.taskId;
    try {
      const { data } = await api('GET', `/api/tasks/${encodeURIComponent(id)}/output`);
      if (id !== this.taskId) return;
      for (const s of data.steps ?? []) {
        const step = this.step(s.id);
        step.argv = s.argv ?? [];
        step.state = s.state;
        step.out = { text: s.stdout ?? '', bytes: encoder.encode(s.stdout ?? '').length, total: s.stdout_bytes };
        step.err = { text: s.stderr ?? '', bytes: encoder.encode(s.stderr ?? '').length, total: s.stderr_bytes };
      }
      this.draw();
    } catch {
      // shown again at the next round; the pane's own refresh reports an unreachable daemon
    } finally {
      this.fetching = false;
      if (this.fetchAgain) {
        this.fetchAgain = false;
        this.fetch();
      }
    }
  }

  step(id) {
    let s = this.steps.get(id);
    if (!s) {
      s = { argv: [], state: 'running', out: { text: '', bytes: 0 }, err: { text: '', bytes: 0 } };
      this.steps.set(id, s);
    }
    return s;
  }

  // An "output" frame from the event stream: {id, step, stream, data, offset}.
  frame(f) {
    if (!f || f.id !== this.taskId || typeof f.data !== 'string') return;
    const s = this.step(f.step);
    const which = f.stream === 'stderr' ? s.err : s.out;
    const size = encoder.encode(f.data).length;
    const offset = Number.isFinite(f.offset) ? f.offset : which.bytes;
    if (offset + size <= which.bytes) return;  // already have it (sent before we fetched)
    let data = f.data;
    if (offset < which.bytes) data = new TextDecoder().decode(encoder.encode(data).slice(which.bytes - offset));
    which.text += data;
    which.bytes = offset + size;
    this.draw();
  }

  // After a gap in the stream (reconnect, frames dropped): what was missed comes from the store.
  refetch() {
    if (this.taskId) this.fetch();
  }

  // The stream says the followed task ended: the stored output is the final word.
  ended(id) {
    if (id !== this.taskId) return;
    this.unfollow();
    if (this.finalFetched) return;  // the task's final state came first and fetched it
    this.finalFetched = true;
    this.fetch();
  }

  draw() {
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      this.render();
    });
  }

  render() {
    const pre = this.pre;
    const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    const nodes = [];
    let cut = false;
    for (const [id, s] of this.steps) {
      nodes.push(el('span', { class: 'cmd' }, `$ ${s.argv.join(' ')}`),
        el('span', { class: 'muted' }, `   [${id}, ${s.state}]\n`));
      for (const [name, part] of [['stdout', s.out], ['stderr', s.err]]) {
        if (!part.text) continue;
        let text = part.text;
        if (text.length > SHOWN_CHARS) {
          text = text.slice(-SHOWN_CHARS);
          cut = true;
        }
        if (!text.endsWith('\n')) text += '\n';
        nodes.push(name === 'stderr'
          ? el('span', { class: 'stderr' }, el('span', { class: 'sr-only' }, 'stderr: '), ...ansiNodes(text))
          : el('span', { class: 'stdout' }, ...ansiNodes(text)));
      }
    }
    pre.replaceChildren(...nodes);
    setText(this.note, cut ? `Showing the last ${SHOWN_CHARS / 1024} KiB of each stream.` : '');
    if (stick) pre.scrollTop = pre.scrollHeight;
  }
}
