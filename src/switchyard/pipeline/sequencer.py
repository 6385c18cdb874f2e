"""The sequencer: the only writer of trading state.

Each command is decided against the current state (idempotency, capacity, risk, lifecycle
rules), the outcome becomes a WAL record with the next `seq`, the record is applied
(`pipeline.apply`) and handed to the sink (the runtime, which journals it and releases its
effects once durable). Pure: time comes in as `now_ns`; no I/O, no awaits, no clocks.

Commands that change nothing (a replayed idempotent request, a refused replace of a final
order, ...) produce no record. Refusals for capacity produce no record either: retrying them
later re-evaluates, as a client expects.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Final

from msgspec import structs

from switchyard.core.codes import Reason
from switchyard.core.enums import (
    TERMINAL_STATUSES,
    OrderStatus,
    OrderType,
    ReportKind,
    Side,
    TimeInForce,
)
from switchyard.core.events import (
    CancelRejected,
    CancelRequested,
    KillSwitchSet,
    MarketEvent,
    OrderAccepted,
    OrderAcked,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderSent,
    OwnershipChanged,
    Record,
    ReplaceRejected,
    ReplaceRequested,
    SessionStarted,
)
from switchyard.core.messages import ExecReport
from switchyard.risk.engine import RiskEngine

from .apply import apply_record
from .state import GatewayState, Order, same_request, state_hash

Sink = Callable[[int, int, Record], None]  # (seq, ts_ns, record)


class Outcome(IntEnum):
    ACCEPTED = 1  # a new order was recorded
    REPLAYED = 2  # same key, same request: the original answer, nothing recorded
    DENIED = 3  # risk said no (recorded, 422)
    KEY_REUSED = 4  # same key, different request (422, nothing recorded)
    CAPACITY = 5  # too many live orders in the gateway (503, nothing recorded)
    NOT_FOUND = 6
    FINAL = 7  # the order is already in a terminal state (409)
    REQUESTED = 8  # cancel/replace recorded and will be sent to the venue
    DONE_LOCALLY = 9  # cancel/replace applied without the venue (the order was never sent)
    ALREADY = 10  # the same cancel is already pending (202, nothing recorded)
    CONFLICT = 11  # another cancel/replace is pending (409)
    INVALID = 12  # the replace asks for something impossible (400)


class Result:
    """What a command did. `seq` is the record it produced (0 if none)."""

    __slots__ = ("detail", "order", "outcome", "reason", "seq")

    def __init__(
        self,
        outcome: Outcome,
        order: Order | None = None,
        reason: Reason = Reason.NONE,
        detail: str = "",
        seq: int = 0,
    ) -> None:
        self.outcome = outcome
        self.order = order
        self.reason = reason
        self.detail = detail
        self.seq = seq


class ReportAction(IntEnum):
    """What the runtime must do after a venue report was applied."""

    NONE = 0
    SEND_NEW = 1  # the venue does not know an order we never sent: send it now
    RESEND_CANCEL = 2  # the venue still has an order we asked to cancel


class Sequencer:
    """Decides and records. Not thread-safe by design: one loop thread owns it."""

    __slots__ = ("_sink", "counters", "risk", "state")

    def __init__(self, state: GatewayState, risk: RiskEngine, sink: Sink) -> None:
        self.state = state
        self.risk = risk
        self._sink = sink
        # Plain ints read by the metrics collector at scrape time.
        self.counters: dict[str, int] = {
            "reports_ignored": 0,  # reports for final or unknown orders, and duplicates
            "fills_reconciled": 0,
            "orders_lost_by_venue": 0,
        }

    def _emit(self, record: Record, now_ns: int) -> tuple[int, Order | None]:
        state = self.state
        seq = state.last_seq + 1
        ts_ns = now_ns if now_ns > state.last_ts_ns else state.last_ts_ns
        order = apply_record(state, self.risk, seq, ts_ns, record)
        self._sink(seq, ts_ns, record)
        return seq, order

    # --- new orders -------------------------------------------------------------------------

    def submit_order(
        self,
        *,
        account_id: str,
        idempotency_key: str,
        client_order_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        qty: int,
        price: int,
        time_in_force: TimeInForce,
        expire_at_ms: int,
        post_only: bool,
        origin: str,
        now_ns: int,
    ) -> Result:
        state = self.state
        entry = state.lookup_idempotency(account_id, idempotency_key, now_ns)
        if entry is not None:
            if not same_request(
                entry.record,
                symbol,
                side,
                order_type,
                qty,
                price,
                time_in_force,
                expire_at_ms,
                client_order_id,
                post_only,
            ):
                return Result(Outcome.KEY_REUSED, state.orders.get(entry.order_id))
            original = state.orders.get(entry.order_id)
            return Result(Outcome.REPLAYED, original, detail=entry.order_id)
        if state.open_count >= state.limits.orders_open_max:
            return Result(
                Outcome.CAPACITY,
                detail=f"{state.open_count} live orders; the gateway holds at most "
                f"{state.limits.orders_open_max}",
            )
        reason, detail = self.risk.check(
            account_id=account_id,
            symbol=symbol,
            side=side,
            order_type=order_type,
            qty=qty,
            price=price,
            open_orders=state.open_by_account.get(account_id, 0),
            killed=state.is_killed(account_id),
            now_ns=now_ns,
        )
        order_id = state.order_id_for(state.last_seq + 1)
        # One positional tuple for both record types: they share their first eleven fields.
        fields = (
            order_id, account_id, client_order_id, idempotency_key, symbol, side, order_type,
            qty, price, time_in_force, expire_at_ms,
        )  # fmt: skip
        record: Record
        if reason == Reason.NONE:
            record = OrderAccepted(*fields, post_only, origin)
        else:
            record = OrderDenied(*fields, reason, detail, post_only, origin)
        seq, order = self._emit(record, now_ns)
        outcome = Outcome.ACCEPTED if reason == Reason.NONE else Outcome.DENIED
        return Result(outcome, order, reason, detail, seq)

    # --- requests on live orders ------------------------------------------------------------

    def cancel_order(
        self, *, account_id: str, order_id: str, reason: Reason, now_ns: int
    ) -> Result:
        order = self.state.find_order(account_id, order_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        if order.status in TERMINAL_STATUSES:
            return Result(Outcome.FINAL, order, Reason.ORDER_FINAL)
        if order.status == OrderStatus.CANCEL_REQUESTED:
            return Result(Outcome.ALREADY, order)
        if order.status == OrderStatus.ACCEPTED:
            # Never handed to the venue: cancel here and now; the send path will skip it.
            seq, _ = self._emit(
                OrderCanceled(
                    order_id, account_id, OrderStatus.CANCELED, order.filled_qty, reason, 0
                ),
                now_ns,
            )
            return Result(Outcome.DONE_LOCALLY, order, reason, seq=seq)
        seq, _ = self._emit(
            CancelRequested(
                order_id, account_id, OrderStatus.CANCEL_REQUESTED, order.filled_qty, reason
            ),
            now_ns,
        )
        return Result(Outcome.REQUESTED, order, reason, seq=seq)

    def replace_order(
        self, *, account_id: str, order_id: str, qty: int, price: int, now_ns: int
    ) -> Result:
        """Amend qty and/or price. A refused replace leaves the order exactly as it was."""
        order = self.state.find_order(account_id, order_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        if order.status in TERMINAL_STATUSES:
            return Result(Outcome.FINAL, order, Reason.ORDER_FINAL)
        if order.status == OrderStatus.CANCEL_REQUESTED or order.pending_replace is not None:
            what = "a cancel" if order.pending_replace is None else "another replace"
            return Result(Outcome.CONFLICT, order, detail=f"{what} is pending for this order")
        invalid = _replace_problem(order, qty, price)
        if invalid:
            return Result(Outcome.INVALID, order, Reason.INVALID_REPLACE, invalid)
        reason, detail = self.risk.check(
            account_id=account_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            qty=qty,
            price=price,
            open_orders=0,  # the order is already counted; replacing does not add one
            killed=self.state.is_killed(account_id),
            now_ns=now_ns,
        )
        if reason in (Reason.RATE_LIMITED, Reason.MAX_OPEN_ORDERS):
            reason, detail = Reason.NONE, ""  # an amend is not a new order
        if reason != Reason.NONE:
            seq, _ = self._emit(
                ReplaceRejected(order_id, account_id, order.status, order.filled_qty, reason, 0),
                now_ns,
            )
            return Result(Outcome.DENIED, order, reason, detail, seq)
        if order.status == OrderStatus.ACCEPTED:
            seq, _ = self._emit(
                OrderReplaced(
                    order_id,
                    account_id,
                    order.status,
                    order.filled_qty,
                    qty,
                    price,
                    qty - order.filled_qty,
                    False,
                    0,
                ),
                now_ns,
            )
            return Result(Outcome.DONE_LOCALLY, order, seq=seq)
        seq, _ = self._emit(
            ReplaceRequested(order_id, account_id, order.status, order.filled_qty, qty, price),
            now_ns,
        )
        return Result(Outcome.REQUESTED, order, seq=seq)

    def mark_sent(self, order_id: str, now_ns: int) -> Order | None:
        """Record that an accepted order goes to the venue now; None if it must not be sent."""
        order = self.state.orders.get(order_id)
        if order is None or order.status != OrderStatus.ACCEPTED:
            return None  # canceled (or replaced into a final state) before it could be sent
        self._emit(
            OrderSent(order_id, order.account_id, OrderStatus.SENT, order.filled_qty), now_ns
        )
        return order

    def fail_unsent(self, order_id: str, reason: Reason, now_ns: int) -> None:
        """An accepted order could not be handed to the venue: cancel it with `reason`."""
        order = self.state.orders.get(order_id)
        if order is None or order.status != OrderStatus.ACCEPTED:
            return
        self._emit(
            OrderCanceled(
                order_id, order.account_id, OrderStatus.CANCELED, order.filled_qty, reason, 0
            ),
            now_ns,
        )

    def fail_replace(self, order_id: str, reason: Reason, now_ns: int) -> None:
        """A replace could not be handed to the venue: it is refused, the order unchanged."""
        order = self.state.orders.get(order_id)
        if order is None or order.is_terminal or order.pending_replace is None:
            return
        self._emit(
            ReplaceRejected(order_id, order.account_id, order.status, order.filled_qty, reason, 0),
            now_ns,
        )

    # --- venue reports ----------------------------------------------------------------------

    def apply_report(self, report: ExecReport, now_ns: int) -> ReportAction:
        """Turn a venue report into records. Duplicates and late reports change nothing."""
        order = self.state.orders.get(report.order_id)
        if order is None or order.is_terminal:
            self.counters["reports_ignored"] += 1
            return ReportAction.NONE
        kind = report.kind
        if kind == ReportKind.FILL:
            self._fill(order, report, now_ns, report.last_price)
        elif kind == ReportKind.ACK:
            if order.venue_acked or order.status == OrderStatus.ACCEPTED:
                self.counters["reports_ignored"] += 1
            else:
                self._emit(
                    OrderAcked(
                        order.order_id,
                        order.account_id,
                        order.status,
                        order.filled_qty,
                        report.venue_seq,
                    ),
                    now_ns,
                )
        elif kind in _TERMINAL_REPORTS:
            self._terminal(order, report, now_ns)
        elif kind == ReportKind.CANCEL_REJECTED:
            if order.status != OrderStatus.CANCEL_REQUESTED:
                self.counters["reports_ignored"] += 1
            else:
                status = OrderStatus.PARTIALLY_FILLED if order.filled_qty else OrderStatus.SENT
                self._emit(
                    CancelRejected(
                        order.order_id,
                        order.account_id,
                        status,
                        order.filled_qty,
                        report.reason,
                        report.venue_seq,
                    ),
                    now_ns,
                )
        elif kind == ReportKind.REPLACED:
            self._replaced(order, report, now_ns)
        elif kind == ReportKind.REPLACE_REJECTED:
            if order.pending_replace is None:
                self.counters["reports_ignored"] += 1
            else:
                self._emit(
                    ReplaceRejected(
                        order.order_id,
                        order.account_id,
                        order.status,
                        order.filled_qty,
                        report.reason,
                        report.venue_seq,
                    ),
                    now_ns,
                )
        elif kind == ReportKind.STATUS:
            return self._reconcile(order, report, now_ns)
        return ReportAction.NONE

    def _fill(self, order: Order, report: ExecReport, now_ns: int, price: int) -> None:
        # Fills are applied by cumulative quantity: a repeat, or one that arrives after a
        # later one, adds nothing; a gap (a report we never saw) is filled in at this price.
        last_qty = min(report.cum_qty, order.qty) - order.filled_qty
        if last_qty <= 0:
            self.counters["reports_ignored"] += 1
            return
        filled = order.filled_qty + last_qty
        leaves = order.qty - filled
        if leaves == 0:
            status = OrderStatus.FILLED
        elif order.status == OrderStatus.CANCEL_REQUESTED:
            status = OrderStatus.CANCEL_REQUESTED
        else:
            status = OrderStatus.PARTIALLY_FILLED
        liquidity = report.liquidity if report.liquidity is not None else 2
        self._emit(
            OrderFilled(
                order.order_id,
                order.account_id,
                status,
                filled,
                order.symbol,
                order.side,
                last_qty,
                price,
                leaves,
                order.cum_notional + last_qty * price,
                liquidity,  # type: ignore[arg-type]
                report.exec_id,
                report.venue_seq,
            ),
            now_ns,
        )

    def _terminal(self, order: Order, report: ExecReport, now_ns: int) -> None:
        kind = report.kind
        if report.cum_qty > order.filled_qty:
            self._fill(order, report, now_ns, report.last_price or order.price)
            if order.is_terminal:
                return
        common = (order.order_id, order.account_id)
        if kind == ReportKind.CANCELED:
            reason = report.reason if report.reason != Reason.NONE else Reason.USER_REQUESTED
            self._emit(
                OrderCanceled(
                    *common, OrderStatus.CANCELED, order.filled_qty, reason, report.venue_seq
                ),
                now_ns,
            )
        elif kind == ReportKind.EXPIRED:
            self._emit(
                OrderExpired(
                    *common, OrderStatus.EXPIRED, order.filled_qty, report.reason, report.venue_seq
                ),
                now_ns,
            )
        elif order.filled_qty == 0:  # REJECTED never undoes fills (the seed's rule)
            self._emit(
                OrderRejected(
                    *common,
                    OrderStatus.REJECTED,
                    0,
                    report.reason,
                    report.reason.name,
                    report.venue_seq,
                ),
                now_ns,
            )
        else:
            self.counters["reports_ignored"] += 1

    def _replaced(self, order: Order, report: ExecReport, now_ns: int) -> None:
        if order.pending_replace is None:
            self.counters["reports_ignored"] += 1
            return
        if report.cum_qty > order.filled_qty:
            self._fill(order, report, now_ns, report.last_price or order.price)
            if order.is_terminal:
                return
        leaves = max(0, report.qty - order.filled_qty)
        status = order.status if leaves else OrderStatus.FILLED
        self._emit(
            OrderReplaced(
                order.order_id,
                order.account_id,
                status,
                order.filled_qty,
                report.qty,
                report.price,
                leaves,
                report.priority_kept,
                report.venue_seq,
            ),
            now_ns,
        )

    def _reconcile(self, order: Order, report: ExecReport, now_ns: int) -> ReportAction:
        """The venue's view of one of our live orders (after a restart or reconnect)."""
        if order.status == OrderStatus.ACCEPTED:
            return ReportAction.SEND_NEW if report.order_status is None else ReportAction.NONE
        if report.order_status is None:
            # We handed it over; the venue does not know it: it lost the order. Say so.
            self.counters["orders_lost_by_venue"] += 1
            self._emit(
                OrderCanceled(
                    order.order_id,
                    order.account_id,
                    OrderStatus.CANCELED,
                    order.filled_qty,
                    Reason.VENUE_LOST_ORDER,
                    report.venue_seq,
                ),
                now_ns,
            )
            return ReportAction.NONE
        if report.cum_qty > order.filled_qty:
            self.counters["fills_reconciled"] += 1
            self._fill(order, report, now_ns, report.last_price or order.price)
            if order.is_terminal:
                return ReportAction.NONE
        venue_status = report.order_status
        if venue_status in TERMINAL_STATUSES:
            kind = {
                OrderStatus.CANCELED: ReportKind.CANCELED,
                OrderStatus.EXPIRED: ReportKind.EXPIRED,
            }.get(venue_status, ReportKind.REJECTED)
            if venue_status == OrderStatus.FILLED:
                return ReportAction.NONE  # fully filled: the fill above made it terminal
            self._terminal(order, _with_kind(report, kind), now_ns)
            return ReportAction.NONE
        if order.status == OrderStatus.CANCEL_REQUESTED:
            return ReportAction.RESEND_CANCEL
        return ReportAction.NONE

    # --- other commands ---------------------------------------------------------------------

    def set_kill_switch(
        self, *, scope: str, active: bool, cancel_open: bool, actor: str, note: str, now_ns: int
    ) -> int:
        """Turn a kill switch on/off (scope "*" or an account); optionally cancel live orders."""
        seq, _ = self._emit(KillSwitchSet(scope, active, cancel_open, actor, note), now_ns)
        if active and cancel_open:
            for order in list(self.state.orders.values()):
                if order.is_terminal or (scope != "*" and order.account_id != scope):
                    continue
                self.cancel_order(
                    account_id=order.account_id,
                    order_id=order.order_id,
                    reason=Reason.KILL_SWITCH_CANCEL,
                    now_ns=now_ns,
                )
        return seq

    def record_market_event(
        self, *, key: str, price: int, volume: int, account_id: str, now_ns: int
    ) -> int:
        seq, _ = self._emit(MarketEvent(key, price, volume, account_id), now_ns)
        return seq

    def record_session(
        self, *, engine_id: str, version: str, pid: int, config_digest: str, now_ns: int
    ) -> int:
        seq, _ = self._emit(SessionStarted(engine_id, version, pid, config_digest), now_ns)
        return seq

    def record_ownership(
        self, *, engine_id: str, revision: int, keys: tuple[str, ...], now_ns: int
    ) -> int:
        seq, _ = self._emit(OwnershipChanged(engine_id, revision, keys), now_ns)
        return seq

    # --- queries --------------------------------------------------------------------------

    def live_orders(self) -> list[Order]:
        return [order for order in self.state.orders.values() if not order.is_terminal]

    def state_hash(self) -> str:
        return state_hash(self.state, self.risk.bucket_state())


_TERMINAL_REPORTS: Final = frozenset({ReportKind.CANCELED, ReportKind.EXPIRED, ReportKind.REJECTED})


def _with_kind(report: ExecReport, kind: ReportKind) -> ExecReport:
    return structs.replace(report, kind=kind)


def _replace_problem(order: Order, qty: int, price: int) -> str:
    """Why a replace cannot be done, or "" when it can."""
    if qty <= order.filled_qty:
        return f"qty {qty} must be above the filled quantity {order.filled_qty}"
    if order.order_type == OrderType.MARKET and price != order.price:
        return "the price of a MARKET order cannot change"
    if order.order_type == OrderType.LIMIT and price <= 0:
        return "price must be a positive number of ticks"
    if qty == order.qty and price == order.price:
        return "nothing to change: qty and price are what the order already has"
    return ""
