// Terminal output as text nodes: SGR colour and style codes (ESC [ ... m) become spans with
// classes (no inline style: the page's CSP allows none); every other escape sequence (cursor
// moves, titles, hyperlinks) is dropped rather than shown as garbage.
import { el } from './dom.js';

// CSI ... final byte; OSC ... BEL or ST; other two-byte escapes.
const ESCAPES = /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

function sgr(state, params) {
  const codes = params === '' ? [0] : params.split(';').map((x) => Number(x) || 0);
  for (let i = 0; i < codes.length; ++i) {
    const c = codes[i];
    if (c === 0) Object.assign(state, { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });
    else if (c === 1) state.bold = true;
    else if (c === 2) state.dim = true;
    else if (c === 3) state.italic = true;
    else if (c === 4) state.underline = true;
    else if (c === 22) state.bold = state.dim = false;
    else if (c === 23) state.italic = false;
    else if (c === 24) state.underline = false;
    else if (c >= 30 && c <= 37) state.fg = c - 30;
    else if (c >= 90 && c <= 97) state.fg = c - 90 + 8;
    else if (c === 39) state.fg = null;
    else if (c >= 40 && c <= 47) state.bg = c - 40;
    else if (c >= 100 && c <= 107) state.bg = c - 100 + 8;
    else if (c === 49) state.bg = null;
    else if (c === 38 || c === 48) {
      // 256 colours: the first 16 map onto the palette, the rest are left uncoloured; 24-bit
      // colours too (a class per colour would be needed).
      const which = c === 38 ? 'fg' : 'bg';
      if (codes[i + 1] === 5) {
        const n = codes[i + 2];
        if (n >= 0 && n < 16) state[which] = n;
        i += 2;
      } else if (codes[i + 1] === 2) {
        i += 4;
      }
    }
  }
}

function classes(state) {
  const out = [];
  if (state.fg !== null) out.push(`ansi-fg-${state.fg}`);
  if (state.bg !== null) out.push(`ansi-bg-${state.bg}`);
  if (state.bold) out.push('ansi-bold');
  if (state.dim) out.push('ansi-dim');
  if (state.italic) out.push('ansi-italic');
  if (state.underline) out.push('ansi-underline');
  return out.join(' ');
}

// Nodes for `text`: plain text nodes, and spans where a style is on.
export function ansiNodes(text) {
  const state = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
  const nodes = [];
  let last = 0;
  const push = (chunk) => {
    if (!chunk) return;
    const cls = classes(state);
    nodes.push(cls ? el('span', { class: cls }, chunk) : document.createTextNode(chunk));
  };
  for (const m of text.matchAll(ESCAPES)) {
    push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === 'm') sgr(state, m[1]);
  }
  push(text.slice(last));
  return nodes;
}

// The text with every escape sequence removed.
export function stripAnsi(text) {
  return text.replace(ESCAPES, '');
}
