// Shared by every console page: the API client (bearer token from sessionStorage, 401 →
// the login page; the tenant from the page's `?tenant=`, for an admin key), the Server-Sent
// Events reader, and small rendering helpers.

const TOKEN_KEY = "temporal-executor.token";
const LOGIN_MESSAGE_KEY = "temporal-executor.login-message";
export const TERMINAL_EVENTS = new Set(["task.completed", "task.failed", "task.cancelled"]);

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function takeLoginMessage() {
  const message = sessionStorage.getItem(LOGIN_MESSAGE_KEY);
  sessionStorage.removeItem(LOGIN_MESSAGE_KEY);
  return message;
}

// Back to the login form, saying why; it returns here after signing in.
export function toLogin(reason) {
  sessionStorage.setItem(LOGIN_MESSAGE_KEY, reason);
  const next = location.pathname + location.search;
  location.assign(`/ui/login?next=${encodeURIComponent(next)}`);
}

// The tenant this page acts in (`?tenant=`): an admin key's listings span every tenant, and
// it opens another tenant's task by naming that tenant. None: the key's own.
export function pageTenant() {
  return new URLSearchParams(location.search).get("tenant");
}

function headers(extra = {}, tenant = pageTenant()) {
  const result = { Accept: "application/json", ...extra };
  const bearer = token();
  if (bearer) result.Authorization = `Bearer ${bearer}`;
  if (tenant) result["X-Tenant"] = tenant;
  return result;
}

let signingIn = null; // the reason given, once a 401 has sent this page to the login form

function unauthorized() {
  // Several requests may fail at once: the first one's reason is the one shown.
  if (!signingIn) {
    signingIn = token()
      ? "The server refused your token (401). Sign in again."
      : "This server needs an API token. Sign in to continue.";
    setToken(null);
    toLogin(signingIn);
  }
  return new ApiError(401, "unauthorized", signingIn);
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status line is all there is
  }
  const error = (body && body.error) || {};
  const message = error.message || `${response.status} ${response.statusText}`.trim();
  return new ApiError(response.status, error.code || `http_${response.status}`, message, error.details);
}

// Call the REST API (in `tenant`, else the page's); resolves to the JSON body, rejects with
// an ApiError saying what failed.
export async function api(path, { method = "GET", body, signal, redirectOn401 = true, tenant } = {}) {
  // A call that hangs (a busy or unreachable server) fails after a while instead of
  // stopping a page's polling for good.
  const init = {
    method, signal: signal ?? AbortSignal.timeout(30000), headers: headers({}, tenant ?? pageTenant()),
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", `Cannot reach the API (${error.message}).`);
  }
  if (response.status === 401 && redirectOn401) throw unauthorized();
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

// Yield the events of a text/event-stream body: {id, event, data} with `data` parsed as JSON.
async function* parseSse(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = { id: null, event: "message", data: [] };
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") event.id = Number(text);
          else if (field === "event") event.event = text;
          else if (field === "data") event.data.push(text);
        }
        if (event.id === null && event.data.length === 0) continue; // retry: or a comment
        event.data = event.data.length ? JSON.parse(event.data.join("\n")) : null;
        yield event;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Follow a task's events until its terminal event. After a dropped connection it reconnects
// with Last-Event-ID (the last seq it saw), so each event arrives once. `onState` hears
// "live", "reconnecting", "ended" or "error" (with the ApiError). `follower.drop()` cuts
// the current connection as a network failure would (the reconnect path, on purpose).
export function followEvents(taskId, onEvent, { onState = () => {}, after = 0 } = {}) {
  let last = after;
  let stopped = false;
  let current = null;
  const follower = {
    stop() {
      stopped = true;
      if (current) current.abort();
    },
    drop() {
      if (current) current.abort();
    },
    get last() {
      return last;
    },
  };
  (async () => {
    let delay = 500;
    while (!stopped) {
      current = new AbortController();
      try {
        const extra = { Accept: "text/event-stream" };
        if (last) extra["Last-Event-ID"] = String(last);
        const path = `/api/v1/tasks/${encodeURIComponent(taskId)}/events`;
        const response = await fetch(path, { headers: headers(extra), signal: current.signal });
        if (response.status === 401) throw unauthorized();
        if (!response.ok) throw await errorOf(response);
        onState("live");
        let ended = false;
        for await (const event of parseSse(response.body)) {
          if (event.id !== null && event.id <= last) continue;
          if (event.id !== null) last = event.id;
          delay = 500;
          onEvent(event);
          if (TERMINAL_EVENTS.has(event.event)) ended = true;
        }
        if (ended) {
          onState("ended");
          return;
        }
      } catch (error) {
        if (stopped) return;
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          onState("error", error);
          return;
        }
      }
      if (stopped) return;
      onState("reconnecting");
      await sleep(delay);
      delay = Math.min(delay * 2, 10000);
    }
  })();
  return follower;
}

