// Trading view: order entry (validated like the server), live L2 book and trades from
// /market/stream, the account's orders live from /stream, cancel/amend, positions from the
// back office (through the gateway) or a clear offline state.

import { $, coalesced, el, fill, showFieldErrors, toast } from "./dom.js";
import { api, ApiError } from "./api.js";
import { LiveStream } from "./streams.js";
import { validateOrder, validateReplace, newClientOrderId } from "./validate.js";
import { clock, int, num, shortId } from "./format.js";
import * as session from "./session.js";

const ORDER_FIELDS = ["symbol", "side", "type", "qty", "price", "timeInForce", "expireAt"];
const TERMINAL = new Set(["FILLED", "CANCELED", "REJECTED", "DENIED", "EXPIRED"]);
const BOOK_LEVELS = 10;
const TRADES_MAX = 30;
const BLOTTER_MAX = 200; // orders kept
const BLOTTER_ROWS_MAX = 100; // rows drawn
const POSITIONS_EVERY_MS = 5000;
const STEP_OF = {
  OrderAccepted: "accepted", OrderSent: "sent", OrderAcked: "resting", CancelRequested: "cancel requested",
  OrderCanceled: "canceled", CancelRejected: "cancel refused", OrderRejected: "rejected", OrderExpired: "expired",
  ReplaceRequested: "amend requested", OrderReplaced: "amended", ReplaceRejected: "amend refused", OrderDenied: "denied",
};

const state = {
  symbols: [],
  symbol: null,
  book: { seq: null, bids: new Map(), asks: new Map() },
  bookStream: null,
  trades: [],
  orders: new Map(),
  orderStream: null,
  positionsTimer: null,
  positionsSoon: null,
  resyncing: false,
  amending: null,
  lastPlaced: null,
  wired: false,
};

// --- order entry ------------------------------------------------------------------------

function formValues() {
  const form = $("order-form");
  const expire = $("order-expire").value;
  return {
    symbol: $("order-symbol").value,
    side: form.querySelector("input[name=side]:checked")?.value,
    type: $("order-type").value,
    qty: $("order-qty").value,
    price: $("order-type").value === "MARKET" ? "" : $("order-price").value,
    timeInForce: $("order-tif").value,
    expireAt: $("order-tif").value === "GTD" ? expire : undefined,
  };
}

function syncFormShape() {
  const market = $("order-type").value === "MARKET";
  $("order-price").disabled = market;
  $("order-price-wrap").classList.toggle("disabled", market);
  if (market) $("order-price").value = "";
  $("order-expire-wrap").hidden = $("order-tif").value !== "GTD";
}

async function submitOrder(event) {
  event.preventDefault();
  $("order-form-error").textContent = "";
  $("order-result").textContent = "";
  const { order, errors } = validateOrder(formValues());
  const first = showFieldErrors("order", ORDER_FIELDS, errors);
  if (!order) {
    first?.focus();
    return;
  }
  order.clientOrderId = newClientOrderId();
  const button = $("order-submit");
  button.disabled = true;
  try {
    const ack = await api("/orders", { method: "POST", body: order, headers: { "idempotency-key": order.clientOrderId } });
    if (!state.orders.has(ack.orderId)) upsertOrder({
      ...order, orderId: ack.orderId, accountId: session.who()?.account, status: ack.status, filledQty: 0,
      durable: ack.durable, acceptSeq: ack.acceptSeq, createdAt: Date.now(), trail: ["accepted"],
    });
    state.lastPlaced = ack.orderId;
    $("order-result").textContent = `Accepted ${ack.orderId} (seq ${ack.acceptSeq}); ${
      ack.durable || state.orders.get(ack.orderId)?.durable ? "durable." : "waiting for fsync…"}`;
  } catch (error) {
    if (error instanceof ApiError && error.status === 400 && error.field && ORDER_FIELDS.includes(error.field)) {
      showFieldErrors("order", ORDER_FIELDS, { [error.field]: error.message })?.focus();
    } else {
      $("order-form-error").textContent = `${error.code}: ${error.message}`;
    }
  } finally {
    button.disabled = false;
  }
}

