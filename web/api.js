// Calls to the daemon's JSON API. A 401 asks the user for the token (once, however many calls
// hit it together), keeps it in sessionStorage for this tab and retries with it.
const TOKEN_KEY = 'uasyncd.token';

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let prompt = async () => {
  throw new Error('no token prompt installed');
};
let pendingPrompt = null;
const tokenListeners = new Set();
const reachListeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// True for a request that never got an answer (daemon down, network gone), as opposed to an
// answer with an error status.
export function isUnreachable(e) {
  return !(e instanceof ApiError) && e?.name !== 'AbortError';
}

// `ask(refused)` resolves with a token; `refused` tells whether a token was already tried.
export function setTokenPrompt(ask) {
  prompt = ask;
}

// `fn(token)` runs whenever the user gives a new token (the shared event stream needs it).
export function onTokenChange(fn) {
  tokenListeners.add(fn);
}

// `fn(reached)` runs after each call: true when the daemon answered, false when it could not
// be reached. The page uses it to show (and clear) its disconnected state.
export function onReachability(fn) {
  reachListeners.add(fn);
}

function reached(ok) {
  for (const fn of reachListeners) fn(ok);
}

export function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// Called after a 401 for a request sent with `usedToken`: if the token changed meanwhile, the
// caller simply retries; otherwise everyone waits for the one prompt.
export function needToken(usedToken) {
  if (usedToken !== token) return Promise.resolve();
  if (!pendingPrompt) {
    pendingPrompt = prompt(usedToken !== '').then((t) => {
      token = t;
      sessionStorage.setItem(TOKEN_KEY, t);
      pendingPrompt = null;
      for (const fn of tokenListeners) fn(t);
    });
  }
  return pendingPrompt;
}

export function currentToken() {
  return token;
}

export async function api(method, path, body, { signal } = {}) {
  for (;;) {
    const used = token;
    const headers = { Accept: 'application/json', ...authHeaders() };
    const init = { method, headers, cache: 'no-store', signal };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      if (e?.name !== 'AbortError') reached(false);
      throw e;
    }
    reached(true);
    if (res.status === 401) {
      await needToken(used);
      continue;
    }
    const type = res.headers.get('Content-Type') ?? '';
    const data = type.startsWith('application/json') ? await res.json() : await res.text();
    if (!res.ok) {
      const err = data && typeof data === 'object' ? data.error : null;
      throw new ApiError(res.status, err?.code ?? `http_${res.status}`,
        err?.message ?? `HTTP ${res.status}`);
    }
    return { status: res.status, data };
  }
}

// What the daemon says it serves beyond the base API (GET /api/stats "features", see
// docs/dashboard-api.md). Until the first stats answer, nothing.
const features = new Set();
export function setFeatures(list) {
  features.clear();
  if (Array.isArray(list)) for (const f of list) if (typeof f === 'string') features.add(f);
}
export function hasFeature(name) {
  return features.has(name);
}
