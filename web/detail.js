// The detail pane: one task's timestamps, result or error, step tree (each step with its state
// and a cancel button), exec output, and the task's cancel and timeout controls.
import { api, authHeaders } from './api.js';
import { durationOf, el, fmtDateTime, fmtDuration, setText } from './dom.js';
import { badge, isFinal } from './states.js';
import { readSse } from './sse.js';

const OUTPUT_TAIL_CHARS = 16 * 1024;

function usesExec(spec) {
  if (!spec || typeof spec !== 'object') return false;
  if (Array.isArray(spec)) return spec.some(usesExec);
  if ('exec' in spec) return true;
  return Object.entries(spec).some(([k, v]) => k !== 'value' && usesExec(v));
}

function json(value) {
  return JSON.stringify(value, null, 2);
}

function errorText(error) {
  if (!error) return '';
  return error.message ? `${error.type}: ${error.message}` : error.type;
}

export class Detail {
  constructor({ placeholder, body, onChanged }) {
    Object.assign(this, { placeholder, body, onChanged });
    this.id = null;
    this.task = null;
    this.loading = null;
    this.again = false;
    this.output = null;
  }

  // Shows task `id` (building the pane once per task, so inputs keep focus across updates).
  async show(id) {
    if (id !== this.id) {
      this.stopOutput();
      this.id = id;
      this.task = null;
      this.build();
    }
    await this.refresh();
  }

  build() {
    this.body.replaceChildren();
    const v = (this.view = {});
    v.name = el('h2', { class: 'name' });
    v.badge = el('span');
    v.id = el('span', { class: 'mono muted' });
    v.cancel = el('button', { type: 'button', class: 'danger', onclick: () => this.act(`/api/tasks/${this.id}/cancel`) }, 'Cancel task');
    v.timeoutInput = el('input', { type: 'number', min: '0', step: 'any', id: 'timeout-input', 'aria-describedby': 'detail-error', value: '5' });
    v.timeoutForm = el('form', { class: 'row timeout', onsubmit: (e) => this.setTimeout(e) },
      el('label', { for: 'timeout-input' }, 'Time out in'), v.timeoutInput, el('span', {}, 's'),
      el('button', { type: 'submit' }, 'Set timeout'));
    v.error = el('p', { class: 'field-error', id: 'detail-error', role: 'alert' });
    v.times = el('dl', { class: 'times' });
    v.outcome = el('div', { class: 'outcome' });
    v.steps = el('ul', { class: 'steps', 'aria-label': 'Steps' });
    v.outputBox = el('section', { class: 'output', hidden: true },
      el('h3', {}, 'Output'), (v.output = el('pre', { class: 'log', tabindex: '0' })));
    this.body.append(
      el('div', { class: 'detail-head' }, v.name, v.badge),
      v.id,
      el('div', { class: 'actions' }, v.cancel, v.timeoutForm),
      v.error, v.times, v.outcome,
      el('h3', {}, 'Steps'), v.steps, v.outputBox);
    this.placeholder.hidden = true;
    this.body.hidden = false;
  }

  // At most one fetch at a time; updates arriving meanwhile cause one more after it.
  refresh() {
    if (!this.id) return Promise.resolve();
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    const id = this.id;
    this.loading = api('GET', `/api/tasks/${encodeURIComponent(id)}`)
      .then(({ data }) => {
        if (id === this.id) this.render(data);
      })
      .catch((e) => {
        if (id === this.id) setText(this.view.error, e.message);
      })
      .finally(() => {
        this.loading = null;
        if (this.again) {
          this.again = false;
          this.refresh();
        }
      });
    return this.loading;
  }

  render(task) {
    const v = this.view;
    this.task = task;
    setText(v.name, task.name || '(unnamed)');
    v.badge.replaceChildren(badge(task.state));
    setText(v.id, task.id);
    const final = isFinal(task.state);
    v.cancel.disabled = final;
    for (const c of v.timeoutForm.elements) c.disabled = final;
    const now = Date.now() / 1000;
    v.times.replaceChildren(
      ...[['Created', fmtDateTime(task.created)], ['Started', fmtDateTime(task.started)],
        ['Finished', fmtDateTime(task.finished)], ['Duration', fmtDuration(durationOf(task, now)) || '—']]
        .flatMap(([k, val]) => [el('dt', {}, k), el('dd', { class: 'mono' }, val)]));
    v.outcome.replaceChildren();
    if (task.error) {
      v.outcome.append(el('h3', {}, 'Error'), el('pre', { class: 'error-text' }, errorText(task.error)));
    } else if (final) {
      v.outcome.append(el('h3', {}, 'Result'), el('pre', { class: 'result' }, json(task.result)));
    }
    v.steps.replaceChildren(this.stepNode(task.steps, true));
    if (usesExec(task.spec)) this.startOutput(task);
  }