// Run `fn` now and every `ms` while the page is visible; errors go to `onError`.
export function poll(fn, ms, onError) {
  let timer = null;
  const tick = async () => {
    try {
      await fn();
    } catch (error) {
      onError(error);
    }
    timer = setTimeout(tick, ms);
  };
  tick();
  return () => clearTimeout(timer);
}

// A filter form kept in the page's query string: its fields start from the URL, a submit
// writes them back and calls `onChange`. Returns the current values as URLSearchParams.
export function filterForm(form, names, onChange) {
  const params = new URLSearchParams(location.search);
  for (const name of names) form.elements[name].value = params.get(name) || "";
  const values = () => {
    const query = new URLSearchParams();
    for (const name of names) {
      const value = form.elements[name].value.trim();
      if (value) query.set(name, value);
    }
    return query;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = values();
    if (pageTenant()) query.set("tenant", pageTenant()); // the page stays in its tenant
    history.replaceState(null, "", query.size ? `?${query}` : location.pathname);
    onChange();
  });
  return values;
}

// --- rendering ------------------------------------------------------------------------

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// The page's status line: what an action did, or why it failed.
export function notify(message, kind = "info") {
  const notice = document.getElementById("notice");
  notice.textContent = message;
  notice.className = `notice ${kind}`;
  notice.hidden = !message;
}

export function describeError(error) {
  if (!(error instanceof ApiError)) return String(error.message || error);
  return error.status ? `${error.message} (${error.status} ${error.code})` : error.message;
}

export function statusBadge(status) {
  return el("span", { class: `badge status-${status}`, text: status.replace("_", " ") });
}

export function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const age = Math.max(0, Date.now() / 1000 - seconds);
  if (age < 60) return `${Math.floor(age)} s`;
  if (age < 3600) return `${Math.floor(age / 60)} min`;
  if (age < 86400) return `${Math.floor(age / 3600)} h`;
  return `${Math.floor(age / 86400)} d`;
}

// A task's usage (the API's: a token count is null when a call reported no usage, `cost`
// null when a call had no price): "unknown" then, never 0.
export function formatUsage(usage) {
  if (!usage) return "–";
  const calls = usage.unreported || 0;
  const tokens = usage.total_tokens == null
    ? `unknown (${calls} LLM call${calls === 1 ? "" : "s"} reported no usage)`
    : `${usage.total_tokens} (${usage.prompt_tokens} in, ${usage.completion_tokens} out)`;
  return usage.cost == null ? tokens : `${tokens}, $${usage.cost.toFixed(6)}`;
}

export function formatTokens(usage) {
  return usage && usage.total_tokens != null ? String(usage.total_tokens) : "unknown";
}

// A link to the task's page; a task of a tenant other than `default` is named with it, and
// its tenant shown (only an admin key's listings hold tasks of several tenants).
export function taskLink(taskId, tenant) {
  const named = tenant && tenant !== "default";
  const href = `/ui/tasks/${encodeURIComponent(taskId)}${named ? `?tenant=${encodeURIComponent(tenant)}` : ""}`;
  const link = el("a", { href }, el("code", { text: taskId }));
  return named ? el("span", {}, link, " ", el("small", { class: "tenant", text: tenant })) : link;
}

export function prettyJson(value) {
  return JSON.stringify(value, null, 2);
}

// The codec server's session cookie (`/codec/session`): with it, the Temporal UI decrypts
// histories for this key (its Codec Server setting "Include cross-origin credentials" on).
// Best effort: a server without encryption has no codec server (404), and that is fine.
export async function codecSession(method) {
  try {
    await api("/codec/session", { method, redirectOn401: false });
  } catch {
    // no codec server, or the token was refused: nothing to keep
  }
}

// Every page: the sign-out button, and the count of calls waiting in the nav.
function setUpChrome() {
  const signOut = document.getElementById("sign-out");
  if (token()) {
    signOut.hidden = false;
    signOut.addEventListener("click", async () => {
      await codecSession("DELETE");
      setToken(null);
      location.assign("/ui/login");
    });
  }
}

setUpChrome();
