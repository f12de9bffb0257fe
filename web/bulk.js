// Bulk actions: cancel or delete the ticked rows (one request each, a few at a time, so the
// browser keeps connections for the rest of the page), or every task matching the filter in one
// request (daemon feature "tasks.bulk", docs/dashboard-api.md). Each asks first, with a count.
import { api, hasFeature } from './api.js';
import { confirmAction } from './confirm.js';
import { el, setText } from './dom.js';
import { isDeletable, isFinal } from './states.js';

const PARALLEL = 3;
const fmt = (n) => n.toLocaleString('en');
const plural = (n, one, many = `${one}s`) => `${fmt(n)} ${n === 1 ? one : many}`;

async function eachLimited(items, fn) {
  let next = 0;
  const results = [];
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (e) {
        results[i] = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return results;
}

export function filterText(filter) {
  const parts = [];
  if (filter.state) parts.push(`state ${filter.state}`);
  if (filter.q) parts.push(`name ${hasFeature('tasks.search') ? 'containing' : ''} “${filter.q}”`.replace('  ', ' '));
  return parts.length ? parts.join(', ') : 'no filter';
}

export class BulkBar {
  // table: the TaskTable; onDone(removedIds): after an action (the page refreshes what it shows).
  constructor({ root, table, onDone, totalOf }) {
    Object.assign(this, { root, table, onDone, totalOf });
    this.pageBox = el('input', { type: 'checkbox', id: 'select-page', onchange: (e) => table.checkPage(e.target.checked) });
    this.count = el('span', { class: 'bulk-count', id: 'bulk-count' });
    this.cancel = el('button', { type: 'button', class: 'danger small', id: 'bulk-cancel', onclick: () => this.onSelected('cancel') }, 'Cancel selected');
    this.remove = el('button', { type: 'button', class: 'danger small', id: 'bulk-delete', onclick: () => this.onSelected('delete') }, 'Delete selected');
    this.allCancel = el('button', { type: 'button', class: 'danger small', id: 'bulk-cancel-all', onclick: () => this.onFiltered('cancel') }, 'Cancel all matching');
    this.allDelete = el('button', { type: 'button', class: 'danger small', id: 'bulk-delete-all', onclick: () => this.onFiltered('delete') }, 'Delete all matching');
    this.status = el('span', { class: 'note', role: 'status', id: 'bulk-status' });
    root.append(
      el('label', { class: 'select-page', for: 'select-page' }, this.pageBox, 'Select page'),
      this.count, this.cancel, this.remove, this.allCancel, this.allDelete, this.status);
    this.update([]);
  }

  update(checkedIds) {
    const n = checkedIds.length;
    setText(this.count, n ? `${fmt(n)} selected` : '');
    this.cancel.disabled = n === 0;
    this.remove.disabled = n === 0;
    const pageIds = this.table.tasks.map((t) => t.id);
    this.pageBox.checked = pageIds.length > 0 && pageIds.every((id) => checkedIds.includes(id));
    const all = hasFeature('tasks.bulk');
    this.allCancel.hidden = !all;
    this.allDelete.hidden = !all;
  }

  async onSelected(action) {
    const tasks = this.table.checkedTasks();
    const fit = tasks.filter((t) => (action === 'cancel' ? !isFinal(t.state) : isDeletable(t.state)));
    const skipped = tasks.length - fit.length;
    const why = action === 'cancel' ? 'finished already' : 'pending or running';
    if (!fit.length) {
      setText(this.status, `Nothing to ${action}: the selected tasks ${action === 'cancel' ? 'have finished' : 'are pending or running'}.`);
      return;
    }
    const verb = action === 'cancel' ? 'Cancel' : 'Delete';
    const ok = await confirmAction({
      title: `${verb} ${plural(fit.length, 'task')}?`,
      text: `${fit.map((t) => t.id).slice(0, 8).join(', ')}${fit.length > 8 ? ', …' : ''}` +
        (skipped ? ` (${plural(skipped, 'selected task')} ${why}: left as they are)` : ''),
      action: `${verb} ${plural(fit.length, 'task')}`,
    });
    if (!ok) return;
    setText(this.status, `${action === 'cancel' ? 'Cancelling' : 'Deleting'} ${plural(fit.length, 'task')}…`);
    const results = await eachLimited(fit, (t) => (action === 'cancel'
      ? api('POST', `/api/tasks/${t.id}/cancel`) : api('DELETE', `/api/tasks/${t.id}`)));
    const failed = results.filter((r) => r instanceof Error);
    const doneIds = fit.filter((_, i) => !(results[i] instanceof Error)).map((t) => t.id);
    setText(this.status, `${action === 'cancel' ? 'Cancelled' : 'Deleted'} ${plural(doneIds.length, 'task')}` +
      (failed.length ? `; ${fmt(failed.length)} refused (${failed[0].message})` : '') +
      (skipped ? `; ${plural(skipped, 'task')} ${why}` : '') + '.');
    this.table.checkPage(false);
    this.onDone(action === 'delete' ? doneIds : []);
  }

  async onFiltered(action) {
    const filter = this.table.filter;
    const total = this.totalOf();
    const verb = action === 'cancel' ? 'Cancel' : 'Delete';
    const which = action === 'cancel' ? 'scheduled, pending or running' : 'finished or scheduled';
    const ok = await confirmAction({
      title: `${verb} every ${which} task matching the filter?`,
      text: `Filter: ${filterText(filter)}.` + (total !== null ? ` ${plural(total, 'task')} match it now; at most that many are touched.` : ''),
      action: `${verb} all matching`,
    });
    if (!ok) return;
    const match = {};
    if (filter.state) match.state = filter.state;
    if (filter.q) match[hasFeature('tasks.search') ? 'q' : 'name'] = filter.q;
    const body = { action, filter: match };
    if (total !== null) body.at_most = total;
    try {
      const { data } = await api('POST', '/api/tasks/bulk', body);
      setText(this.status, `${action === 'cancel' ? 'Cancelled' : 'Deleted'} ${plural(data.affected ?? 0, 'task')}` +
        ` of ${fmt(data.matched ?? 0)} matching${data.more ? ' (more remain: run it again)' : ''}.`);
      this.onDone([]);
    } catch (e) {
      setText(this.status, e.message);
    }
  }
}