function fillBestPrice() {
  const side = $("order-form").querySelector("input[name=side]:checked")?.value;
  const levels = side === "SELL" ? sortedLevels(state.book.bids, true) : sortedLevels(state.book.asks, false);
  if (levels.length) {
    if ($("order-type").value === "MARKET") {
      $("order-type").value = "LIMIT";
      syncFormShape();
    }
    $("order-price").value = String(levels[0][0]);
  } else toast("The book is empty on that side.");
}

// --- market data ------------------------------------------------------------------------

function sortedLevels(map, descending) {
  const levels = [...map.entries()].filter(([, qty]) => qty > 0);
  levels.sort((a, b) => (descending ? b[0] - a[0] : a[0] - b[0]));
  return levels;
}

function applyLevels(map, levels) {
  for (const { price, qty } of levels) {
    if (qty > 0) map.set(price, qty);
    else map.delete(price);
  }
}

function takeSnapshot(book) {
  state.book = { seq: book.seq, bids: new Map(), asks: new Map() };
  applyLevels(state.book.bids, book.bids);
  applyLevels(state.book.asks, book.asks);
  renderBook();
}

async function resync() {
  if (state.resyncing || !state.symbol) return;
  state.resyncing = true;
  try {
    takeSnapshot(await api(`/market/${encodeURIComponent(state.symbol)}/book?depth=20`));
  } catch (error) {
    $("book-state").textContent = `resync failed: ${error.code}`;
  } finally {
    state.resyncing = false;
  }
}

function onDelta(delta) {
  if (delta.symbol !== state.symbol) return;
  const book = state.book;
  if (book.seq === null || delta.seq <= book.seq) return; // before our snapshot: already in it
  if (delta.seq !== book.seq + 1) {
    resync(); // a gap: never draw a book we cannot vouch for
    return;
  }
  applyLevels(book.bids, delta.bids);
  applyLevels(book.asks, delta.asks);
  book.seq = delta.seq;
  scheduleBook();
}

function renderBook() {
  const asks = sortedLevels(state.book.asks, false).slice(0, BOOK_LEVELS).reverse();
  const bids = sortedLevels(state.book.bids, true).slice(0, BOOK_LEVELS);
  const biggest = Math.max(1, ...asks.map((l) => l[1]), ...bids.map((l) => l[1]));
  const bar = (qty, kind) => {
    const cell = el("td", { class: `num qty ${kind}` }, int(qty));
    cell.style.setProperty("--depth", `${Math.round((qty / biggest) * 100)}%`);
    return cell;
  };
  fill($("book-body"),
    ...asks.map(([price, qty]) => el("tr", { class: "ask", "data-price": price }, el("td"), el("td", { class: "num price" }, int(price)), bar(qty, "ask"))),
    el("tr", { class: "spread" }, el("td", { colspan: 3 }, spreadText(asks, bids))),
    ...bids.map(([price, qty]) => el("tr", { class: "bid", "data-price": price }, bar(qty, "bid"), el("td", { class: "num price" }, int(price)), el("td"))));
  $("book-seq").textContent = state.book.seq ?? "–";
  $("book-table").dataset.seq = String(state.book.seq ?? "");
}

const scheduleBook = coalesced(renderBook);

function spreadText(asks, bids) {
  if (!asks.length || !bids.length) return "one side empty";
  const ask = asks[asks.length - 1][0];
  const bid = bids[0][0];
  return `spread ${int(ask - bid)} · mid ${num((ask + bid) / 2, 1)}`;
}

function onTrade(trade) {
  if (trade.symbol !== state.symbol) return;
  state.trades.unshift(trade);
  state.trades.length = Math.min(state.trades.length, TRADES_MAX);
  scheduleTrades();
}

const scheduleTrades = coalesced(() => fill($("trades-body"), ...state.trades.map((t) => el("tr", { class: t.aggressor === "BUY" ? "buy" : "sell" },
  el("td", {}, clock(t.ts)), el("td", { class: "num" }, int(t.price)), el("td", { class: "num" }, int(t.qty)), el("td", {}, t.aggressor)))));

