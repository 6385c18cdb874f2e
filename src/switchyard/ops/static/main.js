// Entry point: sign-in, the hash router (#/dashboard, #/trading, #/strategy, #/audit) and the
// session bar. Views are modules with show(params) / hide().

import { $ } from "./dom.js";
import { api } from "./api.js";
import * as session from "./session.js";
import * as dashboard from "./dashboard.js";
import * as trading from "./trading.js";
import * as strategy from "./strategy.js";
import * as audit from "./audit.js";

const VIEWS = { dashboard, trading, strategy, audit };
let current = null;
let info = { devSignIn: false };

function banner(message, kind = "error") {
  const box = $("banner");
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = !message;
}

function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const signedIn = Boolean(session.who());
  const name = signedIn ? (VIEWS[path] ? path : "dashboard") : "signin";
  if (current && current !== name && VIEWS[current]) VIEWS[current].hide();
  for (const section of document.querySelectorAll("main > .view")) section.hidden = section.id !== `view-${name}`;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("nav").hidden = !signedIn;
  $("session").hidden = !signedIn;
  const changed = current !== name;
  current = name;
  document.title = `Switchyard · ${name === "signin" ? "Sign in" : name[0].toUpperCase() + name.slice(1)}`;
  if (name === "signin") {
    $("dev-signin-form").hidden = !info.devSignIn;
    return;
  }
  const who = session.who();
  $("session-who").textContent = `${who.account}${who.role ? ` (${who.role})` : ""}`;
  VIEWS[name].show(new URLSearchParams(query));
  if (changed) $("main").focus({ preventScroll: true });
}

async function pasteSignIn(event) {
  event.preventDefault();
  const value = $("signin-token").value.trim();
  const error = $("signin-token-error");
  error.textContent = "";
  try {
    session.decodeClaims(value);
  } catch (problem) {
    error.textContent = `Not a JWT: ${problem.message}.`;
    $("signin-token").setAttribute("aria-invalid", "true");
    return;
  }
  try {
    await api("/orders?limit=1", { bearer: value }); // the gateway is the judge of a token
  } catch (problem) {
    error.textContent = `The gateway refused this token: ${problem.code}: ${problem.message}`;
    $("signin-token").setAttribute("aria-invalid", "true");
    return;
  }
  $("signin-token").removeAttribute("aria-invalid");
  $("signin-token").value = "";
  session.signIn(value);
}

async function devSignIn(event) {
  event.preventDefault();
  const error = $("dev-account-error");
  error.textContent = "";
  try {
    const answer = await api("/ui/api/dev-sign-in", {
      method: "POST", auth: false, body: { accountId: $("dev-account").value.trim(), role: $("dev-role").value },
    });
    session.signIn(answer.token);
  } catch (problem) {
    error.textContent = `${problem.code}: ${problem.message}`;
  }
}

async function boot() {
  $("signin-form").addEventListener("submit", pasteSignIn);
  $("dev-signin-form").addEventListener("submit", devSignIn);
  $("sign-out").addEventListener("click", () => session.signOut());
  session.onChange((signedIn, reason) => {
    if (!signedIn) {
      for (const view of Object.values(VIEWS)) view.hide();
      trading.reset();
      banner(reason || "", "info");
      location.hash = "#/";
    } else {
      banner("");
      if (!location.hash || location.hash === "#/") location.hash = "#/dashboard";
    }
    route();
  });
  window.addEventListener("hashchange", route);
  try {
    info = await api("/ui/api/info", { auth: false });
  } catch (problem) {
    banner(`The gateway did not answer: ${problem.message}`);
  }
  const who = session.who();
  if (who && who.expiresAt && who.expiresAt < Date.now()) session.signOut("Your token has expired; sign in again.");
  document.body.dataset.ready = "true";
  route();
}

boot();
