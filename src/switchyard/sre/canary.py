"""`switchyard canary`: a quick end-to-end check of a running gateway.

The seed's quick canary, done properly: GET /health must answer 200; then N events go to
POST /events?key=K (the seed App's ingestion, `{price, volume}`) over one keep-alive
connection, optionally M orders to POST /orders with a minted JWT, with every answer counted
and every latency recorded (HDR); /stats is read before and after (it must answer). The
result is a canary_result.v1 document that `switchyard gate` judges against the SLOs.
"""

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from switchyard.sre import documents, serverside
from switchyard.sre.histogram import LatencyHistogram
from switchyard.sre.httpclient import Connection, RequestFailed, Response, Target, fetch
from switchyard.sre.loadgen import error_code_of
from switchyard.sre.workload import (
    DEFAULT_REFERENCE_TICKS,
    FALLBACK_REFERENCE_TICKS,
    Rng,
    lot_size,
)

TOOL_NAME = "switchyard canary"
HEALTHY_STATUSES = ("healthy", "degraded")  # degraded still serves; unhealthy does not
EVENT_TIMEOUT_S = 5.0  # the seed's per-request timeout
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class CanaryRequest:
    target: Target
    events: int
    keys: tuple[str, ...]
    rng: Rng
    wall_ns: int
    orders: int = 0
    token: str | None = None  # Bearer token for /events and /orders (None: send none)
    runner_label: str = "local"


@dataclass(slots=True)
class Tally:
    """Answers to one kind of request."""

    requested: int
    sent: int = 0
    ok: int = 0
    errors: int = 0
    dropped: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_error: dict[str, int] = field(default_factory=dict)

    def count(self, response: Response | None, failure: str | None) -> None:
        self.sent += 1
        if response is None:
            assert failure is not None
            self.dropped += 1
            self.errors += 1
            self.by_error[failure] = self.by_error.get(failure, 0) + 1
            return
        key = str(response.status)
        self.by_status[key] = self.by_status.get(key, 0) + 1
        if 200 <= response.status < 300:
            self.ok += 1
            return
        self.errors += 1
        code = error_code_of(response)
        self.by_error[code] = self.by_error.get(code, 0) + 1

    def describe(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "dropped": self.dropped,
            "byStatus": dict(sorted(self.by_status.items())),
            "byError": dict(sorted(self.by_error.items())),
        }


async def _health(target: Target) -> dict[str, Any]:
    try:
        response = await fetch(target, "GET", "/health", timeout_s=EVENT_TIMEOUT_S)
    except RequestFailed as error:
        return {"httpStatus": 0, "status": "unreachable", "error": str(error)}
    status = "unknown"
    try:
        body = response.json()
        if isinstance(body, dict):
            status = str(body.get("status", "unknown"))
    except ValueError:
        pass
    return {"httpStatus": response.status, "status": status}


def _event_bytes(target: Target, token: str | None, key: str, price: int, volume: int) -> bytes:
    body = f'{{"price":{price},"volume":{volume}}}'.encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {target.base_path}/events?key={key} HTTP/1.1\r\n"
        f"Host: {target.host}:{target.port}\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _order_bytes(target: Target, token: str, key: str, symbol: str, price: int, side: str) -> bytes:
    body = (
        f'{{"symbol":"{symbol}","side":"{side}","type":"LIMIT","qty":{lot_size(symbol)},'
        f'"price":{price},'
        f'"timeInForce":"GTC","clientOrderId":"{key}"}}'
    ).encode()
    return (
        f"POST {target.base_path}/orders HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _send_all(
    connection: Connection, requests: list[bytes], tally: Tally, histogram: LatencyHistogram
) -> Connection:
    for data in requests:
        if not connection.usable:
            connection.close()
            connection = await Connection.open(connection.target)
        started = time.perf_counter_ns()
        try:
            response: Response | None = await connection.request(data, EVENT_TIMEOUT_S)
            failure = None
        except RequestFailed as error:
            response, failure = None, error.code
        histogram.record_ns(time.perf_counter_ns() - started)
        tally.count(response, failure)
    return connection


def _plan(request: CanaryRequest, run_id: str) -> tuple[list[bytes], list[bytes]]:
    rng = request.rng
    events = []
    for _ in range(request.events):
        key = request.keys[int(rng.random() * len(request.keys))]
        reference = DEFAULT_REFERENCE_TICKS.get(key, FALLBACK_REFERENCE_TICKS)
        price = max(1, int(reference * (0.99 + 0.02 * rng.random())))
        volume = 1 + int(rng.random() * 100)
        events.append(_event_bytes(request.target, request.token, key, price, volume))
    orders = []
    for index in range(request.orders):
        assert request.token is not None, "orders need a token"
        symbol = request.keys[index % len(request.keys)]
        reference = DEFAULT_REFERENCE_TICKS.get(symbol, FALLBACK_REFERENCE_TICKS)
        side = "BUY" if index % 2 == 0 else "SELL"
        # Passive prices 3% from the reference rest instead of trading, inside the venue's
        # 10% price band.
        price = int(reference * 0.97) if side == "BUY" else int(reference * 1.03)
        orders.append(
            _order_bytes(request.target, request.token, f"{run_id}-o{index}", symbol, price, side)
        )
    return events, orders


