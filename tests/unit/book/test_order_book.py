"""One behaviour per test: matching, time in force, replace, self-trade prevention, checks."""

from __future__ import annotations

import pytest

from switchyard.book import MatchingEngine, SymbolSpec
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
from switchyard.core.messages import (
    BookDelta,
    ExecReport,
    Trade,
    VenueCancel,
    VenueNewOrder,
    VenueReference,
    VenueReplace,
    VenueStatusQuery,
)

SPEC = SymbolSpec("XYZ", reference_price=1_000, tick_size=5, lot_size=10, band_bps=1_000)
BUY, SELL = Side.BUY, Side.SELL


def engine(policy: SelfTradePolicy = SelfTradePolicy.CANCEL_RESTING) -> MatchingEngine:
    return MatchingEngine([SPEC], stp_policy=policy)


def new(
    eng: MatchingEngine,
    order_id: str,
    side: Side,
    qty: int,
    price: int = 1_000,
    *,
    account: str = "acct",
    tif: TimeInForce = TimeInForce.GTC,
    order_type: OrderType = OrderType.LIMIT,
    expire_at_ns: int = 0,
    post_only: bool = False,
    now_ns: int = 1,
) -> list[ExecReport]:
    reports = eng.new_order(
        VenueNewOrder(
            order_id, account, "XYZ", side, order_type, qty, price, tif, expire_at_ns, post_only
        ),
        now_ns,
    )
    eng.take_market_data(now_ns)
    eng.check_invariants()
    return reports


def kinds(reports: list[ExecReport]) -> list[tuple[str, str]]:
    return [(r.kind.name, r.order_id) for r in reports]


def book(eng: MatchingEngine) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    snapshot = eng.snapshot("XYZ", 10)
    assert snapshot is not None
    return [(lv.price, lv.qty) for lv in snapshot.bids], [
        (lv.price, lv.qty) for lv in snapshot.asks
    ]


def test_new_order_rests_and_is_acknowledged() -> None:
    eng = engine()
    reports = new(eng, "b1", BUY, 30, 995)
    assert kinds(reports) == [("ACK", "b1")]
    assert reports[0].leaves_qty == 30
    assert book(eng) == ([(995, 30)], [])


def test_crossing_order_fills_at_the_resting_price_taker_first() -> None:
    eng = engine()
    new(eng, "s1", SELL, 20, 1_005, account="maker")
    reports = new(eng, "b1", BUY, 20, 1_010)
    assert kinds(reports) == [("ACK", "b1"), ("FILL", "b1"), ("FILL", "s1")]
    taker, maker = reports[1], reports[2]
    assert (taker.last_price, taker.last_qty, taker.liquidity) == (1_005, 20, LiquiditySide.TAKER)
    assert maker.liquidity == LiquiditySide.MAKER
    assert taker.exec_id == maker.exec_id == "XYZ-1"
    assert book(eng) == ([], [])


def test_price_priority_then_time_priority() -> None:
    eng = engine()
    new(eng, "s1", SELL, 10, 1_010, account="m1")
    new(eng, "s2", SELL, 10, 1_005, account="m2")
    new(eng, "s3", SELL, 10, 1_005, account="m3")
    reports = new(eng, "b1", BUY, 30, 1_010)
    makers = [r.order_id for r in reports if r.liquidity == LiquiditySide.MAKER]
    assert makers == ["s2", "s3", "s1"]


def test_partial_fill_leaves_the_remainder_resting() -> None:
    eng = engine()
    new(eng, "s1", SELL, 50, 1_000, account="maker")
    reports = new(eng, "b1", BUY, 20, 1_000)
    assert reports[-1].leaves_qty == 30
    assert book(eng) == ([], [(1_000, 30)])
    status = eng.status(VenueStatusQuery("s1", "XYZ"), 2)[0]
    assert status.order_status == OrderStatus.PARTIALLY_FILLED