function watchSymbol(symbol) {
  state.symbol = symbol;
  sessionStorage.setItem("switchyard.symbol", symbol);
  $("book-symbol").textContent = symbol;
  state.book = { seq: null, bids: new Map(), asks: new Map() };
  state.trades = [];
  fill($("trades-body"));
  renderBook();
  if (state.bookStream) state.bookStream.stop();
  state.bookStream = new LiveStream(`/market/stream?symbols=${encodeURIComponent(symbol)}`, {
    book_snapshot: (book) => book.symbol === state.symbol && takeSnapshot(book),
    book_delta: onDelta,
    trade: onTrade,
  }, (value) => {
    $("book-state").textContent = value;
    $("book-state").dataset.state = value;
  }).start();
}

// --- blotter ------------------------------------------------------------------------------

function upsertOrder(patch) {
  const current = state.orders.get(patch.orderId);
  if (current && TERMINAL.has(current.status) && patch.status && !TERMINAL.has(patch.status)) {
    patch = { ...patch, status: current.status }; // terminal states absorb late news
  }
  const merged = { ...(current || { trail: [] }), ...patch };
  if (current && patch.filledQty !== undefined) merged.filledQty = Math.max(current.filledQty || 0, patch.filledQty);
  merged.trail = patch.trail && !current ? patch.trail : current?.trail || [];
  if (current?.durable) merged.durable = true;
  state.orders.set(patch.orderId, merged);
  if (state.orders.size > BLOTTER_MAX) state.orders.delete(state.orders.keys().next().value); // oldest first
  scheduleBlotter();
  return merged;
}

function addStep(orderId, step) {
  const order = state.orders.get(orderId);
  if (!order || order.trail[order.trail.length - 1] === step) return;
  order.trail = [...order.trail, step];
}

function onOrderEvent(record) {
  const patch = { orderId: record.orderId };
  if (record.eventType === "OrderAccepted" || record.eventType === "OrderDenied") {
    Object.assign(patch, {
      clientOrderId: record.clientOrderId, accountId: record.accountId, symbol: record.symbol, side: record.side,
      type: record.type, qty: record.qty, price: record.type === "LIMIT" ? record.price : null,
      timeInForce: record.timeInForce, acceptSeq: record.seq, createdAt: record.at,
      status: record.eventType === "OrderAccepted" ? "ACCEPTED" : "DENIED", filledQty: 0,
    });
  } else {
    patch.status = record.status;
    patch.filledQty = record.filledQty;
  }
  if (record.eventType === "OrderFilled") {
    patch.avgPrice = record.filledQty ? record.cumNotional / record.filledQty : null;
    schedulePositions();
  }
  if (record.eventType === "OrderReplaced") Object.assign(patch, { qty: record.qty, price: record.price || null });
  patch.updatedAt = record.at;
  const known = state.orders.has(record.orderId);
  upsertOrder(known ? patch : { ...patch, trail: [] });
  const step = record.eventType === "OrderFilled"
    ? (record.status === "FILLED" ? "filled" : "partially filled")
    : STEP_OF[record.eventType];
  if (step) addStep(record.orderId, step);
  scheduleBlotter();
}

function onDurable(note) {
  const order = state.orders.get(note.orderId);
  if (!order) return;
  order.durable = true;
  const index = order.trail.indexOf("accepted");
  if (!order.trail.includes("durable")) order.trail.splice(index + 1, 0, "durable");
  if (note.orderId === state.lastPlaced) {
    $("order-result").textContent = `Accepted ${order.orderId} (seq ${order.acceptSeq}); durable.`;
  }
  scheduleBlotter();
}

function renderBlotter() {
  const openOnly = $("blotter-open-only").checked;
  const rows = [...state.orders.values()]
    .filter((o) => !openOnly || !TERMINAL.has(o.status))
    .sort((a, b) => (b.acceptSeq || 0) - (a.acceptSeq || 0))
    .slice(0, BLOTTER_ROWS_MAX);
  fill($("blotter-body"), ...rows.map(orderRow));
}
const scheduleBlotter = coalesced(renderBlotter);

