"""`SimVenueTransport`: the in-process venue behind `core.ports.VenueTransport`.

Owns the hand-off between the gateway's event loop and a `VenueService`: a bounded FIFO of
accepted requests, drained by a loop callback (optionally `EXCHANGE_SIM_DELAY_MS` after each
request was sent), and the timer that runs the market makers and GTD expiry. `send()` never
calls a handler: every report and every piece of market data is delivered from a later loop
callback, in venue order. All calls happen on the loop thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from switchyard.core.limits import VENUE_OUTBOUND_QUEUE_MAX
from switchyard.core.messages import BookSnapshot, ExecReport, MarketData, VenueRequest
from switchyard.core.ports import Clock

from .service import VenueService

log = logging.getLogger(__name__)

SNAPSHOT_DEPTH_ON_START = 20  # levels a side in the snapshots delivered at start()


def _ignore_report(report: ExecReport) -> None:
    return None


def _ignore_market_data(data: MarketData) -> None:
    return None


def _ignore_connection(up: bool) -> None:
    return None


class SimVenueTransport:
    """In-process venue. Reports arrive on the loop after `send()` returns, never inside it."""

    def __init__(
        self,
        service: VenueService,
        *,
        clock: Clock,
        delay_ms: float = 0.0,
        tick_ms: int = 200,
        queue_max: int = VENUE_OUTBOUND_QUEUE_MAX,
    ) -> None:
        assert delay_ms >= 0, delay_ms
        assert tick_ms > 0, tick_ms
        assert queue_max > 0, queue_max
        # config
        self.service = service
        self._clock = clock
        self._delay_s = delay_ms / 1_000
        self._tick_s = tick_ms / 1_000
        self._queue_max = queue_max
        # state
        self._on_report: Callable[[ExecReport], None] = _ignore_report
        self._on_market_data: Callable[[MarketData], None] = _ignore_market_data
        self._on_connection: Callable[[bool], None] = _ignore_connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: deque[tuple[float, VenueRequest]] = deque()  # (due loop time, request)
        self._drain_handle: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._up = False
        # counters (read by metrics at scrape time)
        self.requests_sent = 0
        self.requests_refused = 0
        self.reports_delivered = 0

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
        """Quote the books (liquidity on), go up, start the timer; handlers fire later."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        now_ns = self._clock.wall_ns()
        initial = self.service.tick(now_ns)
        self.service.take_market_data(now_ns)  # the snapshots below already include it
        self._up = True
        snapshots: list[MarketData] = []
        for symbol in self.service.symbols():
            snapshot = self.service.snapshot(symbol, SNAPSHOT_DEPTH_ON_START, now_ns)
            assert snapshot is not None
            snapshots.append(snapshot)
        loop.call_soon(self._started, initial, snapshots)
        self._timer = loop.call_later(self._tick_s, self._on_tick)

    async def close(self) -> None:
        """Stop the timer and refuse further requests; queued ones are dropped (counted)."""
        was_up = self._up
        self._up = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        if self._pending:
            log.warning("venue=sim dropped_on_close=%d", len(self._pending))
            self._pending.clear()
        if was_up:
            self._on_connection(False)

    def send(self, request: VenueRequest) -> bool:
        """Queue a request; False at once when closed or the queue is full."""
        loop = self._loop
        if not self._up or loop is None or len(self._pending) >= self._queue_max:
            self.requests_refused += 1
            return False
        due = loop.time() + self._delay_s
        self._pending.append((due, request))
        self.requests_sent += 1
        if self._drain_handle is None:
            if self._delay_s:
                self._drain_handle = loop.call_at(due, self._drain)
            else:
                self._drain_handle = loop.call_soon(self._drain)
        return True

    def is_up(self) -> bool:
        return self._up

    def queue_depth(self) -> int:
        return len(self._pending)

    def book(self, symbol: str, depth: int) -> BookSnapshot | None:
        return self.service.snapshot(symbol, depth, self._clock.wall_ns())

    def symbols(self) -> list[str]:
        return self.service.symbols()

    # --- loop callbacks ---------------------------------------------------------------

    def _started(self, reports: list[ExecReport], snapshots: list[MarketData]) -> None:
        if not self._up:
            return
        self._on_connection(True)
        self._deliver(reports, snapshots)

    def _drain(self) -> None:
        """Handle every request that is due, in order, then deliver what they caused."""
        self._drain_handle = None
        loop = self._loop
        if loop is None or not self._up:
            return
        pending = self._pending
        now = loop.time()
        now_ns = self._clock.wall_ns()
        handle = self.service.handle
        reports: list[ExecReport] = []
        while pending and pending[0][0] <= now:
            reports.extend(handle(pending.popleft()[1], now_ns))
        self._deliver(reports, self.service.take_market_data(now_ns))
        if pending and self._drain_handle is None and self._up:
            self._drain_handle = loop.call_at(pending[0][0], self._drain)

    def _on_tick(self) -> None:
        loop = self._loop
        if loop is None or not self._up:
            return
        now_ns = self._clock.wall_ns()
        reports = self.service.tick(now_ns)
        self._deliver(reports, self.service.take_market_data(now_ns))
        self._timer = loop.call_later(self._tick_s, self._on_tick)

    def _deliver(self, reports: list[ExecReport], market_data: list[MarketData]) -> None:
        on_report = self._on_report
        for report in reports:
            on_report(report)
        self.reports_delivered += len(reports)
        on_market_data = self._on_market_data
        for data in market_data:
            on_market_data(data)
