"""The TCP venue server behind `switchyard venue`: sessions, routing and flow control.

Owns the listening socket, one `_Connection` (asyncio.Protocol) per client, the named
sessions (HELLO) that survive a reconnect, the routing of reports to the session that owns
the order (request-reply kinds go back to the asker), market-data fan-out to subscribers,
and the timer that drives the market makers. It handles bad input without crashing: a bad
line gets an ERROR (a bad NEW that names its order id gets a REJECTED report), a line over
`VENUE_TCP_LINE_MAX_BYTES` or too many errors close the connection, and a reader that lets
more than `VENUE_TCP_WRITE_BUFFER_MAX_BYTES` pile up is cut off. Output is batched: one
write per connection per input chunk or timer tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from typing import cast

from switchyard.core.codes import Reason
from switchyard.core.enums import ReportKind, Side
from switchyard.core.limits import (
    VENUE_SESSION_BACKLOG_MAX,
    VENUE_TCP_CONNECTIONS_MAX,
    VENUE_TCP_ERRORS_MAX,
    VENUE_TCP_LINE_MAX_BYTES,
    VENUE_TCP_WRITE_BUFFER_MAX_BYTES,
)
from switchyard.core.messages import ExecReport, MarketData, VenueNewOrder, VenueRequest
from switchyard.core.ports import Clock

from . import protocol
from .protocol import BookRequest, Hello, HelloReply, Ping, ProtocolError, Subscribe
from .service import VenueService

log = logging.getLogger(__name__)

REPLY_KINDS = frozenset(
    {ReportKind.STATUS, ReportKind.CANCEL_REJECTED, ReportKind.REPLACE_REJECTED}
)
FINAL_KINDS = frozenset(
    {ReportKind.FILL, ReportKind.CANCELED, ReportKind.REJECTED, ReportKind.EXPIRED}
)
ALL_SYMBOLS = "*"


class _Session:
    """Who owns orders: a HELLO name (kept across reconnects) or one anonymous connection."""

    __slots__ = ("backlog", "connection", "dropped", "name", "named")

    def __init__(self, name: str, *, named: bool) -> None:
        self.name = name
        self.named = named
        self.connection: _Connection | None = None
        self.backlog: deque[bytes] = deque()  # reports while detached (named sessions only)
        self.dropped = 0


class VenueServer:
    """Serves one `VenueService` over newline-delimited JSON."""

    def __init__(
        self,
        service: VenueService,
        *,
        clock: Clock,
        tick_ms: int = 200,
        line_max_bytes: int = VENUE_TCP_LINE_MAX_BYTES,
        write_buffer_max_bytes: int = VENUE_TCP_WRITE_BUFFER_MAX_BYTES,
        backlog_max: int = VENUE_SESSION_BACKLOG_MAX,
        connections_max: int = VENUE_TCP_CONNECTIONS_MAX,
    ) -> None:
        assert tick_ms > 0, tick_ms
        assert line_max_bytes < write_buffer_max_bytes, (line_max_bytes, write_buffer_max_bytes)
        # config
        self.service = service
        self.clock = clock
        self.tick_s = tick_ms / 1_000
        self.line_max_bytes = line_max_bytes
        self.write_buffer_max_bytes = write_buffer_max_bytes
        self.backlog_max = backlog_max
        self.connections_max = connections_max
        # state
        self.sessions: dict[str, _Session] = {}
        self.owners: dict[str, _Session] = {}  # live order id -> owning session
        self.connections: set[_Connection] = set()
        self._to_flush: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._anonymous_count = 0
        self.fatal: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopped = asyncio.Event()
        # counters (metrics read them at scrape time)
        self.requests: dict[str, int] = {}
        self.reports: dict[str, int] = {}
        self.protocol_errors: dict[str, int] = {}
        self.connections_total = 0
        self.slow_readers_cut = 0
        self.reports_undeliverable = 0
        self.market_data_lines = 0

    async def start(self, host: str, port: int) -> int:
        """Listen; return the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        now_ns = self.clock.wall_ns()
        self.service.tick(now_ns)  # quote before the first client arrives
        self.service.take_market_data(now_ns)
        self._server = await loop.create_server(lambda: _Connection(self), host, port)
        self._timer = loop.call_later(self.tick_s, self._on_tick)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop accepting, flush and close every connection, stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._server is not None:
            self._server.close()
        self.flush()
        for connection in list(self.connections):
            connection.close()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), grace_s)
            except TimeoutError:
                log.warning("venue stop: connections still open after %.1f s", grace_s)
        self.stopped.set()

    # --- requests -----------------------------------------------------------------------

    def on_line(self, connection: _Connection, line: bytes) -> None:
        try:
            message = protocol.decode_request(line)
        except ProtocolError as error:
            self._protocol_error(connection, error)
            return
        kind = type(message).__name__
        self.requests[kind] = self.requests.get(kind, 0) + 1
        if isinstance(message, Hello):
            self._hello(connection, message)
        elif isinstance(message, Subscribe):
            self._subscribe(connection, message)
        elif isinstance(message, BookRequest):
            snapshot = self.service.snapshot(message.symbol, message.depth, self.clock.wall_ns())
            if snapshot is None:
                connection.queue(protocol.encode_error("UNKNOWN_SYMBOL", message.symbol))
            else:
                connection.queue(protocol.encode_market_data(snapshot))
        elif isinstance(message, Ping):
            connection.queue(protocol.PONG_LINE)
        else:
            self._venue_request(connection, message)

    def _venue_request(self, connection: _Connection, request: VenueRequest) -> None:
        now_ns = self.clock.wall_ns()
        session = connection.session
        if (
            isinstance(request, VenueNewOrder)
            and self.service.engine.order(request.order_id) is None
        ):
            self.owners[request.order_id] = session
        reports = self.service.handle(request, now_ns)
        self.route(reports, session)
        self.broadcast(self.service.take_market_data(now_ns))

    def _protocol_error(self, connection: _Connection, error: ProtocolError) -> None:
        code = "INVALID_REQUEST"
        self.protocol_errors[code] = self.protocol_errors.get(code, 0) + 1
        connection.errors += 1
        if error.kind == "NEW" and error.order_id is not None:
            # Refused before it reached the engine: nothing recorded, a corrected resend works.
            report = ExecReport(
                ReportKind.REJECTED, error.order_id, 0, "", Side.BUY, 0, 0,
                reason=Reason.VENUE_REJECTED, ts_ns=self.clock.wall_ns(),
            )  # fmt: skip
            connection.queue(protocol.encode_report(report, message=str(error)))
        else:
            connection.queue(protocol.encode_error(code, str(error), error.order_id))
        if connection.errors >= VENUE_TCP_ERRORS_MAX:
            connection.queue(protocol.encode_error("TOO_MANY_ERRORS", "closing the connection"))
            connection.close()

    def _hello(self, connection: _Connection, hello: Hello) -> None:
        name = hello.session
        session = self.sessions.get(name)
        resumed = session is not None
        if session is None:
            session = self.sessions[name] = _Session(name, named=True)
        previous = session.connection
        if previous is not None and previous is not connection:
            previous.session = self._anonymous(previous)  # the newer connection takes over
            previous.close()
        old = connection.session
        if old is not session and not old.named:
            for order_id in [oid for oid, owner in self.owners.items() if owner is old]:
                self.owners[order_id] = session
            old.connection = None
        connection.session = session
        session.connection = connection
        backlog = len(session.backlog)
        connection.queue(
            protocol.encode_hello(
                HelloReply(name, tuple(self.service.symbols()), resumed, backlog, session.dropped)
            )
        )
        while session.backlog:
            connection.queue(session.backlog.popleft())

    def _subscribe(self, connection: _Connection, subscribe: Subscribe) -> None:
        symbols = self.service.symbols() if subscribe.symbols is None else subscribe.symbols
        now_ns = self.clock.wall_ns()
        self.broadcast(self.service.take_market_data(now_ns))  # before the snapshots' seq
        for symbol in symbols:
            snapshot = self.service.snapshot(symbol, subscribe.depth, now_ns)
            if snapshot is None:
                connection.queue(protocol.encode_error("UNKNOWN_SYMBOL", symbol))
                continue
            connection.queue(protocol.encode_market_data(snapshot))
            connection.subscriptions.add(symbol)

    def _anonymous(self, connection: _Connection) -> _Session:
        self._anonymous_count += 1
        session = _Session(f"anonymous-{self._anonymous_count}", named=False)
        session.connection = connection
        return session

    # --- output -------------------------------------------------------------------------

    def route(self, reports: Iterable[ExecReport], requester: _Session | None) -> None:
        """Send each report to its order's session (request-reply kinds: to the asker)."""
        owners = self.owners
        for report in reports:
            kind = report.kind
            self.reports[kind.name] = self.reports.get(kind.name, 0) + 1
            owner = owners.get(report.order_id)
            target = requester if kind in REPLY_KINDS or owner is None else owner
            if kind in FINAL_KINDS and report.leaves_qty == 0 and owner is not None:
                del owners[report.order_id]
            if target is None:
                self.reports_undeliverable += 1
                continue
            self._deliver(target, protocol.encode_report(report))

    def _deliver(self, session: _Session, line: bytes) -> None:
        connection = session.connection
        if connection is not None:
            connection.queue(line)
        elif session.named and len(session.backlog) < self.backlog_max:
            session.backlog.append(line)
        else:
            session.dropped += 1
            self.reports_undeliverable += 1

    def broadcast(self, market_data: list[MarketData]) -> None:
        """Fan market data out to the connections subscribed to each symbol."""
        if not market_data:
            return
        for data in market_data:
            line = protocol.encode_market_data(data)
            for connection in self.connections:
                if data.symbol in connection.subscriptions:
                    connection.queue(line)
                    self.market_data_lines += 1

    def flush(self) -> None:
        """One write per connection with queued output; cut off readers that fell behind."""
        pending = self._to_flush
        self._to_flush = set()
        for connection in pending:
            connection.flush()

    def mark_dirty(self, connection: _Connection) -> None:
        self._to_flush.add(connection)

    def _on_tick(self) -> None:
        now_ns = self.clock.wall_ns()
        try:
            self.route(self.service.tick(now_ns), None)
            self.broadcast(self.service.take_market_data(now_ns))
            self.flush()
        except AssertionError as error:  # a broken invariant ends the venue (STYLE 2.5)
            self.die(error)
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.tick_s, self._on_tick)

    def die(self, error: BaseException) -> None:
        log.critical("venue invariant broken, stopping: %r", error)
        self.fatal = error
        task = asyncio.get_running_loop().create_task(self.stop(0.5))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Connection(asyncio.Protocol):
    """One client connection: line framing in, batched writes out."""

    def __init__(self, server: VenueServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.out: list[bytes] = []
        self.subscriptions: set[str] = set()
        self.errors = 0
        self.closing = False
        self.session = server._anonymous(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        server = self.server
        server.connections_total += 1
        if len(server.connections) >= server.connections_max:
            self.transport.write(protocol.encode_error("TOO_MANY_CONNECTIONS", "try again later"))
            self.transport.close()
            self.closing = True
            return
        server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        server = self.server
        server.connections.discard(self)
        server._to_flush.discard(self)
        if self.session.connection is self:
            self.session.connection = None
        self.closing = True

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        server = self.server
        buffer = self.buffer
        buffer += data
        start = 0
        try:
            while not self.closing:
                end = buffer.find(b"\n", start)
                if end < 0:
                    break
                if end - start > server.line_max_bytes:
                    self._too_long()
                    return
                line = bytes(buffer[start:end]).strip()
                start = end + 1
                if line:
                    server.on_line(self, line)
            del buffer[:start]
            if len(buffer) > server.line_max_bytes:
                self._too_long()
        except AssertionError as error:
            server.die(error)
        finally:
            server.flush()

    def _too_long(self) -> None:
        server = self.server
        server.protocol_errors["LINE_TOO_LONG"] = server.protocol_errors.get("LINE_TOO_LONG", 0) + 1
        limit = server.line_max_bytes
        self.queue(protocol.encode_error("LINE_TOO_LONG", f"lines are at most {limit} bytes"))
        self.buffer.clear()
        self.close()

    def queue(self, line: bytes) -> None:
        if self.closing:
            return
        self.out.append(line)
        self.server.mark_dirty(self)

    def flush(self) -> None:
        transport = self.transport
        if not self.out or transport is None or transport.is_closing():
            self.out.clear()
            return
        transport.write(b"".join(self.out))
        self.out.clear()
        if transport.get_write_buffer_size() > self.server.write_buffer_max_bytes:
            self.server.slow_readers_cut += 1
            log.warning(
                "venue cut off slow reader session=%s buffered_bytes=%d limit=%d",
                self.session.name,
                transport.get_write_buffer_size(),
                self.server.write_buffer_max_bytes,
            )
            self.closing = True
            transport.abort()

    def close(self) -> None:
        """Flush what is queued, then close."""
        if self.transport is None:
            return
        self.flush()
        self.closing = True
        self.transport.close()