function orderRow(order) {
  const final = TERMINAL.has(order.status);
  const trail = order.trail.length ? order.trail.join(" → ") : (order.durable ? "durable" : "");
  return el("tr", {
    "data-order-id": order.orderId, "data-status": order.status, "data-durable": order.durable ? "true" : "false",
    class: `status-${String(order.status).toLowerCase()}`,
  },
  el("td", {}, clock(order.createdAt)),
  el("td", { title: order.orderId }, el("code", {}, shortId(order.orderId))),
  el("td", {}, order.symbol),
  el("td", { class: order.side === "BUY" ? "buy" : "sell" }, order.side),
  el("td", {}, order.type),
  el("td", { class: "num", "data-col": "qty" }, int(order.qty)),
  el("td", { class: "num", "data-col": "price" }, order.price ? int(order.price) : "MKT"),
  el("td", {}, order.timeInForce),
  el("td", { "data-col": "status" }, el("span", { class: `status ${final ? "final" : "live"}` }, order.status),
    order.durable ? el("span", { class: "durable", title: "written to the WAL and fsynced" }, " ✓ durable") : el("span", { class: "pending" }, " (not yet durable)")),
  el("td", { class: "num", "data-col": "filled" }, int(order.filledQty || 0)),
  el("td", { class: "num" }, order.avgPrice ? num(order.avgPrice, 2) : "–"),
  el("td", { class: "trail", "data-col": "trail" }, trail),
  el("td", { class: "row-actions" },
    el("button", { type: "button", class: "small secondary", disabled: final, "aria-label": `Amend order ${order.orderId}`, onclick: () => openAmend(order.orderId) }, "Amend"),
    el("button", { type: "button", class: "small danger", disabled: final, "aria-label": `Cancel order ${order.orderId}`, onclick: () => cancelOrder(order.orderId) }, "Cancel"),
    el("a", { href: `#/audit?order=${encodeURIComponent(order.orderId)}`, class: "small", "aria-label": `Audit trail of ${order.orderId}` }, "Trail")));
}

async function cancelOrder(orderId) {
  try {
    const answer = await api(`/orders/${encodeURIComponent(orderId)}/cancel`, { method: "POST" });
    toast(`${shortId(orderId)}: ${answer.status}`);
  } catch (error) {
    toast(`${shortId(orderId)}: ${error.code} — ${error.message}`);
  }
}

function openAmend(orderId) {
  const order = state.orders.get(orderId);
  if (!order) return;
  state.amending = order;
  $("amend-order").textContent = shortId(orderId);
  $("amend-qty").value = String(order.qty ?? "");
  $("amend-price").value = order.price ? String(order.price) : "";
  $("amend-price-wrap").hidden = order.type === "MARKET";
  $("amend-form-error").textContent = "";
  showFieldErrors("amend", ["qty", "price"], {});
  $("amend-dialog").showModal();
  $("amend-qty").focus();
}

async function sendAmend(event) {
  event.preventDefault();
  const order = state.amending;
  if (!order) return;
  const input = { qty: $("amend-qty").value };
  const priceText = $("amend-price").value.trim();
  if (order.type !== "MARKET" && String(order.price ?? "") !== priceText) input.price = priceText;
  if (String(order.qty) === input.qty.trim()) delete input.qty;
  if (input.qty === undefined && input.price === undefined) input.qty = "";
  const { body, errors } = validateReplace(input, { market: order.type === "MARKET" });
  if (!body) {
    showFieldErrors("amend", ["qty", "price"], errors)?.focus();
    return;
  }
  try {
    const answer = await api(`/orders/${encodeURIComponent(order.orderId)}/replace`, { method: "POST", body });
    $("amend-dialog").close();
    toast(`${shortId(order.orderId)}: ${answer.status}`);
  } catch (error) {
    if (error.status === 400 && (error.field === "qty" || error.field === "price")) {
      showFieldErrors("amend", ["qty", "price"], { [error.field]: error.message });
    } else $("amend-form-error").textContent = `${error.code}: ${error.message}`;
  }
}