  stepNode(step, root) {
    const head = el('div', { class: 'step-head' },
      badge(step.state),
      el('span', { class: 'mono kind' }, step.kind),
      step.name ? el('span', { class: 'name' }, step.name) : null,
      el('span', { class: 'mono muted' }, step.id));
    if (!root && !isFinal(step.state)) {
      head.append(el('button', {
        type: 'button', class: 'small danger', 'data-step': step.id,
        'aria-label': `Cancel step ${step.id}`,
        onclick: () => this.act(`/api/tasks/${step.id}/cancel`),
      }, 'Cancel'));
    }
    const li = el('li', { 'data-step-id': step.id, 'data-state': step.state }, head);
    if (step.error) li.append(el('div', { class: 'step-out error-text' }, errorText(step.error)));
    else if (isFinal(step.state) && step.result !== null && step.result !== undefined) {
      li.append(el('div', { class: 'step-out mono' }, `→ ${JSON.stringify(step.result)}`));
    }
    if (step.steps?.length) {
      li.append(el('ul', {}, step.steps.map((s) => this.stepNode(s, false))));
    }
    return li;
  }

  async act(path, body) {
    setText(this.view.error, '');
    try {
      await api('POST', path, body);
    } catch (e) {
      setText(this.view.error, e.message);
    }
    this.onChanged?.();
    await this.refresh();
  }

  setTimeout(e) {
    e.preventDefault();
    const raw = this.view.timeoutInput.value.trim();
    // The daemon validates; the text goes as a number when it is one, so its message shows.
    const n = Number(raw);
    const value = raw !== '' && Number.isFinite(n) ? n : raw;
    this.act(`/api/tasks/${this.id}/timeout`, { timeout: value });
  }

  // Exec output: while the task runs, GET .../output?follow=1 (SSE: "output" frames
  // {step, stream, data}, the kept tail first, then "end"); once finished, the stored tail.
  async startOutput(task) {
    if (this.output?.id === task.id && (this.output.following || isFinal(task.state))) return;
    this.stopOutput();
    const state = (this.output = { id: task.id, abort: new AbortController(), text: '', following: false });
    const v = this.view;
    v.outputBox.hidden = false;
    const append = (s) => {
      state.text = (state.text + s).slice(-OUTPUT_TAIL_CHARS);
      const stick = v.output.scrollTop + v.output.clientHeight >= v.output.scrollHeight - 4;
      setText(v.output, state.text);
      if (stick) v.output.scrollTop = v.output.scrollHeight;
    };
    try {
      if (isFinal(task.state)) {
        const { data } = await api('GET', `/api/tasks/${task.id}/output`);
        if (this.output === state) append(storedOutput(data));
        return;
      }
      state.following = true;
      const res = await fetch(`/api/tasks/${task.id}/output?follow=1`, {
        headers: { Accept: 'text/event-stream', ...authHeaders() },
        signal: state.abort.signal,
      });
      if (!res.ok || !res.body) return;
      await readSse(res.body, (d, event) => {
        if (event !== 'output') return;
        const frame = JSON.parse(d);
        append(frame.stream === 'stderr' ? marked(frame.data) : frame.data);
      });
    } catch {
      // the stream ended or was stopped: the tail shown stays
    }
  }

  stopOutput() {
    this.output?.abort.abort();
    this.output = null;
    if (this.view) {
      this.view.outputBox.hidden = true;
      setText(this.view.output, '');
    }
  }
}

// stderr text, marked line by line so it can be told from stdout in one view.
function marked(text) {
  return text.replace(/^(?=.)/gm, '! ');
}

function storedOutput(data) {
  return (data.steps ?? []).map((step) => {
    const head = `$ ${(step.argv ?? []).join(' ')}   [${step.id}, ${step.state}]\n`;
    const err = step.stderr ? marked(step.stderr) : '';
    return head + (step.stdout ?? '') + err;
  }).join('\n');
}
