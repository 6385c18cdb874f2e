"""A minimal HTTP/1.1 keep-alive client on asyncio + httptools, built for load generation.

One request in flight per connection (no pipelining), requests are pre-rendered bytes, and
the answer is (status, body, headers we care about). Per-request cost is a future and a timer,
nothing else: the load generator must not be the bottleneck. Also offers `fetch()`, a
one-shot request on a fresh connection for the tools' occasional calls (/stats, /health).
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

CONNECT_TIMEOUT_S = 5.0  # loopback connects in µs; 5 s covers a stalled accept queue
RESPONSE_BODY_MAX_BYTES = 16 * 1024 * 1024  # /metrics of a busy gateway stays far below this

# Transport-level outcomes, reported in place of an error code when there is no HTTP answer.
ERROR_TIMEOUT = "TIMEOUT"
ERROR_CONNECTION_LOST = "CONNECTION_LOST"
ERROR_CONNECT_FAILED = "CONNECT_FAILED"
ERROR_BAD_RESPONSE = "BAD_RESPONSE"


class RequestFailed(Exception):
    """No HTTP answer: `code` is one of the ERROR_* names."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go: host, port and the Host header to send."""

    host: str
    port: int
    base_path: str = ""

    @classmethod
    def from_url(cls, url: str) -> "Target":
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{url!r}: expected http://host[:port] (TLS is nginx's job)")
        return cls(parts.hostname, parts.port or 80, parts.path.rstrip("/"))

    @property
    def host_header(self) -> bytes:
        return f"{self.host}:{self.port}".encode()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.base_path}"


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        import orjson

        return orjson.loads(self.body)


class _ClientProtocol(asyncio.Protocol):
    """Parses responses and hands each one to the waiting request."""

    # Headers we keep: everything else is skipped without allocation.
    _KEPT_HEADERS = frozenset({b"retry-after", b"content-type", b"connection"})

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self._body_size_bytes = 0
        self._headers: dict[str, str] = {}

    # asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(RequestFailed(ERROR_BAD_RESPONSE, str(error)))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(RequestFailed(ERROR_CONNECTION_LOST, str(exc or "closed by peer")))

    # httptools callbacks ----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered in self._KEPT_HEADERS:
            self._headers[lowered.decode()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body_size_bytes += len(body)
        if self._body_size_bytes > RESPONSE_BODY_MAX_BYTES:
            self._fail(RequestFailed(ERROR_BAD_RESPONSE, "response body too large"))
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        response = Response(self._parser.get_status_code(), b"".join(self._body), self._headers)
        self._body = []
        self._body_size_bytes = 0
        self._headers = {}
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)
        if response.headers.get("connection", "").lower() == "close":
            self.close()

    # helpers ----------------------------------------------------------------------------
    def _fail(self, error: RequestFailed) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Connection:
    """One keep-alive connection; `request()` sends pre-rendered bytes and awaits the answer."""

    __slots__ = ("_loop", "_protocol", "target")

    def __init__(self, target: Target, loop: asyncio.AbstractEventLoop, protocol: Any) -> None:
        self.target = target
        self._loop = loop
        self._protocol: _ClientProtocol = protocol

    @classmethod
    async def open(cls, target: Target, timeout_s: float = CONNECT_TIMEOUT_S) -> "Connection":
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(_ClientProtocol, target.host, target.port), timeout_s
            )
        except (OSError, TimeoutError) as error:
            raise RequestFailed(ERROR_CONNECT_FAILED, f"{target.url}: {error}") from None
        return cls(target, loop, protocol)

    @property
    def usable(self) -> bool:
        return not self._protocol.closed

    async def request(self, data: bytes, timeout_s: float) -> Response:
        """Send one request and wait for its response; RequestFailed when there is none."""
        protocol = self._protocol
        assert protocol.waiter is None, "one request in flight per connection"
        if protocol.closed or protocol.transport is None:
            raise RequestFailed(ERROR_CONNECTION_LOST, "connection already closed")
        waiter: asyncio.Future[Response] = self._loop.create_future()
        protocol.waiter = waiter
        timer = self._loop.call_later(timeout_s, self._on_timeout, waiter)
        protocol.transport.write(data)
        try:
            return await waiter
        finally:
            timer.cancel()

    def _on_timeout(self, waiter: "asyncio.Future[Response]") -> None:
        if not waiter.done():
            # The late answer could still arrive on this connection: it is unusable now.
            self._protocol.waiter = None
            waiter.set_exception(RequestFailed(ERROR_TIMEOUT))
            self._protocol.close()

    def close(self) -> None:
        self._protocol.close()


def render_request(
    method: str,
    target: Target,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    """Render a complete HTTP/1.1 request (used for one-off calls, not the hot loop)."""
    lines = [f"{method} {target.base_path}{path} HTTP/1.1", f"Host: {target.host}:{target.port}"]
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def fetch(
    target: Target,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout_s: float = 5.0,
) -> Response:
    """One request on a fresh connection (closed afterwards)."""
    connection = await Connection.open(target, timeout_s)
    try:
        return await connection.request(
            render_request(method, target, path, body, headers), timeout_s
        )
    finally:
        connection.close()
        await asyncio.sleep(0)  # let connection_lost run before the caller's loop closes
