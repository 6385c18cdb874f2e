"""Property: any sequence of commands and venue reports keeps the order lifecycle sound,
and replaying the records rebuilds exactly the same state."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from switchyard.core.codes import Reason
from switchyard.core.enums import TERMINAL_STATUSES, OrderStatus, OrderType, ReportKind, Side
from switchyard.core.events import OrderFilled
from switchyard.risk.config import RiskConfig
from switchyard.testing.stubs import limits, make_rig, report

ACCOUNTS = st.sampled_from(["a", "b", "c"])


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rig = make_rig(
            state_limits=limits(orders_retained_max=8, orders_open_max=40),
            risk=RiskConfig(max_qty=40, rate_per_sec=50, rate_burst=10),
        )
        self.ids: list[str] = []
        self.seen_final: dict[str, tuple[OrderStatus, int]] = {}
        self.seen_filled: dict[str, int] = {}
        self.venue_seq = 0

    def _order(self, index: int):  # type: ignore[no-untyped-def]
        if not self.ids:
            return None
        return self.rig.state.orders.get(self.ids[index % len(self.ids)])

    @rule(
        account=ACCOUNTS,
        qty=st.integers(1, 50),
        price=st.integers(1, 2000),
        side=st.sampled_from(Side),
        key=st.integers(0, 30),
        market=st.booleans(),
    )
    def submit(
        self, account: str, qty: int, price: int, side: Side, key: int, market: bool
    ) -> None:
        order_type = OrderType.MARKET if market else OrderType.LIMIT
        result = self.rig.submit(
            account=account,
            key=f"k{key}",
            qty=qty,
            side=side,
            order_type=order_type,
            price=0 if market else price,
        )
        if result.order is not None and result.order.order_id not in self.ids:
            self.ids.append(result.order.order_id)

    @rule(index=st.integers(0, 1000))
    def send(self, index: int) -> None:
        order = self._order(index)
        if order is not None:
            self.rig.sequencer.mark_sent(order.order_id, self.rig.tick())

    @rule(index=st.integers(0, 1000))
    def cancel(self, index: int) -> None:
        order = self._order(index)
        if order is not None:
            self.rig.sequencer.cancel_order(
                account_id=order.account_id,
                order_id=order.order_id,
                reason=Reason.USER_REQUESTED,
                now_ns=self.rig.tick(),
            )

    @rule(index=st.integers(0, 1000), qty=st.integers(0, 60), price=st.integers(0, 2000))
    def replace(self, index: int, qty: int, price: int) -> None:
        order = self._order(index)
        if order is not None:
            self.rig.sequencer.replace_order(
                account_id=order.account_id,
                order_id=order.order_id,
                qty=qty,
                price=price if order.order_type == OrderType.LIMIT else order.price,
                now_ns=self.rig.tick(),
            )

    @precondition(lambda self: bool(self.ids))
    @rule(
        index=st.integers(0, 1000),
        kind=st.sampled_from(ReportKind),
        cum=st.integers(0, 60),
        status=st.sampled_from([None, *OrderStatus]),
    )
    def venue_report(
        self, index: int, kind: ReportKind, cum: int, status: OrderStatus | None
    ) -> None:
        order_id = self.ids[index % len(self.ids)]
        order = self.rig.state.orders.get(order_id)
        qty = order.qty if order is not None else 10
        price = order.price if order is not None else 100
        self.venue_seq += 1
        was_live = order is not None and order.status not in TERMINAL_STATUSES
        before = order.filled_qty if order is not None else 0
        self.rig.sequencer.apply_report(
            report(
                kind,
                order_id,
                cum_qty=min(cum, qty),
                last_qty=1,
                last_price=price or 100,
                qty=qty if kind != ReportKind.REPLACED else max(qty, cum),
                price=price,
                venue_seq=self.venue_seq,
                order_status=status,
            ),
            self.rig.tick(),
        )
        if was_live and kind == ReportKind.FILL and order is not None:
            # fills go by cumulative quantity: never double, never backwards
            assert order.filled_qty == max(before, min(cum, qty))

    @invariant()
    def lifecycle_is_sound(self) -> None:
        state = self.rig.state
        open_orders = 0
        for order in state.orders.values():
            assert 0 <= order.filled_qty <= order.qty
            assert order.filled_qty >= self.seen_filled.get(order.order_id, 0)
            self.seen_filled[order.order_id] = order.filled_qty
            final = self.seen_final.get(order.order_id)
            if final is not None:
                assert (order.status, order.filled_qty) == final  # terminal states absorb
            if order.status in TERMINAL_STATUSES:
                self.seen_final[order.order_id] = (order.status, order.filled_qty)
                assert order.pending_replace is None
            else:
                open_orders += 1
            if order.status == OrderStatus.FILLED:
                assert order.filled_qty == order.qty
        assert state.open_count == open_orders
        assert sum(state.open_by_account.values()) == open_orders
        assert len(state.terminal_fifo) <= state.limits.orders_retained_max

    @invariant()
    def positions_equal_the_sum_of_fills(self) -> None:
        totals: dict[tuple[str, str], int] = {}
        for _, _, record in self.rig.records:
            if isinstance(record, OrderFilled):
                key = (record.account_id, record.symbol)
                signed = record.last_qty if record.side == Side.BUY else -record.last_qty
                totals[key] = totals.get(key, 0) + signed
        assert {k: v for k, v in totals.items() if v} == {
            k: v for k, v in self.rig.state.positions.items() if v
        }

    def teardown(self) -> None:
        replayed = self.rig.replay_state()
        assert replayed.state_hash() == self.rig.sequencer.state_hash()


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(max_examples=60, stateful_step_count=60, deadline=None)
