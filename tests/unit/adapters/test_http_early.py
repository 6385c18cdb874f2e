"""ServerState.answer_early: a path's check answers complete requests before routing.

Driven through HTTPProtocol with a recording transport (no sockets, no event loop): what the
check sees, when it is asked, what is written, and that the usual path still answers
everything the check lets through or is not asked about.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from switchyard.adapters.http import (
    DEFERRED,
    HTTPLimits,
    HTTPProtocol,
    Request,
    Response,
    Router,
    ServerState,
    error_response,
)

REFUSAL = error_response(429, "BUSY", "retry shortly", headers=((b"retry-after", b"1"),))


class RecordingTransport:
    def __init__(self) -> None:
        self.data = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class ManualLoop:
    """Holds call_soon callbacks until the test runs them (the end of a loop iteration)."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)

    def run_once(self) -> None:
        callbacks, self.callbacks = self.callbacks, []
        for callback in callbacks:
            callback()


class Harness:
    def __init__(self, check: Callable[[dict[bytes, bytes], bytes], Response | None]) -> None:
        self.handled: list[Request] = []
        self.deferred: list[Request] = []
        self.asked: list[tuple[dict[bytes, bytes], bytes]] = []
        router = Router()
        router.post("/orders", self._handle, json_body=True)
        router.get("/orders", self._handle)
        router.post("/later", self._defer)
        self.state = ServerState(router, HTTPLimits())
        self.loop = ManualLoop()
        self.state.loop = self.loop  # type: ignore[assignment]

        def asked(headers: dict[bytes, bytes], body: bytes) -> Response | None:
            self.asked.append((headers, body))
            return check(headers, body)

        self.state.answer_early("POST", "/orders", asked)
        self.protocol = HTTPProtocol(self.state)
        self.transport = RecordingTransport()
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]

    def _handle(self, request: Request) -> Response:
        self.handled.append(request)
        return Response(202, b'{"handled":true}')

    def _defer(self, request: Request) -> Any:
        self.deferred.append(request)
        return DEFERRED

    def feed(self, data: bytes) -> bytes:
        self.protocol.data_received(data)
        self.loop.run_once()
        written, self.transport.data = self.transport.data, b""
        return written


def post(path: bytes = b"/orders", body: bytes = b'{"a":1}', extra: bytes = b"") -> bytes:
    return (
        b"POST %s HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n%s\r\n%s" % (path, len(body), extra, body)
    )


def statuses(written: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", written)]


def test_answer_early_refusal_is_written_without_routing() -> None:
    harness = Harness(lambda headers, body: REFUSAL)

    written = harness.feed(post())

    assert statuses(written) == [429]
    assert written.endswith(b'\r\n\r\n{"error":"BUSY","message":"retry shortly"}')
    assert b"retry-after: 1\r\n" in written
    assert harness.handled == []
    assert harness.state.counters["requests"] == 1
    assert harness.state.counters["early_answers"] == 1
    assert harness.state.responses[429] == 1


def test_answer_early_check_sees_headers_and_body() -> None:
    harness = Harness(lambda headers, body: REFUSAL)

    harness.feed(post(body=b'{"b":2}', extra=b"Authorization: Bearer x\r\n"))

    headers, body = harness.asked[0]
    assert headers[b"authorization"] == b"Bearer x"
    assert body == b'{"b":2}'


def test_answer_early_none_routes_as_usual() -> None:
    harness = Harness(lambda headers, body: None)

    written = harness.feed(post())

    assert statuses(written) == [202]
    assert len(harness.handled) == 1
    assert len(harness.asked) == 1
    assert harness.state.counters["early_answers"] == 0


def test_answer_early_ignores_the_query_but_not_the_method_or_other_paths() -> None:
    harness = Harness(lambda headers, body: REFUSAL)

    written = harness.feed(
        post(b"/orders?ack=durable")
        + b"GET /orders HTTP/1.1\r\nhost: t\r\n\r\n"
        + post(b"/orders/")
        + post(b"/later")
    )

    assert statuses(written)[:3] == [429, 202, 404]
    assert len(harness.asked) == 1
    assert [r.method for r in harness.handled] == ["GET"]


def test_answer_early_not_asked_behind_a_pending_answer() -> None:
    """A deferred answer is owed first: later requests queue in order on the usual path."""
    harness = Harness(lambda headers, body: REFUSAL)

    written = harness.feed(post(b"/later") + post())

    assert written == b""
    assert harness.asked == []
    assert len(harness.handled) == 1  # the usual path ran the handler (the check was not asked)
    harness.deferred[0].respond(Response(200, b"{}"))
    harness.loop.run_once()
    assert statuses(harness.transport.data) == [200, 202]


def test_answer_early_not_asked_when_the_client_closes_after_it() -> None:
    harness = Harness(lambda headers, body: REFUSAL)

    written = harness.feed(post(extra=b"connection: close\r\n"))

    assert harness.asked == []
    assert statuses(written) == [202]
    assert b"connection: close\r\n" in written
    assert harness.transport.closed


def test_shared_response_is_never_marked_close_by_a_closing_request() -> None:
    """The same prebuilt Response answers a closing request, then keep-alive ones."""
    shared = Response(429, b"{}")
    router = Router()
    router.post("/x", lambda request: shared)
    state = ServerState(router, HTTPLimits())
    state.loop = ManualLoop()  # type: ignore[assignment]
    closing = HTTPProtocol(state)
    closing.connection_made(RecordingTransport())  # type: ignore[arg-type]
    closing.data_received(b"POST /x HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")

    harness = Harness(lambda headers, body: shared)
    first = harness.feed(post())
    second = harness.feed(post())

    assert shared.close is False
    assert b"connection: close" not in first + second
    assert statuses(first + second) == [429, 429]
    assert not harness.transport.closed


def test_prebuilt_response_bytes_follow_the_date_header() -> None:
    harness = Harness(lambda headers, body: REFUSAL)
    first = harness.feed(post())

    harness.state.date_header = b"date: Thu, 01 Jan 2099 00:00:00 GMT\r\n"
    second = harness.feed(post())

    assert b"date: Thu, 01 Jan 2099" not in first
    assert b"date: Thu, 01 Jan 2099 00:00:00 GMT\r\n" in second


def test_disarmed_early_check_is_not_asked_until_armed_again() -> None:
    harness = Harness(lambda headers, body: REFUSAL)

    harness.state.arm_early("/orders", armed=False)
    disarmed = harness.feed(post())
    harness.state.arm_early("/orders", armed=True)
    armed = harness.feed(post())

    assert statuses(disarmed) == [202]
    assert statuses(armed) == [429]
    assert len(harness.asked) == 1
    assert harness.state.early  # armed: the protocol reads it
