// The detail pane: one task's times, attempts, queue place, result or error, step tree (each
// step with its state and a cancel button), exec output, submitted spec, and its actions
// (cancel, timeout, re-run, delete). Built once per task and updated in place, so focus and
// scroll positions survive live updates (bug 6).
import { api, ApiError, isUnreachable } from './api.js';
import { confirmAction } from './confirm.js';
import { displayName, el, isolatedName, nameNode, setName, setText } from './dom.js';
import { OutputView } from './output.js';
import { badge, isDeletable, isFinal, setBadge } from './states.js';
import { durationOf, fmtDuration, setTime } from './time.js';

function json(value) {
  return JSON.stringify(value, null, 2);
}

function errorText(error) {
  if (!error) return '';
  return error.message ? `${error.type}: ${error.message}` : error.type;
}

const isExecResult = (v) => v && typeof v === 'object' && !Array.isArray(v) &&
  'exit_code' in v && 'stdout' in v && 'stderr' in v;

// A result with exec outputs left out: they show once, under Output.
export function withoutOutput(value) {
  if (isExecResult(value)) {
    const { exit_code: exitCode, signal } = value;
    return signal ? { exit_code: exitCode, signal, output: 'see Output' }
      : { exit_code: exitCode, output: 'see Output' };
  }
  if (Array.isArray(value)) return value.map(withoutOutput);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutOutput(v)]));
  }
  return value;
}

export class Detail {
  // onChanged(): after an action; onGone(id): the daemon no longer has the task; onOpen(id):
  // show another task (a re-run); follow/canFollow: see OutputView.
  constructor({ placeholder, body, onChanged, onGone, onOpen, follow, canFollow }) {
    Object.assign(this, { placeholder, body, onChanged, onGone, onOpen });
    this.output = new OutputView({ follow, canFollow });
    this.id = null;
    this.task = null;
    this.targetStep = null;
    this.loading = null;
    this.again = false;
    this.stepNodes = new Map();
    this.stepShape = '';
    this.outageShown = false;  // the error shown says the daemon was out of reach
  }

  // Shows task `id` (a step id shows its task with that step marked). `known`: the task's
  // summary from the table, shown at once (and still there if the daemon no longer has it).
  async show(id, known) {
    const taskId = String(id).split('.')[0];
    this.targetStep = id !== taskId ? id : null;
    if (taskId !== this.id) {
      this.output.stop();
      this.id = taskId;
      this.task = null;
      this.build();
      if (known?.id === taskId) this.sketch(known);
    }
    await this.refresh();
  }

  sketch(summary) {
    const v = this.view;
    setName(v.name, summary.name);
    v.name.title = displayName(summary.name);
    setBadge(v.badge, summary.state);
    v.badge.hidden = false;
    setText(v.id, summary.id);
    this.sketched = summary;
  }

  close(note) {
    this.output.stop();
    this.id = null;
    this.task = null;
    this.body.hidden = true;
    this.body.replaceChildren();
    this.placeholder.hidden = false;
    setText(this.placeholder, note ?? 'Select a task to see its steps.');
  }

  focusHeading() {
    this.view?.name.focus();
  }

