// Task states, each with a label and an icon besides its colour, so no one has to tell states
// apart by hue alone (colours: Okabe-Ito palette, distinguishable with the common colour-vision
// deficiencies).
import { el } from './dom.js';

export const STATES = ['scheduled', 'pending', 'running', 'done', 'failed', 'cancelled', 'timed_out', 'interrupted'];

const INFO = {
  // Waits for its "delay" or "at" time (run_at), then becomes pending.
  scheduled: { icon: '◴', label: 'scheduled' },
  pending: { icon: '◷', label: 'pending' },
  running: { icon: '▶', label: 'running' },
  done: { icon: '✓', label: 'done' },
  failed: { icon: '✗', label: 'failed' },
  cancelled: { icon: '⊘', label: 'cancelled' },
  timed_out: { icon: '◕', label: 'timed out' },
  // Running when the daemon stopped without a clean shutdown (found so at the next start).
  interrupted: { icon: '↯', label: 'interrupted' },
};

export function isFinal(state) {
  return state !== 'scheduled' && state !== 'pending' && state !== 'running';
}

// A scheduled task can be deleted (it is unscheduled, never having run), as a finished one can.
export function isDeletable(state) {
  return state === 'scheduled' || isFinal(state);
}

export function stateLabel(state) {
  return INFO[state]?.label ?? String(state);
}

export function badge(state) {
  const info = INFO[state] ?? { icon: '?', label: String(state) };
  return el('span', { class: `badge s-${INFO[state] ? state : 'unknown'}`, 'data-state': state },
    el('span', { class: 'icon', 'aria-hidden': 'true', text: info.icon }), info.label);
}

// Updates a badge made by badge() in place (rows keep their references to it).
export function setBadge(node, state) {
  if (node.dataset.state === state) return;
  const info = INFO[state] ?? { icon: '?', label: String(state) };
  node.className = `badge s-${INFO[state] ? state : 'unknown'}`;
  node.dataset.state = state;
  node.firstChild.textContent = info.icon;
  node.lastChild.textContent = info.label;
}

// How far along a task is: a transition never moves a task back down, except a retry (which
// the daemon reports with a newer time).
export function stateRank(state) {
  return state === 'scheduled' ? -1 : state === 'pending' ? 0 : state === 'running' ? 1 : 2;
}
