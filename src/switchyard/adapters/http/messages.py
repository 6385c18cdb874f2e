"""Request and response objects of the HTTP server, and precomputed response bytes.

A `Request` is filled by the protocol from httptools callbacks; a handler answers with a
`Response` (written in request order), `DEFERRED` (it will call `request.respond()` later, e.g.
after the WAL batch is durable) or a `StreamResponse` (it takes the connection over for SSE).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from .protocol import HTTPProtocol

REASON_PHRASES: Final[dict[int, bytes]] = {
    100: b"Continue",
    200: b"OK",
    201: b"Created",
    202: b"Accepted",
    204: b"No Content",
    304: b"Not Modified",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    409: b"Conflict",
    410: b"Gone",
    411: b"Length Required",
    413: b"Payload Too Large",
    414: b"URI Too Long",
    415: b"Unsupported Media Type",
    417: b"Expectation Failed",
    422: b"Unprocessable Entity",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    503: b"Service Unavailable",
    505: b"HTTP Version Not Supported",
}

STATUS_LINES: Final[dict[int, bytes]] = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, phrase) for code, phrase in REASON_PHRASES.items()
}

CONTENT_TYPE_JSON: Final = b"application/json"
CONTENT_TYPE_TEXT: Final = b"text/plain; charset=utf-8"


class Response:
    """A complete response. `headers` are extra raw header lines (name, value) as bytes.

    The protocol never mutates a Response (it decides per connection whether to close), so a
    handler may answer many requests with one prebuilt instance; its keep-alive bytes are then
    encoded once per `date` header (`wire`, `wire_date`: the protocol's cache).
    """

    __slots__ = ("body", "close", "content_type", "headers", "status", "wire", "wire_date")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: bytes = CONTENT_TYPE_JSON,
        headers: tuple[tuple[bytes, bytes], ...] = (),
        close: bool = False,
    ) -> None:
        assert status in STATUS_LINES, status
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self.close = close  # close the connection after writing this response
        self.wire = b""  # the encoded keep-alive answer, valid while `wire_date` is current
        self.wire_date = b""


class StreamResponse:
    """Take the connection over: the protocol writes the head, then calls `start(protocol)`.

    After that the connection carries only this stream (no more pipelined requests);
    `on_close` is called once when the connection goes away for any reason.
    """

    __slots__ = ("content_type", "headers", "on_close", "start", "status")

    def __init__(
        self,
        start: Callable[[HTTPProtocol], None],
        on_close: Callable[[], None],
        *,
        status: int = 200,
        content_type: bytes = b"text/event-stream",
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self.start = start
        self.on_close = on_close
        self.status = status
        self.content_type = content_type
        self.headers = headers


class _Deferred:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DEFERRED"


DEFERRED: Final = _Deferred()

HandlerResult = Response | StreamResponse | _Deferred

# An early answer (ServerState.answer_early): called with the request's headers and body when
# it is complete, before it is routed; a Response answers it there, None lets it through.
EarlyCheck = Callable[[dict[bytes, bytes], bytes], "Response | None"]


class Request:
    """One parsed request. Header names are lower-cased bytes; only the body is kept whole."""

    __slots__ = (
        "body",
        "headers",
        "keep_alive",
        "method",
        "params",
        "path",
        "protocol",
        "query",
        "received_ns",
        "response",
        "state",
    )

    def __init__(
        self,
        protocol: HTTPProtocol | None,
        method: str,
        path: str,
        query: str,
        headers: dict[bytes, bytes],
        body: bytes,
        keep_alive: bool,
        received_ns: int,
    ) -> None:
        self.protocol = protocol
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.received_ns = received_ns  # monotonic ns when the request was complete (t0)
        self.params: dict[str, str] = {}  # path parameters filled by the router
        self.response: Response | StreamResponse | None = None
        self.state: Any = None  # free slot for the handler (e.g. auth principal)

    def header(self, name: bytes) -> bytes | None:
        return self.headers.get(name)

    def query_params(self) -> dict[str, str]:
        """Decoded query parameters; the last value wins when a name repeats."""
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.query, keep_blank_values=True))

    def respond(self, response: Response | StreamResponse) -> None:
        """Answer a deferred request. Safe to call after the client went away."""
        protocol = self.protocol
        if protocol is None:
            self.response = response
            return
        protocol.complete(self, response)


def json_response(status: int, payload: object, **kwargs: Any) -> Response:
    return Response(status, orjson.dumps(payload), **kwargs)


def error_response(
    http_status: int,
    code: str,
    message: str,
    /,
    *,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    close: bool = False,
    **fields: object,
) -> Response:
    """The uniform error body: {"error": CODE, "message": text, ...fields that help}."""
    body: dict[str, object] = {"error": code, "message": message}
    body.update(fields)
    return Response(http_status, orjson.dumps(body), headers=headers, close=close)