def test_market_order_sweeps_levels_and_expires_the_rest() -> None:
    eng = engine()
    new(eng, "s1", SELL, 10, 1_000, account="maker")
    new(eng, "s2", SELL, 10, 1_050, account="maker")
    reports = new(eng, "m1", BUY, 30, 0, order_type=OrderType.MARKET)
    assert [r.last_price for r in reports if r.kind == ReportKind.FILL][::2] == [1_000, 1_050]
    assert reports[-1].kind == ReportKind.EXPIRED
    assert reports[-1].reason == Reason.NO_LIQUIDITY
    assert reports[-1].cum_qty == 20


def test_ioc_remainder_expires_and_never_rests() -> None:
    eng = engine()
    new(eng, "s1", SELL, 10, 1_000, account="maker")
    reports = new(eng, "i1", BUY, 30, 1_000, tif=TimeInForce.IOC)
    assert reports[-1].kind == ReportKind.EXPIRED
    assert reports[-1].reason == Reason.IOC_REMAINDER
    assert book(eng) == ([], [])


def test_fok_not_fillable_expires_without_trading() -> None:
    eng = engine()
    new(eng, "s1", SELL, 10, 1_000, account="maker")
    reports = new(eng, "f1", BUY, 20, 1_000, tif=TimeInForce.FOK)
    assert kinds(reports) == [("ACK", "f1"), ("EXPIRED", "f1")]
    assert reports[-1].reason == Reason.FOK_NOT_FILLABLE
    assert book(eng) == ([], [(1_000, 10)])


def test_fok_fillable_fills_completely() -> None:
    eng = engine()
    new(eng, "s1", SELL, 10, 1_000, account="maker")
    new(eng, "s2", SELL, 10, 1_005, account="maker")
    reports = new(eng, "f1", BUY, 20, 1_005, tif=TimeInForce.FOK)
    last = [r for r in reports if r.order_id == "f1"][-1]
    assert (last.kind, last.cum_qty, last.leaves_qty) == (ReportKind.FILL, 20, 0)


def test_gtd_order_expires_when_time_passes() -> None:
    eng = engine()
    new(eng, "g1", BUY, 10, 995, tif=TimeInForce.GTD, expire_at_ns=100)
    assert eng.expire(99) == []
    reports = eng.expire(100)
    assert kinds(reports) == [("EXPIRED", "g1")]
    assert reports[0].reason == Reason.GTD_EXPIRED
    eng.take_market_data(100)
    assert book(eng) == ([], [])


def test_gtd_expiry_runs_before_the_next_command() -> None:
    eng = engine()
    new(eng, "g1", SELL, 10, 1_000, tif=TimeInForce.GTD, expire_at_ns=50)
    reports = new(eng, "b1", BUY, 10, 1_000, now_ns=60)
    assert kinds(reports) == [("EXPIRED", "g1"), ("ACK", "b1")]


def test_gtd_expire_at_in_the_past_is_rejected() -> None:
    reports = new(engine(), "g1", BUY, 10, 995, tif=TimeInForce.GTD, expire_at_ns=1)
    assert reports[0].reason == Reason.EXPIRE_AT_IN_PAST


@pytest.mark.parametrize(
    ("qty", "price", "reason"),
    [
        (15, 1_000, Reason.INVALID_LOT),
        (0, 1_000, Reason.INVALID_LOT),
        (10, 1_003, Reason.INVALID_TICK),
        (10, 0, Reason.INVALID_TICK),
        (10, 1_200, Reason.OUTSIDE_PRICE_BAND),
    ],
)
def test_invalid_orders_are_rejected_with_their_reason(
    qty: int, price: int, reason: Reason
) -> None:
    reports = new(engine(), "x", BUY, qty, price)
    assert kinds(reports) == [("REJECTED", "x")]
    assert reports[0].reason == reason


def test_price_band_follows_the_reference() -> None:
    eng = engine()
    eng.reference(VenueReference("XYZ", 1_200), 1)
    assert new(eng, "b1", BUY, 10, 1_200)[0].kind == ReportKind.ACK


def test_unknown_symbol_is_rejected() -> None:
    eng = engine()
    msg = VenueNewOrder("x", "a", "NOPE", BUY, OrderType.LIMIT, 10, 1_000, TimeInForce.GTC)
    assert eng.new_order(msg, 1)[0].reason == Reason.UNKNOWN_SYMBOL