async function loadOrders() {
  try {
    const { orders } = await api(`/orders?status=all&limit=${BLOTTER_MAX}`);
    for (const order of orders.reverse()) upsertOrder({ ...order, trail: [] });
  } catch (error) {
    $("blotter-state").textContent = `load failed: ${error.code}`;
  }
}

function startOrderStream() {
  if (state.orderStream) return;
  let loaded = false;
  const handlers = { order_durable: onDurable };
  for (const name of ["order_accepted", "order_update", "execution_report", "order_canceled", "order_rejected", "order_denied"]) {
    handlers[name] = onOrderEvent;
  }
  state.orderStream = new LiveStream("/stream", handlers, (value) => {
    $("blotter-state").textContent = value;
    $("blotter-state").dataset.state = value;
    if (value === "live" && !loaded) {
      loaded = true; // listen first, then read the list: nothing falls between the two
      loadOrders();
    }
  }).start();
}

// --- positions --------------------------------------------------------------------------

function schedulePositions() {
  clearTimeout(state.positionsSoon);
  state.positionsSoon = setTimeout(loadPositions, 500);
}

async function loadPositions() {
  const badge = $("positions-state");
  try {
    const { positions } = await api("/ui/api/backoffice/positions");
    badge.textContent = "online";
    badge.dataset.state = "live";
    $("positions-message").textContent = positions.length ? "" : "No positions yet.";
    fill($("positions-body"), ...positions.map((p) => el("tr", {},
      el("td", {}, p.accountId), el("td", {}, p.symbol), el("td", { class: "num" }, int(p.qty)),
      el("td", { class: "num" }, p.avgPrice === null ? "–" : num(p.avgPrice, 2)),
      el("td", { class: `num ${p.realizedPnl < 0 ? "sell" : "buy"}` }, int(p.realizedPnl)),
      el("td", { class: "num" }, int(p.fees ?? 0)))));
  } catch (error) {
    const offline = error.code === "BACKOFFICE_OFFLINE" || error.status === 0;
    badge.textContent = offline ? "back office offline" : "error";
    badge.dataset.state = "offline";
    $("positions-message").textContent = offline
      ? `Back office offline: ${error.message}. Positions and PnL appear when it runs (switchyard backoffice).`
      : `${error.code}: ${error.message}`;
    fill($("positions-body"));
  }
}

// --- view lifecycle ------------------------------------------------------------------------

function wire() {
  $("order-form").addEventListener("submit", submitOrder);
  $("order-type").addEventListener("change", syncFormShape);
  $("order-tif").addEventListener("change", syncFormShape);
  $("order-fill-best").addEventListener("click", fillBestPrice);
  $("order-symbol").addEventListener("change", (e) => watchSymbol(e.target.value));
  $("blotter-open-only").addEventListener("change", renderBlotter);
  $("amend-form").addEventListener("submit", sendAmend);
  $("amend-close").addEventListener("click", () => $("amend-dialog").close());
  $("positions-refresh").addEventListener("click", loadPositions);
  syncFormShape();
}

export async function show() {
  if (!state.wired) {
    wire();
    state.wired = true;
  }
  startOrderStream();
  loadPositions();
  clearInterval(state.positionsTimer);
  state.positionsTimer = setInterval(loadPositions, POSITIONS_EVERY_MS);
  if (!state.symbols.length) {
    try {
      state.symbols = (await api("/market/symbols")).symbols;
    } catch (error) {
      $("order-form-error").textContent = `symbols: ${error.code}: ${error.message}`;
      return;
    }
    fill($("order-symbol"), ...state.symbols.map((s) => el("option", { value: s }, s)));
    const remembered = sessionStorage.getItem("switchyard.symbol");
    $("order-symbol").value = state.symbols.includes(remembered) ? remembered : state.symbols[0];
  }
  if (!state.bookStream) watchSymbol($("order-symbol").value);
}

export function hide() {
  clearInterval(state.positionsTimer);
  if (state.bookStream) state.bookStream.stop();
  state.bookStream = null;
}

/** Forget everything of the signed-out session. */
export function reset() {
  hide();
  if (state.orderStream) state.orderStream.stop();
  state.orderStream = null;
  state.orders.clear();
  fill($("blotter-body"));
  fill($("positions-body"));
}
