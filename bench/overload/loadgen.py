"""Load generator for the overload benchmark: open loop at a fixed rate, or closed loop.

One uvloop process, keep-alive connections, requests pipelined on each connection, answers
parsed with httptools and matched in order. Open loop: request i is due at start + i/rate and
its latency counts from that intended time (coordinated omission corrected: when the gateway
or the kernel queues, the wait is charged), sent in 0.5-1 ms ticks. Closed loop: each
connection keeps `depth` requests outstanding (what the gateway can serve: its capacity).

Every answer is recorded (status, reason code, latency, Retry-After present) into arrays,
summarised with numpy.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httptools
import numpy as np

_perf_ns = time.perf_counter_ns
TICK_S = 0.0005  # the open-loop sender's sleep (uvloop timers resolve to ~1 ms)


def order_request(token: bytes, client_order_id: bytes) -> bytes:
    """An IOC limit order: with no liquidity it expires at once, so no state piles up."""
    body = (
        b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":1,"price":60000,'
        b'"timeInForce":"IOC","clientOrderId":"%s"}' % client_order_id
    )
    return (
        b"POST /orders HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer %s\r\ncontent-length: %d\r\n\r\n%s" % (token, len(body), body)
    )


@dataclass
class Recorder:
    """Answers as parallel lists: intended (or actual) send ns, answer ns, status, code."""

    due_ns: list[int] = field(default_factory=list)
    done_ns: list[int] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    retry_after: list[bool] = field(default_factory=list)
    send_lag_ns: list[int] = field(default_factory=list)

    def summary(self, *, window_ms: float = 10.0) -> dict[str, Any]:
        if not self.status:
            return {"answers": 0}
        latency_us = (np.array(self.done_ns) - np.array(self.due_ns)) / 1000
        status = np.array(self.status)
        accepted = status == 202
        refused = (status == 429) | (status == 503)
        codes: dict[str, int] = {}
        for value in self.code:
            if value:
                codes[value] = codes.get(value, 0) + 1
        return {
            "answers": int(status.size),
            "byStatus": {str(s): int((status == s).sum()) for s in np.unique(status)},
            "byCode": codes,
            "accepted": int(accepted.sum()),
            "refused": int(refused.sum()),
            "refusedWithoutRetryAfter": int(
                sum(1 for r, ok in zip(refused, self.retry_after, strict=True) if r and not ok)
            ),
            "acceptedLatencyUs": _percentiles(latency_us[accepted]),
            "refusedLatencyUs": _percentiles(latency_us[refused]),
            "refusedWithinMs": {
                "windowMs": window_ms,
                "count": int((latency_us[refused] <= window_ms * 1000).sum()),
            },
            "sendLagUs": _percentiles(np.array(self.send_lag_ns) / 1000),
        }


def _percentiles(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"count": 0}
    quantiles = np.percentile(values, [50, 90, 99, 99.9])
    return {
        "count": int(values.size),
        "p50": round(float(quantiles[0]), 1),
        "p90": round(float(quantiles[1]), 1),
        "p99": round(float(quantiles[2]), 1),
        "p999": round(float(quantiles[3]), 1),
        "max": round(float(values.max()), 1),
    }


class Connection(asyncio.Protocol):
    """One keep-alive connection: pipelined writes, answers matched in order."""

    def __init__(self, recorder: Recorder, on_answer: Any = None) -> None:
        self.recorder = recorder
        self.on_answer = on_answer
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.due: deque[int] = deque()
        self.outstanding = 0
        self._body = b""
        self._retry = False
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self._body = b""
        self._retry = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self._retry = True

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        now = _perf_ns()
        recorder = self.recorder
        status = self.parser.get_status_code()
        recorder.due_ns.append(self.due.popleft())
        recorder.done_ns.append(now)
        recorder.status.append(status)
        recorder.retry_after.append(self._retry)
        code = ""
        if status != 202:
            at = self._body.find(b'"error":"')
            if at >= 0:
                code = self._body[at + 9 : self._body.index(b'"', at + 9)].decode()
        recorder.code.append(code)
        self.outstanding -= 1
        if self.on_answer is not None:
            self.on_answer(self)

    def send(self, data: bytes, due_ns: list[int]) -> None:
        assert self.transport is not None
        self.due.extend(due_ns)
        self.outstanding += len(due_ns)
        self.transport.write(data)


async def connect(
    port: int, count: int, recorder: Recorder, on_answer: Any = None
) -> list[Connection]:
    loop = asyncio.get_running_loop()
    connections = []
    for _ in range(count):
        _, protocol = await loop.create_connection(
            lambda: Connection(recorder, on_answer), "127.0.0.1", port
        )
        connections.append(protocol)
    return connections


async def open_loop(
    port: int,
    tokens: list[bytes],
    *,
    rate: float,
    duration_s: float,
    tag: str,
    drain_timeout_s: float = 15.0,
) -> dict[str, Any]:
    """`rate` orders/s for `duration_s`, spread round-robin over one connection per token."""
    recorder = Recorder()
    connections = await connect(port, len(tokens), recorder)
    total = int(rate * duration_s)
    interval_ns = 1e9 / rate
    start = _perf_ns() + 20_000_000
    sent = 0
    prefix = tag.encode()
    count = len(connections)
    while sent < total:
        now = _perf_ns()
        due = min(total, int((now - start) / interval_ns) + 1) if now >= start else 0
        if due > sent:
            batches: list[list[bytes]] = [[] for _ in range(count)]
            times: list[list[int]] = [[] for _ in range(count)]
            for i in range(sent, due):
                slot = i % count
                batches[slot].append(order_request(tokens[slot], b"%s-%d" % (prefix, i)))
                intended = start + int(i * interval_ns)
                times[slot].append(intended)
                recorder.send_lag_ns.append(now - intended)
            for slot, connection in enumerate(connections):
                if batches[slot]:
                    connection.send(b"".join(batches[slot]), times[slot])
            sent = due
        await asyncio.sleep(TICK_S)
    sent_at = _perf_ns()
    deadline = time.monotonic() + drain_timeout_s
    # A bounded poll of plain counters at the end of a run; nothing to signal on.
    while any(c.outstanding for c in connections) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    unanswered = sum(c.outstanding for c in connections)
    for connection in connections:
        if connection.transport is not None:
            connection.transport.close()
    summary = recorder.summary()
    summary.update(
        mode="open",
        offeredPerSec=rate,
        durationSec=duration_s,
        sent=total,
        unanswered=unanswered,
        sendSeconds=round((sent_at - start) / 1e9, 3),
    )
    return summary


async def closed_loop(
    port: int, tokens: list[bytes], *, depth: int, duration_s: float, tag: str
) -> dict[str, Any]:
    """Each connection keeps `depth` orders outstanding for `duration_s`: the served rate."""
    recorder = Recorder()
    counter = [0]
    prefix = tag.encode()
    stop_at = [0]
    by_connection: dict[int, bytes] = {}

    def refill(connection: Connection) -> None:
        if _perf_ns() >= stop_at[0]:
            return
        i = counter[0]
        counter[0] += 1
        now = _perf_ns()
        connection.send(order_request(by_connection[id(connection)], b"%s-%d" % (prefix, i)), [now])

    connections = await connect(port, len(tokens), recorder, on_answer=refill)
    started = _perf_ns()
    stop_at[0] = started + int(duration_s * 1e9)
    for connection, token in zip(connections, tokens, strict=True):
        by_connection[id(connection)] = token
        for _ in range(depth):
            i = counter[0]
            counter[0] += 1
            connection.send(order_request(token, b"%s-%d" % (prefix, i)), [_perf_ns()])
    await asyncio.sleep(duration_s)
    deadline = time.monotonic() + 15
    # A bounded poll of plain counters at the end of a run; nothing to signal on.
    while any(c.outstanding for c in connections) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    elapsed_s = (_perf_ns() - started) / 1e9
    for connection in connections:
        if connection.transport is not None:
            connection.transport.close()
    summary = recorder.summary()
    summary.update(
        mode="closed",
        depth=depth,
        connections=len(tokens),
        durationSec=round(elapsed_s, 3),
        answeredPerSec=round(summary["answers"] / elapsed_s, 1),
        acceptedPerSec=round(summary.get("accepted", 0) / elapsed_s, 1),
    )
    return summary