def test_post_only_that_would_take_is_rejected() -> None:
    eng = engine()
    new(eng, "s1", SELL, 10, 1_000, account="maker")
    reports = new(eng, "p1", BUY, 10, 1_000, post_only=True)
    assert reports[0].reason == Reason.POST_ONLY_WOULD_TAKE
    assert new(eng, "p2", BUY, 10, 995, post_only=True)[0].kind == ReportKind.ACK


def test_cancel_removes_the_order() -> None:
    eng = engine()
    new(eng, "b1", BUY, 10, 995)
    reports = eng.cancel(VenueCancel("b1", "XYZ"), 2)
    assert kinds(reports) == [("CANCELED", "b1")]
    assert reports[0].reason == Reason.USER_REQUESTED
    eng.take_market_data(2)
    assert book(eng) == ([], [])


def test_cancel_of_unknown_or_final_orders_is_refused() -> None:
    eng = engine()
    assert eng.cancel(VenueCancel("nope", "XYZ"), 1)[0].reason == Reason.UNKNOWN_ORDER
    new(eng, "b1", BUY, 10, 995)
    eng.cancel(VenueCancel("b1", "XYZ"), 2)
    refused = eng.cancel(VenueCancel("b1", "XYZ"), 3)[0]
    assert (refused.kind, refused.reason) == (ReportKind.CANCEL_REJECTED, Reason.ORDER_FINAL)


def test_replace_size_decrease_keeps_priority() -> None:
    eng = engine()
    new(eng, "b1", BUY, 30, 995, account="a1")
    new(eng, "b2", BUY, 30, 995, account="a2")
    replaced = eng.replace(VenueReplace("b1", "XYZ", 20, 995), 2)[0]
    assert replaced.priority_kept
    reports = new(eng, "s1", SELL, 10, 995, account="a3")
    assert [r.order_id for r in reports if r.liquidity == LiquiditySide.MAKER] == ["b1"]


@pytest.mark.parametrize(
    "moves", [[(40, 990)], [(30, 985), (30, 990)]], ids=["size-up", "price-away-and-back"]
)
def test_replace_size_increase_or_price_change_loses_priority(moves: list[tuple[int, int]]) -> None:
    eng = engine()
    new(eng, "b1", BUY, 30, 990, account="a1")
    new(eng, "b2", BUY, 30, 990, account="a2")
    for qty, price in moves:
        replaced = eng.replace(VenueReplace("b1", "XYZ", qty, price), 2)[0]
        assert not replaced.priority_kept
    reports = new(eng, "s1", SELL, 10, 990, account="a3")
    assert [r.order_id for r in reports if r.liquidity == LiquiditySide.MAKER] == ["b2"]


def test_replace_to_a_crossing_price_trades() -> None:
    eng = engine()
    new(eng, "s1", SELL, 10, 1_005, account="maker")
    new(eng, "b1", BUY, 10, 995)
    reports = eng.replace(VenueReplace("b1", "XYZ", 10, 1_005), 2)
    assert kinds(reports) == [("REPLACED", "b1"), ("FILL", "b1"), ("FILL", "s1")]


