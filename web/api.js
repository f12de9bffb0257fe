// Calls to the daemon's JSON API. A 401 asks the user for the token (once, however many calls
// hit it together), keeps it in sessionStorage for this tab and retries with it.
const TOKEN_KEY = 'uasyncd.token';

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let prompt = async () => {
  throw new Error('no token prompt installed');
};
let pendingPrompt = null;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// `ask(refused)` resolves with a token; `refused` tells whether a token was already tried.
export function setTokenPrompt(ask) {
  prompt = ask;
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
    });
  }
  return pendingPrompt;
}

export function currentToken() {
  return token;
}

export async function api(method, path, body) {
  for (;;) {
    const used = token;
    const headers = { Accept: 'application/json', ...authHeaders() };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(path, init);
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
