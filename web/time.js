// Times as the dashboard shows them: in one zone everywhere, the browser's local one, with the
// zone named; the UTC instant on hover. The daemon sends seconds since the epoch (UTC).
const pad = (n, w = 2) => String(n).padStart(w, '0');

let zoneCache = null;
// The local zone's short name ("CET", "GMT+5:30"), taken once: the page shows one zone.
export function zoneName() {
  if (zoneCache === null) {
    try {
      const parts = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(new Date());
      zoneCache = parts.find((p) => p.type === 'timeZoneName')?.value ?? '';
    } catch {
      zoneCache = '';
    }
    if (!zoneCache) {
      const off = -new Date().getTimezoneOffset();
      zoneCache = `UTC${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
    }
  }
  return zoneCache;
}

const present = (s) => typeof s === 'number' && Number.isFinite(s);

// "14:03:07.250" in the local zone.
export function fmtClock(seconds) {
  if (!present(seconds)) return '';
  const d = new Date(seconds * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// "2025-12-01 14:03:07.250 CET".
export function fmtDateTime(seconds) {
  if (!present(seconds)) return '—';
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtClock(seconds)} ${zoneName()}`;
}

// "2025-12-01T13:03:07.250Z", for the hover title.
export function fmtUtc(seconds) {
  if (!present(seconds)) return '';
  return `${new Date(seconds * 1000).toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

// Fills a <time> element: local text, UTC on hover, the machine-readable instant.
export function setTime(node, seconds, long = false) {
  const text = long ? fmtDateTime(seconds) : fmtClock(seconds);
  if (node.textContent !== text) node.textContent = text;
  const utc = fmtUtc(seconds);
  if (node.title !== utc) node.title = utc;
  if (present(seconds)) node.dateTime = new Date(seconds * 1000).toISOString();
  else node.removeAttribute('datetime');
}

export function fmtDuration(seconds) {
  if (!present(seconds)) return '';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.floor(seconds % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

// Duration of a task or step summary. The daemon's own figure wins (it knows about outages);
// else finished - started (a task that started and finished between two renders, bug 4);
// a running one counts up to `nowSeconds` (the page passes the moment it lost the daemon
// while disconnected, so running durations stop rather than count on unseen).
export function durationOf(task, nowSeconds) {
  if (present(task.duration)) return task.duration;
  if (present(task.started) && present(task.finished)) return Math.max(0, task.finished - task.started);
  if (present(task.started) && !present(task.finished) && task.state === 'running' && present(nowSeconds)) {
    return Math.max(0, nowSeconds - task.started);
  }
  return null;
}

// A schedule's fire time: as fmtDateTime, without the milliseconds when it has none (a cron
// schedule fires on whole seconds; an interval's fires keep theirs).
export function fmtFire(seconds) {
  const text = fmtDateTime(seconds);
  return present(seconds) && Math.round(seconds * 1000) % 1000 === 0 ? text.replace(/\.000 /, ' ') : text;
}

// How long until `seconds`, counted in whole seconds: "in 42 s", "in 3 min 5 s"; "due" once
// the time has come (the daemon's answer with the next time follows).
export function fmtUntil(seconds, nowSeconds) {
  if (!present(seconds)) return '';
  const left = seconds - nowSeconds;
  if (left <= 0) return 'due';
  return `in ${left < 60 ? `${Math.ceil(left)} s` : fmtDuration(left)}`;
}