@pytest.mark.parametrize(
    ("qty", "price", "reason"),
    [
        (15, 995, Reason.INVALID_LOT),
        (20, 997, Reason.INVALID_TICK),
        (10, 995, Reason.INVALID_REPLACE),
    ],
)
def test_refused_replace_leaves_the_order_untouched(qty: int, price: int, reason: Reason) -> None:
    eng = engine()
    new(eng, "s1", SELL, 10, 995, account="maker")
    new(eng, "b1", BUY, 30, 995)  # 10 filled: cum 10, leaves 20
    before = book(eng)
    refused = eng.replace(VenueReplace("b1", "XYZ", qty, price), 2)[0]
    assert (refused.kind, refused.reason) == (ReportKind.REPLACE_REJECTED, reason)
    assert (refused.qty, refused.price, refused.cum_qty, refused.leaves_qty) == (30, 995, 10, 20)
    eng.take_market_data(2)
    assert book(eng) == before


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            SelfTradePolicy.CANCEL_RESTING,
            [("ACK", "b1"), ("CANCELED", "s1"), ("FILL", "b1"), ("FILL", "s2")],
        ),
        (SelfTradePolicy.CANCEL_INCOMING, [("ACK", "b1"), ("CANCELED", "b1")]),
        (SelfTradePolicy.CANCEL_BOTH, [("ACK", "b1"), ("CANCELED", "s1"), ("CANCELED", "b1")]),
        (SelfTradePolicy.ALLOW, [("ACK", "b1"), ("FILL", "b1"), ("FILL", "s1")]),
    ],
)
def test_self_trade_prevention_policies(
    policy: SelfTradePolicy, expected: list[tuple[str, str]]
) -> None:
    eng = engine(policy)
    new(eng, "s1", SELL, 10, 1_000, account="same")
    new(eng, "s2", SELL, 10, 1_000, account="other")
    reports = new(eng, "b1", BUY, 10, 1_000, account="same")
    assert kinds(reports) == expected
    stp = [r for r in reports if r.kind == ReportKind.CANCELED]
    assert all(r.reason == Reason.SELF_TRADE_PREVENTED for r in stp)


def test_duplicate_new_answers_status_and_creates_no_second_order() -> None:
    eng = engine()
    new(eng, "b1", BUY, 10, 995)
    reports = new(eng, "b1", BUY, 10, 995)
    assert kinds(reports) == [("STATUS", "b1")]
    assert reports[0].reason == Reason.DUPLICATE_ORDER_ID
    assert reports[0].order_status == OrderStatus.SENT
    assert book(eng) == ([(995, 10)], [])


def test_status_of_unknown_order_says_unknown() -> None:
    report = engine().status(VenueStatusQuery("ghost", "XYZ"), 1)[0]
    assert (report.kind, report.reason, report.order_status) == (
        ReportKind.STATUS,
        Reason.UNKNOWN_ORDER,
        None,
    )


def test_venue_seq_increases_by_one_per_report() -> None:
    eng = engine()
    new(eng, "s1", SELL, 10, 1_000, account="maker")
    reports = new(eng, "b1", BUY, 10, 1_000)
    seqs = [r.venue_seq for r in reports]
    assert seqs == list(range(2, 2 + len(seqs)))


def test_market_data_delta_then_trades_with_the_delta_seq() -> None:
    eng = engine()
    eng.new_order(
        VenueNewOrder("s1", "m", "XYZ", SELL, OrderType.LIMIT, 10, 1_000, TimeInForce.GTC), 1
    )
    first = eng.take_market_data(1)
    eng.new_order(
        VenueNewOrder("b1", "t", "XYZ", BUY, OrderType.LIMIT, 10, 1_000, TimeInForce.GTC), 2
    )
    second = eng.take_market_data(2)
    assert isinstance(first[0], BookDelta)
    assert first[0].seq == 1
    delta, trade = second
    assert isinstance(delta, BookDelta)
    assert isinstance(trade, Trade)
    assert delta.seq == trade.seq == 2
    assert [(lv.price, lv.qty) for lv in delta.asks] == [(1_000, 0)]
    assert (trade.price, trade.qty, trade.aggressor) == (1_000, 10, BUY)


def test_open_orders_bound_rejects_beyond_it() -> None:
    eng = MatchingEngine([SPEC], open_orders_max=2)
    new(eng, "b1", BUY, 10, 995)
    new(eng, "b2", BUY, 10, 990)
    assert new(eng, "b3", BUY, 10, 985)[0].reason == Reason.VENUE_REJECTED


def test_final_orders_are_forgotten_beyond_the_retention_bound() -> None:
    eng = MatchingEngine([SPEC], final_retained_max=2)
    for index in range(3):
        new(eng, f"b{index}", BUY, 10, 995)
        eng.cancel(VenueCancel(f"b{index}", "XYZ"), 2)
    assert eng.order("b0") is None
    assert eng.order("b2") is not None
    eng.check_invariants()


