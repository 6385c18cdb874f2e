"""The venue: the matching engine of every symbol plus its simulated liquidity.

Owns the `MatchingEngine`, one `MarketMaker` per symbol (when liquidity is on) and the line
between client orders and the makers' own: clients never see reports of maker orders, and
may not use order ids starting with "~" (the makers' namespace). Synchronous and clock-free:
transports (transport_sim.py, server.py) call `handle()` per request and `tick()` from
their timer, passing the time in; they own the event loop.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from switchyard.book import MatchingEngine, SymbolSpec
from switchyard.core.codes import Reason
from switchyard.core.enums import ReportKind, SelfTradePolicy, Side
from switchyard.core.limits import VENUE_BOOK_DEPTH_MAX, VENUE_FINAL_ORDERS_RETAINED_MAX
from switchyard.core.messages import (
    BookSnapshot,
    ExecReport,
    MarketData,
    VenueCancel,
    VenueNewOrder,
    VenueReference,
    VenueReplace,
    VenueRequest,
    VenueStatusQuery,
)

from .market_maker import MM_PREFIX, MarketMaker
from .settings import LiquidityConfig, VenueSettings

_RESERVED = MM_PREFIX[0]


class VenueService:
    """Engine + market makers behind one synchronous API; every call returns client reports."""

    __slots__ = ("engine", "makers", "reports_hidden", "requests_handled", "ticks")

    def __init__(
        self,
        specs: Iterable[SymbolSpec],
        *,
        liquidity: bool = False,
        liquidity_config: LiquidityConfig | None = None,
        seed: int = 0,
        stp_policy: SelfTradePolicy = SelfTradePolicy.CANCEL_RESTING,
        final_retained_max: int = VENUE_FINAL_ORDERS_RETAINED_MAX,
    ) -> None:
        specs = tuple(specs)
        self.engine = MatchingEngine(
            specs, stp_policy=stp_policy, final_retained_max=final_retained_max
        )
        self.makers: dict[str, MarketMaker] = {}
        if liquidity:
            config = liquidity_config or LiquidityConfig()
            for index, spec in enumerate(specs):
                # One PRNG per symbol, derived from the seed: symbols do not perturb each other.
                rng = random.Random(seed * 1_000_003 + index)
                self.makers[spec.symbol] = MarketMaker(spec, config, rng)
        self.requests_handled = 0
        self.reports_hidden = 0  # reports of maker orders, not sent to anyone
        self.ticks = 0

    @classmethod
    def from_settings(cls, settings: VenueSettings) -> VenueService:
        return cls(
            settings.specs,
            liquidity=settings.liquidity,
            liquidity_config=settings.liquidity_config,
            seed=settings.seed,
            stp_policy=settings.stp_policy,
            final_retained_max=settings.final_retained_max,
        )

    def symbols(self) -> list[str]:
        return list(self.engine.books)

    def handle(self, request: VenueRequest, now_ns: int) -> list[ExecReport]:
        """Apply one client request; the client reports it caused (maker reports hidden)."""
        self.requests_handled += 1
        if isinstance(request, VenueReference):
            maker = self.makers.get(request.symbol)
            if maker is not None and request.price > 0:
                maker.follow(request.price)
                return self._visible(self._quote(request.symbol, maker, now_ns))
            return self.engine.handle(request, now_ns)
        if request.order_id.startswith(_RESERVED):
            return [self._reserved_refusal(request, now_ns)]
        return self._visible(self.engine.handle(request, now_ns))

    def tick(self, now_ns: int) -> list[ExecReport]:
        """Timer: expire due GTD orders, walk every reference price and requote."""
        self.ticks += 1
        reports = self.engine.expire(now_ns)
        for symbol, maker in self.makers.items():
            maker.walk()
            reports.extend(self._quote(symbol, maker, now_ns))
        return self._visible(reports)

    def take_market_data(self, now_ns: int) -> list[MarketData]:
        """Deltas and trades since the last call (one delta per changed symbol)."""
        return self.engine.take_market_data(now_ns)

    def snapshot(self, symbol: str, depth: int, now_ns: int = 0) -> BookSnapshot | None:
        return self.engine.snapshot(symbol, min(depth, VENUE_BOOK_DEPTH_MAX), now_ns)

    def _quote(self, symbol: str, maker: MarketMaker, now_ns: int) -> list[ExecReport]:
        engine = self.engine
        engine.reference(VenueReference(symbol, maker.reference_price), now_ns)
        reports: list[ExecReport] = []
        for request in maker.requests(engine.order):
            reports.extend(engine.handle(request, now_ns))
        return reports

    def _reserved_refusal(
        self, request: VenueNewOrder | VenueCancel | VenueReplace | VenueStatusQuery, now_ns: int
    ) -> ExecReport:
        """A client used the makers' id namespace: refused, nothing changes."""
        seq = next(self.engine.registry.seq)
        if isinstance(request, VenueNewOrder):
            return ExecReport(
                ReportKind.REJECTED, request.order_id, seq, request.symbol, request.side,
                request.qty, request.price, reason=Reason.VENUE_REJECTED, ts_ns=now_ns,
            )  # fmt: skip
        kind = ReportKind.STATUS
        if isinstance(request, VenueCancel):
            kind = ReportKind.CANCEL_REJECTED
        elif isinstance(request, VenueReplace):
            kind = ReportKind.REPLACE_REJECTED
        return ExecReport(
            kind, request.order_id, seq, request.symbol, Side.BUY, 0, 0,
            reason=Reason.UNKNOWN_ORDER, ts_ns=now_ns,
        )  # fmt: skip

    def _visible(self, reports: list[ExecReport]) -> list[ExecReport]:
        visible = [report for report in reports if not report.order_id.startswith(_RESERVED)]
        self.reports_hidden += len(reports) - len(visible)
        return visible
