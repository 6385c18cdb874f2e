// Calls to the gateway's public API with the session's bearer token. Every non-2xx answer
// becomes an ApiError carrying the server's {error, message, field, errors} body.

import * as session from "./session.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || body?.error || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error || `HTTP_${status}`;
    this.field = body?.field || null;
    this.errors = Array.isArray(body?.errors) ? body.errors : [];
    this.body = body;
  }
}

const TIMEOUT_MS = 10000;

/** fetch JSON: `api("/orders", {method: "POST", body: {...}, headers: {...}})`.
 *  `bearer` replaces the session token; `keepSession` keeps the session on a 401. */
export async function api(path, { method = "GET", body, headers = {}, auth = true, bearer, keepSession = false } = {}) {
  const init = { method, headers: { accept: "application/json", ...headers }, cache: "no-store" };
  const value = bearer ?? (auth ? session.token() : null);
  if (value) init.headers.authorization = `Bearer ${value}`;
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  init.signal = AbortSignal.timeout(TIMEOUT_MS);
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, { error: "NETWORK", message: `the gateway did not answer (${error.name})` });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: `HTTP_${response.status}`, message: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    // The session's token was refused: sign out (not for a write that needs another token).
    if (response.status === 401 && auth && !bearer && !keepSession && value) {
      session.signOut(`Signed out: ${error.message} (${error.code}).`);
    }
    throw error;
  }
  return data;
}
