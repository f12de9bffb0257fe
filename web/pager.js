// The pager, shown above and below the table: first / newer / "1–50 of 20,000" / older / last,
// and the page size (above only). The top one carries the ids the tests and links use.
import { el, setText } from './dom.js';
import { PAGE_SIZES } from './table.js';

const fmt = (n) => n.toLocaleString('en');

export class Pager {
  constructor(container, { primary, onFirst, onNewer, onOlder, onLast, onSize }) {
    const id = (name) => (primary ? name : undefined);
    this.buttons = {
      first: el('button', { type: 'button', id: id('page-first'), onclick: onFirst }, '⇤ Newest'),
      newer: el('button', { type: 'button', id: id('page-newer'), onclick: onNewer }, '← Newer'),
      older: el('button', { type: 'button', id: id('page-older'), onclick: onOlder }, 'Older →'),
      last: el('button', { type: 'button', id: id('page-last'), onclick: onLast }, 'Oldest ⇥'),
    };
    this.label = el('span', { class: 'page-label', id: id('page-label') });
    container.append(this.buttons.first, this.buttons.newer, this.label, this.buttons.older,
      this.buttons.last);
    if (primary) {
      this.size = el('select', { id: 'page-size', onchange: (e) => onSize(Number(e.target.value)) },
        PAGE_SIZES.map((n) => el('option', { value: String(n) }, String(n))));
      container.append(el('label', { class: 'page-size', for: 'page-size' }, 'Per page'), this.size);
    }
  }

  show(info) {
    let text;
    if (!info.count) text = info.total === 0 || info.newest ? '0 tasks' : 'no tasks on this page';
    else if (info.from === null) text = `${fmt(info.count)} tasks`;
    else text = `${fmt(info.from)}–${fmt(info.to)}`;
    if (info.count && info.total !== null && info.total !== undefined) {
      text += ` of ${fmt(Math.max(info.total, info.to ?? 0))}`;
    }
    setText(this.label, text);
    this.buttons.first.disabled = !info.canNewer;
    this.buttons.newer.disabled = !info.canNewer;
    this.buttons.older.disabled = !info.canOlder;
    this.buttons.last.disabled = !info.canLast;
    this.buttons.last.hidden = !info.lastSupported;
    if (this.size && this.size.value !== String(info.size)) this.size.value = String(info.size);
  }
}
