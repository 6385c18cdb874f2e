// Client-side checks of an order, mirroring the gateway's (POST /orders, DESIGN §3 and
// adapters/api_orders.py): same fields, same bounds, same cross-field rules. The server stays
// the judge; this only answers sooner. A browser test compares the two on the same inputs.

export const LIMITS = {
  symbolLengthMax: 16,
  qtyMax: 1e12,
  priceMax: 1e15,
  clientOrderIdLengthMax: 64,
};
const SYMBOL_RE = /^[A-Za-z0-9._-]+$/;
const CLIENT_ID_RE = /^[A-Za-z0-9._:@/+=#~-]+$/;
const SIDES = ["BUY", "SELL"];
const TYPES = ["LIMIT", "MARKET"];
const TIFS = ["GTC", "IOC", "FOK", "GTD"];

/** A positive integer from text, or an error message. */
function positiveInteger(text, name, max) {
  const value = String(text ?? "").trim();
  if (value === "") return { error: `${name} is required` };
  if (!/^[0-9]+$/.test(value)) return { error: `${name} must be a whole number (integer ${name === "qty" ? "lots" : "ticks"})` };
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number > max) return { error: `${name} must be at most ${max.toLocaleString("en-US")}` };
  if (number <= 0) return { error: `${name} must be greater than 0` };
  return { value: number };
}

/**
 * Check a form's values; returns {order, errors}. `order` is the request body when there are
 * no errors. `now` (epoch ms) decides whether a GTD expiry lies in the future.
 */
export function validateOrder(input, now = Date.now()) {
  const errors = {};
  const order = {};
  const symbol = String(input.symbol ?? "").trim();
  if (!symbol) errors.symbol = "symbol is required";
  else if (symbol.length > LIMITS.symbolLengthMax || !SYMBOL_RE.test(symbol)) {
    errors.symbol = `symbol must be 1..${LIMITS.symbolLengthMax} characters of A-Z a-z 0-9 . _ -`;
  } else order.symbol = symbol;

  if (!SIDES.includes(input.side)) errors.side = "side must be BUY or SELL";
  else order.side = input.side;
  if (!TYPES.includes(input.type)) errors.type = "type must be LIMIT or MARKET";
  else order.type = input.type;

  const qty = positiveInteger(input.qty, "qty", LIMITS.qtyMax);
  if (qty.error) errors.qty = qty.error;
  else order.qty = qty.value;

  const priceText = String(input.price ?? "").trim();
  if (input.type === "LIMIT") {
    if (priceText === "") errors.price = "price is required for LIMIT orders";
    else {
      const price = positiveInteger(priceText, "price", LIMITS.priceMax);
      if (price.error) errors.price = price.error;
      else order.price = price.value;
    }
  } else if (input.type === "MARKET" && priceText !== "") {
    errors.price = "price must be omitted for MARKET orders";
  }

  const tif = input.timeInForce || "GTC";
  if (!TIFS.includes(tif)) errors.timeInForce = "timeInForce must be GTC, IOC, FOK or GTD";
  else order.timeInForce = tif;
  if (tif === "GTD") {
    const expireAt = typeof input.expireAt === "number" ? input.expireAt : Date.parse(input.expireAt ?? "");
    if (!input.expireAt || Number.isNaN(expireAt)) errors.expireAt = "expireAt is required for GTD";
    else if (expireAt <= now) errors.expireAt = "expireAt must be in the future";
    else order.expireAt = Math.trunc(expireAt);
  } else if (input.expireAt) {
    errors.expireAt = "expireAt is only for GTD orders";
  }

  if (input.clientOrderId !== undefined) {
    const id = String(input.clientOrderId);
    if (!id || id.length > LIMITS.clientOrderIdLengthMax || !CLIENT_ID_RE.test(id)) {
      errors.clientOrderId = `clientOrderId must be 1..${LIMITS.clientOrderIdLengthMax} characters of A-Z a-z 0-9 . _ : @ / + = # ~ -`;
    } else order.clientOrderId = id;
  }
  return Object.keys(errors).length ? { order: null, errors } : { order, errors };
}

/** Check an amend: qty and/or price, each a positive integer when given. */
export function validateReplace(input, { market = false } = {}) {
  const errors = {};
  const body = {};
  const qtyText = String(input.qty ?? "").trim();
  const priceText = String(input.price ?? "").trim();
  if (qtyText) {
    const qty = positiveInteger(qtyText, "qty", LIMITS.qtyMax);
    if (qty.error) errors.qty = qty.error;
    else body.qty = qty.value;
  }
  if (priceText) {
    if (market) errors.price = "the price of a MARKET order cannot change";
    else {
      const price = positiveInteger(priceText, "price", LIMITS.priceMax);
      if (price.error) errors.price = price.error;
      else body.price = price.value;
    }
  }
  if (!qtyText && !priceText) errors.qty = "send qty and/or price";
  return { body: Object.keys(errors).length ? null : body, errors };
}

/** A fresh client order id (also the idempotency key): unique per click. */
export function newClientOrderId() {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `ui-${Date.now().toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`;
}