  build() {
    const v = (this.view = {});
    v.name = el('h2', { class: 'name nm', tabindex: '-1', id: 'detail-title' });
    v.badge = badge('pending');
    v.badge.hidden = true;  // until the state is known
    v.id = el('span', { class: 'mono muted', id: 'detail-id' });
    v.notice = el('p', { class: 'notice', role: 'status', id: 'detail-notice' });
    v.cancel = el('button', { type: 'button', class: 'danger', id: 'detail-cancel', onclick: () => this.cancelTask() }, 'Cancel task');
    v.timeoutInput = el('input', { type: 'text', inputmode: 'decimal', id: 'timeout-input', 'aria-describedby': 'detail-error', value: '5', size: '6' });
    // novalidate: the daemon's message explains a bad value, not the browser's popup (bug 8).
    v.timeoutForm = el('form', { class: 'row timeout', novalidate: true, onsubmit: (e) => this.setTimeout(e) },
      el('label', { for: 'timeout-input' }, 'Time out in'), v.timeoutInput, el('span', { 'aria-hidden': 'true' }, 's'),
      el('button', { type: 'submit' }, 'Set timeout'));
    v.rerun = el('button', { type: 'button', id: 'detail-rerun', onclick: () => this.rerun() }, 'Re-run');
    v.remove = el('button', { type: 'button', class: 'danger', id: 'detail-delete', onclick: () => this.remove() }, 'Delete');
    v.error = el('p', { class: 'field-error', id: 'detail-error', role: 'alert' });
    v.times = el('dl', { class: 'times' });
    v.timeRows = {};
    for (const [key, label] of [['created', 'Created'], ['schedule', 'Schedule'], ['run_at', 'Runs at'],
      ['waiting', 'Waiting'], ['queue', 'Queue position'], ['started', 'Started'], ['finished', 'Finished'],
      ['duration', 'Duration'], ['attempts', 'Attempts']]) {
      // Hidden until the task's answer says what it has: an empty "Waiting" is no figure.
      const dd = el('dd', { class: 'mono', hidden: true });
      const dt = el('dt', { hidden: true }, label);
      if (['created', 'run_at', 'started', 'finished'].includes(key)) dd.append(el('time'));
      v.timeRows[key] = { dt, dd };
      v.times.append(dt, dd);
    }
    v.outcome = el('div', { class: 'outcome' });
    v.steps = el('ul', { class: 'steps', 'aria-label': 'Steps' });
    v.specText = el('pre', { class: 'spec-json', tabindex: '0', 'aria-label': 'Submitted spec' });
    v.copyNote = el('span', { class: 'note', role: 'status' });
    v.spec = el('details', { class: 'spec' },
      el('summary', {}, 'Submitted spec'),
      el('div', { class: 'row' },
        el('button', { type: 'button', class: 'small', onclick: () => this.copySpec() }, 'Copy spec'), v.copyNote),
      v.specText);
    this.stepNodes = new Map();
    this.stepShape = '';
    this.sketched = null;
    this.body.replaceChildren(
      el('div', { class: 'detail-head' }, v.name, v.badge),
      v.id, v.notice,
      el('div', { class: 'actions' }, v.cancel, v.timeoutForm, v.rerun, v.remove),
      v.error, v.times, v.outcome,
      el('h3', {}, 'Steps'), v.steps, this.output.box, v.spec);
    this.placeholder.hidden = true;
    this.body.hidden = false;
    delete this.body.dataset.gone;
  }

  // At most one fetch at a time; updates arriving meanwhile cause one more after it. The
  // promise settles once the last fetch asked for is shown.
  refresh() {
    if (!this.id) return Promise.resolve();
    this.again = true;
    if (!this.loading) {
      this.loading = (async () => {
        try {
          while (this.again && this.id) {
            this.again = false;
            await this.fetchOnce();
          }
        } finally {
          this.loading = null;
        }
      })();
    }
    return this.loading;
  }

  async fetchOnce() {
    const id = this.id;
    try {
      const { data } = await api('GET', `/api/tasks/${encodeURIComponent(this.targetStep ?? id)}`);
      if (id === this.id) this.render(data);
    } catch (e) {
      if (id !== this.id) return;
      if (e instanceof ApiError && e.status === 404) {
        this.gone();
      } else {
        this.outageShown = true;
        setText(this.view.error, isUnreachable(e) ? `Could not reach the daemon (${e.message}).` : e.message);
      }
    }
  }

  // The daemon no longer has the task (deleted, or evicted past --keep-finished): say so, keep
  // what was shown marked as gone, and let the table drop its row (bug 3).
  gone(reason) {
    const v = this.view;
    const why = reason === 'deleted' ? 'was deleted'
      : reason === 'evicted' ? 'was evicted (the daemon keeps only the newest finished tasks, --keep-finished)'
        : 'is not known to the daemon: deleted, evicted past --keep-finished, or never submitted';
    if (!this.task && !this.sketched) setName(v.name, '');
    v.badge.hidden = !this.task && !this.sketched;
    setText(v.id, this.id);
    setText(v.notice, `${this.targetStep ?? this.id} ${why}.`);
    setText(v.error, '');
    this.body.dataset.gone = 'true';
    // Nothing to act on but a re-run of what was shown.
    v.cancel.hidden = true;
    v.remove.hidden = true;
    v.timeoutForm.hidden = true;
    v.rerun.hidden = !this.task?.spec;
    this.output.stop();
    this.onGone?.(this.id);
  }

  render(task) {
    const v = this.view;
    this.task = task;
    // An answer: the daemon is back, so "could not reach" no longer holds (bug 5). A refusal
    // of an action stays until the next action.
    if (this.outageShown) {
      this.outageShown = false;
      setText(v.error, '');
    }
    setText(v.notice, '');
    delete this.body.dataset.gone;
    setName(v.name, task.name);
    v.name.title = displayName(task.name);
    v.badge.hidden = false;
    setBadge(v.badge, task.state);
    setText(v.id, task.id);
    const final = isFinal(task.state);
    // A finished task has nothing left to cancel or time out.
    v.cancel.hidden = final;
    v.timeoutForm.hidden = final;
    v.remove.hidden = !isDeletable(task.state);
    v.rerun.hidden = task.spec === undefined;
    // A schedule's run names its schedule (the daemon sets "schedule"; a submit cannot).
    const schedule = typeof task.schedule === 'string' ? task.schedule : '';
    v.timeRows.schedule.dt.hidden = !schedule;
    v.timeRows.schedule.dd.hidden = !schedule;
    setText(v.timeRows.schedule.dd, schedule);
    this.renderTimes(Date.now() / 1000);
    v.outcome.replaceChildren();
    if (task.error) {
      v.outcome.append(el('h3', {}, 'Error'), el('pre', { class: 'error-text' }, errorText(task.error)));
    }
    if (final && task.result !== undefined && (task.result !== null || !task.error)) {
      v.outcome.append(el('h3', {}, 'Result'), el('pre', { class: 'result' }, json(withoutOutput(task.result))));
    }
    this.renderSteps(task.steps);
    const specText = json(task.spec);
    if (v.specText.textContent !== specText) v.specText.textContent = specText;
    this.output.show(task);
  }

