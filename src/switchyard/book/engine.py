"""The venue's matching engine: one `OrderBook` per symbol behind one request entry point.

Owns what spans symbols: routing a request to its book, the order registry (dedupe of a
resent NEW by order id, STATUS answers, the bounded memory of final orders), the venue seq
shared by every report, GTD expiry (driven by the `now_ns` each call passes in, and by
`expire()`), and the market-data output list. Pure: no I/O, clock or randomness.
"""

from collections.abc import Callable, Iterable
from heapq import heappop

from switchyard.core.codes import Reason
from switchyard.core.enums import OrderStatus, ReportKind, SelfTradePolicy, Side
from switchyard.core.limits import (
    VENUE_BOOK_DEPTH_MAX,
    VENUE_FINAL_ORDERS_RETAINED_MAX,
    VENUE_ORDERS_OPEN_MAX,
)
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

from .order_book import LIVE_STATUSES, BookOrder, OrderBook, OrderRegistry
from .spec import SymbolSpec

# Commands between two market-data publications when the owner does not drain (bounds the
# changed-level lists a book keeps).
MARKET_DATA_CONFLATION_MAX = 4_096
_USER_REQUESTED = Reason.USER_REQUESTED  # enum member lookups cost ~90 ns on 3.11


class MatchingEngine:
    """All books of one venue. Every call returns the reports it caused, in venue-seq order."""

    __slots__ = (
        "_commands_since_take",
        "_final",
        "_gtd",
        "_handlers",
        "_live",
        "books",
        "registry",
        "specs",
    )

    def __init__(
        self,
        specs: Iterable[SymbolSpec],
        *,
        stp_policy: SelfTradePolicy = SelfTradePolicy.CANCEL_RESTING,
        market_data: bool = True,
        open_orders_max: int = VENUE_ORDERS_OPEN_MAX,
        final_retained_max: int = VENUE_FINAL_ORDERS_RETAINED_MAX,
    ) -> None:
        self.registry = OrderRegistry(
            market_data_enabled=market_data,
            open_max=open_orders_max,
            final_max=final_retained_max,
        )
        self.specs = {spec.symbol: spec for spec in specs}
        assert self.specs, "a venue needs at least one symbol"
        self.books = {
            symbol: OrderBook(spec, self.registry, stp_policy)
            for symbol, spec in self.specs.items()
        }
        self._commands_since_take = 0
        # The registry's containers, bound once (they are never replaced): one attribute
        # load instead of two on every command.
        self._live = self.registry.live
        self._final = self.registry.final
        self._gtd = self.registry.gtd
        self._handlers: dict[type, Callable[[object, int], list[ExecReport]]] = {
            VenueNewOrder: self.new_order,  # type: ignore[dict-item]
            VenueCancel: self.cancel,  # type: ignore[dict-item]
            VenueReplace: self.replace,  # type: ignore[dict-item]
            VenueStatusQuery: self.status,  # type: ignore[dict-item]
            VenueReference: self.reference,  # type: ignore[dict-item]
        }

    def handle(self, request: VenueRequest, now_ns: int) -> list[ExecReport]:
        """Apply any venue request; the reports it caused, in order."""
        return self._handlers[request.__class__](request, now_ns)

    def new_order(self, msg: VenueNewOrder, now_ns: int) -> list[ExecReport]:
        """A new order; a resend of a known order id answers its STATUS, never a second order."""
        out: list[ExecReport] = []
        gtd = self._gtd
        if gtd and gtd[0][0] <= now_ns:
            self._expire_due(now_ns, out)
        order_id = msg.order_id
        if order_id in self._live or order_id in self._final:
            known = self.order(order_id)
            assert known is not None, order_id
            out.append(self._status_report(known, Reason.DUPLICATE_ORDER_ID, now_ns))
            return out
        book = self.books.get(msg.symbol)
        if book is None:
            self._reject_unknown_symbol(msg, now_ns, out)
            return out
        book.new_order(msg, now_ns, out)
        self._commands_since_take += 1
        if self._commands_since_take > MARKET_DATA_CONFLATION_MAX:
            self.take_market_data(now_ns, keep=True)
        return out

    def cancel(self, msg: VenueCancel, now_ns: int) -> list[ExecReport]:
        """Cancel a resting order (found by id; the symbol is only a hint)."""
        out: list[ExecReport] = []
        gtd = self._gtd
        if gtd and gtd[0][0] <= now_ns:
            self._expire_due(now_ns, out)
        order = self._live.get(msg.order_id)
        if order is None:
            out.append(self._refusal(msg.order_id, msg.symbol, ReportKind.CANCEL_REJECTED, now_ns))
            return out
        self.books[order.symbol].cancel(order, _USER_REQUESTED, now_ns, out)
        self._commands_since_take += 1
        if self._commands_since_take > MARKET_DATA_CONFLATION_MAX:
            self.take_market_data(now_ns, keep=True)
        return out

    def replace(self, msg: VenueReplace, now_ns: int) -> list[ExecReport]:
        """Cancel/replace a resting order: new total qty and/or price."""
        out: list[ExecReport] = []
        gtd = self._gtd
        if gtd and gtd[0][0] <= now_ns:
            self._expire_due(now_ns, out)
        order = self._live.get(msg.order_id)
        if order is None:
            kind = ReportKind.REPLACE_REJECTED
            out.append(self._refusal(msg.order_id, msg.symbol, kind, now_ns))
            return out
        self.books[order.symbol].replace(order, msg, now_ns, out)
        self._commands_since_take += 1
        if self._commands_since_take > MARKET_DATA_CONFLATION_MAX:
            self.take_market_data(now_ns, keep=True)
        return out

    def status(self, msg: VenueStatusQuery, now_ns: int) -> list[ExecReport]:
        """The venue's view of an order: a STATUS report (UNKNOWN_ORDER if never seen/forgotten)."""
        out: list[ExecReport] = []
        reg = self.registry
        if reg.gtd and reg.gtd[0][0] <= now_ns:
            self._expire_due(now_ns, out)
        order = reg.live.get(msg.order_id) or reg.final.get(msg.order_id)
        if order is None:
            out.append(self._refusal(msg.order_id, msg.symbol, ReportKind.STATUS, now_ns))
        else:
            out.append(self._status_report(order, Reason.NONE, now_ns))
        return out

    def reference(self, msg: VenueReference, now_ns: int) -> list[ExecReport]:
        """Move a symbol's price-band centre; unknown symbols and bad prices are ignored."""
        book = self.books.get(msg.symbol)
        if book is not None and msg.price > 0:
            book.set_reference(msg.price)
        return []

    def expire(self, now_ns: int) -> list[ExecReport]:
        """Expire every resting GTD order due at `now_ns` (the owner's timer calls this)."""
        out: list[ExecReport] = []
        reg = self.registry
        if reg.gtd and reg.gtd[0][0] <= now_ns:
            self._expire_due(now_ns, out)
        return out

    def take_market_data(self, now_ns: int, *, keep: bool = False) -> list[MarketData]:
        """Publish and return the market data since the last call: per changed book one
        BookDelta (seq + 1, the levels changed since the last delta), then its trades.

        Deltas are conflated per call: the owner calls this after each command for one delta
        per command, or once per batch. `keep=True` publishes without draining.
        """
        self._commands_since_take = 0
        for book in self.books.values():
            if book.has_changes():
                book.publish(now_ns)
        reg = self.registry
        data = reg.market_data
        if not keep:
            reg.market_data = []
        return data

    def snapshot(self, symbol: str, depth: int, now_ns: int = 0) -> BookSnapshot | None:
        """L2 snapshot of a symbol, or None if the symbol is unknown."""
        book = self.books.get(symbol)
        if book is None:
            return None
        if book.has_changes():
            book.publish(now_ns)  # the snapshot's seq covers every change it shows
        return book.snapshot(max(0, min(depth, VENUE_BOOK_DEPTH_MAX)), now_ns)

    def order(self, order_id: str) -> BookOrder | None:
        """The live or remembered final order with this id (read-only use)."""
        reg = self.registry
        return reg.live.get(order_id) or reg.final.get(order_id)

    def check_invariants(self) -> None:
        """Assert every book and the registry are consistent (tests run it after each step)."""
        reg = self.registry
        for book in self.books.values():
            book.check_invariants()
        resting = sum(
            len(level.orders)
            for book in self.books.values()
            for levels in (book.bid_levels, book.ask_levels)
            for level in levels.values()
        )
        assert resting == len(reg.live), (resting, len(reg.live))
        assert len(reg.final) == len(reg.final_ids) <= reg.final_max
        for order_id, order in reg.final.items():
            assert order_id not in reg.live, order
            assert order.leaves == 0, order
            assert order.status not in LIVE_STATUSES, order
        for order in reg.live.values():
            assert order.status in LIVE_STATUSES, order
            assert order.order_id not in reg.final, order

    # --- helpers --------------------------------------------------------------------

    def _expire_due(self, now_ns: int, out: list[ExecReport]) -> None:
        reg = self.registry
        heap = reg.gtd
        live = reg.live
        while heap and heap[0][0] <= now_ns:
            _, serial, order = heappop(heap)
            if order.serial == serial and live.get(order.order_id) is order:  # else stale
                book = self.books[order.symbol]
                book.expire_resting(order, now_ns, out)
        if len(heap) > 2 * len(live) + 1024:  # drop dead entries of canceled GTD orders
            heap[:] = [e for e in heap if e[1] == e[2].serial and e[2].order_id in live]
            heap.sort()

    def _status_report(self, order: BookOrder, reason: Reason, now_ns: int) -> ExecReport:
        return ExecReport(
            ReportKind.STATUS,
            order.order_id,
            next(self.registry.seq),
            order.symbol,
            order.side,
            order.qty,
            order.price,
            cum_qty=order.cum,
            leaves_qty=order.leaves,
            reason=reason if reason else order.reason,
            ts_ns=now_ns,
            order_status=order.status,
        )

    def _refusal(self, order_id: str, symbol: str, kind: ReportKind, now_ns: int) -> ExecReport:
        """CANCEL_REJECTED / REPLACE_REJECTED / STATUS for an order that is not live."""
        final = self.registry.final.get(order_id)
        if final is None:
            return ExecReport(
                kind,
                order_id,
                next(self.registry.seq),
                symbol,
                Side.BUY,  # unknown: side, qty and price mean nothing here
                0,
                0,
                reason=Reason.UNKNOWN_ORDER,
                ts_ns=now_ns,
            )
        if kind == ReportKind.STATUS:
            return self._status_report(final, Reason.NONE, now_ns)
        return ExecReport(
            kind,
            order_id,
            next(self.registry.seq),
            final.symbol,
            final.side,
            final.qty,
            final.price,
            cum_qty=final.cum,
            reason=Reason.ORDER_FINAL,
            ts_ns=now_ns,
        )

    def _reject_unknown_symbol(
        self, msg: VenueNewOrder, now_ns: int, out: list[ExecReport]
    ) -> None:
        reg = self.registry
        order = BookOrder(
            msg.order_id,
            msg.account_id,
            msg.symbol,
            msg.side,
            msg.order_type,
            msg.time_in_force,
            msg.price,
            msg.qty,
            0,
            msg.expire_at_ns,
            msg.post_only,
            next(reg.serial),
        )
        order.status = OrderStatus.REJECTED
        order.reason = Reason.UNKNOWN_SYMBOL
        reg.finish(order)
        out.append(
            ExecReport(
                ReportKind.REJECTED,
                order.order_id,
                next(reg.seq),
                order.symbol,
                order.side,
                order.qty,
                order.price,
                reason=Reason.UNKNOWN_SYMBOL,
                ts_ns=now_ns,
            )
        )
