// What the page shows, in its address: filter, page, page size and the open task, so a reload
// or a shared link opens the same view. ?state=running&q=job&before=t900&p=3&size=100&task=t42
// (`before`: the page's cursor; `last=1`: the oldest page; `p`: its number, for the label).
const ID = /^t\d{1,19}(\.\d{1,9})?$/;

export function isTaskId(s) {
  return ID.test(s);
}

export function readUrl(search = location.search) {
  const q = new URLSearchParams(search);
  const num = (k) => {
    const n = Number(q.get(k));
    return Number.isInteger(n) && n > 0 ? n : null;
  };
  const id = (k) => (isTaskId(q.get(k) ?? '') ? q.get(k) : null);
  return {
    state: q.get('state') ?? '',
    q: q.get('q') ?? '',
    cursor: id('before'),
    last: q.get('last') === '1',
    page: num('p'),
    size: num('size'),
    task: id('task'),
  };
}

export function urlFor(view) {
  const q = new URLSearchParams();
  if (view.state) q.set('state', view.state);
  if (view.q) q.set('q', view.q);
  if (view.last) q.set('last', '1');
  else if (view.cursor) q.set('before', view.cursor);
  if ((view.last || view.cursor) && view.page) q.set('p', String(view.page));
  if (view.size) q.set('size', String(view.size));
  if (view.task) q.set('task', view.task);
  const s = q.toString();
  return s ? `?${s}` : location.pathname;
}

// Pushes a history entry for a change the user made (Back undoes it); replaces it otherwise.
export function writeUrl(view, { push = false } = {}) {
  const url = urlFor(view);
  if (url === `${location.search}` || (url === location.pathname && !location.search)) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}