def test_bbo_reports_best_levels() -> None:
    eng = engine()
    new(eng, "b1", BUY, 10, 990)
    new(eng, "b2", BUY, 20, 995)
    new(eng, "s1", SELL, 30, 1_010, account="m")
    bid = eng.books["XYZ"].best_bid()
    ask = eng.books["XYZ"].best_ask()
    assert bid is not None
    assert ask is not None
    assert (bid.price, bid.qty, ask.price, ask.qty) == (995, 20, 1_010, 30)


def test_level_with_many_canceled_orders_keeps_only_live_ones() -> None:
    eng = engine()
    new(eng, "keep", BUY, 10, 995)
    for index in range(100):
        new(eng, f"c{index}", BUY, 10, 995)
        eng.cancel(VenueCancel(f"c{index}", "XYZ"), 2)
    assert [o.order_id for o in eng.books["XYZ"].bid_levels[995].orders.values()] == ["keep"]
    eng.take_market_data(2)
    eng.check_invariants()


def test_gtd_orders_due_together_expire_in_priority_order_after_a_move() -> None:
    eng = engine()
    new(eng, "g1", BUY, 10, 995, tif=TimeInForce.GTD, expire_at_ns=100)
    new(eng, "g2", BUY, 10, 990, tif=TimeInForce.GTD, expire_at_ns=100)
    eng.replace(VenueReplace("g1", "XYZ", 10, 985), 2)  # loses priority: now behind g2
    assert kinds(eng.expire(100)) == [("EXPIRED", "g2"), ("EXPIRED", "g1")]
    eng.check_invariants()


def test_delta_lists_each_changed_level_once_in_first_change_order() -> None:
    eng = engine()
    new(eng, "b1", BUY, 10, 995)
    new(eng, "b2", BUY, 10, 990)
    eng.replace(VenueReplace("b1", "XYZ", 10, 985), 2)  # 995 emptied, 985 created
    eng.new_order(
        VenueNewOrder("b3", "a", "XYZ", BUY, OrderType.LIMIT, 20, 995, TimeInForce.GTC), 3
    )  # 995 re-created
    eng.cancel(VenueCancel("b2", "XYZ"), 4)
    (delta,) = eng.take_market_data(4)
    assert isinstance(delta, BookDelta)
    assert [(lv.price, lv.qty) for lv in delta.bids] == [(995, 20), (985, 10), (990, 0)]
    eng.check_invariants()


def test_price_band_edges_for_new_orders_and_replaces() -> None:
    eng = engine()  # reference 1,000, band 1,000 bps: 900..1,100
    assert new(eng, "lo", BUY, 10, 900)[0].kind == ReportKind.ACK
    assert new(eng, "hi", SELL, 10, 1_100, account="m")[0].kind == ReportKind.ACK
    assert new(eng, "x1", BUY, 10, 895)[0].reason == Reason.OUTSIDE_PRICE_BAND
    assert new(eng, "x2", SELL, 10, 1_105)[0].reason == Reason.OUTSIDE_PRICE_BAND
    refused = eng.replace(VenueReplace("lo", "XYZ", 10, 895), 2)
    assert [(r.kind, r.reason) for r in refused] == [
        (ReportKind.REPLACE_REJECTED, Reason.OUTSIDE_PRICE_BAND)
    ]
    eng.reference(VenueReference("XYZ", 1_050), 3)  # 945..1,155
    refused = eng.replace(VenueReplace("lo", "XYZ", 10, 940), 4)
    assert refused[0].reason == Reason.OUTSIDE_PRICE_BAND
    assert eng.replace(VenueReplace("hi", "XYZ", 10, 1_155), 5)[0].kind == ReportKind.REPLACED


def test_enum_fields_that_are_not_enum_members_are_a_programmer_error() -> None:
    eng = engine()
    raw_side = VenueNewOrder("b1", "a", "XYZ", 1, OrderType.LIMIT, 10, 995, TimeInForce.GTC)  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        eng.new_order(raw_side, 1)
