// Strategy view: the strategy config (GET/PUT /api/strategy) with per-field errors from the
// API's `errors` list, enable/disable, and recent decisions. The admin token is typed by the
// operator and kept in sessionStorage for this tab only; it is never part of the page's code.

import { $, el, fill, facts, toast } from "./dom.js";
import { api } from "./api.js";
import * as session from "./session.js";
import { dateTime } from "./format.js";

const READ_ONLY = new Set([
  "version", "updatedAt", "updatedAtMs", "updatedBy", "storage", "storageHealthy", "storageMessage",
  "storageErrorAtMs", "accountId", "createdAt", "history", "status", "lastError",
]);
const DECISIONS_LIMIT = 20;

let loaded = null; // the config as the server last returned it
let wired = false;

function label(name) {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.replace(/ ms$/, " (ms)").replace(/^./, (c) => c.toUpperCase());
}

function editable(name, value) {
  if (READ_ONLY.has(name) || name === "enabled") return false;
  if (Array.isArray(value)) return value.every((v) => typeof v === "string" || typeof v === "number");
  return ["number", "string", "boolean"].includes(typeof value);
}

function authHeaders() {
  const admin = session.adminToken();
  return admin ? { bearer: admin } : {};
}

function renderForm(config) {
  loaded = config;
  $("strategy-version").textContent = config.version ?? "–";
  const fields = Object.entries(config).filter(([name, value]) => editable(name, value));
  fill($("strategy-fields"), ...fields.map(([name, value]) => {
    const id = `strategy-field-${name}`;
    const errorId = `strategy-${name}-error`;
    let input;
    if (typeof value === "boolean") {
      input = el("input", { id, name, type: "checkbox", "aria-describedby": errorId });
      input.checked = value;
      return el("div", { class: "field check" }, el("label", { for: id }, input, ` ${label(name)}`),
        el("p", { class: "field-error", id: errorId, "aria-live": "polite" }));
    }
    input = el("input", {
      id, name, autocomplete: "off", "aria-describedby": errorId,
      inputmode: typeof value === "number" ? "decimal" : undefined,
      "data-kind": Array.isArray(value) ? (value.every((v) => typeof v === "number") && value.length ? "numbers" : "list") : typeof value,
      "data-integer": typeof value === "number" && Number.isInteger(value) ? "true" : undefined,
    });
    input.value = Array.isArray(value) ? value.join(", ") : String(value);
    return el("div", { class: "field" }, el("label", { for: id }, label(name), Array.isArray(value) ? " (comma-separated)" : ""), input,
      el("p", { class: "field-error", id: errorId, "aria-live": "polite" }));
  }));
  facts($("strategy-readonly"), [
    ["Enabled", config.enabled === undefined ? "–" : config.enabled ? "yes" : "no"],
    ...Object.entries(config).filter(([name]) => READ_ONLY.has(name)).map(([name, value]) => [
      label(name), /At(Ms)?$/.test(name) && typeof value === "number" ? dateTime(value) : typeof value === "object" ? JSON.stringify(value) : String(value),
    ]),
  ]);
  const toggle = $("strategy-toggle");
  toggle.disabled = config.enabled === undefined;
  toggle.textContent = config.enabled ? "Disable strategy" : "Enable strategy";
  toggle.dataset.enabled = String(Boolean(config.enabled));
  $("strategy-form").hidden = false;
}

/** Read the form back into a config; returns {config, errors}. */
function readForm() {
  const config = { ...loaded };
  const errors = {};
  for (const input of $("strategy-fields").querySelectorAll("input")) {
    const name = input.name;
    if (input.type === "checkbox") {
      config[name] = input.checked;
      continue;
    }
    const text = input.value.trim();
    const kind = input.dataset.kind;
    if (kind === "number") {
      const value = Number(text);
      if (text === "" || !Number.isFinite(value)) errors[name] = `${name} must be a number`;
      else if (input.dataset.integer && !Number.isInteger(value)) errors[name] = `${name} must be a whole number`;
      else config[name] = value;
    } else if (kind === "list" || kind === "numbers") {
      const items = text.split(",").map((s) => s.trim()).filter(Boolean);
      if (kind === "numbers" && items.some((s) => !Number.isFinite(Number(s)))) errors[name] = `${name} must be numbers`;
      else config[name] = kind === "numbers" ? items.map(Number) : items;
    } else config[name] = input.value;
  }
  return { config, errors };
}

