// Formatting of numbers and times for display (integers stay integers: ticks and lots).

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

export function clock(ms) {
  if (!ms) return "–";
  const date = new Date(ms);
  return `${timeFormat.format(date)}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

export function dateTime(ms) {
  if (!ms) return "–";
  return new Date(ms).toLocaleString();
}

export function int(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US");
}

export function num(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits });
}

/** Microseconds, shown in µs below 10 ms and in ms above. */
export function micros(us) {
  if (us === null || us === undefined) return "–";
  if (us >= 10000) return `${num(us / 1000, 1)} ms`;
  return `${num(us, us < 10 ? 1 : 0)} µs`;
}

export function shortId(orderId) {
  const parts = String(orderId).split("-");
  return parts.length > 2 ? `…${parts.slice(-1)[0]}` : orderId;
}
