// The signed-in session: the bearer token lives in sessionStorage (this tab only), never in
// the page's code. The strategy admin token is kept the same way, under its own key.

const TOKEN_KEY = "switchyard.token";
const ADMIN_KEY = "switchyard.strategyAdminToken";
const listeners = new Set();

/** Claims of a JWT (not verified here: the gateway verifies every request). */
export function decodeClaims(token) {
  const parts = String(token).trim().split(".");
  if (parts.length !== 3) throw new Error("a JWT has three dot-separated parts");
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const json = new TextDecoder().decode(Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)));
    const claims = JSON.parse(json);
    if (typeof claims !== "object" || claims === null) throw new Error("not an object");
    return claims;
  } catch {
    throw new Error("the token's payload is not base64url JSON");
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function who() {
  const value = token();
  if (!value) return null;
  try {
    const claims = decodeClaims(value);
    return {
      account: claims.accountId || claims.sub || "?",
      role: claims.role || "",
      expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : null,
    };
  } catch {
    return null;
  }
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
  for (const listener of listeners) listener(true);
}

export function signOut(reason = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  for (const listener of listeners) listener(false, reason);
}

export function onChange(listener) {
  listeners.add(listener);
}

export function adminToken() {
  return sessionStorage.getItem(ADMIN_KEY) || "";
}

export function setAdminToken(value) {
  if (value) sessionStorage.setItem(ADMIN_KEY, value);
  else sessionStorage.removeItem(ADMIN_KEY);
}
