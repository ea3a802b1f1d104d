// The public GraphQL API, as any client sees it: POST /graphql, and graphql-transport-ws for live events.
import { createClient } from "./vendor/client.js";

/** A call that did not answer (network, server down) or answered with errors; `retry` repeats it. */
export class ApiError extends Error {
  constructor(message, { code = null, network = false } = {}) {
    super(message);
    this.code = code;
    this.network = network;
  }
}

export class Api {
  constructor(url) {
    this.url = url;
    this.token = null;
    this.onAuthProblem = () => {};
  }

  /** The data of one operation; throws ApiError. A rejected credential is reported to `onAuthProblem`. */
  async request(query, variables = {}) {
    const headers = { "content-type": "application/json", accept: "application/graphql-response+json" };
    const token = this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(this.url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    } catch {
      throw new ApiError("We could not reach the server.", { network: true });
    }
    let body;
    try {
      body = await response.json();
    } catch {
      throw new ApiError(`The server answered ${response.status}.`, { network: true });
    }
    const problems = body.extensions?.authentication?.errors;
    if (problems?.length && token) this.onAuthProblem(problems.join(" "), token);
    if (body.errors?.length) {
      const first = body.errors[0];
      const code = first.extensions?.code ?? null;
      const retryable = response.status >= 500 || code === "SERVICE_UNAVAILABLE" || response.status === 429;
      throw new ApiError(first.message, { code, network: retryable });
    }
    if (!response.ok) throw new ApiError(`The server answered ${response.status}.`, { network: true });
    return body.data;
  }
}

/**
 * Subscriptions over one graphql-ws client, re-opened (and every subscription re-subscribed) when the token
 * changes or after the client gave up reconnecting. `onState` hears "live", "reconnecting" and "down".
 */
export class Live {
  constructor(url, api, onState) {
    this.url = url;
    this.api = api;
    this.onState = onState;
    this.subscriptions = new Map();
    this.client = null;
    this.dropped = false;
  }

  _client() {
    if (this.client) return this.client;
    const token = this.api.token;
    this.clientToken = token;
    this.client = createClient({
      url: this.url,
      lazy: true,
      retryAttempts: 4,
      shouldRetry: () => true,
      keepAlive: 20_000,
      connectionParams: () => (token ? { authorization: `Bearer ${token}` } : {}),
      on: {
        connected: () => {
          if (this.dropped) this.onState("live", { recovered: true });
          this.dropped = false;
        },
        closed: (event) => {
          // 1000: closed on purpose (no subscription left, or a token change); anything else is a drop.
          if (event?.code !== 1000 && this.subscriptions.size) {
            this.dropped = true;
            this.onState("reconnecting");
          }
        },
      },
    });
    return this.client;
  }

  /** Subscribe until the returned function is called; `onError` hears errors that end it (e.g. an expired token). */
  subscribe(key, query, variables, onData, onError = () => {}) {
    this.unsubscribe(key);
    const entry = { query, variables, onData, onError, stop: null };
    this.subscriptions.set(key, entry);
    this._start(key, entry);
    return () => this.unsubscribe(key);
  }

  _start(key, entry) {
    const client = this._client();
    const token = this.clientToken;
    entry.stop = client.subscribe(
      { query: entry.query, variables: entry.variables },
      {
        next: (result) => result.data && entry.onData(result.data),
        error: (error) => {
          if (this.subscriptions.get(key) !== entry) return;
          const list = Array.isArray(error) ? error : [];
          const code = list[0]?.extensions?.code ?? null;
          if (code === "UNAUTHENTICATED" && token) this.api.onAuthProblem(list[0].message, token);
          if (!list.length) this.onState("down"); // the socket did not come back: offer a retry
          entry.onError(code, list[0]?.message);
        },
        complete: () => {},
      },
    );
  }

  unsubscribe(key) {
    const entry = this.subscriptions.get(key);
    if (!entry) return;
    this.subscriptions.delete(key);
    entry.stop?.();
  }

  /** A new socket with the current token, every subscription on it again. */
  restart() {
    const old = this.client;
    this.client = null;
    for (const entry of this.subscriptions.values()) entry.stop = null;
    old?.dispose();
    this.dropped = false;
    for (const [key, entry] of this.subscriptions) this._start(key, entry);
  }
}

/** Plain words for a userError, keyed by code; the API's own message where it already reads well. */
export function friendly(error) {
  switch (error.code) {
    case "UNAUTHENTICATED":
      return "Please sign in to the site to take part.";
    case "FORBIDDEN":
      return error.message.includes("banned") ? error.message : "Your account cannot do this here.";
    case "RATE_LIMITED":
      return `You are going a little fast. Try again in ${error.retryAfterSeconds ?? 60} seconds.`;
    case "BOARD_ARCHIVED":
      return "This board is closed: it can be read but no longer changed.";
    case "NOT_FOUND":
      return "That is no longer here. It may have been removed or merged.";
    default:
      return error.message;
  }
}
