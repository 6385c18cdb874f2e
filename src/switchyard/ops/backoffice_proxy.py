"""A small, bounded read-only proxy from the UI to the back office (positions, PnL, balances).

Why a proxy: the back office is another process on another port; going through the gateway
keeps the UI on one origin (no CORS, one Content-Security-Policy) and lets the UI tell "back
office offline" from any other failure. Owns only that relay; must not interpret the data.

Bounds: a fixed list of GET views, the caller's bearer token passed through (the back office
checks it again and scopes the data to the account), at most PROXY_INFLIGHT_MAX requests at
once (beyond: 503 PROXY_BUSY), a timeout for the whole exchange, and a response size cap.
Any connection failure or timeout answers 503 BACKOFFICE_OFFLINE.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import orjson

from switchyard.adapters.http import DEFERRED, HandlerResult, Request, Response, error_response
from switchyard.adapters.http.messages import STATUS_LINES

log = logging.getLogger("switchyard.ops.backoffice")

VIEWS: Final = frozenset({"positions", "pnl", "balances"})
PROXY_INFLIGHT_MAX: Final = 16  # concurrent relays; the back office has 4 database threads
PROXY_TIMEOUT_S: Final = 3.0  # connect + request + whole answer
PROXY_RESPONSE_BYTES_MAX: Final = 2 * 1024 * 1024


class BackofficeOffline(Exception):
    """The back office did not answer (refused, timed out, closed early, unparsable)."""


class BackofficeProxy:
    """Relays `GET /ui/api/backoffice/{view}` to `GET http://host:port/{view}`."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._tasks: set[asyncio.Task[None]] = set()
        self.counters = {"relayed": 0, "offline": 0, "busy": 0}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def relay(self, request: Request, view: str) -> HandlerResult:
        """Start the relay of an authenticated request; answer it when the back office does."""
        if view not in VIEWS:
            return error_response(404, "NOT_FOUND", f"no back office view {view}")
        if len(self._tasks) >= PROXY_INFLIGHT_MAX:
            self.counters["busy"] += 1
            return error_response(
                503,
                "PROXY_BUSY",
                f"{len(self._tasks)} back office requests in progress",
                headers=((b"retry-after", b"1"),),
            )
        authorization = request.headers.get(b"authorization", b"")
        task = asyncio.get_running_loop().create_task(self._relay(request, view, authorization))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return DEFERRED

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, request: Request, view: str, authorization: bytes) -> None:
        try:
            status, body = await asyncio.wait_for(
                self.fetch(f"/{view}", authorization), timeout=PROXY_TIMEOUT_S
            )
        except (OSError, TimeoutError, BackofficeOffline) as error:
            self.counters["offline"] += 1
            request.respond(
                error_response(
                    503,
                    "BACKOFFICE_OFFLINE",
                    f"the back office at {self.url} is not answering: {_describe(error)}",
                    backofficeUrl=self.url,
                )
            )
            return
        self.counters["relayed"] += 1
        request.respond(Response(status, body))

    async def fetch(self, path: str, authorization: bytes) -> tuple[int, bytes]:
        """One HTTP/1.1 GET on a fresh connection: (status, JSON body)."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            head = b"GET %s HTTP/1.1\r\nhost: %s:%d\r\naccept: application/json\r\n" % (
                path.encode(),
                self.host.encode(),
                self.port,
            )
            if authorization:
                head += b"authorization: " + authorization + b"\r\n"
            writer.write(head + b"connection: close\r\n\r\n")
            raw = await reader.read(PROXY_RESPONSE_BYTES_MAX + 1)
            while raw and len(raw) <= PROXY_RESPONSE_BYTES_MAX:
                more = await reader.read(PROXY_RESPONSE_BYTES_MAX + 1 - len(raw))
                if not more:
                    break
                raw += more
        finally:
            writer.close()
        if len(raw) > PROXY_RESPONSE_BYTES_MAX:
            raise BackofficeOffline(f"answer larger than {PROXY_RESPONSE_BYTES_MAX} bytes")
        return parse_response(raw)


def parse_response(raw: bytes) -> tuple[int, bytes]:
    """Status and body of a complete `connection: close` HTTP/1.1 answer carrying JSON."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        raise BackofficeOffline("the answer ended before its headers did")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise BackofficeOffline("not an HTTP/1.x answer")
    if int(parts[1]) not in STATUS_LINES:
        raise BackofficeOffline(f"unexpected status {int(parts[1])}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get(b"content-length")
    if length is not None and length.isdigit() and len(body) < int(length):
        raise BackofficeOffline("the answer was cut short")
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BackofficeOffline("the answer is not JSON") from None
    return int(parts[1]), body


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {PROXY_TIMEOUT_S:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return str(error) or type(error).__name__
