// Server-Sent Events with the session's identity. EventSource cannot send an Authorization
// header, so each connection first trades the bearer token for a one-time ticket
// (POST /ui/api/stream-ticket) and opens `path?ticket=...`. On any error the stream is
// closed and reopened with a fresh ticket, resuming after the last event id it saw
// (`lastEventId=`), so nothing is missed or repeated.

import { api } from "./api.js";

const BACKOFF_MS = [500, 1000, 2000, 5000, 10000];

export class LiveStream {
  /**
   * @param {string} path stream path, may carry a query
   * @param {object} handlers event name -> function(data, event)
   * @param {function} onState called with "connecting" | "live" | "reconnecting" | "stopped"
   */
  constructor(path, handlers, onState = () => {}) {
    this.path = path;
    this.handlers = handlers;
    this.onState = onState;
    this.lastEventId = null;
    this.source = null;
    this.failures = 0;
    this.timer = null;
    this.stopped = false;
    this.generation = 0;
  }

  start() {
    this.stopped = false;
    this.onState("connecting");
    this.open();
    return this;
  }

  stop() {
    this.stopped = true;
    this.generation += 1;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
    this.onState("stopped");
  }

  async open() {
    const generation = ++this.generation;
    let ticket;
    try {
      ticket = (await api("/ui/api/stream-ticket", { method: "POST" })).ticket;
    } catch (error) {
      if (error.status === 401) return this.stop();
      return this.retry(generation);
    }
    if (generation !== this.generation || this.stopped) return;
    const query = new URLSearchParams({ ticket });
    if (this.lastEventId !== null) query.set("lastEventId", this.lastEventId);
    const separator = this.path.includes("?") ? "&" : "?";
    const source = new EventSource(`${this.path}${separator}${query}`);
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.onState("live");
    };
    source.onerror = () => {
      source.close();
      if (this.source === source) this.source = null;
      this.retry(generation);
    };
    for (const [name, handler] of Object.entries(this.handlers)) {
      source.addEventListener(name, (event) => {
        if (event.lastEventId) this.lastEventId = event.lastEventId;
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        handler(data, event);
      });
    }
  }

  retry(generation) {
    if (this.stopped || generation !== this.generation) return;
    this.onState("reconnecting");
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }
}
