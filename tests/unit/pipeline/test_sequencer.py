"""The sequencer's decisions, and that replaying its records rebuilds the same state."""

from __future__ import annotations

import pytest

from switchyard.core.codes import Reason
from switchyard.core.enums import OrderStatus, OrderType, ReportKind, Side
from switchyard.core.events import (
    CancelRequested,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderFilled,
    OrderSent,
    RecordType,
)
from switchyard.pipeline.sequencer import Outcome, ReportAction
from switchyard.risk.config import RiskConfig
from switchyard.testing.stubs import limits, make_rig, report


def sent_order(rig, **kwargs):  # type: ignore[no-untyped-def]
    result = rig.submit(**kwargs)
    assert result.outcome == Outcome.ACCEPTED
    assert rig.sequencer.mark_sent(result.order.order_id, rig.tick()) is not None
    return result.order


def test_submit_accepts_and_records_with_next_seq() -> None:
    rig = make_rig()
    result = rig.submit(client_order_id="c-1")
    assert result.outcome == Outcome.ACCEPTED
    assert result.seq == 1
    assert result.order.order_id == "e1-abc123-0-1"
    assert result.order.status == OrderStatus.ACCEPTED
    seq, _, record = rig.records[0]
    assert seq == 1
    assert isinstance(record, OrderAccepted)
    assert rig.state.client_index[("acct-1", "c-1")] == "e1-abc123-0-1"


def test_same_key_same_request_replays_without_a_record() -> None:
    rig = make_rig()
    first = rig.submit(key="k1", client_order_id="c-1")
    again = rig.submit(key="k1", client_order_id="c-1")
    assert again.outcome == Outcome.REPLAYED
    assert again.order is first.order
    assert len(rig.records) == 1


def test_same_key_different_request_is_refused_without_a_record() -> None:
    rig = make_rig()
    rig.submit(key="k1", qty=10)
    result = rig.submit(key="k1", qty=11)
    assert result.outcome == Outcome.KEY_REUSED
    assert len(rig.records) == 1


def test_keys_are_scoped_per_account() -> None:
    rig = make_rig()
    a = rig.submit(account="a", key="k1")
    b = rig.submit(account="b", key="k1")
    assert a.outcome == b.outcome == Outcome.ACCEPTED
    assert a.order.order_id != b.order.order_id


def test_expired_key_creates_a_new_order() -> None:
    rig = make_rig(state_limits=limits(idempotency_ttl_s=1))
    first = rig.submit(key="k1")
    rig.tick(2_000_000_000)
    second = rig.submit(key="k1")
    assert second.outcome == Outcome.ACCEPTED
    assert second.order.order_id != first.order.order_id


def test_idempotency_table_is_bounded_oldest_first() -> None:
    rig = make_rig(state_limits=limits(idempotency_max=3))
    for i in range(5):
        rig.submit(key=f"k{i}")
    assert len(rig.state.idempotency) == 3
    assert rig.state.idempotency_evicted == 2
    assert ("acct-1", "k0") not in rig.state.idempotency


def test_denied_order_is_recorded_and_its_key_replays_the_denial() -> None:
    rig = make_rig(risk=RiskConfig(max_qty=5))
    result = rig.submit(key="k1", qty=6)
    assert result.outcome == Outcome.DENIED
    assert result.reason == Reason.QTY_LIMIT_EXCEEDED
    assert result.order.status == OrderStatus.DENIED
    assert isinstance(rig.records[0][2], OrderDenied)
    again = rig.submit(key="k1", qty=6)
    assert again.outcome == Outcome.REPLAYED
    assert again.order.status == OrderStatus.DENIED
    assert rig.state.open_count == 0


def test_capacity_refusal_records_nothing() -> None:
    rig = make_rig(state_limits=limits(orders_open_max=2, orders_retained_max=2))
    rig.submit()
    rig.submit()
    result = rig.submit()
    assert result.outcome == Outcome.CAPACITY
    assert len(rig.records) == 2


def test_cancel_of_unsent_order_cancels_locally() -> None:
    rig = make_rig()
    order = rig.submit().order
    result = rig.sequencer.cancel_order(
        account_id="acct-1",
        order_id=order.order_id,
        reason=Reason.USER_REQUESTED,
        now_ns=rig.tick(),
    )
    assert result.outcome == Outcome.DONE_LOCALLY
    assert order.status == OrderStatus.CANCELED
    assert rig.sequencer.mark_sent(order.order_id, rig.tick()) is None  # never sent now
    assert rig.state.open_count == 0