function showErrors(errors) {
  for (const box of $("strategy-fields").querySelectorAll(".field-error")) box.textContent = "";
  for (const input of $("strategy-fields").querySelectorAll("input")) input.removeAttribute("aria-invalid");
  const unplaced = [];
  let first = null;
  for (const [field, message] of Object.entries(errors)) {
    const box = $(`strategy-${field}-error`);
    const input = $(`strategy-field-${field}`);
    if (box && input) {
      box.textContent = message;
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else unplaced.push(field ? `${field}: ${message}` : message);
  }
  $("strategy-form-error").textContent = unplaced.join("; ");
  first?.focus();
}

async function put(config) {
  return api("/api/strategy", { method: "PUT", body: config, keepSession: true, ...authHeaders() });
}

function explain(error) {
  if (error.status === 401 || error.status === 403) {
    $("admin-token-error").textContent = session.adminToken()
      ? `The admin token was refused (${error.code}).`
      : "This gateway needs the strategy admin token: type it above.";
    return `${error.code}: ${error.message}`;
  }
  if (error.status === 409) return `Someone changed the config since you loaded it (${error.message}). Reload, then apply your change again.`;
  if (error.status === 503) return `The config store is unavailable (${error.message}); the strategy keeps its last good config.`;
  return `${error.code}: ${error.message}`;
}

async function save(event) {
  event.preventDefault();
  $("strategy-result").textContent = "";
  $("admin-token-error").textContent = "";
  const { config, errors } = readForm();
  if (Object.keys(errors).length) return showErrors(errors);
  showErrors({});
  try {
    const saved = await put(config);
    renderForm(saved);
    $("strategy-result").textContent = `Saved: version ${saved.version ?? "?"}.`;
  } catch (error) {
    if (error.status === 400 && error.errors.length) {
      showErrors(Object.fromEntries(error.errors.map((e) => [e.field ?? "", e.message])));
    } else $("strategy-form-error").textContent = explain(error);
  }
}

async function toggle() {
  if (!loaded) return;
  $("strategy-toggle-error").textContent = "";
  $("admin-token-error").textContent = "";
  try {
    const saved = await put({ ...loaded, enabled: !loaded.enabled });
    renderForm(saved);
    toast(saved.enabled ? "Strategy enabled." : "Strategy disabled.");
  } catch (error) {
    $("strategy-toggle-error").textContent = error.status === 400 && error.errors.length
      ? error.errors.map((e) => `${e.field}: ${e.message}`).join("; ")
      : explain(error);
  }
}

async function load() {
  $("strategy-form-error").textContent = "";
  try {
    const config = await api("/api/strategy");
    $("strategy-unavailable").hidden = true;
    renderForm(config);
  } catch (error) {
    $("strategy-form").hidden = true;
    $("strategy-toggle").disabled = true;
    const box = $("strategy-unavailable");
    box.hidden = false;
    box.textContent = error.status === 404
      ? "This gateway has no strategy API (GET /api/strategy answered 404)."
      : `Could not read the config: ${error.code}: ${error.message}`;
  }
  loadDecisions();
}

async function loadDecisions() {
  const message = $("decisions-message");
  try {
    const answer = await api(`/api/strategy/decisions?limit=${DECISIONS_LIMIT}`);
    const rows = Array.isArray(answer) ? answer : answer.decisions || [];
    message.textContent = rows.length ? "" : "No decisions yet.";
    const columns = rows.length ? Object.keys(rows[0]).slice(0, 9) : [];
    fill($("decisions-head"), el("tr", {}, ...columns.map((c) => el("th", { scope: "col" }, label(c)))));
    fill($("decisions-body"), ...rows.map((row) => el("tr", {}, ...columns.map((c) => el("td", {}, cell(c, row[c]))))));
  } catch (error) {
    fill($("decisions-head"));
    fill($("decisions-body"));
    message.textContent = error.status === 404
      ? "Decisions are not available on this gateway."
      : `Could not read decisions: ${error.code}: ${error.message}`;
  }
}

function cell(name, value) {
  if (value === null || value === undefined) return "–";
  if (/(At|Ms|Ts)$/.test(name) && typeof value === "number" && value > 1e12) return dateTime(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function renderAdminState() {
  $("admin-token-state").textContent = session.adminToken()
    ? "An admin token is kept for this tab."
    : "No admin token kept.";
}

function wire() {
  $("strategy-form").addEventListener("submit", save);
  $("strategy-revert").addEventListener("click", () => loaded && (renderForm(loaded), showErrors({})));
  $("strategy-reload").addEventListener("click", load);
  $("strategy-toggle").addEventListener("click", toggle);
  $("decisions-refresh").addEventListener("click", loadDecisions);
  $("admin-token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("admin-token").value.trim();
    $("admin-token-error").textContent = value ? "" : "Type the token first.";
    if (!value) return;
    session.setAdminToken(value);
    $("admin-token").value = "";
    renderAdminState();
  });
  $("admin-token-clear").addEventListener("click", () => {
    session.setAdminToken("");
    renderAdminState();
  });
}

export function show() {
  if (!wired) {
    wire();
    wired = true;
  }
  renderAdminState();
  load();
}

export function hide() {}
