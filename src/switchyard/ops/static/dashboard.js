// Dashboard view: live figures from GET /ui/api/dashboard/stream (one snapshot a second).

import { $, fill } from "./dom.js";
import { TimeChart } from "./chart.js";
import { LiveStream } from "./streams.js";
import { micros, num, int } from "./format.js";

const COLORS = { p50: "#4ea1ff", p99: "#f5a524", p999: "#ff5c7a", a: "#37c98b", b: "#b58cff", slo: "#ff5c7a", slo2: "#f5a524" };
const HISTORY_MAX = 300;

let charts = null;
let stream = null;
let snapshots = [];

function buildCharts() {
  const box = $("dash-charts");
  fill(box);
  const latency = (id, title, key, slo) => new TimeChart(box, {
    id, title, log: true, format: micros,
    series: [
      { key: `${key}.p50`, label: "p50", color: COLORS.p50 },
      { key: `${key}.p99`, label: "p99", color: COLORS.p99 },
      { key: `${key}.p999`, label: "p99.9", color: COLORS.p999 },
    ],
    thresholds: slo,
  });
  return {
    fast: latency("chart-fast-ack", "Fast ACK latency", "fastAck", []),
    durable: latency("chart-durable-ack", "Durable ACK latency", "durableAck", []),
    throughput: new TimeChart(box, {
      id: "chart-throughput", title: "Throughput (per second)", format: (v) => num(v, 1),
      series: [
        { key: "orders", label: "orders accepted", color: COLORS.a },
        { key: "requests", label: "HTTP requests", color: COLORS.p50 },
        { key: "syncs", label: "fdatasyncs", color: COLORS.b },
      ],
    }),
    fsync: latency("chart-fsync", "WAL fdatasync latency", "fsync", []),
    batch: new TimeChart(box, {
      id: "chart-batch", title: "WAL batch size (records per fdatasync)", format: (v) => num(v, 1),
      series: [{ key: "batch", label: "mean records per batch", color: COLORS.b }],
    }),
    shed: new TimeChart(box, {
      id: "chart-shed", title: "Shed and errors (per second)", format: (v) => num(v, 1),
      series: [{ key: "shed", label: "shed (429/503)", color: COLORS.p99 }, { key: "errors", label: "drops + errors", color: COLORS.p999 }],
    }),
    outbox: new TimeChart(box, {
      id: "chart-outbox", title: "Outbox lag (records)", format: (v) => int(v),
      series: [{ key: "lag", label: "records not yet in Kafka", color: COLORS.b }],
    }),
  };
}

function sloThresholds(slo, prefix) {
  return [
    { value: slo[`${prefix}P99`], label: `SLO p99 ${micros(slo[`${prefix}P99`])}`, color: COLORS.slo2, always: true },
    { value: slo[`${prefix}P999`], label: `SLO p99.9 ${micros(slo[`${prefix}P999`])}`, color: COLORS.slo, always: true },
  ];
}

function flatten(snapshot) {
  const out = {};
  for (const [name, values] of Object.entries(snapshot.latencyUs)) {
    for (const key of ["p50", "p99", "p999"]) out[`${name}.${key}`] = values.count ? values[key] : null;
  }
  return out;
}

function render() {
  if (!snapshots.length) return;
  const last = snapshots[snapshots.length - 1];
  if (!charts.fast.thresholds.length) {
    charts.fast.thresholds = sloThresholds(last.slo, "fastAck");
    charts.durable.thresholds = sloThresholds(last.slo, "durableAck");
    for (const chart of [charts.fast, charts.durable]) rebuildLegend(chart);
  }
  const points = (pick) => snapshots.map((s) => ({ t: s.ts, values: pick(s) }));
  const latency = points(flatten);
  charts.fast.setData(latency);
  charts.durable.setData(latency);
  charts.fsync.setData(latency);
  charts.throughput.setData(points((s) => ({ orders: s.throughput.ordersPerS, requests: s.throughput.requestsPerS, syncs: s.wal.syncsPerS })));
  charts.batch.setData(points((s) => ({ batch: s.wal.syncsPerS ? s.wal.batchMean : null })));
  charts.shed.setData(points((s) => ({ shed: s.backpressure.shedPerS, errors: s.errors.perS })));
  charts.outbox.setData(points((s) => ({ lag: s.outbox.enabled ? s.outbox.lagRecords : null })));
  renderKpis(last);
}

