"""Refusals answered early in the HTTP layer are the ones the POST /orders handler gives.

A real gateway built in-process (real WAL files, the backpressure extension), driven through
its HTTP protocol with a recording transport: the same requests are answered once with the
early check installed and once without it (the handler's path), and the answers (bytes, date
header aside) and the counters they move must be identical. Requests the early check must not
answer (other routes, bad media type, a stopping gateway, admitted orders) take the usual path.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from switchyard.adapters.auth import mint_token
from switchyard.adapters.http import HTTPProtocol
from switchyard.app import Gateway, build_gateway, start_gateway, stop_gateway
from switchyard.extensions import backpressure
from switchyard.venue.transports import transport_from_env

pytestmark = pytest.mark.integration

BASE_ENV = {
    "VENUE_LIQUIDITY": "0",
    "GATEWAY_PORT": "0",
    "GATEWAY_HOST": "127.0.0.1",
    "JWT_HS256_SECRET": "s" * 32,
    "LOG_LEVEL": "WARNING",
}
DISK_FULL = {"BACKPRESSURE_DISK_FREE_PCT_MIN": "100"}  # free space < 100%: refuse every order
ADAPTIVE_ONE = {  # the adaptive limit at 1: with one order inflight every order is refused
    "BACKPRESSURE_INFLIGHT_DYNAMIC": "1",
    "BACKPRESSURE_INFLIGHT_MIN": "1",
    "BACKPRESSURE_INFLIGHT_CAP": "1",
    "BACKPRESSURE_INFLIGHT_INITIAL": "1",
}
_DATE = re.compile(rb"date: [^\r]*\r\n")
DRAIN = b""  # in a request list: wait until every accepted order is durable
STOP = b" "  # in a request list: the gateway stops accepting orders (as stop_gateway does)


class RecordingTransport:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def order(
    token: bytes, client_order_id: str, *, content_type: bytes = b"application/json"
) -> bytes:
    body = (
        b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":1,"price":60000,'
        b'"timeInForce":"IOC","clientOrderId":"%s"}' % client_order_id.encode()
    )
    return (
        b"POST /orders HTTP/1.1\r\nhost: t\r\ncontent-type: %s\r\n"
        b"authorization: Bearer %s\r\ncontent-length: %d\r\n\r\n%s"
        % (content_type, token, len(body), body)
    )


def answers(data: bytes) -> list[bytes]:
    """Each answer's bytes without its date header (the one part that may differ)."""
    parts = data.split(b"HTTP/1.1 ")[1:]
    return [_DATE.sub(b"", b"HTTP/1.1 " + part) for part in parts]


async def _built(tmp_path: Path, extra: Mapping[str, str]) -> Gateway:
    environ = {**os.environ, **BASE_ENV, **extra}
    gateway = await build_gateway(
        environ,
        data_dir=tmp_path,
        venue_factory=transport_from_env,
        extensions=(backpressure.install,),
    )
    await start_gateway(gateway)
    return gateway


def exchange(
    tmp_path: Path, extra: Mapping[str, str], requests: list[bytes], *, early: bool, **kw: Any
) -> tuple[list[bytes], dict[str, Any]]:
    """Feed `requests` (one read each) to a fresh gateway; its answers and counter changes."""

    async def run() -> tuple[list[bytes], dict[str, Any]]:
        gateway = await _built(tmp_path, extra)
        state = gateway.http.state
        admission = _admission(gateway)
        if not early:
            admission._on_refusing = None  # never armed: the handler's path only
            state.early.clear()
        if kw.get("inflight"):
            gateway.node.order_outcomes["accepted"] += 1  # one order inflight, never durable
        protocol = HTTPProtocol(state)
        transport = RecordingTransport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        before = (list(admission.refused), gateway.ctx.auth.refused_total, dict(state.responses))
        for raw in requests:
            if raw is DRAIN:
                await _drained(gateway)
                continue
            if raw is STOP:
                gateway.node.accepting = False
                continue
            protocol.data_received(raw)
            state.flush()
        moved = {
            "refused": [a - b for a, b in zip(admission.refused, before[0], strict=True)],
            "authRefused": gateway.ctx.auth.refused_total - before[1],
            "responses": {
                code: count - before[2].get(code, 0) for code, count in state.responses.items()
            },
            "requests": state.counters["requests"],
            "early": state.counters["early_answers"],
            "armedAtEnd": bool(state.early),
        }
        if kw.get("inflight"):
            gateway.node.order_outcomes["accepted"] -= 1
        gateway.node.accepting = True
        await stop_gateway(gateway)
        return answers(transport.data), moved

    return asyncio.run(run())


async def _drained(gateway: Gateway) -> None:
    for _ in range(1000):
        if gateway.node.accepted_undurable == 0:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("accepted orders did not become durable")


def _admission(gateway: Gateway) -> Any:
    hook = gateway.ctx.extras["admission"]
    return hook.__self__  # the bound Admission.check


@pytest.fixture
def token() -> bytes:
    return mint_token(b"s" * 32, "acct", ttl_s=3600).encode()


Exchange = tuple[list[bytes], dict[str, Any]]


