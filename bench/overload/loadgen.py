"""Load generator for the overload benchmark: open loop at a fixed rate, or closed loop.

One uvloop process, keep-alive connections, requests pipelined on each connection, answers
matched in order. Open loop: request i is due at start + i/rate and its latency counts from
that intended time (coordinated omission corrected: when the generator, the kernel or the
gateway queues, the wait is charged), sent in 0.5-1 ms ticks (one write per connection per
tick: sending each request as it falls due would cost the gateway a read per request).
Its send lag (actual - intended send time) and its CPU share are reported: when the lag is
large, the run measures the generator, not the gateway. Closed loop: each
connection keeps `depth` requests outstanding (what the gateway can serve: its capacity).

Answers are parsed by a small framing parser for this gateway's answers (a status line, a
`content-length`, lower-case header names) instead of httptools callbacks, and a refusal's
code is read once per distinct body: at 80k answers/s the generator's own CPU per answer
decides whether it keeps up. Every answer is recorded (status, reason code, latency,
Retry-After present) into arrays, summarised with numpy.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_perf_ns = time.perf_counter_ns
# The open-loop sender wakes on a fixed grid of ticks and sends what fell due since the last
# one, one write per connection. A timer of "0.5 ms" was meant as that, but uvloop resolves
# timers far finer, so the sender woke every ~20 us and wrote one request per write: the
# gateway then paid a read (and the generator a loopback send that runs the receiver's TCP
# path) per request. 1 ms at 80k/s over 32 connections is ~2.5 requests per write; the wait
# for the tick is part of the send lag, and so of every latency (corrected from the due time).
TICK_S = 0.001
_HEAD_END = b"\r\n\r\n"
_LENGTH = b"content-length: "
_RETRY = b"retry-after: "
_ERROR = b'"error":"'


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
        """Counts and latency percentiles; latency is answer time - intended send time."""
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
        self.transport: asyncio.Transport | None = None
        self.due: deque[int] = deque()
        self.outstanding = 0
        self._buffer = b""
        self._codes: dict[bytes, str] = {}  # refusal body -> its "error" code
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)

    def data_received(self, data: bytes) -> None:
        """Frame every complete answer in the buffer: status, head, content-length body."""
        now = _perf_ns()
        buffer = self._buffer + data if self._buffer else data
        size = len(buffer)
        at = 0
        recorder = self.recorder
        due = self.due
        while True:
            head_end = buffer.find(_HEAD_END, at)
            if head_end < 0:
                break
            length_at = buffer.find(_LENGTH, at, head_end)
            length = 0
            if length_at >= 0:
                start = length_at + len(_LENGTH)
                length = int(buffer[start : buffer.index(b"\r", start)])
            end = head_end + 4 + length
            if end > size:
                break
            status = int(buffer[at + 9 : at + 12])
            code = ""
            retry = False
            if status != 202:
                retry = buffer.find(_RETRY, at, head_end) >= 0
                code = self._code(buffer[head_end + 4 : end])
            recorder.due_ns.append(due.popleft())
            recorder.done_ns.append(now)
            recorder.status.append(status)
            recorder.retry_after.append(retry)
            recorder.code.append(code)
            self.outstanding -= 1
            at = end
            if self.on_answer is not None:
                self.on_answer(self)
        self._buffer = buffer[at:]

    def _code(self, body: bytes) -> str:
        code = self._codes.get(body)
        if code is None:
            found = body.find(_ERROR)
            start = found + len(_ERROR)
            code = body[start : body.index(b'"', start)].decode() if found >= 0 else ""
            if len(self._codes) < 10_000:
                self._codes[body] = code
        return code

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
    tick_s: float = TICK_S,
) -> dict[str, Any]:
    """`rate` orders/s for `duration_s`, spread round-robin over one connection per token."""
    recorder = Recorder()
    tick_ns = int(tick_s * 1e9)
    connections = await connect(port, len(tokens), recorder)
    total = int(rate * duration_s)
    interval_ns = 1e9 / rate
    start = _perf_ns() + 20_000_000
    cpu_start = time.process_time()
    # The recorder's lists grow to millions of entries; a full collection walks them all (ms
    # of stall, charged to every request due meanwhile). The run makes no cyclic garbage.
    gc_was_enabled = gc.isenabled()
    gc.disable()
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
        now = _perf_ns()
        next_tick = start + ((now - start) // tick_ns + 1) * tick_ns if now >= start else start
        await asyncio.sleep((next_tick - now) / 1e9)
    sent_at = _perf_ns()
    if gc_was_enabled:
        gc.enable()
    generator_cpu_share = (time.process_time() - cpu_start) / max(1e-9, (sent_at - start) / 1e9)
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
        generatorCpuShare=round(generator_cpu_share, 3),
        tickMs=tick_s * 1000,
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
