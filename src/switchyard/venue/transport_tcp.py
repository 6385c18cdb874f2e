"""`TcpVenueTransport`: the gateway's client of `switchyard venue` (core.ports.VenueTransport).

Owns one TCP connection at a time and its lifecycle: connect with a timeout, HELLO with the
session name (the venue then routes this session's reports here, including those produced
while we were away), SUBSCRIBE to every symbol's market data, reconnect with exponential
backoff after any loss. `send()` refuses at once (False) while the venue is down or the
bounded outbound queue is full, so the gateway answers fast instead of hanging. A request is
written once: nothing is ever resent blindly (the venue dedupes NEW by order id and the
gateway applies fills by cum_qty; after a reconnect it reconciles with STATUS queries, on
`on_connection(True)`). Keeps an L2 mirror per symbol from BOOK + DELTA (gap -> a new BOOK).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import cast

from switchyard.core.limits import (
    VENUE_BOOK_DEPTH_MAX,
    VENUE_OUTBOUND_QUEUE_MAX,
    VENUE_TCP_LINE_MAX_BYTES,
    VENUE_TCP_RECONNECT_BACKOFF_MAX_S,
)
from switchyard.core.messages import (
    BookDelta,
    BookLevel,
    BookSnapshot,
    ExecReport,
    MarketData,
    Trade,
    VenueRequest,
)

from . import protocol
from .protocol import BookRequest, ErrorReply, Hello, HelloReply, ProtocolError, Subscribe

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 1.5  # the seed's connect timeout
BACKOFF_INITIAL_S = 0.05
SUBSCRIBE_DEPTH = 50  # levels a side mirrored per symbol


class _Mirror:
    __slots__ = ("asks", "bids", "seq", "stale")

    def __init__(self) -> None:
        self.seq = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.stale = True  # no snapshot yet, or a gap: deltas are not applied


def _ignore_report(report: ExecReport) -> None:
    return None


def _ignore_market_data(data: MarketData) -> None:
    return None


def _ignore_connection(up: bool) -> None:
    return None


class TcpVenueTransport:
    """Client of the TCP venue; every call on the event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        session: str = "gateway",
        queue_max: int = VENUE_OUTBOUND_QUEUE_MAX,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = VENUE_TCP_RECONNECT_BACKOFF_MAX_S,
        line_max_bytes: int = VENUE_TCP_LINE_MAX_BYTES,
    ) -> None:
        assert 0 < backoff_initial_s <= backoff_max_s, (backoff_initial_s, backoff_max_s)
        assert queue_max > 0, queue_max
        # config
        self.host = host
        self.port = port
        self.session = session
        self._queue_max = queue_max
        self._connect_timeout_s = connect_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._line_max_bytes = line_max_bytes
        # handlers
        self._on_report: Callable[[ExecReport], None] = _ignore_report
        self._on_market_data: Callable[[MarketData], None] = _ignore_market_data
        self._on_connection: Callable[[bool], None] = _ignore_connection
        # per connection
        self._protocol: _ClientProtocol | None = None
        self._up = False
        self._pending: deque[bytes] = deque()  # encoded requests not yet written
        self._flush_handle: asyncio.Handle | None = None
        self._symbols: list[str] = []
        self._mirrors: dict[str, _Mirror] = {}
        # lifetime
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # counters (metrics read them)
        self.connects = 0
        self.disconnects = 0
        self.requests_sent = 0
        self.requests_refused = 0
        self.reports_received = 0
        self.market_data_gaps = 0
        self.protocol_errors = 0
        self.last_hello: HelloReply | None = None

    def set_handlers(
        self,
        on_report: Callable[[ExecReport], None],
        on_market_data: Callable[[MarketData], None],
        on_connection: Callable[[bool], None],
    ) -> None:
        self._on_report = on_report
        self._on_market_data = on_market_data
        self._on_connection = on_connection

    async def start(self) -> None:
        """Start connecting in the background; `on_connection(True)` says when it is up."""
        assert self._task is None, "started twice"
        self._task = asyncio.get_running_loop().create_task(self._run(), name="venue-tcp")
        self._task.add_done_callback(self._run_ended)

    async def close(self) -> None:
        """Stop reconnecting, flush what is queued, close the connection."""
        self._closing = True
        self._flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._protocol is not None:
            self._protocol.close()
        self._set_down()

    def send(self, request: VenueRequest) -> bool:
        """Queue a request for the venue; False at once when it is down or the queue is full."""
        if not self._up or len(self._pending) >= self._queue_max:
            self.requests_refused += 1
            return False
        self._pending.append(protocol.encode_request(request))
        self.requests_sent += 1
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)
        return True

    def is_up(self) -> bool:
        return self._up

    def queue_depth(self) -> int:
        return len(self._pending)

    def symbols(self) -> list[str]:
        return list(self._symbols)

    def book(self, symbol: str, depth: int) -> BookSnapshot | None:
        """The mirrored L2 book (as of the last BOOK/DELTA), or None for an unknown symbol."""
        mirror = self._mirrors.get(symbol)
        if mirror is None:
            return None
        depth = max(0, min(depth, VENUE_BOOK_DEPTH_MAX))
        bids = sorted(mirror.bids.items(), reverse=True)[:depth]
        asks = sorted(mirror.asks.items())[:depth]
        return BookSnapshot(
            symbol,
            mirror.seq,
            [BookLevel(price, qty) for price, qty in bids],
            [BookLevel(price, qty) for price, qty in asks],
        )

    # --- connection lifecycle -------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self._backoff_initial_s
        while not self._closing:
            try:
                _, client = await asyncio.wait_for(
                    loop.create_connection(lambda: _ClientProtocol(self), self.host, self.port),
                    self._connect_timeout_s,
                )
            except (OSError, TimeoutError) as error:
                log.debug("venue connect failed host=%s port=%d: %r", self.host, self.port, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max_s)
                continue
            self.connects += 1
            self._protocol = client
            client.write(protocol.encode_request(Hello(self.session)))
            client.write(protocol.encode_request(Subscribe(None, SUBSCRIBE_DEPTH)))
            await client.closed
            self._protocol = None
            self.disconnects += 1
            if client.reached_up:
                backoff = self._backoff_initial_s  # it worked: retry quickly
            self._set_down()
            if not self._closing:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max_s)

    def _run_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("venue connection task failed: %r", task.exception())

    def _set_down(self) -> None:
        for mirror in self._mirrors.values():
            mirror.stale = True
        if self._up:
            self._up = False
            log.warning("venue down host=%s port=%d", self.host, self.port)
            self._on_connection(False)

    def _flush(self) -> None:
        self._flush_handle = None
        client = self._protocol
        if not self._pending or client is None or client.paused:
            return
        client.write(b"".join(self._pending))
        self._pending.clear()

    # --- incoming -------------------------------------------------------------------

    def on_message(self, client: _ClientProtocol, message: protocol.VenueMessage) -> None:
        if isinstance(message, ExecReport):
            self.reports_received += 1
            self._on_report(message)
        elif isinstance(message, BookSnapshot | BookDelta | Trade):
            self._market_data(client, message)
        elif isinstance(message, HelloReply):
            self.last_hello = message
            self._symbols = list(message.symbols)
            for symbol in self._symbols:
                self._mirrors.setdefault(symbol, _Mirror())
            client.reached_up = True
            self._up = True
            log.info(
                "venue up session=%s resumed=%s backlog=%d dropped_reports=%d",
                message.session,
                message.resumed,
                message.backlog,
                message.dropped_reports,
            )
            self._on_connection(True)
            self._flush()
        elif isinstance(message, ErrorReply):
            self.protocol_errors += 1
            log.warning("venue error %s: %s", message.error, message.message)

    def _market_data(self, client: _ClientProtocol, data: MarketData) -> None:
        mirror = self._mirrors.get(data.symbol)
        if mirror is None:
            return
        if isinstance(data, BookSnapshot):
            mirror.seq = data.seq
            mirror.bids = {level.price: level.qty for level in data.bids}
            mirror.asks = {level.price: level.qty for level in data.asks}
            mirror.stale = False
        elif isinstance(data, BookDelta):
            if data.seq <= mirror.seq:
                return  # already in the snapshot we hold
            if mirror.stale or data.seq != mirror.seq + 1:
                if not mirror.stale:
                    self.market_data_gaps += 1
                    mirror.stale = True
                    client.write(protocol.encode_request(BookRequest(data.symbol, SUBSCRIBE_DEPTH)))
            else:
                mirror.seq = data.seq
                for levels, changes in ((mirror.bids, data.bids), (mirror.asks, data.asks)):
                    for level in changes:
                        if level.qty:
                            levels[level.price] = level.qty
                        else:
                            levels.pop(level.price, None)
        self._on_market_data(data)


class _ClientProtocol(asyncio.Protocol):
    def __init__(self, owner: TcpVenueTransport) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.paused = False
        self.reached_up = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.owner._flush()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        owner = self.owner
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buffer[start:end])
            start = end + 1
            if not line.strip():
                continue
            try:
                message = protocol.decode_venue_message(line)
            except ProtocolError as error:
                owner.protocol_errors += 1
                log.warning("venue sent a bad line: %s", error)
                continue
            owner.on_message(self, message)
        del buffer[:start]
        if len(buffer) > owner._line_max_bytes:
            log.warning("venue line over %d bytes: closing", owner._line_max_bytes)
            buffer.clear()
            self.close()