  renderTimes(now) {
    const task = this.task;
    if (!task) return;
    const r = this.view.timeRows;
    const show = (key, on) => {
      r[key].dt.hidden = !on;
      r[key].dd.hidden = !on;
    };
    setTime(r.created.dd.firstChild, task.created, true);
    setTime(r.started.dd.firstChild, task.started, true);
    setTime(r.finished.dd.firstChild, task.finished, true);
    show('created', true);
    // A delayed task: when it runs (or was to run), counting down while it is scheduled.
    const runAt = Number.isFinite(task.run_at) ? task.run_at : null;
    show('run_at', runAt !== null);
    if (runAt !== null) {
      setTime(r.run_at.dd.firstChild, runAt, true);
      const left = task.state === 'scheduled' && runAt > now ? ` (in ${fmtDuration(runAt - now)})` : '';
      if (r.run_at.dd.childNodes.length > 1) r.run_at.dd.lastChild.remove();
      if (left) r.run_at.dd.append(document.createTextNode(left));
    }
    show('started', Boolean(task.started));
    show('finished', Boolean(task.finished));
    const pending = task.state === 'pending';
    // Since it last joined the queue (daemon field "queued_at"), else since it was created.
    const since = Number.isFinite(task.queued_at) ? task.queued_at : task.created;
    show('waiting', pending && Boolean(since));
    if (pending && since) {
      const retry = Number.isFinite(task.retry_at) && task.retry_at > now
        ? ` (retries in ${fmtDuration(task.retry_at - now)})` : '';
      setText(r.waiting.dd, fmtDuration(Math.max(0, now - since)) + retry);
    }
    // Daemon feature (docs/dashboard-api.md): a pending task's place in the queue.
    const place = Number.isFinite(task.queue_position) ? task.queue_position : null;
    show('queue', pending && place !== null);
    if (place !== null) {
      setText(r.queue.dd, Number.isFinite(task.queue_length)
        ? `${place.toLocaleString('en')} of ${task.queue_length.toLocaleString('en')}` : place.toLocaleString('en'));
    }
    show('duration', Boolean(task.started));
    setText(r.duration.dd, fmtDuration(durationOf(task, now)) || '—');
    show('attempts', Number.isFinite(task.attempts));
    setText(r.attempts.dd, Number.isFinite(task.attempts) ? String(task.attempts) : '');
  }

  // Running durations and waiting times count up between updates.
  tick(now) {
    if (this.task && !isFinal(this.task.state)) this.renderTimes(now);
  }

  // ---- step tree, updated in place --------------------------------------------------------
  renderSteps(root) {
    if (!root) {
      this.view.steps.replaceChildren();
      this.stepNodes.clear();
      return;
    }
    const shape = [];
    const walk = (s) => {
      shape.push(s.id);
      for (const c of s.steps ?? []) walk(c);
    };
    walk(root);
    const key = shape.join(',');
    if (key !== this.stepShape) {
      this.stepShape = key;
      this.stepNodes.clear();
      this.view.steps.replaceChildren(this.buildStep(root, true));
    }
    const update = (s, isRoot) => {
      this.updateStep(s, isRoot);
      for (const c of s.steps ?? []) update(c, false);
    };
    update(root, true);
  }

  buildStep(step, root) {
    const n = {
      badge: badge(step.state),
      out: el('div', { class: 'step-out' }),
      cancel: null,
      li: null,
    };
    const label = step.name ? `${step.name} (${step.id})` : `${step.kind} ${step.id}`;
    const head = el('div', { class: 'step-head' },
      n.badge,
      el('span', { class: 'mono kind' }, step.kind),
      step.name ? nameNode(step.name, { class: 'nm step-name' }) : null,
      el('span', { class: 'mono muted' }, step.id));
    if (!root) {
      n.cancel = el('button', {
        type: 'button', class: 'small danger', 'data-step': step.id,
        'aria-label': `Cancel step ${displayName(step.name || step.kind)} (${step.id})`,
        onclick: () => this.cancelStep(step.id, label),
      }, 'Cancel');
      head.append(n.cancel);
    }
    n.li = el('li', { 'data-step-id': step.id, 'data-state': step.state, tabindex: '-1' }, head, n.out);
    if (step.steps?.length) n.li.append(el('ul', {}, step.steps.map((s) => this.buildStep(s, false))));
    this.stepNodes.set(step.id, n);
    return n.li;
  }

