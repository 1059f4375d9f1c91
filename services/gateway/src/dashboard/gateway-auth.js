// The gateway token of the dashboard (docs/adr/0174): when the gateway requires a bearer token
// (GATEWAY_API_TOKEN), the operator types it once into the page's token field; it is kept in
// sessionStorage (this tab only, gone when the tab closes), sent as `Authorization: Bearer` on
// every API call, and the task event stream is read with fetch (EventSource cannot send headers).

const TOKEN_KEY = "insitu.gatewayToken";

export function gatewayToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function setGatewayToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused (private mode): the token lasts until the page reloads
  }
}

/** Headers for an API call: the bearer token when one was given. */
export function authHeaders(headers = {}) {
  const token = gatewayToken();
  return token ? { ...headers, authorization: `Bearer ${token}` } : headers;
}

/**
 * A server-sent event stream read with fetch, so it can carry the token. The same surface as the
 * part of EventSource the page uses: onopen, onerror, onmessage, addEventListener(kind), close(),
 * readyState (0 connecting, 1 open, 2 closed). It does not reconnect: a lost stream is closed.
 */
export class AuthedEventStream {
  constructor(url) {
    this.readyState = 0;
    this.listeners = new Map();
    this.onopen = null;
    this.onerror = null;
    this.onmessage = null;
    this.abort = new AbortController();
    this.run(url).catch(() => this.fail());
  }

  addEventListener(kind, listener) {
    const list = this.listeners.get(kind) ?? [];
    list.push(listener);
    this.listeners.set(kind, list);
  }

  close() {
    this.readyState = 2;
    this.abort.abort();
  }

  fail() {
    if (this.readyState === 2 && this.abort.signal.aborted) return;
    this.readyState = 2;
    this.onerror?.(new Event("error"));
  }

  async run(url) {
    const response = await fetch(url, {
      headers: authHeaders({ accept: "text/event-stream" }),
      cache: "no-store",
      signal: this.abort.signal,
    });
    if (!response.ok || !response.body) return this.fail();
    this.readyState = 1;
    this.onopen?.(new Event("open"));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
      }
    }
    this.fail();
  }

  dispatch(block) {
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0 || this.readyState === 2) return;
    const message = { type, data: data.join("\n") };
    const listeners = this.listeners.get(type);
    if (listeners) for (const listener of listeners) listener(message);
    else if (type === "message") this.onmessage?.(message);
  }
}

/** Shows the token field; `onSave` runs after the operator saves or forgets a token. */
export function wireTokenForm(onSave) {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  const forget = document.getElementById("token-forget");
  if (!form || !input || !forget) throw new Error("dashboard markup lacks the token form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setGatewayToken(input.value.trim());
    input.value = "";
    onSave();
  });
  forget.addEventListener("click", () => {
    setGatewayToken("");
    onSave();
  });
  return {
    /** The gateway answered 401: ask for a token (or a better one). */
    ask() {
      form.hidden = false;
      form.dataset.state = gatewayToken() ? "refused" : "missing";
    },
    accepted() {
      form.hidden = !gatewayToken();
      form.dataset.state = gatewayToken() ? "accepted" : "";
    },
  };
}
