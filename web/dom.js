// Builds elements without ever parsing a string as HTML: text given here always ends up as a
// text node, so a task named "<img src=x onerror=...>" shows literally.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Sets text only when it changed: rewriting identical text still costs layout work.
export function setText(node, text) {
  const s = text === null || text === undefined ? '' : String(text);
  if (node.textContent !== s) node.textContent = s;
}

// Characters that reorder the text around them (embeddings, overrides, isolates, marks). Inside
// a task name they are shown as visible codes instead, so "invoice\u202Efdp.exe" cannot read
// as "invoiceexe.pdf".
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

const codeOf = (c) => `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

// A name as plain text with its bidi controls spelled out (for title attributes and labels).
export function displayName(name) {
  if (name === null || name === undefined || name === '') return '(unnamed)';
  return String(name).replace(BIDI_CONTROLS, (c) => `[${codeOf(c)}]`);
}

// A name as the text of `node`, its bidi controls shown as marked codes. The node isolates it
// (CSS unicode-bidi: isolate on .nm), so a right-to-left name does not reorder the text beside
// it. Rows and the pane reuse their nodes.
export function setName(node, name) {
  const text = name === null || name === undefined || name === '' ? '' : String(name);
  if (node.dataset.raw === text && node.childNodes.length) return;
  node.dataset.raw = text;
  if (!text) {
    node.replaceChildren(el('span', { class: 'muted' }, '(unnamed)'));
    return;
  }
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(BIDI_CONTROLS)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(el('span', { class: 'ctl', title: 'a text direction control character' }, `[${codeOf(m[0])}]`));
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  node.replaceChildren(...parts);
}

// An inline name: a <bdi> of its own.
export function nameNode(name, props = {}) {
  const node = el('bdi', { class: 'nm', ...props });
  setName(node, name);
  return node;
}

// A name inside a sentence of plain text (a title, a dialog): spelled out and wrapped in
// FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE, the text form of <bdi>.
export function isolatedName(name) {
  return `\u2068${displayName(name)}\u2069`;
}

export function visuallyHidden(text) {
  return el('span', { class: 'sr-only' }, text);
}

// Shows `items` in `list` in their order: each by its view in `views` (key(item) -> a view with
// its `li`), made by build(item) when missing, refreshed by update(view, item). Views that stay are
// never moved (a moved node loses focus); new ones go in their place.
export function placeViews(list, views, items, key, build, update) {
  let at = list.firstChild;
  for (const item of items) {
    let v = views.get(key(item));
    if (!v) {
      v = build(item);
      views.set(key(item), v);
    }
    if (v.li === at) at = at.nextSibling;
    else list.insertBefore(v.li, at);
    update(v, item);
  }
}
