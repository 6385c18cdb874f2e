// Audit view: verify the WAL's hash chain, show the latest anchor, look up an order's trail.

import { $, el, fill, facts, showFieldErrors } from "./dom.js";
import { api } from "./api.js";
import { clock, dateTime, int } from "./format.js";

let wired = false;
const SKIP = new Set(["seq", "eventType", "at", "atNs", "orderId", "accountId", "status", "filledQty"]);

async function verifyChain() {
  const status = $("verify-status");
  const button = $("verify-run");
  button.disabled = true;
  status.textContent = "Verifying…";
  status.dataset.ok = "";
  try {
    const result = await api("/audit/verify");
    status.textContent = result.ok
      ? `Chain OK: ${int(result.checked)} records verified up to seq ${int(result.lastSeq)}.`
      : `Chain BROKEN: ${result.error}`;
    status.dataset.ok = String(result.ok);
    facts($("verify-facts"), [
      ["Checked", int(result.checked)], ["Last seq", int(result.lastSeq)], ["Anchor seq", int(result.anchorSeq)],
      ["Error", result.error ?? "none"], ["File", result.file ?? "–"], ["Offset", result.offset ?? "–"],
      ["Tail", result.tail ? JSON.stringify(result.tail) : "–"],
    ]);
  } catch (error) {
    status.textContent = `Could not verify: ${error.code}: ${error.message}`;
    status.dataset.ok = "false";
  } finally {
    button.disabled = false;
  }
}

async function loadAnchor() {
  try {
    const anchor = await api("/audit/anchor");
    $("anchor-message").textContent = "";
    facts($("anchor-facts"), [
      ["Seq", int(anchor.seq)], ["At", typeof anchor.at === "number" ? dateTime(anchor.at) : anchor.at],
      ["Hash", el("code", { class: "hash" }, anchor.hashHex || anchor.hash)], ["Algorithm", anchor.hashAlg],
      ["Key id", anchor.keyId], ["WAL id", anchor.walId],
    ]);
  } catch (error) {
    fill($("anchor-facts"));
    $("anchor-message").textContent = error.code === "NO_ANCHOR" ? "The WAL is empty: nothing anchored yet." : `${error.code}: ${error.message}`;
  }
}

async function showTrail(event) {
  event?.preventDefault();
  const orderId = $("trail-order").value.trim();
  showFieldErrors("trail", ["order"], orderId ? {} : { order: "Type an order id." });
  if (!orderId) return;
  try {
    const { events, nextAfterSeq } = await api(`/orders/${encodeURIComponent(orderId)}/events?limit=1000`);
    fill($("trail-body"), ...events.map((e) => el("tr", { "data-event": e.eventType },
      el("td", { class: "num" }, int(e.seq)), el("td", {}, clock(e.at)), el("td", {}, e.eventType),
      el("td", {}, e.status ?? (e.eventType === "OrderAccepted" ? "ACCEPTED" : "–")), el("td", { class: "num" }, int(e.filledQty ?? 0)),
      el("td", { class: "details" }, Object.entries(e).filter(([k]) => !SKIP.has(k)).map(([k, v]) => `${k}=${v}`).join(" ")))));
    if (nextAfterSeq) $("trail-order-error").textContent = `More events after seq ${nextAfterSeq}.`;
  } catch (error) {
    fill($("trail-body"));
    showFieldErrors("trail", ["order"], { order: error.status === 404 ? "No such order (or not yours)." : `${error.code}: ${error.message}` });
  }
}

export function show(params) {
  if (!wired) {
    $("verify-run").addEventListener("click", verifyChain);
    $("anchor-refresh").addEventListener("click", loadAnchor);
    $("trail-form").addEventListener("submit", showTrail);
    wired = true;
  }
  loadAnchor();
  const order = params.get("order");
  if (order) {
    $("trail-order").value = order;
    showTrail();
  }
}

export function hide() {}
