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

export function fmtTime(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const d = new Date(seconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function fmtDateTime(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  return new Date(seconds * 1000).toISOString();
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// Duration of a task or step summary; a running one counts up to now.
export function durationOf(task, nowSeconds) {
  if (task.duration !== null && task.duration !== undefined) return task.duration;
  if (task.started && !task.finished) return Math.max(0, nowSeconds - task.started);
  return null;
}
