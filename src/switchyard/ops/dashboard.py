"""The dashboard feed: one snapshot of the gateway's figures per second, over SSE.

Owns the sampling and the snapshot's shape (`event: snapshot`, and `event: history` with the
recent snapshots when a browser connects); must not change any gateway state. It reads the
runtime's latency recorders and counters, the `/health` checks, and the metrics registry for
figures other components export (backpressure refusals `gateway_backpressure_*_total`, outbox
lag `switchyard_outbox_lag_*`), so each figure has one source of truth.

Latency percentiles cover the last WINDOW_S seconds (differences of the cumulative
recorders), not "since start": one slow burst must show, then pass. Rates are per second over
the last interval. The sampler runs only while someone watches; the history ring is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Final

import orjson
from prometheus_client import CollectorRegistry

from switchyard.adapters import api_ops
from switchyard.adapters.api_common import GatewayContext
from switchyard.adapters.http import (
    HTTPProtocol,
    Request,
    Response,
    ServerState,
    StreamResponse,
    error_response,
)
from switchyard.runtime.latency import LatencyRecorder, bucket_highest

log = logging.getLogger("switchyard.ops.dashboard")

INTERVAL_S: Final = 1.0
WINDOW_S: Final = 10  # latency percentiles over the last 10 intervals
HISTORY_MAX: Final = 300  # snapshots kept for a (re)connecting browser: 5 minutes
HISTORY_SENT_MAX: Final = 120  # of which sent on connect
SUBSCRIBERS_MAX: Final = 64

# SLO thresholds drawn on the charts, in microseconds: docs/specs/slo.md (profiles `strict`
# for the fast ACK and `durable` for the durable ACK); a test keeps them equal.
SLO_US: Final = {
    "fastAckP99": 1_000,
    "fastAckP999": 5_000,
    "durableAckP99": 5_000,
    "durableAckP999": 20_000,
}

_PERCENTILES: Final = (("p50", 50.0), ("p99", 99.0), ("p999", 99.9))
_LEVEL_STATE: Final = {"healthy": "normal", "degraded": "shedding", "unhealthy": "hard limit"}


class WindowedLatency:
    """Percentiles of a cumulative LatencyRecorder over its last `window` samples."""

    __slots__ = ("_deltas", "_previous", "_previous_count", "_recorder", "_window")

    def __init__(self, recorder: LatencyRecorder, window: int) -> None:
        assert window > 0
        self._recorder = recorder
        self._window = window
        self._previous = list(recorder.counts)
        self._previous_count = recorder.count
        self._deltas: deque[dict[int, int]] = deque()  # per interval: slot -> values added

    def sample(self) -> None:
        """Close one interval: what the recorder gained since the last sample."""
        recorder = self._recorder
        counts = recorder.counts
        delta: dict[int, int] = {}
        if recorder.count < self._previous_count:  # the recorder was reset: start again
            self._previous = list(counts)
        elif recorder.count != self._previous_count:
            pairs = enumerate(zip(counts, self._previous, strict=True))
            delta = {i: c - p for i, (c, p) in pairs if c > p}
            self._previous = list(counts)
        self._previous_count = recorder.count
        if len(self._deltas) >= self._window:
            self._deltas.popleft()
        self._deltas.append(delta)

    def percentiles_us(self) -> dict[str, float | int]:
        """p50/p99/p99.9 and max in microseconds over the window, and the count (0s if empty)."""
        merged: dict[int, int] = {}
        for delta in self._deltas:
            for index, count in delta.items():
                merged[index] = merged.get(index, 0) + count
        total = sum(merged.values())
        out: dict[str, float | int] = {"count": total}
        if total == 0:
            out.update({"p50": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0})
            return out
        ordered = sorted(merged.items())
        wanted = [(key, max(1, -(-total * pct // 100))) for key, pct in _PERCENTILES]
        running = 0
        position = 0
        for index, count in ordered:
            running += count
            while position < len(wanted) and running >= wanted[position][1]:
                out[wanted[position][0]] = _us(index)
                position += 1
        out["max"] = _us(ordered[-1][0])
        return out


def _us(index: int) -> float:
    return round(bucket_highest(index) / 1000, 1)


class _Rates:
    """Per-second rates of named cumulative counters between two samples."""

    __slots__ = ("_last", "_last_s")

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._last_s = 0.0

    def update(self, now_s: float, totals: dict[str, float]) -> dict[str, float]:
        elapsed = now_s - self._last_s
        rates = {
            name: round(max(0.0, value - self._last.get(name, value)) / elapsed, 2)
            if self._last_s and elapsed > 0
            else 0.0
            for name, value in totals.items()
        }
        self._last = dict(totals)
        self._last_s = now_s
        return rates


class DashboardFeed:
    """Samples the gateway each second while someone watches; fans snapshots out over SSE."""

    def __init__(
        self,
        ctx: GatewayContext,
        http: ServerState,
        registry: CollectorRegistry | None,
        *,
        now_s: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        node = ctx.node
        self._ctx = ctx
        self._http = http
        self._registry = registry
        self._now_s = now_s
        self._wall_ms = wall_ms
        self._latency = {
            "fastAck": WindowedLatency(node.ack_latency, WINDOW_S),
            "durableAck": WindowedLatency(node.durable_latency, WINDOW_S),
            "fsync": WindowedLatency(node.fsync_latency, WINDOW_S),
        }
        self._rates = _Rates()
        self._subscribers: set[HTTPProtocol] = set()
        self.history: deque[dict[str, Any]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.counters = {"snapshots": 0, "dropped_slow": 0, "refused": 0}

    # --- subscribing ------------------------------------------------------------------------

    def subscribe(self) -> StreamResponse | Response:
        """A stream: the recent history, then one snapshot per interval."""
        if len(self._subscribers) >= SUBSCRIBERS_MAX:
            self.counters["refused"] += 1
            return error_response(
                503,
                "TOO_MANY_STREAMS",
                f"{len(self._subscribers)} dashboard streams open; the limit is {SUBSCRIBERS_MAX}",
                headers=((b"retry-after", b"5"),),
            )
        holder: list[HTTPProtocol] = []

        def start(protocol: HTTPProtocol) -> None:
            holder.append(protocol)
            self._subscribers.add(protocol)
            recent = list(self.history)[-HISTORY_SENT_MAX:]
            protocol.write_stream(b"retry: 2000\n\n" + _frame("history", recent))
            if self._timer is None:
                self.sample()  # a baseline now, so the first snapshot a second later has rates
                self._schedule()

        def on_close() -> None:
            if holder:
                self._subscribers.discard(holder[0])

        return StreamResponse(start, on_close)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for protocol in list(self._subscribers):
            protocol.close()
        self._subscribers.clear()

    # --- sampling ---------------------------------------------------------------------------

    def _schedule(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(INTERVAL_S, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._subscribers:
            return  # nobody watches: stop sampling until someone subscribes again
        try:
            snapshot = self.sample()
        except Exception:  # an edge: a bad figure must not stop the gateway or the feed
            log.exception("dashboard sample failed")
            self._schedule()
            return
        frame = _frame("snapshot", snapshot)
        for protocol in list(self._subscribers):
            if not protocol.write_stream(frame):
                self.counters["dropped_slow"] += 1
                self._subscribers.discard(protocol)
                protocol.close()
        self._schedule()

    def sample(self) -> dict[str, Any]:
        """Take one snapshot now (and keep it in the history)."""
        for series in self._latency.values():
            series.sample()
        snapshot = self._snapshot()
        if len(self.history) >= HISTORY_MAX:
            self.history.popleft()
        self.history.append(snapshot)
        self.counters["snapshots"] += 1
        return snapshot

    def _snapshot(self) -> dict[str, Any]:
        node = self._ctx.node
        http = self._http.counters
        sse = self._ctx.sse.counters
        exported = _exported(self._registry)
        errors = {
            "handlerErrors": http["handler_errors"],
            "httpTimeouts": http["timeouts"],
            "sseDropped": sse["dropped_slow"],
            "venueSendRefused": node.counters.venue_send_refused,
        }
        shed = {
            "backpressure": exported["backpressure_refused"],
            "capacity": node.order_outcomes["capacity"],
            "connectionsRefused": http["connections_refused"],
        }
        totals = {
            "orders": node.order_outcomes["accepted"],
            "requests": http["requests"],
            "syncs": node.wal_syncs,
            "syncedRecords": node.wal_synced_records,
            "shed": sum(shed.values()),
            "errors": sum(errors.values()),
        }
        rates = self._rates.update(self._now_s(), totals)
        syncs_per_s = rates["syncs"]
        health = _health(self._ctx)
        checks = health["checks"]
        journal = node.journal
        return {
            "ts": self._wall_ms(),
            "windowS": WINDOW_S,
            "health": {
                "status": health["status"],
                "checks": {name: check["status"] for name, check in checks.items()},
                "reasons": {
                    name: check["reason"] for name, check in checks.items() if "reason" in check
                },
            },
            "latencyUs": {name: series.percentiles_us() for name, series in self._latency.items()},
            "throughput": {"ordersPerS": rates["orders"], "requestsPerS": rates["requests"]},
            "wal": {
                "syncsPerS": syncs_per_s,
                "batchMean": round(rates["syncedRecords"] / syncs_per_s, 2) if syncs_per_s else 0,
                "batchMaxSinceStart": node.wal_batch_records_max,
                "pendingBytes": journal.pending_bytes if journal is not None else 0,
                "oldestPendingMs": round(node.oldest_undurable_age_ns() / 1e6, 3),
                "durableSeq": node.durable_seq,
            },
            "backpressure": {
                "state": _backpressure_state(checks, rates["shed"]),
                "shedPerS": rates["shed"],
                "shedTotal": totals["shed"],
                "shed": shed,
                "inflight": node.undurable_count,
            },
            "outbox": exported["outbox"],
            "errors": {"perS": rates["errors"], "total": totals["errors"], **errors},
            "slo": SLO_US,
        }


def _frame(event: str, payload: object) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event.encode(), orjson.dumps(payload))


def _health(ctx: GatewayContext) -> dict[str, Any]:
    """The same verdict as GET /health (its checks, including those other components add)."""
    probe = Request(None, "GET", "/health", "", {}, b"", True, 0)
    body: dict[str, Any] = orjson.loads(api_ops.health(ctx, probe).body)
    return body


def _backpressure_state(checks: dict[str, dict[str, Any]], shed_per_s: float) -> str:
    check = checks.get("backpressure")
    if check is not None:
        return _LEVEL_STATE.get(str(check["status"]), str(check["status"]))
    return "shedding" if shed_per_s > 0 else "normal"


def _exported(registry: CollectorRegistry | None) -> dict[str, Any]:
    """Figures other components export as metrics: backpressure refusals and outbox lag."""
    refused = 0.0
    outbox: dict[str, Any] = {"enabled": False, "lagRecords": None, "lagSeconds": None}
    families: Iterable[Any] = registry.collect() if registry is not None else ()
    for family in families:
        name = family.name
        if name.startswith("gateway_backpressure_") and family.type == "counter":
            refused += sum(s.value for s in family.samples if s.name.endswith("_total"))
        elif name == "switchyard_outbox_lag_records":
            outbox.update(enabled=True, lagRecords=_first_value(family))
        elif name == "switchyard_outbox_lag_seconds":
            outbox.update(enabled=True, lagSeconds=_first_value(family))
    return {"backpressure_refused": int(refused), "outbox": outbox}


def _first_value(family: Any) -> float | None:
    for sample in family.samples:
        return float(sample.value)
    return None