function rebuildLegend(chart) {
  const legend = chart.figure.querySelector(".legend");
  for (const threshold of chart.thresholds) {
    const mark = document.createElement("span");
    mark.className = "swatch dashed";
    mark.setAttribute("aria-hidden", "true");
    mark.style.setProperty("--swatch", threshold.color);
    const item = document.createElement("li");
    item.className = "threshold";
    item.append(mark, threshold.label);
    legend.append(item);
  }
}

function setKpi(id, value, level, sub, subText) {
  const node = $(id);
  node.textContent = value;
  node.parentElement.dataset.level = level || "";
  if (sub) $(sub).textContent = subText || "";
}

function renderKpis(s) {
  const health = s.health.status;
  const reasons = Object.entries(s.health.reasons).map(([name, reason]) => `${name}: ${reason}`).join("; ");
  const checks = Object.entries(s.health.checks).map(([name, level]) => `${name} ${level}`).join(" · ");
  setKpi("kpi-health", health, health === "healthy" ? "ok" : health === "degraded" ? "warn" : "bad", "kpi-health-sub", reasons || checks);
  setKpi("kpi-throughput", num(s.throughput.ordersPerS, 1), "", "kpi-requests", `${num(s.throughput.requestsPerS, 1)} HTTP req/s`);
  const fast = s.latencyUs.fastAck;
  const durable = s.latencyUs.durableAck;
  setKpi("kpi-fast", fast.count ? micros(fast.p99) : "idle", fast.count && fast.p99 > s.slo.fastAckP99 ? "bad" : "ok", "kpi-fast-sub",
    fast.count ? `p50 ${micros(fast.p50)} · p99.9 ${micros(fast.p999)} · ${int(fast.count)} in ${s.windowS}s` : `no orders in the last ${s.windowS}s`);
  setKpi("kpi-durable", durable.count ? micros(durable.p99) : "idle", durable.count && durable.p99 > s.slo.durableAckP99 ? "bad" : "ok", "kpi-durable-sub",
    durable.count ? `p50 ${micros(durable.p50)} · p99.9 ${micros(durable.p999)}` : `no orders in the last ${s.windowS}s`);
  const bp = s.backpressure;
  setKpi("kpi-backpressure", bp.state, bp.state === "normal" ? "ok" : "warn", "kpi-shed",
    `${num(bp.shedPerS, 1)} shed/s · ${int(bp.shedTotal)} total · ${int(bp.inflight)} awaiting fsync`);
  const outbox = s.outbox;
  setKpi("kpi-outbox", outbox.enabled ? int(outbox.lagRecords) : "off", outbox.enabled && outbox.lagSeconds > 5 ? "warn" : "", "kpi-outbox-sub",
    outbox.enabled ? `${num(outbox.lagSeconds, 2)} s behind` : "no Kafka configured");
  setKpi("kpi-errors", int(s.errors.total), s.errors.perS > 0 ? "bad" : s.errors.total > 0 ? "warn" : "ok", "kpi-errors-sub",
    `${num(s.errors.perS, 1)}/s · SSE dropped ${int(s.errors.sseDropped)} · handler errors ${int(s.errors.handlerErrors)} · timeouts ${int(s.errors.httpTimeouts)} · venue refused ${int(s.errors.venueSendRefused)}`);
  const fsync = s.latencyUs.fsync;
  setKpi("kpi-wal", s.wal.syncsPerS ? num(s.wal.batchMean, 1) : "idle", "", "kpi-wal-sub",
    `${num(s.wal.syncsPerS, 1)} fdatasync/s · p99 ${fsync.count ? micros(fsync.p99) : "–"} · durable seq ${int(s.wal.durableSeq)}`);
  $("dash-window").textContent = s.windowS;
  $("dash-kpis").dataset.snapshots = String(snapshots.length);
}

export function show() {
  if (!charts) charts = buildCharts();
  if (stream) return;
  const state = $("dash-feed-state");
  stream = new LiveStream("/ui/api/dashboard/stream", {
    history: (list) => {
      snapshots = list.slice(-HISTORY_MAX);
      render();
    },
    snapshot: (snapshot) => {
      snapshots.push(snapshot);
      if (snapshots.length > HISTORY_MAX) snapshots.shift();
      render();
    },
  }, (value) => {
    state.textContent = value;
    state.dataset.state = value;
  }).start();
}

export function hide() {
  if (stream) stream.stop();
  stream = null;
}