def test_cancel_of_sent_order_is_requested_once() -> None:
    rig = make_rig()
    order = sent_order(rig)
    first = rig.sequencer.cancel_order(
        account_id="acct-1",
        order_id=order.order_id,
        reason=Reason.USER_REQUESTED,
        now_ns=rig.tick(),
    )
    second = rig.sequencer.cancel_order(
        account_id="acct-1",
        order_id=order.order_id,
        reason=Reason.USER_REQUESTED,
        now_ns=rig.tick(),
    )
    assert first.outcome == Outcome.REQUESTED
    assert second.outcome == Outcome.ALREADY
    assert [type(r) for _, _, r in rig.records] == [OrderAccepted, OrderSent, CancelRequested]


def test_cancel_of_another_accounts_order_is_not_found() -> None:
    rig = make_rig()
    order = sent_order(rig, account="owner")
    result = rig.sequencer.cancel_order(
        account_id="thief", order_id=order.order_id, reason=Reason.USER_REQUESTED, now_ns=rig.tick()
    )
    assert result.outcome == Outcome.NOT_FOUND
    assert order.status == OrderStatus.SENT


def test_cancel_of_final_order_is_refused() -> None:
    rig = make_rig()
    order = sent_order(rig)
    rig.sequencer.apply_report(
        report(ReportKind.FILL, order.order_id, cum_qty=10, last_qty=10, last_price=1000),
        rig.tick(),
    )
    result = rig.sequencer.cancel_order(
        account_id="acct-1",
        order_id=order.order_id,
        reason=Reason.USER_REQUESTED,
        now_ns=rig.tick(),
    )
    assert result.outcome == Outcome.FINAL


def test_fills_apply_by_cumulative_quantity() -> None:
    rig = make_rig()
    order = sent_order(rig)
    seq = rig.sequencer
    seq.apply_report(
        report(
            ReportKind.FILL, order.order_id, cum_qty=4, last_qty=4, last_price=1000, venue_seq=2
        ),
        rig.tick(),
    )
    seq.apply_report(
        report(
            ReportKind.FILL, order.order_id, cum_qty=4, last_qty=4, last_price=1000, venue_seq=2
        ),
        rig.tick(),
    )  # duplicate
    assert order.filled_qty == 4
    assert order.status == OrderStatus.PARTIALLY_FILLED
    # venue seq 3 (cum 7) was lost; seq 4 says cum 10 -> the gap is filled in
    seq.apply_report(
        report(
            ReportKind.FILL, order.order_id, cum_qty=10, last_qty=3, last_price=1001, venue_seq=4
        ),
        rig.tick(),
    )
    assert order.filled_qty == 10
    assert order.status == OrderStatus.FILLED
    fills = [r for _, _, r in rig.records if isinstance(r, OrderFilled)]
    assert [f.last_qty for f in fills] == [4, 6]
    assert order.cum_notional == 4 * 1000 + 6 * 1001
    assert rig.state.positions[("acct-1", "BTC")] == 10
    assert seq.counters["reports_ignored"] == 1


def test_sell_fills_make_the_position_negative() -> None:
    rig = make_rig()
    order = sent_order(rig, side=Side.SELL)
    rig.sequencer.apply_report(
        report(
            ReportKind.FILL, order.order_id, cum_qty=3, last_qty=3, last_price=990, side=Side.SELL
        ),
        rig.tick(),
    )
    assert rig.state.positions[("acct-1", "BTC")] == -3


def test_reject_after_a_fill_never_undoes_it() -> None:
    rig = make_rig()
    order = sent_order(rig)
    rig.sequencer.apply_report(
        report(ReportKind.FILL, order.order_id, cum_qty=2, last_qty=2, last_price=1000), rig.tick()
    )
    rig.sequencer.apply_report(
        report(ReportKind.REJECTED, order.order_id, reason=Reason.VENUE_REJECTED), rig.tick()
    )
    assert order.status == OrderStatus.PARTIALLY_FILLED
    assert order.filled_qty == 2


