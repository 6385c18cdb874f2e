"""HTTP/1.1 on asyncio.Protocol + httptools (llhttp): the gateway's ingress.

Owns one connection: parsing, limits, in-order responses for pipelined requests, deferred
answers (durable ACK), stream takeover (SSE) and flow control. It never touches trading
state: it hands each complete `Request` to the router and writes what comes back.

Limits and their answers: head over HTTP_HEADER_SIZE_MAX_BYTES or too many headers → 431;
URL too long → 414; declared body over the limit → 413 before reading it; chunked body over
the limit → 413 as soon as it crosses; head or body slower than its deadline → 408; more
connections than allowed → 503; malformed HTTP (incl. conflicting Content-Length and
Transfer-Encoding) → 400. Every refusal closes the connection. Deadlines use a coarse clock
advanced by the server's once-a-second sweeper, so the per-request path makes no timer calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Final, cast

import httptools

from .messages import (
    DEFERRED,
    STATUS_LINES,
    Request,
    Response,
    StreamResponse,
    error_response,
)

if TYPE_CHECKING:
    from .server import ServerState

log = logging.getLogger("switchyard.http")

_NO_DEADLINE: Final = 0
_HEAD: Final = 1  # waiting for a request head (new connection or begun message)
_BODY: Final = 2  # waiting for the rest of a body
_IDLE: Final = 3  # keep-alive, nothing outstanding
_LINGER: Final = 4  # refused: our answer is sent, the client's leftovers are read and dropped
_LINGER_NS: Final = 1_000_000_000

_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_perf_ns = time.perf_counter_ns


class _LimitExceeded(Exception):
    """Raised inside parser callbacks to stop parsing with a specific answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class HTTPProtocol(asyncio.Protocol):
    __slots__ = (
        "_began_in_feed",
        "_body_parts",
        "_body_size",
        "_client_eof",
        "_expect_continue",
        "_head_bytes",
        "_header_count",
        "_headers",
        "_in_head",
        "_limit_response",
        "_out",
        "_paused_reading",
        "_paused_writing",
        "_stream",
        "_url",
        "closed",
        "deadline_kind",
        "deadline_ns",
        "parser",
        "pending",
        "state",
        "transport",
    )

    def __init__(self, state: ServerState) -> None:
        # config and shared server state
        self.state = state
        # per connection
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[Request] = deque()  # requests awaiting their turn to be answered
        self.closed = False
        self.deadline_ns = _NO_DEADLINE
        self.deadline_kind = _NO_DEADLINE
        self._paused_reading = False
        self._paused_writing = False
        self._client_eof = False
        self._stream: StreamResponse | None = None
        self._limit_response: Response | None = None
        # per request (reset in on_message_begin)
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._header_count = 0
        self._head_bytes = 0
        self._in_head = False
        self._began_in_feed = False
        self._body_parts: list[bytes] = []
        self._body_size = 0
        self._expect_continue = False
        self._out: list[bytes] | None = None

    # --- connection lifetime ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport = cast(asyncio.Transport, transport)
        state = self.state
        if len(state.connections) >= state.limits.connections_max or state.closing:
            state.counters["connections_refused"] += 1
            reason = "shutting down" if state.closing else "too many connections"
            code = "SHUTTING_DOWN" if state.closing else "TOO_MANY_CONNECTIONS"
            self._write_response(
                error_response(503, code, reason, headers=((b"retry-after", b"1"),), close=True),
                head_only=False,
                close=True,
            )
            self.closed = True
            transport.close()
            return
        state.connections.add(self)
        state.counters["connections_opened"] += 1
        self._set_deadline(_HEAD, state.limits.header_timeout_ns)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._out = None  # the client is gone: held answers have nowhere to go
        self.state.connections.discard(self)
        for request in self.pending:
            request.protocol = None  # a late respond() becomes a no-op
        self.pending.clear()
        stream = self._stream
        if stream is not None:
            self._stream = None
            stream.on_close()

    def eof_received(self) -> bool | None:
        """The client finished sending. Answer what is pending, then close."""
        self._client_eof = True
        if self.pending and not self.closed:
            return True  # keep the write side open for the pending answers
        return None  # nothing owed: let the transport close

    def pause_writing(self) -> None:
        self._paused_writing = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._paused_writing = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        if self.closed or self._stream is not None:
            # Lingering after a refusal, or a stream's client: nothing more to parse.
            return
        in_head_before = self._in_head
        self._began_in_feed = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(
                error_response(400, "UPGRADE_NOT_SUPPORTED", "protocol upgrades are not supported")
            )
            return
        except (httptools.HttpParserCallbackError, httptools.HttpParserError) as error:
            limit = self._limit_response
            if limit is not None:
                self._refuse(limit)
            else:
                self.state.counters["parse_errors"] += 1
                self._refuse(error_response(400, "BAD_REQUEST", f"malformed HTTP request: {error}"))
            return
        if self._in_head:
            # A head still arriving: every byte of this chunk belongs to it unless the message
            # began inside this chunk (then we under-count by at most one read; still bounded).
            if in_head_before and not self._began_in_feed:
                self._head_bytes += len(data)
            if self._head_bytes > self.state.limits.head_max_bytes:
                self._refuse(self._head_too_large())

    # --- httptools callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._header_count = 0
        self._head_bytes = 0
        self._in_head = True
        self._began_in_feed = True
        self._body_parts = []
        self._body_size = 0
        self._expect_continue = False
        self._set_deadline(_HEAD, self.state.limits.header_timeout_ns)

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if len(self._url) > self.state.limits.url_max_bytes:
            self._limit_response = error_response(
                414, "URI_TOO_LONG", f"request target over {self.state.limits.url_max_bytes} bytes"
            )
            raise _LimitExceeded(self._limit_response)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_bytes += len(name) + len(value) + 4
        limits = self.state.limits
        if self._header_count > limits.header_count_max or self._head_bytes > limits.head_max_bytes:
            self._limit_response = self._head_too_large()
            raise _LimitExceeded(self._limit_response)
        key = name.lower()
        previous = self._headers.get(key)
        # Repeats are joined as RFC 9110 allows (llhttp refuses repeated Content-Length).
        self._headers[key] = value if previous is None else previous + b", " + value

    def on_headers_complete(self) -> None:
        self._in_head = False
        limits = self.state.limits
        declared = self._headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.body_max_bytes:
            self._limit_response = error_response(
                413,
                "PAYLOAD_TOO_LARGE",
                f"body of {int(declared)} bytes is over the limit of {limits.body_max_bytes}",
                limit=limits.body_max_bytes,
            )
            raise _LimitExceeded(self._limit_response)
        expect = self._headers.get(b"expect")
        if expect is not None:
            if expect.lower() != b"100-continue":
                self._limit_response = error_response(
                    417, "EXPECTATION_FAILED", "only 'Expect: 100-continue' is supported"
                )
                raise _LimitExceeded(self._limit_response)
            self._expect_continue = True
            if not self.pending and self.transport is not None:
                self._write_now(_CONTINUE)
                self._expect_continue = False
        self._set_deadline(_BODY, limits.body_timeout_ns)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self.state.limits.body_max_bytes:
            self._limit_response = error_response(
                413,
                "PAYLOAD_TOO_LARGE",
                f"body over the limit of {self.state.limits.body_max_bytes} bytes",
                limit=self.state.limits.body_max_bytes,
            )
            raise _LimitExceeded(self._limit_response)
        self._body_parts.append(body)

    def on_message_complete(self) -> None:
        if self.closed:
            return  # pipelined leftovers after a refusal or a close
        parts = self._body_parts
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        url = self._url
        query_at = url.find(b"?")
        state = self.state
        if state.early and not self.pending and self._answered_early(url, query_at, body):
            return
        if query_at >= 0:
            path = url[:query_at].decode("latin-1")
            query = url[query_at + 1 :].decode("latin-1")
        else:
            path = url.decode("latin-1")
            query = ""
        parser = self.parser
        request = Request(
            self,
            parser.get_method().decode("latin-1"),
            path,
            query,
            self._headers,
            body,
            parser.should_keep_alive(),
            _perf_ns(),  # t0: the request is complete; server-side latency starts here
        )
        self.deadline_kind = _NO_DEADLINE
        self.deadline_ns = _NO_DEADLINE
        state.counters["requests"] += 1
        self._dispatch(request)

    def _answered_early(self, url: bytes, query_at: int, body: bytes) -> bool:
        """Answer here, unrouted, when the path's early check says so (ServerState.answer_early).

        Only for a keep-alive request with nothing pending ahead of it on this connection:
        its answer is written now, in order, with no Request object, routing or handler.
        """
        state = self.state
        entry = state.early.get(url if query_at < 0 else url[:query_at])
        if entry is None:
            return False
        parser = self.parser
        if parser.get_method() != entry[0] or not parser.should_keep_alive() or state.closing:
            return False
        response = entry[1](self._headers, body)
        if response is None:
            return False
        state.counters["requests"] += 1
        state.counters["early_answers"] += 1
        self._answer(response, head_only=False, close=response.close)
        return True

    # --- answering ----------------------------------------------------------------------

    def _dispatch(self, request: Request) -> None:
        try:
            result = self.state.router.dispatch(request)
        except Exception:
            # An edge: one request's bug must not take the connection's neighbours down.
            log.exception("handler failed method=%s path=%s", request.method, request.path)
            self.state.counters["handler_errors"] += 1
            result = error_response(500, "INTERNAL_ERROR", "the server failed to answer; see logs")
        if result is DEFERRED:
            self.pending.append(request)
            if len(self.pending) >= self.state.limits.pipeline_depth_max:
                self._update_reading()
            return
        assert isinstance(result, Response | StreamResponse)
        if self.pending:
            request.response = result
            self.pending.append(request)
            self._update_reading()
            return
        self._send(request, result)

    def complete(self, request: Request, response: Response | StreamResponse) -> None:
        """A deferred request has its answer: write everything that is now in order."""
        if self.closed:
            return
        request.response = response
        pending = self.pending
        while pending:
            head = pending[0]
            head_response = head.response
            if head_response is None:
                break
            pending.popleft()
            self._send(head, head_response)
            if self.closed or self._stream is not None:
                return
        self._update_reading()

    def _send(self, request: Request, response: Response | StreamResponse) -> None:
        if isinstance(response, StreamResponse):
            self._start_stream(response)
            return
        # Decided per connection, never written back: a prebuilt Response may be shared.
        close = response.close or not request.keep_alive or self.state.closing
        self._answer(response, head_only=request.method == "HEAD", close=close)

    def _answer(self, response: Response, *, head_only: bool, close: bool) -> None:
        """Write a complete answer, then close the connection or wait for the next request."""
        if self._expect_continue:
            self._expect_continue = False
        self._write_response(response, head_only=head_only, close=close)
        if close:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            return
        if not self.pending:
            if self._client_eof:
                self.close()
                return
            self._set_deadline(_IDLE, self.state.limits.keepalive_idle_ns)

    def _write_response(self, response: Response, *, head_only: bool, close: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        state = self.state
        state.responses[response.status] += 1
        date = state.date_header
        if close or head_only:
            data = _encode(response, date, head_only=head_only, close=close)
        elif response.wire_date is date:
            data = response.wire  # a prebuilt answer, already encoded this second
        else:
            data = response.wire = _encode(response, date, head_only=False, close=False)
            response.wire_date = date
        if close:
            self._write_now(data)
            return
        # Keep-alive answers wait for the end of this loop iteration and go out together
        # (ServerState.flush). On loopback with a sleeping client every send() pays for waking
        # it; answering a loop iteration's requests back to back wakes it once. Measured: 64
        # connections of orders, 12-13k/s -> 16-16.6k/s (docs/PERFORMANCE.md).
        out = self._out
        if out is None:
            self._out = [data]
            self.state.mark_dirty(self)
        else:
            out.append(data)

    def flush_out(self) -> None:
        """Hand the answers held for this iteration to the transport (one write)."""
        out = self._out
        if out is not None:
            self._out = None
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _write_now(self, data: bytes) -> None:
        """Write at once, after anything held (bytes on a connection keep their order)."""
        if self._out is not None:
            self.flush_out()
        assert self.transport is not None
        self.transport.write(data)

    def _start_stream(self, stream: StreamResponse) -> None:
        transport = self.transport
        if transport is None:
            stream.on_close()
            return
        self.state.responses[stream.status] += 1
        head = b"%scontent-type: %s\r\ncache-control: no-cache\r\nx-accel-buffering: no\r\n%s" % (
            STATUS_LINES[stream.status],
            stream.content_type,
            self.state.date_header,
        )
        for name, value in stream.headers:
            head += b"%s: %s\r\n" % (name, value)
        self._write_now(head + b"\r\n")
        self._stream = stream
        self.deadline_kind = _NO_DEADLINE
        self.deadline_ns = _NO_DEADLINE
        for request in self.pending:  # pipelined after a stream: never answered
            request.protocol = None
        self.pending.clear()
        stream.start(self)

    def write_stream(self, data: bytes) -> bool:
        """Write stream bytes; False when the connection is gone or over its buffer bound."""
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            return False
        self._write_now(data)
        return transport.get_write_buffer_size() <= self.state.limits.stream_buffer_max_bytes

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.flush_out()
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # --- limits and flow control -----------------------------------------------------------

    def _head_too_large(self) -> Response:
        limits = self.state.limits
        return error_response(
            431,
            "HEADERS_TOO_LARGE",
            f"request head over {limits.head_max_bytes} bytes or {limits.header_count_max} headers",
        )

    def _refuse(self, response: Response) -> None:
        """Answer a request we will not read to the end, then close the connection.

        Lingering close (as nginx does): closing a socket with unread input makes the kernel
        send RST, which can destroy our answer before the client reads it. So we send the
        answer, shut our side for writing, drop whatever still arrives, and close for good
        when the client closes or after about a second.
        """
        self.state.counters[f"refused_{response.status}"] += 1
        self._limit_response = None
        if not self.pending:
            self._write_response(response, head_only=False, close=True)
        self.closed = True
        transport = self.transport
        if transport is None:
            return
        self.flush_out()
        if transport.can_write_eof():
            transport.write_eof()
            self._set_deadline(_LINGER, _LINGER_NS)
        else:
            transport.close()

    def on_deadline(self) -> None:
        """Called by the sweeper when this connection's deadline has passed."""
        kind = self.deadline_kind
        self.deadline_kind = _NO_DEADLINE
        self.deadline_ns = _NO_DEADLINE
        if kind == _IDLE:
            self.state.counters["idle_closed"] += 1
            self.close()
        elif kind == _LINGER:
            self.close()
        elif kind in (_HEAD, _BODY) and not self.pending:
            what = "request head" if kind == _HEAD else "request body"
            self.state.counters["timeouts"] += 1
            self._refuse(error_response(408, "REQUEST_TIMEOUT", f"{what} did not arrive in time"))

    def _set_deadline(self, kind: int, after_ns: int) -> None:
        self.deadline_kind = kind
        self.deadline_ns = self.state.coarse_ns + after_ns

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        should_pause = self._paused_writing or (
            len(self.pending) >= self.state.limits.pipeline_depth_max
        )
        if should_pause and not self._paused_reading:
            self._paused_reading = True
            transport.pause_reading()
        elif not should_pause and self._paused_reading:
            self._paused_reading = False
            transport.resume_reading()


def _encode(response: Response, date_header: bytes, *, head_only: bool, close: bool) -> bytes:
    body = response.body
    head = b"%scontent-type: %s\r\ncontent-length: %d\r\n%s" % (
        STATUS_LINES[response.status],
        response.content_type,
        len(body),
        date_header,
    )
    for name, value in response.headers:
        head += b"%s: %s\r\n" % (name, value)
    if close:
        head += b"connection: close\r\n"
    return head + b"\r\n" if head_only else head + b"\r\n" + body