  updateStep(step, root) {
    const n = this.stepNodes.get(step.id);
    if (!n) return;
    setBadge(n.badge, step.state);
    if (n.li.dataset.state !== step.state) n.li.dataset.state = step.state;
    const final = isFinal(step.state);
    if (n.cancel && n.cancel.hidden !== final) {
      // The button goes with the step's end; focus on it stays in the step, not on <body>.
      if (final && document.activeElement === n.cancel) n.li.focus();
      n.cancel.hidden = final;
    }
    const target = step.id === this.targetStep;
    if (target !== n.li.classList.contains('target')) {
      n.li.classList.toggle('target', target);
      if (target) n.li.scrollIntoView({ block: 'nearest' });
    }
    let text = '';
    let cls = 'step-out';
    if (step.error) {
      text = errorText(step.error);
      cls += ' error-text';
    } else if (!root && final && step.result !== null && step.result !== undefined) {
      text = `→ ${JSON.stringify(withoutOutput(step.result))}`;
      cls += ' mono';
    }
    if (n.out.className !== cls) n.out.className = cls;
    setText(n.out, text);
  }

  // ---- actions ------------------------------------------------------------------------------
  async act(method, path, body) {
    this.outageShown = false;
    setText(this.view.error, '');
    try {
      const res = await api(method, path, body);
      this.onChanged?.();
      return res;
    } catch (e) {
      this.outageShown = isUnreachable(e);
      setText(this.view.error, this.outageShown ? `Could not reach the daemon (${e.message}).` : e.message);
      return null;
    } finally {
      if (method !== 'DELETE') await this.refresh();
    }
  }

  async cancelTask() {
    const task = this.task;
    if (!task) return;
    const ok = await confirmAction({
      title: `Cancel ${task.id}?`,
      text: `“${isolatedName(task.name)}” will end as cancelled; its running steps are stopped.`,
      action: 'Cancel task',
    });
    if (ok && task.id === this.id) await this.act('POST', `/api/tasks/${task.id}/cancel`);
  }

  async cancelStep(stepId, label) {
    const ok = await confirmAction({
      title: `Cancel step ${stepId}?`,
      text: `Step “${isolatedName(label)}” will end as cancelled.`,
      action: 'Cancel step',
    });
    if (ok) await this.act('POST', `/api/tasks/${stepId}/cancel`);
  }

  setTimeout(e) {
    e.preventDefault();
    const raw = this.view.timeoutInput.value.trim();
    // The daemon validates; the text goes as a number when it is one, so its message shows.
    const n = Number(raw);
    const value = raw !== '' && Number.isFinite(n) ? n : raw;
    this.act('POST', `/api/tasks/${this.id}/timeout`, { timeout: value });
  }

  // Re-run: the same spec submitted again, as a new task.
  async rerun() {
    const task = this.task;
    if (!task?.spec) return;
    // A schedule's run carries the schedule's name, which only the daemon may set (a submit
    // with it is refused): the re-run is a task of its own.
    const spec = task.spec && typeof task.spec === 'object' && !Array.isArray(task.spec) && 'schedule' in task.spec
      ? Object.fromEntries(Object.entries(task.spec).filter(([k]) => k !== 'schedule')) : task.spec;
    const res = await this.act('POST', '/api/tasks', spec);
    if (res?.data?.id) this.onOpen?.(res.data.id, res.data);
  }

  async remove() {
    const task = this.task;
    if (!task) return;
    const ok = await confirmAction({
      title: `Delete ${task.id}?`,
      text: `“${isolatedName(task.name)}” and its record are removed from the daemon for good.`,
      action: 'Delete task',
    });
    if (!ok || task.id !== this.id) return;
    const res = await this.act('DELETE', `/api/tasks/${task.id}`);
    if (res) {
      this.onGone?.(task.id, 'deleted');
      this.close(`Deleted ${task.id}.`);
    }
  }

  async copySpec() {
    const text = this.view.specText.textContent;
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      // no clipboard API (not a secure context): copy the selected text the old way
      const range = document.createRange();
      range.selectNodeContents(this.view.specText);
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      ok = document.execCommand?.('copy') ?? false;
    }
    setText(this.view.copyNote, ok ? 'Copied.' : 'Select the text and copy it.');
  }
}
