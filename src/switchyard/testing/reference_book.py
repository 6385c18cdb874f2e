"""An obviously-correct venue, for property tests of `switchyard.book` (never used in src/).

Owns nothing but a flat list of resting orders, scanned in full for every decision: the best
counter-order is `min()` over every resting order by (price priority, priority stamp); a
fill-or-kill order is tried on a deep copy of the whole venue and kept only if it filled.
Slow on purpose. It follows the rules written in docs/VENUE.md and book/order_book.py
(report order, validation order, self-trade policies, GTD expiry before each command) and
must produce exactly the same `ExecReport`s, trades and L2 book as the engine.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from switchyard.book.spec import BPS_DENOMINATOR, SymbolSpec
from switchyard.core.codes import Reason
from switchyard.core.enums import (
    LiquiditySide,
    OrderStatus,
    OrderType,
    ReportKind,
    SelfTradePolicy,
    Side,
    TimeInForce,
)
from switchyard.core.limits import ORDER_PRICE_MAX, ORDER_QTY_MAX
from switchyard.core.messages import (
    ExecReport,
    VenueCancel,
    VenueNewOrder,
    VenueReference,
    VenueReplace,
    VenueRequest,
    VenueStatusQuery,
)

LIVE = (OrderStatus.SENT, OrderStatus.PARTIALLY_FILLED)


@dataclass
class RefOrder:
    order_id: str
    account_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    expire_at_ns: int
    post_only: bool
    stamp: int  # priority: smaller trades first at equal price
    cum: int = 0
    status: OrderStatus = OrderStatus.SENT
    reason: Reason = Reason.NONE

    @property
    def leaves(self) -> int:
        return self.qty - self.cum if self.status in LIVE else 0


@dataclass(frozen=True)
class RefTrade:
    symbol: str
    price: int
    qty: int
    aggressor: Side


class ReferenceVenue:
    """Every symbol of a venue in one list; same requests in, same reports out as the engine."""

    def __init__(
        self,
        specs: list[SymbolSpec],
        stp_policy: SelfTradePolicy = SelfTradePolicy.CANCEL_RESTING,
        open_max: int = 10**9,
    ) -> None:
        self.specs = {spec.symbol: spec for spec in specs}
        self.reference = {spec.symbol: spec.reference_price for spec in specs}
        self.stp_policy = stp_policy
        self.open_max = open_max
        self.resting: list[RefOrder] = []
        self.orders: dict[str, RefOrder] = {}
        self.seq = 0
        self.stamp = 0
        self.trade_numbers = {spec.symbol: 0 for spec in specs}
        self.trades: list[RefTrade] = []

    # --- requests ------------------------------------------------------------------

    def handle(self, request: VenueRequest, now_ns: int) -> list[ExecReport]:
        out: list[ExecReport] = []
        if isinstance(request, VenueReference):
            if request.symbol in self.reference and request.price > 0:
                self.reference[request.symbol] = request.price
            return out
        self._expire_due(now_ns, out)
        if isinstance(request, VenueNewOrder):
            self._new(request, now_ns, out)
        elif isinstance(request, VenueCancel):
            self._cancel(request, now_ns, out)
        elif isinstance(request, VenueReplace):
            self._replace(request, now_ns, out)
        elif isinstance(request, VenueStatusQuery):
            self._status(request, now_ns, out)
        return out

    def book(self, symbol: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """L2 (price, total qty), best first: (bids, asks)."""
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for order in self.resting:
            if order.symbol == symbol:
                side = bids if order.side == Side.BUY else asks
                side[order.price] = side.get(order.price, 0) + order.leaves
        return (
            sorted(bids.items(), key=lambda item: -item[0]),
            sorted(asks.items(), key=lambda item: item[0]),
        )

    def _new(self, msg: VenueNewOrder, now_ns: int, out: list[ExecReport]) -> None:
        known = self.orders.get(msg.order_id)
        if known is not None:
            out.append(self._status_report(known, Reason.DUPLICATE_ORDER_ID, now_ns))
            return
        self.stamp += 1
        market = msg.order_type == OrderType.MARKET
        order = RefOrder(
            msg.order_id, msg.account_id, msg.symbol, msg.side, msg.order_type,
            msg.time_in_force, 0 if market else msg.price, msg.qty, msg.expire_at_ns,
            msg.post_only, self.stamp,
        )  # fmt: skip
        self.orders[order.order_id] = order
        reason = self._refusal_reason(order, now_ns)
        if reason != Reason.NONE:
            order.price = msg.price
            order.status = OrderStatus.REJECTED
            order.reason = reason
            out.append(self._report(order, ReportKind.REJECTED, reason, now_ns))
            return
        out.append(self._report(order, ReportKind.ACK, Reason.NONE, now_ns))
        if order.tif == TimeInForce.FOK and not self._fok_would_fill(order, now_ns):
            self._finish(order, OrderStatus.EXPIRED, Reason.FOK_NOT_FILLABLE, now_ns, out)
            return
        self._match(order, now_ns, out)
        self._after_match(order, now_ns, out)

    def _refusal_reason(self, order: RefOrder, now_ns: int) -> Reason:
        spec = self.specs.get(order.symbol)
        if spec is None:
            return Reason.UNKNOWN_SYMBOL
        if not 0 < order.qty <= ORDER_QTY_MAX or order.qty % spec.lot_size != 0:
            return Reason.INVALID_LOT
        if order.order_type == OrderType.LIMIT:
            reason = self._price_reason(order.symbol, order.price)
            if reason != Reason.NONE:
                return reason
        if order.tif == TimeInForce.GTD and order.expire_at_ns <= now_ns:
            return Reason.EXPIRE_AT_IN_PAST
        if order.post_only and (
            order.order_type == OrderType.MARKET or self._best_counter(order) is not None
        ):
            return Reason.POST_ONLY_WOULD_TAKE
        if len(self.resting) >= self.open_max:
            return Reason.VENUE_REJECTED
        return Reason.NONE

    def _price_reason(self, symbol: str, price: int) -> Reason:
        spec = self.specs[symbol]
        if not 0 < price <= ORDER_PRICE_MAX or price % spec.tick_size != 0:
            return Reason.INVALID_TICK
        reference = self.reference[symbol]
        if spec.band_bps and abs(price - reference) * BPS_DENOMINATOR > spec.band_bps * reference:
            return Reason.OUTSIDE_PRICE_BAND
        return Reason.NONE

    def _cancel(self, msg: VenueCancel, now_ns: int, out: list[ExecReport]) -> None:
        order = self.orders.get(msg.order_id)
        if order is None or order.status not in LIVE:
            out.append(
                self._not_live(msg.order_id, msg.symbol, order, ReportKind.CANCEL_REJECTED, now_ns)
            )
            return
        self.resting.remove(order)
        self._finish(order, OrderStatus.CANCELED, Reason.USER_REQUESTED, now_ns, out)

    def _replace(self, msg: VenueReplace, now_ns: int, out: list[ExecReport]) -> None:
        order = self.orders.get(msg.order_id)
        if order is None or order.status not in LIVE:
            kind = ReportKind.REPLACE_REJECTED
            out.append(self._not_live(msg.order_id, msg.symbol, order, kind, now_ns))
            return
        spec = self.specs[order.symbol]
        reason = Reason.NONE
        if not 0 < msg.qty <= ORDER_QTY_MAX or msg.qty % spec.lot_size != 0:
            reason = Reason.INVALID_LOT
        else:
            reason = self._price_reason(order.symbol, msg.price)
        if reason == Reason.NONE and msg.qty <= order.cum:
            reason = Reason.INVALID_REPLACE
        if reason == Reason.NONE and order.post_only:
            probe = copy.copy(order)
            probe.price = msg.price
            if self._best_counter(probe) is not None:
                reason = Reason.POST_ONLY_WOULD_TAKE
        if reason != Reason.NONE:
            out.append(self._report(order, ReportKind.REPLACE_REJECTED, reason, now_ns))
            return
        keeps_priority = msg.price == order.price and msg.qty <= order.qty
        order.qty = msg.qty
        order.price = msg.price
        if keeps_priority:
            out.append(self._report(order, ReportKind.REPLACED, Reason.NONE, now_ns, kept=True))
            return
        self.stamp += 1
        order.stamp = self.stamp
        out.append(self._report(order, ReportKind.REPLACED, Reason.NONE, now_ns))
        self.resting.remove(order)
        self._match(order, now_ns, out)
        self._after_match(order, now_ns, out)

    def _status(self, msg: VenueStatusQuery, now_ns: int, out: list[ExecReport]) -> None:
        order = self.orders.get(msg.order_id)
        if order is None:
            out.append(self._not_live(msg.order_id, msg.symbol, None, ReportKind.STATUS, now_ns))
        else:
            out.append(self._status_report(order, Reason.NONE, now_ns))

    # --- matching ------------------------------------------------------------------

    def _best_counter(self, order: RefOrder) -> RefOrder | None:
        """The resting order `order` would trade with first, if any."""
        candidates = [
            resting
            for resting in self.resting
            if resting.symbol == order.symbol
            and resting.side != order.side
            and (
                order.order_type == OrderType.MARKET
                or (order.side == Side.BUY and resting.price <= order.price)
                or (order.side == Side.SELL and resting.price >= order.price)
            )
        ]
        if not candidates:
            return None
        if order.side == Side.BUY:
            return min(candidates, key=lambda r: (r.price, r.stamp))
        return min(candidates, key=lambda r: (-r.price, r.stamp))

    def _match(self, order: RefOrder, now_ns: int, out: list[ExecReport]) -> None:
        policy = self.stp_policy
        while order.status in LIVE and order.leaves > 0:
            resting = self._best_counter(order)
            if resting is None:
                return
            if policy != SelfTradePolicy.ALLOW and resting.account_id == order.account_id:
                if policy in (SelfTradePolicy.CANCEL_RESTING, SelfTradePolicy.CANCEL_BOTH):
                    self.resting.remove(resting)
                    self._finish(
                        resting, OrderStatus.CANCELED, Reason.SELF_TRADE_PREVENTED, now_ns, out
                    )
                if policy in (SelfTradePolicy.CANCEL_INCOMING, SelfTradePolicy.CANCEL_BOTH):
                    self._finish(
                        order, OrderStatus.CANCELED, Reason.SELF_TRADE_PREVENTED, now_ns, out
                    )
                continue
            qty = min(order.leaves, resting.leaves)
            order.cum += qty
            resting.cum += qty
            self.trade_numbers[order.symbol] += 1
            exec_id = f"{order.symbol}-{self.trade_numbers[order.symbol]}"
            for who, liquidity in ((order, LiquiditySide.TAKER), (resting, LiquiditySide.MAKER)):
                if who.cum == who.qty:
                    who.status = OrderStatus.FILLED
                else:
                    who.status = OrderStatus.PARTIALLY_FILLED
                self.seq += 1
                out.append(
                    ExecReport(
                        ReportKind.FILL, who.order_id, self.seq, who.symbol, who.side,
                        who.qty, who.price, last_qty=qty, last_price=resting.price,
                        cum_qty=who.cum, leaves_qty=who.leaves, liquidity=liquidity,
                        exec_id=exec_id, ts_ns=now_ns,
                    )
                )  # fmt: skip
            self.trades.append(RefTrade(order.symbol, resting.price, qty, order.side))
            if resting.status == OrderStatus.FILLED:
                self.resting.remove(resting)

    def _after_match(self, order: RefOrder, now_ns: int, out: list[ExecReport]) -> None:
        if order.status not in LIVE:
            return
        if order.order_type == OrderType.MARKET:
            self._finish(order, OrderStatus.EXPIRED, Reason.NO_LIQUIDITY, now_ns, out)
        elif order.tif == TimeInForce.IOC:
            self._finish(order, OrderStatus.EXPIRED, Reason.IOC_REMAINDER, now_ns, out)
        else:
            self.resting.append(order)

    def _fok_would_fill(self, order: RefOrder, now_ns: int) -> bool:
        trial = copy.deepcopy(self)
        trial_order = trial.orders[order.order_id]
        trial._match(trial_order, now_ns, [])
        return trial_order.status == OrderStatus.FILLED

    def _expire_due(self, now_ns: int, out: list[ExecReport]) -> None:
        due = [
            order
            for order in self.resting
            if order.tif == TimeInForce.GTD and order.expire_at_ns <= now_ns
        ]
        for order in sorted(due, key=lambda o: (o.expire_at_ns, o.stamp)):
            self.resting.remove(order)
            self._finish(order, OrderStatus.EXPIRED, Reason.GTD_EXPIRED, now_ns, out)

    # --- reports -------------------------------------------------------------------

    def _finish(
        self,
        order: RefOrder,
        status: OrderStatus,
        reason: Reason,
        now_ns: int,
        out: list[ExecReport],
    ) -> None:
        order.status = status
        order.reason = reason
        kind = {
            OrderStatus.CANCELED: ReportKind.CANCELED,
            OrderStatus.EXPIRED: ReportKind.EXPIRED,
        }[status]
        out.append(self._report(order, kind, reason, now_ns))

    def _report(
        self, order: RefOrder, kind: ReportKind, reason: Reason, now_ns: int, kept: bool = False
    ) -> ExecReport:
        self.seq += 1
        return ExecReport(
            kind, order.order_id, self.seq, order.symbol, order.side, order.qty, order.price,
            cum_qty=order.cum, leaves_qty=order.leaves, reason=reason, ts_ns=now_ns,
            priority_kept=kept,
        )  # fmt: skip

    def _status_report(self, order: RefOrder, reason: Reason, now_ns: int) -> ExecReport:
        self.seq += 1
        return ExecReport(
            ReportKind.STATUS, order.order_id, self.seq, order.symbol, order.side, order.qty,
            order.price, cum_qty=order.cum, leaves_qty=order.leaves,
            reason=reason if reason != Reason.NONE else order.reason, ts_ns=now_ns,
            order_status=order.status,
        )  # fmt: skip

    def _not_live(
        self, order_id: str, symbol: str, order: RefOrder | None, kind: ReportKind, now_ns: int
    ) -> ExecReport:
        if order is not None and kind == ReportKind.STATUS:
            return self._status_report(order, Reason.NONE, now_ns)
        self.seq += 1
        if order is None:
            return ExecReport(
                kind,
                order_id,
                self.seq,
                symbol,
                Side.BUY,
                0,
                0,
                reason=Reason.UNKNOWN_ORDER,
                ts_ns=now_ns,
            )
        return ExecReport(
            kind, order_id, self.seq, order.symbol, order.side, order.qty, order.price,
            cum_qty=order.cum, reason=Reason.ORDER_FINAL, ts_ns=now_ns,
        )  # fmt: skip
