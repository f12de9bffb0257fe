// The form that adds a schedule (POST /api/schedules): its name, a cron expression and time
// zone or an interval, what to do when a run is still going or fires were missed, and the task
// spec. The daemon checks it all; its message shows at the field it names
// ("$.cron: minute field: 61 is out of range 0-59" under the cron expression).
import { api, isUnreachable } from './api.js';
import { el, setText } from './dom.js';

const SPEC = { name: 'report', sleep: 1 };

function localZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

function zoneNames() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return [];
  }
}

export class ScheduleForm {
  // onAdded(record): the daemon made the schedule.
  constructor({ onAdded }) {
    this.onAdded = onAdded;
    this.busy = false;
    this.fields = {};
    const input = (key, props) => el('input', {
      id: `sched-${key}`, type: 'text', autocomplete: 'off', spellcheck: 'false', ...props,
    });
    const select = (key, options) => el('select', { id: `sched-${key}` },
      options.map(([value, label]) => el('option', { value }, label)));
    const f = {
      name: input('name', { maxlength: '128', placeholder: 'nightly-report' }),
      cron: input('cron', { placeholder: '0 3 * * *' }),
      timezone: input('timezone', { list: 'sched-zones', value: localZone() }),
      every: input('every', { inputmode: 'decimal', placeholder: '60' }),
      overlap: select('overlap', [['skip', 'skip that fire'], ['allow', 'run anyway'], ['queue', 'run when it ends']]),
      catch_up: select('catch_up', [['none', 'skip them'], ['one', 'run once for them']]),
      spec: el('textarea', { id: 'sched-spec', rows: '4', spellcheck: 'false' }),
    };
    f.spec.value = JSON.stringify(SPEC, null, 2);
    const field = (key, label, hint) => {
      const error = el('p', { class: 'field-error', id: `sched-${key}-error`, role: 'alert' });
      const described = hint ? `sched-${key}-hint sched-${key}-error` : `sched-${key}-error`;
      f[key].setAttribute('aria-describedby', described);
      f[key].addEventListener('input', () => this.clear(key));
      this.fields[key] = { control: f[key], error };
      return el('div', { class: `field field-${key}` },
        el('label', { for: `sched-${key}` }, label), f[key],
        hint ? el('span', { class: 'hint', id: `sched-${key}-hint` }, hint) : null, error);
    };
    this.kind = { cron: null, every: null };
    const radio = (value, label) => {
      const r = el('input', { type: 'radio', name: 'sched-kind', value, id: `sched-kind-${value}`,
        checked: value === 'cron', onchange: () => this.showKind() });
      this.kind[value] = r;
      return el('label', { for: `sched-kind-${value}`, class: 'choice' }, r, label);
    };
    this.cronPart = el('div', { class: 'form-row' },
      field('cron', 'Cron expression', '5 or 6 fields, or @daily, @hourly …'),
      field('timezone', 'Time zone'));
    this.everyPart = el('div', { class: 'form-row', hidden: true }, field('every', 'Every (seconds)'));
    this.general = el('p', { class: 'field-error', id: 'sched-form-error', role: 'alert' });
    this.status = el('span', { class: 'note', id: 'sched-form-status', role: 'status' });
    this.button = el('button', { type: 'submit', id: 'sched-add' }, 'Add schedule');
    this.zones = el('datalist', { id: 'sched-zones' });
    this.form = el('form', { class: 'sched-form', novalidate: true, onsubmit: (e) => this.submit(e) },
      field('name', 'Name', 'letters, digits, . _ -'),
      el('fieldset', { class: 'kind' }, el('legend', {}, 'Fires'),
        radio('cron', 'on a cron schedule'), radio('every', 'at an interval')),
      this.cronPart, this.everyPart,
      el('div', { class: 'form-row' },
        field('overlap', 'While its last run is still going'),
        field('catch_up', 'Fires missed while paused or down')),
      field('spec', 'Task spec (JSON)'),
      this.general,
      el('div', { class: 'row' }, this.button, this.status),
      this.zones);
    this.f = f;
    this.root = el('details', { class: 'add-schedule', id: 'schedule-add' },
      el('summary', {}, 'Add a schedule'), this.form);
    // The zone names (some 400) are made when first needed, not with the page.
    this.root.addEventListener('toggle', () => {
      if (this.root.open && !this.zones.firstChild) {
        this.zones.append(...zoneNames().map((z) => el('option', { value: z })));
      }
    });
  }

  get every() {
    return this.kind.every.checked;
  }

  showKind() {
    this.cronPart.hidden = this.every;
    this.everyPart.hidden = !this.every;
  }

  clear(key) {
    const field = this.fields[key];
    setText(field.error, '');
    field.control.removeAttribute('aria-invalid');
  }

  // The message goes to the field it names, which takes the focus; otherwise under the form.
  fail(key, message) {
    const field = this.fields[key];
    if (!field) {
      setText(this.general, message);
      return;
    }
    setText(field.error, message);
    field.control.setAttribute('aria-invalid', 'true');
    field.control.focus();
  }

  async submit(e) {
    e.preventDefault();
    if (this.busy) return;
    for (const key of Object.keys(this.fields)) this.clear(key);
    setText(this.general, '');
    setText(this.status, '');
    const { f } = this;
    const body = { name: f.name.value.trim() };
    if (this.every) {
      // Sent as a number when it is one, else as typed: the daemon's message explains it.
      const raw = f.every.value.trim();
      const n = Number(raw);
      body.every = raw !== '' && Number.isFinite(n) ? n : raw;
    } else {
      body.cron = f.cron.value.trim();
      if (f.timezone.value.trim()) body.timezone = f.timezone.value.trim();
    }
    body.overlap = f.overlap.value;
    body.catch_up = f.catch_up.value;
    try {
      body.spec = JSON.parse(f.spec.value);
    } catch (err) {
      this.fail('spec', `Not valid JSON: ${err.message}`);
      return;
    }
    this.busy = true;
    this.form.setAttribute('aria-busy', 'true');
    try {
      const { data } = await api('POST', '/api/schedules', body);
      f.name.value = '';
      setText(this.status, `Added ${data?.name ?? body.name}.`);
      this.onAdded(data ?? body);
    } catch (err) {
      if (isUnreachable(err)) {
        this.fail(null, `Could not reach the daemon (${err.message}).`);
      } else {
        // "$.spec.gather[1].sleep: ..." belongs to the spec; a name taken (409) to the name.
        const path = /^\$\.([a-z_]+)/.exec(err.message)?.[1];
        this.fail(err.status === 409 ? 'name' : path, err.message);
      }
    } finally {
      this.busy = false;
      this.form.removeAttribute('aria-busy');
    }
  }
}