def both(
    tmp_path: Path, name: str, extra: Mapping[str, str], requests: list[bytes], **kw: Any
) -> tuple[Exchange, Exchange]:
    early = exchange(tmp_path / f"{name}-early", extra, requests, early=True, **kw)
    usual = exchange(tmp_path / f"{name}-usual", extra, requests, early=False, **kw)
    return early, usual


def test_early_disk_free_refusals_equal_the_handlers(tmp_path: Path, token: bytes) -> None:
    requests = [order(token, f"o{i}") for i in range(5)]

    (early_answers, early_moved), (usual_answers, usual_moved) = both(
        tmp_path, "disk", DISK_FULL, requests
    )

    assert early_answers == usual_answers
    assert len(early_answers) == 5
    assert all(a.startswith(b"HTTP/1.1 503 ") for a in early_answers)
    assert b'"error":"BACKPRESSURE_DISK_FREE"' in early_answers[0]
    assert b"retry-after: 5\r\n" in early_answers[0]
    assert early_moved["early"] == 4  # the first refusal starts shedding; the rest are early
    assert early_moved["armedAtEnd"] is True
    assert usual_moved["early"] == 0
    same = ("refused", "authRefused", "responses", "requests")
    assert {k: early_moved[k] for k in same} == {k: usual_moved[k] for k in same}


def test_early_adaptive_refusals_equal_the_handlers(tmp_path: Path, token: bytes) -> None:
    requests = [order(token, f"o{i}") for i in range(4)]

    (early_answers, early_moved), (usual_answers, usual_moved) = both(
        tmp_path, "soft", ADAPTIVE_ONE, requests, inflight=True
    )

    assert early_answers == usual_answers
    assert all(a.startswith(b"HTTP/1.1 429 ") for a in early_answers)
    assert b'"error":"BACKPRESSURE_INFLIGHT_SOFT"' in early_answers[0]
    assert b'"limit":1' in early_answers[0]
    assert early_moved["early"] == 3
    assert early_moved["refused"] == usual_moved["refused"]
    assert early_moved["responses"] == usual_moved["responses"] == {429: 4}


def test_early_bad_token_and_media_type_answers_equal_the_handlers(
    tmp_path: Path, token: bytes
) -> None:
    requests = [
        order(token, "o0"),  # refused: shedding starts
        order(b"not-a-jwt", "o1"),  # 401 from the early check, as the handler would
        order(token, "o2", content_type=b"text/plain"),  # 415: left to the router
        order(b"", "o3"),  # 401 MISSING_BEARER_TOKEN
        order(token, "o4"),
    ]

    (early_answers, early_moved), (usual_answers, usual_moved) = both(
        tmp_path, "auth", DISK_FULL, requests
    )

    assert early_answers == usual_answers
    assert [a[9:12] for a in early_answers] == [b"503", b"401", b"415", b"401", b"503"]
    assert early_moved["authRefused"] == usual_moved["authRefused"] == 2
    assert early_moved["refused"] == usual_moved["refused"]
    assert early_moved["early"] == 3  # o1, o3 and o4; o2 was left to the router


def test_early_check_leaves_other_routes_and_a_stopping_gateway_to_the_usual_path(
    tmp_path: Path, token: bytes
) -> None:
    auth = b"authorization: Bearer %s\r\n" % token
    requests = [
        order(token, "o0"),
        b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n",
        b"POST /orders/x-1-2-3/cancel HTTP/1.1\r\nhost: t\r\n%scontent-length: 0\r\n\r\n" % auth,
        b"GET /orders HTTP/1.1\r\nhost: t\r\n%s\r\n" % auth,
    ]

    (early_answers, early_moved), (usual_answers, _) = both(tmp_path, "routes", DISK_FULL, requests)

    # /health carries timestamps: compare statuses there, whole answers elsewhere.
    assert [a[9:12] for a in early_answers] == [b"503", b"200", b"404", b"200"]
    assert [a[9:12] for a in usual_answers] == [b"503", b"200", b"404", b"200"]
    assert early_answers[2:] == usual_answers[2:]
    assert early_moved["early"] == 0

    stopping = [order(token, "s0"), STOP, order(token, "s1"), order(token, "s2")]
    (early_answers, early_moved), (usual_answers, _) = both(tmp_path, "stop", DISK_FULL, stopping)
    assert early_answers == usual_answers
    assert b'"error":"BACKPRESSURE_DISK_FREE"' in early_answers[0]
    assert all(b'"error":"SHUTTING_DOWN"' in a for a in early_answers[1:])
    assert early_moved["early"] == 0


def test_early_check_admits_when_admission_does(tmp_path: Path, token: bytes) -> None:
    """After a refusal streak, an order that admission lets in is accepted by the handler."""
    requests = [order(token, "o0"), order(token, "o1"), DRAIN, order(token, "o2")]

    (early_answers, early_moved), (usual_answers, _) = both(
        tmp_path, "admit", ADAPTIVE_ONE, requests
    )

    assert [a[9:12] for a in early_answers] == [b"202", b"429", b"202"]
    assert [a[9:12] for a in usual_answers] == [b"202", b"429", b"202"]
    assert early_moved["early"] == 0  # asked about o2 (shedding), admitted: the usual path
    assert early_moved["armedAtEnd"] is False  # admitting disarms the early check
    assert early_moved["refused"] == [0, 0, 0, 0, 0, 0, 0, 1, 0]