async def _run(request: CanaryRequest, run_id: str) -> dict[str, Any]:
    target = request.target
    health = await _health(target)
    pid = serverside.listening_pid(target.port) if target.host in LOOPBACK_HOSTS else None
    before = await serverside.snapshot(target, pid)
    events, orders = _plan(request, run_id)
    event_tally, order_tally = Tally(request.events), Tally(request.orders)
    histogram = LatencyHistogram()
    started = time.perf_counter_ns()
    if health["httpStatus"] == 200:
        connection = await Connection.open(target)
        connection = await _send_all(connection, events, event_tally, histogram)
        connection = await _send_all(connection, orders, order_tally, histogram)
        connection.close()
        await asyncio.sleep(0)  # let connection_lost run before the loop closes
    elapsed_sec = (time.perf_counter_ns() - started) / 1e9
    after = await serverside.snapshot(target, pid)
    return {
        "health": health,
        "events": event_tally,
        "orders": order_tally,
        "histogram": histogram,
        "elapsedSec": elapsed_sec,
        "statsBefore": before.stats,
        "statsAfter": after.stats,
        "counterDeltas": serverside.counter_deltas(before.metrics, after.metrics),
        "resources": serverside.usage_delta(before.usage, after.usage),
    }


def failures_of(
    health: dict[str, Any], events: Tally, orders: Tally, stats_after: dict[str, Any]
) -> list[str]:
    """Why the canary failed; empty when it passed."""
    failures = []
    if health["httpStatus"] != 200 or health["status"] not in HEALTHY_STATUSES:
        failures.append(f"GET /health answered {health['httpStatus']} status={health['status']}")
    if "error" in stats_after:
        failures.append(f"GET /stats failed after the run: {stats_after['error']}")
    for name, tally in (("events", events), ("orders", orders)):
        if tally.sent < tally.requested:
            failures.append(f"{name}: sent {tally.sent} of {tally.requested}")
        if tally.errors:
            failures.append(f"{name}: {tally.errors} of {tally.sent} failed ({tally.by_error})")
    return failures


def run_canary(request: CanaryRequest) -> documents.Document:
    """Run the canary and return its canary_result.v1 document."""
    assert request.events >= 0
    assert request.keys
    run_id = f"c{secrets.token_hex(4)}"
    measured = asyncio.run(_run(request, run_id))
    events: Tally = measured["events"]
    orders: Tally = measured["orders"]
    sent = events.sent + orders.sent
    errors = events.errors + orders.errors
    elapsed = measured["elapsedSec"]
    failures = failures_of(measured["health"], events, orders, measured["statsAfter"])
    return {
        "schema": documents.CANARY_SCHEMA,
        "tool": {"name": TOOL_NAME, "version": _version()},
        "runId": run_id,
        "target": {"url": request.target.url},
        "health": measured["health"],
        "events": {**events.describe(), "keys": list(request.keys)},
        "orders": orders.describe(),
        "latencyUs": measured["histogram"].summary_us(),
        "durationSec": round(elapsed, 3),
        "throughputPerSec": round(sent / elapsed, 1) if elapsed > 0 else 0.0,
        "errorRatePercent": round(errors * 100.0 / sent, 4) if sent else 0.0,
        "dropped": events.dropped + orders.dropped,
        "server": {
            "statsBefore": measured["statsBefore"],
            "statsAfter": measured["statsAfter"],
            "counterDeltas": measured["counterDeltas"],
            "resources": measured["resources"],
        },
        "passed": not failures,
        "failures": failures,
        "machine": documents.machine_info(),
        "git": documents.git_info(),
        "runnerLabel": request.runner_label,
        "timestamp": documents.iso_utc(request.wall_ns),
    }


def _version() -> str:
    import switchyard

    return str(switchyard.__version__)


def summary_text(document: documents.Document) -> str:
    latency = document["latencyUs"]
    events = document["events"]
    lines = [
        f"canary → {document['target']['url']}: {'PASS' if document['passed'] else 'FAIL'}",
        f"  health {document['health']['httpStatus']} {document['health']['status']}",
        f"  events sent {events['sent']}/{events['requested']} ok {events['ok']} "
        f"errors {events['errors']}; orders ok {document['orders']['ok']}/"
        f"{document['orders']['requested']}",
        f"  latency µs: p50 {latency['p50']} p99 {latency['p99']} p99.9 {latency['p999']} "
        f"max {latency['max']}; {document['throughputPerSec']}/s",
    ]
    lines.extend(f"  failure: {failure}" for failure in document["failures"])
    return "\n".join(lines) + "\n"
