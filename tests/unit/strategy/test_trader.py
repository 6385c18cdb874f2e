"""The trader over the real sequencer (testing.stubs rig) and SequencerPort, with books the
test sets: signals become IOC orders on the strategy account, and every rail stops them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from switchyard.core.enums import OrderStatus, OrderType, ReportKind, Side, TimeInForce
from switchyard.core.events import OrderAccepted, OrderDenied
from switchyard.core.messages import BookLevel, BookSnapshot
from switchyard.risk.config import RiskConfig
from switchyard.strategy import decisions as R
from switchyard.strategy.config import StrategyConfig
from switchyard.strategy.port import SequencerPort
from switchyard.strategy.signal import HOLD_NO_TREND, WARMING_UP
from switchyard.strategy.trader import RATE_WINDOW_MS, Trader
from switchyard.testing.stubs import Rig, make_rig, report

ACCOUNT = "strat"


def zigzag(start: int, step: int, count: int) -> list[int]:
    """start, start+2s, start+s, start+3s, start+2s, ...: a trend with a pull-back each tick."""
    prices = [start]
    for index in range(1, count):
        prices.append(prices[-1] + (2 * step if index % 2 else -step))
    return prices


# SMA 2 / SMA 4 / RSI 3 with 90/10 need 4 prices. Up: 100, 102, 101, 103: short 102 > long
# 101.5, changes +2 -1 +2 -> RSI 80 < 90: BUY, and every further zig-zag price stays a BUY.
UP = zigzag(100, 1, 4)
DOWN = zigzag(200, -1, 4)  # 200, 198, 199, 197: short 198 < long 198.5, RSI 20 > 10: SELL


def config(**changes: Any) -> StrategyConfig:
    base = StrategyConfig(
        enabled=True,
        symbols=("BTC",),
        tick_ms=100,
        max_orders_per_min=0,
        cooldown_ms=0,
        short_window=2,
        long_window=4,
        rsi_period=3,
        rsi_overbought=90,
        rsi_oversold=10,
        order_qty=10,
        max_position=100,
        version=3,
    )
    return replace(base, **changes)


class Books:
    """L2 tops the test sets; what the venue would answer to `book(symbol, depth)`."""

    def __init__(self) -> None:
        self.tops: dict[str, tuple[int, int]] = {}

    def set(self, symbol: str, bid: int, ask: int) -> None:
        self.tops[symbol] = (bid, ask)

    def book(self, symbol: str, depth: int) -> BookSnapshot | None:
        if symbol not in self.tops:
            return None
        bid, ask = self.tops[symbol]
        return BookSnapshot(
            symbol,
            1,
            [BookLevel(bid, 50)] if bid else [],
            [BookLevel(ask, 50)] if ask else [],
        )


class Harness:
    def __init__(self, cfg: StrategyConfig, risk: RiskConfig | None = None) -> None:
        self.rig: Rig = make_rig(risk=risk)
        self.books = Books()
        self.refused: str | None = None
        self.port = SequencerPort(
            account_id=ACCOUNT,
            state=self.rig.state,
            submit_order=lambda **kw: self.rig.sequencer.submit_order(now_ns=self.rig.tick(), **kw),
            book=self.books.book,
            refusal=lambda symbol: self.refused,
        )
        self.trader = Trader(cfg, self.port, decisions_max=50)
        self.now_ms = 1_000_000

    def tick(self, mid: int | None = None, symbol: str = "BTC", step_ms: int = 100):
        if mid is not None:
            self.books.set(symbol, mid - 1, mid + 1)
        self.now_ms += step_ms
        return self.trader.tick(now_mono_ms=self.now_ms, now_wall_ms=self.now_ms)

    def feed(self, mids: list[int], symbol: str = "BTC"):
        return [self.tick(mid, symbol)[0] for mid in mids]

    def accepted(self) -> list[OrderAccepted]:
        return [r for _, _, r in self.rig.records if isinstance(r, OrderAccepted)]

    def fill(self, order_id: str, qty: int, price: int) -> None:
        order = self.rig.state.orders[order_id]
        self.rig.sequencer.mark_sent(order_id, self.rig.tick())
        self.rig.sequencer.apply_report(
            report(
                ReportKind.FILL,
                order_id,
                qty=order.qty,
                price=order.price,
                cum_qty=qty,
                last_qty=qty,
                last_price=price,
                side=order.side,
                symbol=order.symbol,
            ),
            self.rig.tick(),
        )


def test_warming_up_decides_nothing_until_the_windows_are_full() -> None:
    h = Harness(config())
    decisions = h.feed(UP[:3])
    assert [d.reason for d in decisions] == [WARMING_UP] * 3
    assert (decisions[-1].samples, decisions[-1].needed) == (3, 4)
    assert h.accepted() == []


def test_a_buy_signal_submits_an_ioc_limit_at_the_best_ask_for_the_strategy() -> None:
    h = Harness(config())
    decision = h.feed(UP)[-1]
    assert (decision.signal, decision.reason) == ("BUY", R.ORDER_ACCEPTED)
    (accepted,) = h.accepted()
    assert accepted.account_id == ACCOUNT
    assert accepted.origin == "strategy"
    assert (accepted.side, accepted.order_type, accepted.time_in_force) == (
        Side.BUY,
        OrderType.LIMIT,
        TimeInForce.IOC,
    )
    assert (accepted.qty, accepted.price) == (10, 104)  # best ask = mid + 1
    assert accepted.client_order_id == accepted.idempotency_key
    assert accepted.client_order_id.startswith("stg-abc123-")
    assert decision.order_id == accepted.order_id
    assert (decision.short_ma, decision.long_ma, decision.rsi) == (102.0, 101.5, 80.0)


def test_a_sell_signal_submits_at_the_best_bid() -> None:
    h = Harness(config())
    decision = h.feed(DOWN)[-1]
    assert (decision.signal, decision.reason) == ("SELL", R.ORDER_ACCEPTED)
    (accepted,) = h.accepted()
    assert (accepted.side, accepted.price) == (Side.SELL, 196)  # best bid = mid - 1


def test_no_price_when_neither_book_nor_events_have_one() -> None:
    h = Harness(config())
    assert h.tick()[0].reason == R.NO_PRICE


def test_events_prices_are_used_when_the_book_is_empty() -> None:
    h = Harness(config())
    for price in UP:
        h.rig.sequencer.record_market_event(
            key="BTC", price=price, volume=1, account_id="feed", now_ns=h.rig.tick()
        )
        decision = h.tick()[0]
    assert (decision.signal, decision.mid) == ("BUY", 103)
    assert decision.reason == R.NO_LIQUIDITY  # a signal, but no book to trade against


def test_no_liquidity_on_the_side_the_order_would_take() -> None:
    h = Harness(config())
    h.books.set("BTC", 90, 0)  # bids only: nothing to buy from, and no mid
    for price in UP:
        h.rig.sequencer.record_market_event(
            key="BTC", price=price, volume=1, account_id="feed", now_ns=h.rig.tick()
        )
        decision = h.tick()[0]
    assert (decision.signal, decision.reason) == ("BUY", R.NO_LIQUIDITY)
    assert h.accepted() == []


def test_open_orders_count_towards_the_position_cap() -> None:
    h = Harness(config(order_qty=10, max_position=10))
    h.feed(UP)
    decision = h.tick(zigzag(100, 1, 5)[-1])[0]  # still BUY; the first order is still open
    assert decision.signal == "BUY"
    assert decision.position == 10
    assert decision.reason == R.POSITION_LIMIT
    assert len(h.accepted()) == 1


def test_filled_position_counts_and_final_orders_stop_counting() -> None:
    h = Harness(config(order_qty=10, max_position=20))
    h.feed(UP)
    (first,) = h.accepted()
    h.fill(first.order_id, 10, 104)
    assert h.rig.state.orders[first.order_id].status == OrderStatus.FILLED
    more = zigzag(100, 1, 6)
    decision = h.tick(more[4])[0]
    assert decision.position == 10  # filled, no longer open
    assert decision.reason == R.ORDER_ACCEPTED
    assert h.tick(more[5])[0].reason == R.POSITION_LIMIT  # 10 filled + 10 open = 20


def test_orders_that_reduce_an_oversized_position_are_allowed() -> None:
    h = Harness(config(order_qty=10, max_position=10))
    h.feed(UP)
    h.fill(h.accepted()[0].order_id, 10, 104)
    h.trader.configure(config(order_qty=10, max_position=10, version=4))
    h.trader.reset_prices()
    decision = h.feed(DOWN)[-1]
    assert (decision.signal, decision.reason, decision.position) == ("SELL", R.ORDER_ACCEPTED, 10)


def test_cooldown_is_per_symbol_since_the_last_submission() -> None:
    h = Harness(config(cooldown_ms=250, max_position=1000, symbols=("BTC", "ETH")))
    more = zigzag(100, 1, 7)
    for mid in more[:4]:
        h.books.set("ETH", mid - 1, mid + 1)
        decisions = h.tick(mid)
    assert [d.reason for d in decisions] == [R.ORDER_ACCEPTED] * 2  # one each: per symbol
    assert [d.reason for d in h.tick(more[4])] == [R.COOLDOWN] * 2  # 100 ms later
    assert h.tick(more[5])[0].reason == R.COOLDOWN  # 200 ms
    assert h.tick(more[6], step_ms=50)[0].reason == R.ORDER_ACCEPTED  # 250 ms


def test_rate_limit_is_a_sliding_minute() -> None:
    h = Harness(config(max_orders_per_min=2, max_position=1000))
    more = zigzag(100, 1, 8)
    h.feed(more[:4])
    assert h.tick(more[4])[0].reason == R.ORDER_ACCEPTED
    assert h.tick(more[5])[0].reason == R.RATE_LIMIT
    assert h.trader.submissions_in_window() == 2
    assert h.tick(more[6], step_ms=RATE_WINDOW_MS - 300)[0].reason == R.RATE_LIMIT
    assert h.tick(more[7], step_ms=100)[0].reason == R.ORDER_ACCEPTED  # the first left


def test_kill_switch_stops_orders_but_signals_are_still_recorded() -> None:
    h = Harness(config())
    h.rig.sequencer.set_kill_switch(
        scope=ACCOUNT, active=True, cancel_open=False, actor="ops", note="", now_ns=h.rig.tick()
    )
    decision = h.feed(UP)[-1]
    assert (decision.signal, decision.reason, decision.rsi) == ("BUY", R.KILL_SWITCH, 80.0)
    assert h.accepted() == []


def test_global_kill_switch_also_stops_the_strategy() -> None:
    h = Harness(config())
    h.rig.sequencer.set_kill_switch(
        scope="*", active=True, cancel_open=False, actor="ops", note="", now_ns=h.rig.tick()
    )
    assert h.feed(UP)[-1].reason == R.KILL_SWITCH


def test_a_gateway_refusal_is_the_reason() -> None:
    h = Harness(config())
    h.refused = R.BACKPRESSURE
    assert h.feed(UP)[-1].reason == R.BACKPRESSURE
    assert h.accepted() == []


def test_a_risk_denial_is_recorded_and_counts_for_the_rails() -> None:
    h = Harness(config(cooldown_ms=1000), risk=RiskConfig(max_qty=5))
    decision = h.feed(UP)[-1]
    assert (decision.reason, decision.detail) == (R.ORDER_DENIED, "QTY_LIMIT_EXCEEDED")
    denied = [r for _, _, r in h.rig.records if isinstance(r, OrderDenied)]
    assert [d.origin for d in denied] == ["strategy"]
    assert h.tick(zigzag(100, 1, 5)[-1])[0].reason == R.COOLDOWN
    assert h.trader.orders == {("BUY", "denied"): 1}


def test_every_decision_is_counted_and_the_recent_list_is_bounded() -> None:
    h = Harness(config())
    for _ in range(60):
        h.tick(100)
    assert len(h.trader.log) == 50
    assert h.trader.log.dropped == 10
    assert h.trader.reasons[WARMING_UP] == 3
    assert h.trader.reasons[HOLD_NO_TREND] == 57
    assert sum(h.trader.reasons.values()) == 60
    newest = h.trader.log.newest(2)
    assert [d.samples for d in newest] == [60, 59]


def test_configure_drops_the_history_of_symbols_no_longer_traded() -> None:
    h = Harness(config(symbols=("BTC", "ETH")))
    h.books.set("ETH", 50, 52)
    h.feed([100, 100])
    assert (h.trader.samples("BTC"), h.trader.samples("ETH")) == (2, 2)
    h.trader.configure(config(symbols=("BTC",), version=4))
    assert (h.trader.samples("BTC"), h.trader.samples("ETH")) == (2, 0)
    h.trader.reset_prices()
    assert h.trader.samples("BTC") == 0


def test_live_orders_found_at_start_count_towards_the_cap() -> None:
    h = Harness(config(order_qty=10, max_position=10))
    h.rig.sequencer.submit_order(
        account_id=ACCOUNT,
        idempotency_key="old-1",
        client_order_id="old-1",
        symbol="BTC",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=10,
        price=90,
        time_in_force=TimeInForce.GTC,
        expire_at_ms=0,
        post_only=False,
        origin="strategy",
        now_ns=h.rig.tick(),
    )
    fresh = Trader(config(order_qty=10, max_position=10), h.port, decisions_max=10)
    fresh.track_existing(iter(h.port.live_orders()))
    assert fresh.live_order_count == 1
    h.trader = fresh
    assert h.feed(UP)[-1].reason == R.POSITION_LIMIT


@pytest.mark.parametrize("mids", [UP, DOWN])
def test_decisions_serialise_with_the_signal_values_first(mids: list[int]) -> None:
    h = Harness(config())
    body = h.feed(mids)[-1].to_json()
    assert list(body)[:8] == [
        "atMs",
        "symbol",
        "signal",
        "reason",
        "shortMa",
        "longMa",
        "rsi",
        "position",
    ]
    assert body["orderId"] is not None
    assert body["configVersion"] == 3
