"""Ports: the interfaces the core and runtime use to reach the outside world.

Protocols only. Real implementations live in adapters/, fakes in testing/; one contract test
suite per port runs against both (STYLE 2.8).
"""

from collections.abc import Callable
from typing import Protocol

from .messages import BookSnapshot, ExecReport, MarketData, VenueRequest


class Clock(Protocol):
    def wall_ns(self) -> int:
        """Epoch nanoseconds (for records and timestamps clients see)."""
        ...

    def mono_ns(self) -> int:
        """Monotonic nanoseconds (for latency, timers and rates)."""
        ...


class VenueTransport(Protocol):
    """How the gateway runtime talks to a venue. All calls happen on the event loop."""

    def set_handlers(
        self,
        on_report: Callable[[ExecReport], None],
        on_market_data: Callable[[MarketData], None],
        on_connection: Callable[[bool], None],
    ) -> None:
        """Register callbacks; reports and market data arrive on the loop, in venue order."""
        ...

    def send(self, request: VenueRequest) -> bool:
        """Queue a request. False means refused now (venue down or queue full): fail fast."""
        ...

    def is_up(self) -> bool: ...

    def queue_depth(self) -> int:
        """Requests accepted by `send` and not yet written to the venue."""
        ...

    def book(self, symbol: str, depth: int) -> BookSnapshot | None:
        """The latest L2 snapshot known for a symbol, or None if the symbol is unknown."""
        ...

    def symbols(self) -> list[str]: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