def test_terminal_states_absorb_later_reports() -> None:
    rig = make_rig()
    order = sent_order(rig)
    rig.sequencer.apply_report(report(ReportKind.CANCELED, order.order_id), rig.tick())
    assert order.status == OrderStatus.CANCELED
    count = len(rig.records)
    rig.sequencer.apply_report(
        report(ReportKind.FILL, order.order_id, cum_qty=5, last_qty=5, last_price=1000), rig.tick()
    )
    assert order.status == OrderStatus.CANCELED
    assert len(rig.records) == count


def test_cancel_rejected_restores_the_live_status() -> None:
    rig = make_rig()
    order = sent_order(rig)
    rig.sequencer.cancel_order(
        account_id="acct-1",
        order_id=order.order_id,
        reason=Reason.USER_REQUESTED,
        now_ns=rig.tick(),
    )
    rig.sequencer.apply_report(
        report(ReportKind.CANCEL_REJECTED, order.order_id, reason=Reason.UNKNOWN_ORDER), rig.tick()
    )
    assert order.status == OrderStatus.SENT


def test_fill_while_cancel_pending_keeps_cancel_requested() -> None:
    rig = make_rig()
    order = sent_order(rig)
    rig.sequencer.cancel_order(
        account_id="acct-1",
        order_id=order.order_id,
        reason=Reason.USER_REQUESTED,
        now_ns=rig.tick(),
    )
    rig.sequencer.apply_report(
        report(ReportKind.FILL, order.order_id, cum_qty=4, last_qty=4, last_price=1000), rig.tick()
    )
    assert order.status == OrderStatus.CANCEL_REQUESTED
    rig.sequencer.apply_report(report(ReportKind.CANCELED, order.order_id, cum_qty=4), rig.tick())
    assert order.status == OrderStatus.CANCELED
    assert order.filled_qty == 4


def test_replace_is_requested_then_applied() -> None:
    rig = make_rig()
    order = sent_order(rig)
    result = rig.sequencer.replace_order(
        account_id="acct-1", order_id=order.order_id, qty=8, price=1000, now_ns=rig.tick()
    )
    assert result.outcome == Outcome.REQUESTED
    assert order.pending_replace == (8, 1000)
    rig.sequencer.apply_report(
        report(ReportKind.REPLACED, order.order_id, qty=8, price=1000, priority_kept=True),
        rig.tick(),
    )
    assert (order.qty, order.price, order.pending_replace) == (8, 1000, None)


def test_refused_replace_leaves_the_order_untouched() -> None:
    rig = make_rig()
    order = sent_order(rig)
    rig.sequencer.replace_order(
        account_id="acct-1", order_id=order.order_id, qty=20, price=1010, now_ns=rig.tick()
    )
    rig.sequencer.apply_report(
        report(ReportKind.REPLACE_REJECTED, order.order_id, reason=Reason.OUTSIDE_PRICE_BAND),
        rig.tick(),
    )
    assert (order.qty, order.price, order.pending_replace) == (10, 1000, None)
    assert order.status == OrderStatus.SENT


@pytest.mark.parametrize(
    ("qty", "price", "problem"),
    [(10, 1000, "nothing to change"), (0, 1000, "above the filled"), (5, 0, "positive")],
)
def test_impossible_replace_is_invalid(qty: int, price: int, problem: str) -> None:
    rig = make_rig()
    order = sent_order(rig)
    result = rig.sequencer.replace_order(
        account_id="acct-1", order_id=order.order_id, qty=qty, price=price, now_ns=rig.tick()
    )
    assert result.outcome == Outcome.INVALID
    assert problem in result.detail


def test_replace_over_risk_limit_is_denied_and_recorded() -> None:
    rig = make_rig(risk=RiskConfig(max_qty=15))
    order = sent_order(rig)
    result = rig.sequencer.replace_order(
        account_id="acct-1", order_id=order.order_id, qty=16, price=1000, now_ns=rig.tick()
    )
    assert result.outcome == Outcome.DENIED
    assert result.reason == Reason.QTY_LIMIT_EXCEEDED
    assert rig.records[-1][2].record_type == RecordType.REPLACE_REJECTED
    assert order.qty == 10


def test_status_unknown_for_a_sent_order_cancels_it_as_lost() -> None:
    rig = make_rig()
    order = sent_order(rig)
    action = rig.sequencer.apply_report(
        report(ReportKind.STATUS, order.order_id, order_status=None), rig.tick()
    )
    assert action == ReportAction.NONE
    assert order.status == OrderStatus.CANCELED
    assert order.reason == Reason.VENUE_LOST_ORDER


