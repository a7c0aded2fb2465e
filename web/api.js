// The REST API as the page uses it: the bearer token from localStorage,
// JSON errors ({"error": {"code", "message"}}) turned into ApiError.

const TOKEN_KEY = 'kofarm.token';

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token lasts until the page is left
  }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  // What a person should read: the server's message plus a hint for the
  // statuses a token fixes.
  describe() {
    let hint = '';
    if (this.status === 401) hint = ' Enter a valid API token above.';
    else if (this.status === 403) hint = ' Your token lacks the scope this needs.';
    return `${this.message} (${this.status}${this.code ? ' ' + this.code : ''}).${hint}`;
  }
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

// An ApiError from a failed response (the JSON error when there is one).
async function errorOf(resp) {
  let code = '';
  let message = `${resp.status} ${resp.statusText || 'error'}`;
  try {
    const body = await resp.json();
    if (body && body.error) {
      code = body.error.code || '';
      message = body.error.message || message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(resp.status, code, message);
}

// fetch with the token; resolves to the Response when it is 2xx.
export async function request(path, { method = 'GET', body, headers = {}, signal } = {}) {
  const init = { method, headers: authHeaders({ Accept: 'application/json', ...headers }), signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach the server (${e.message})`);
  }
  if (!resp.ok) throw await errorOf(resp);
  return resp;
}

export async function getJSON(path, opts) {
  return (await request(path, opts)).json();
}

export async function postJSON(path, body, opts = {}) {
  return (await request(path, { ...opts, method: 'POST', body })).json();
}

// The JSON, or null when the server does not serve the path (404): for the
// collections other branches of the API add (resolves, projects).
export async function optionalJSON(path, opts) {
  try {
    return await getJSON(path, opts);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && e.code === 'not_found') return null;
    throw e;
  }
}

// Which job collections the server answers, probed once per page load.
let collectionsProbe = null;
export function jobCollections() {
  if (!collectionsProbe) {
    collectionsProbe = (async () => {
      const kinds = ['build'];
      try {
        // 404 not_found: not served here; any other answer (even 401) means it is.
        await getJSON('/v1/resolves?limit=1');
        kinds.push('resolve');
      } catch (e) {
        if (!(e instanceof ApiError) || !(e.status === 404 || e.status === 0)) kinds.push('resolve');
      }
      return kinds;
    })();
  }
  return collectionsProbe;
}

// A download link for an API file. A plain link cannot carry the token, so
// with one set the click fetches the file and saves what came back.
export function downloadLink(url, filename, label, attrs = {}) {
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.textContent = label;
  for (const [k, v] of Object.entries(attrs)) link.setAttribute(k, v);
  link.addEventListener('click', async (event) => {
    if (!getToken()) return;
    event.preventDefault();
    try {
      const blob = await (await request(url, { headers: { Accept: '*/*' } })).blob();
      const saver = document.createElement('a');
      saver.href = URL.createObjectURL(blob);
      saver.download = filename;
      saver.dataset.blob = 'true';
      document.body.append(saver);
      saver.click();
      saver.remove();
      setTimeout(() => URL.revokeObjectURL(saver.href), 10_000);
    } catch (e) {
      link.setAttribute('aria-invalid', 'true');
      link.title = e.describe ? e.describe() : String(e.message || e);
      link.textContent = `${label} (failed: ${link.title})`;
    }
  });
  return link;
}
