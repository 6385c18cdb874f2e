// A small time-series chart drawn on a canvas (no library): lines per series, dashed SLO
// threshold lines, linear or log10 y axis, the last `windowMs` of data. Accessible through
// its caption, legend and an aria-label carrying the latest values.

import { el } from "./dom.js";

const PADDING = { top: 10, right: 12, bottom: 22, left: 56 };

export class TimeChart {
  constructor(container, { title, series, thresholds = [], log = false, windowMs = 120000, format = String, id }) {
    this.series = series;
    this.thresholds = thresholds;
    this.log = log;
    this.windowMs = windowMs;
    this.format = format;
    this.points = [];
    this.canvas = el("canvas", { role: "img", "aria-label": `${title}: no data yet` });
    const legend = el("ul", { class: "legend" },
      ...series.map((s) => el("li", {}, swatch(s.color), s.label)),
      ...thresholds.map((t) => el("li", { class: "threshold" }, swatch(t.color, true), t.label)));
    this.latest = el("p", { class: "chart-latest", "data-testid": `${id}-latest` }, "–");
    this.figure = el("figure", { class: "chart", id },
      el("figcaption", {}, el("span", { class: "chart-title" }, title), this.latest), this.canvas, legend);
    container.append(this.figure);
    this.title = title;
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  /** Replace the data: [{t: epoch ms, values: {key: number|null}}] in time order. */
  setData(points) {
    this.points = points;
    const last = points[points.length - 1];
    const text = last
      ? this.series.map((s) => `${s.label} ${this.format(last.values[s.key])}`).join(" · ")
      : "–";
    this.latest.textContent = text;
    this.canvas.setAttribute("aria-label", `${this.title}: ${text}`);
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    const ink = style.getPropertyValue("--chart-ink").trim() || "#999";
    const grid = style.getPropertyValue("--chart-grid").trim() || "#333";
    const end = this.points.length ? this.points[this.points.length - 1].t : Date.now();
    const start = end - this.windowMs;
    const shown = this.points.filter((p) => p.t >= start);
    const scale = this.yScale(shown);
    const plotW = width - PADDING.left - PADDING.right;
    const plotH = height - PADDING.top - PADDING.bottom;
    const x = (t) => PADDING.left + ((t - start) / this.windowMs) * plotW;
    const y = (v) => PADDING.top + plotH - scale.position(v) * plotH;

    g.font = "11px system-ui, sans-serif";
    g.lineWidth = 1;
    g.strokeStyle = grid;
    g.fillStyle = ink;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (const tick of scale.ticks) {
      const py = Math.round(y(tick)) + 0.5;
      g.beginPath();
      g.moveTo(PADDING.left, py);
      g.lineTo(width - PADDING.right, py);
      g.stroke();
      g.fillText(this.format(tick), PADDING.left - 6, py);
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    for (let s = 0; s <= this.windowMs / 1000; s += 30) {
      const px = x(end - s * 1000);
      g.fillText(s === 0 ? "now" : `-${s}s`, px, height - PADDING.bottom + 6);
    }
    for (const threshold of this.thresholds) {
      if (threshold.value > scale.max) continue;
      const py = Math.round(y(threshold.value)) + 0.5;
      g.save();
      g.setLineDash([6, 4]);
      g.strokeStyle = threshold.color;
      g.beginPath();
      g.moveTo(PADDING.left, py);
      g.lineTo(width - PADDING.right, py);
      g.stroke();
      g.restore();
    }
    g.lineWidth = 2;
    for (const series of this.series) {
      g.strokeStyle = series.color;
      g.beginPath();
      let drawing = false;
      let previousT = null;
      for (const point of shown) {
        const value = point.values[series.key];
        const gap = previousT !== null && point.t - previousT > 3000;
        previousT = point.t;
        if (value === null || value === undefined || gap) {
          drawing = false;
          if (value === null || value === undefined) continue;
        }
        const px = x(point.t);
        const py = y(Math.max(value, scale.min));
        if (drawing) g.lineTo(px, py);
        else g.moveTo(px, py);
        drawing = true;
      }
      g.stroke();
    }
  }

  yScale(points) {
    let max = 0;
    for (const point of points) {
      for (const series of this.series) {
        const value = point.values[series.key];
        if (typeof value === "number" && value > max) max = value;
      }
    }
    for (const threshold of this.thresholds) {
      if (threshold.always || threshold.value <= max * 4) max = Math.max(max, threshold.value);
    }
    if (this.log) {
      const min = 1;
      const top = Math.max(10, max * 1.5);
      const lo = Math.log10(min);
      const hi = Math.log10(top);
      const ticks = [];
      for (let p = 0; 10 ** p <= top; p += 1) ticks.push(10 ** p);
      return { min, max: top, ticks, position: (v) => (Math.log10(Math.max(v, min)) - lo) / (hi - lo) };
    }
    const top = niceCeiling(Math.max(max * 1.15, 1));
    const step = top / 4;
    const ticks = [0, step, 2 * step, 3 * step, top];
    return { min: 0, max: top, ticks, position: (v) => v / top };
  }
}

function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    if (factor * power >= value) return factor * power;
  }
  return 10 * power;
}

function swatch(color, dashed = false) {
  const mark = el("span", { class: dashed ? "swatch dashed" : "swatch", "aria-hidden": "true" });
  mark.style.setProperty("--swatch", color);
  return mark;
}