def test_status_unknown_for_an_unsent_order_asks_to_send_it() -> None:
    rig = make_rig()
    order = rig.submit().order
    action = rig.sequencer.apply_report(
        report(ReportKind.STATUS, order.order_id, order_status=None), rig.tick()
    )
    assert action == ReportAction.SEND_NEW
    assert order.status == OrderStatus.ACCEPTED


def test_status_with_more_fills_than_we_know_fills_the_gap() -> None:
    rig = make_rig()
    order = sent_order(rig)
    rig.sequencer.apply_report(
        report(
            ReportKind.STATUS,
            order.order_id,
            cum_qty=6,
            last_price=999,
            order_status=OrderStatus.PARTIALLY_FILLED,
        ),
        rig.tick(),
    )
    assert order.filled_qty == 6
    assert rig.sequencer.counters["fills_reconciled"] == 1


def test_kill_switch_denies_and_cancels_live_orders() -> None:
    rig = make_rig()
    live = sent_order(rig, account="a")
    other = sent_order(rig, account="b")
    rig.sequencer.set_kill_switch(
        scope="a", active=True, cancel_open=True, actor="ops", note="test", now_ns=rig.tick()
    )
    assert live.status == OrderStatus.CANCEL_REQUESTED
    assert live.reason == Reason.KILL_SWITCH_CANCEL
    assert other.status == OrderStatus.SENT
    assert rig.submit(account="a").reason == Reason.KILL_SWITCH
    assert rig.submit(account="b").outcome == Outcome.ACCEPTED
    rig.sequencer.set_kill_switch(
        scope="a", active=False, cancel_open=False, actor="ops", note="", now_ns=rig.tick()
    )
    assert rig.submit(account="a").outcome == Outcome.ACCEPTED


def test_terminal_orders_beyond_retention_are_forgotten() -> None:
    rig = make_rig(state_limits=limits(orders_retained_max=2))
    orders = [rig.submit(client_order_id=f"c{i}").order for i in range(4)]
    for order in orders:
        rig.sequencer.cancel_order(
            account_id="acct-1",
            order_id=order.order_id,
            reason=Reason.USER_REQUESTED,
            now_ns=rig.tick(),
        )
    assert set(rig.state.orders) == {orders[2].order_id, orders[3].order_id}
    assert ("acct-1", "c0") not in rig.state.client_index
    assert rig.state.evicted_orders == 2


def test_replay_of_the_records_rebuilds_the_same_state() -> None:
    rig = make_rig(risk=RiskConfig(rate_per_sec=1000, rate_burst=5, max_qty=50))
    a = sent_order(rig, account="a", client_order_id="x")
    rig.submit(account="a", qty=100)  # denied
    b = sent_order(rig, account="b", side=Side.SELL, order_type=OrderType.LIMIT)
    rig.sequencer.apply_report(
        report(ReportKind.FILL, a.order_id, cum_qty=5, last_qty=5, last_price=1000), rig.tick()
    )
    rig.sequencer.cancel_order(
        account_id="b", order_id=b.order_id, reason=Reason.USER_REQUESTED, now_ns=rig.tick()
    )
    rig.sequencer.record_market_event(
        key="BTC", price=1000, volume=3, account_id="a", now_ns=rig.tick()
    )
    for _ in range(6):
        rig.submit(account="a")  # some hit the rate limit
    replayed = rig.replay_state()
    assert replayed.state_hash() == rig.sequencer.state_hash()
    assert replayed.state.last_seq == rig.state.last_seq


def test_replay_detects_a_different_history() -> None:
    rig = make_rig()
    rig.submit()
    rig.submit()
    other = make_rig()
    other.submit()
    assert other.sequencer.state_hash() != rig.sequencer.state_hash()


def test_timestamps_never_go_backwards_in_records() -> None:
    rig = make_rig()
    rig.submit()
    rig.now_ns -= 5_000_000  # the wall clock stepped back
    rig.submit()
    stamps = [ts for _, ts, _ in rig.records]
    assert stamps == sorted(stamps)
    assert isinstance(rig.records[-1][2], OrderAccepted)
    _ = OrderCanceled
