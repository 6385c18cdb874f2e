"""For any command sequence the engine agrees with the reference venue, step by step.

Compared after every command: every report (all fields, venue seq included), every trade,
the full L2 book of each symbol; and `check_invariants()` holds (no crossed book at rest,
quantities conserved, a filled order never rests, priorities consistent). A second property
checks that the deltas rebuild the book from an empty one.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchyard.book import MatchingEngine, SymbolSpec
from switchyard.core.enums import OrderType, SelfTradePolicy, Side, TimeInForce
from switchyard.core.messages import (
    BookDelta,
    Trade,
    VenueCancel,
    VenueNewOrder,
    VenueReference,
    VenueReplace,
    VenueRequest,
    VenueStatusQuery,
)
from switchyard.testing.reference_book import ReferenceVenue

SPECS = [
    SymbolSpec("AAA", reference_price=100, tick_size=1, lot_size=1, band_bps=1_000),
    SymbolSpec("BBB", reference_price=200, tick_size=2, lot_size=10, band_bps=0),
]
ORDER_IDS = [f"o{index}" for index in range(24)]
ACCOUNTS = ["a", "b", "c"]


@st.composite
def new_orders(draw: st.DrawFn) -> VenueNewOrder:
    spec = draw(st.sampled_from(SPECS))
    order_type = draw(st.sampled_from([OrderType.LIMIT] * 6 + [OrderType.MARKET]))
    tif = draw(st.sampled_from([TimeInForce.GTC] * 4 + list(TimeInForce)))
    offset = draw(st.integers(-11, 11))
    lots = draw(st.sampled_from([0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9]))
    qty = lots * spec.lot_size + draw(st.sampled_from([0] * 12 + [1]))  # sometimes off-lot
    return VenueNewOrder(
        order_id=draw(st.sampled_from(ORDER_IDS)),
        account_id=draw(st.sampled_from(ACCOUNTS)),
        symbol=spec.symbol,
        side=draw(st.sampled_from(list(Side))),
        order_type=order_type,
        qty=qty,
        price=spec.reference_price
        + offset * spec.tick_size
        + draw(st.sampled_from([0] * 12 + [1])),
        time_in_force=tif,
        expire_at_ns=draw(st.integers(0, 60)),
        post_only=draw(st.sampled_from([False] * 6 + [True])),
    )


@st.composite
def replaces(draw: st.DrawFn) -> VenueReplace:
    spec = draw(st.sampled_from(SPECS))
    return VenueReplace(
        order_id=draw(st.sampled_from(ORDER_IDS)),
        symbol=spec.symbol,
        qty=draw(st.integers(0, 9)) * spec.lot_size,
        price=spec.reference_price + draw(st.integers(-11, 11)) * spec.tick_size,
    )


requests = st.one_of(
    new_orders(),
    new_orders(),
    new_orders(),
    st.builds(VenueCancel, st.sampled_from(ORDER_IDS), st.sampled_from(["AAA", "BBB", "ZZZ"])),
    replaces(),
    st.builds(VenueStatusQuery, st.sampled_from(ORDER_IDS), st.just("AAA")),
    st.builds(VenueReference, st.sampled_from(["AAA", "BBB"]), st.integers(90, 110)),
)
steps = st.lists(st.tuples(requests, st.integers(0, 8)), min_size=20, max_size=100)


def run_both(
    commands: list[tuple[VenueRequest, int]], policy: SelfTradePolicy
) -> tuple[MatchingEngine, ReferenceVenue]:
    engine = MatchingEngine(SPECS, stp_policy=policy)
    reference = ReferenceVenue(SPECS, stp_policy=policy)
    now_ns = 0
    for index, (request, advance_ns) in enumerate(commands):
        now_ns += advance_ns
        got = engine.handle(request, now_ns)
        want = reference.handle(request, now_ns)
        assert got == want, f"step {index}: {request}"
        trades = [m for m in engine.take_market_data(now_ns) if isinstance(m, Trade)]
        want_trades = reference.trades
        reference.trades = []
        assert [(t.symbol, t.price, t.qty, t.aggressor) for t in trades] == [
            (t.symbol, t.price, t.qty, t.aggressor) for t in want_trades
        ], f"step {index}: {request}"
        engine.check_invariants()
        for spec in SPECS:
            snapshot = engine.snapshot(spec.symbol, 1_000)
            assert snapshot is not None
            bids, asks = reference.book(spec.symbol)
            assert [(lv.price, lv.qty) for lv in snapshot.bids] == bids, f"step {index}"
            assert [(lv.price, lv.qty) for lv in snapshot.asks] == asks, f"step {index}"
    return engine, reference


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=steps, policy=st.sampled_from(list(SelfTradePolicy)))
def test_book_matches_reference_on_any_command_sequence(
    commands: list[tuple[VenueRequest, int]], policy: SelfTradePolicy
) -> None:
    run_both(commands, policy)


@settings(max_examples=150, deadline=None)
@given(commands=steps)
def test_book_deltas_rebuild_the_snapshot_with_consecutive_seqs(
    commands: list[tuple[VenueRequest, int]],
) -> None:
    engine = MatchingEngine(SPECS)
    books: dict[str, tuple[dict[int, int], dict[int, int]]] = {s.symbol: ({}, {}) for s in SPECS}
    last_seq = {spec.symbol: 0 for spec in SPECS}
    now_ns = 0
    for request, advance_ns in commands:
        now_ns += advance_ns
        engine.handle(request, now_ns)
        for message in engine.take_market_data(now_ns):
            if isinstance(message, BookDelta):
                assert message.seq == last_seq[message.symbol] + 1
                last_seq[message.symbol] = message.seq
                bids, asks = books[message.symbol]
                for levels, changes in ((bids, message.bids), (asks, message.asks)):
                    for level in changes:
                        if level.qty:
                            levels[level.price] = level.qty
                        else:
                            levels.pop(level.price, None)
            else:
                assert message.seq == last_seq[message.symbol]  # a trade follows its delta
        for spec in SPECS:
            snapshot = engine.snapshot(spec.symbol, 1_000)
            assert snapshot is not None
            assert snapshot.seq == last_seq[spec.symbol]
            bids, asks = books[spec.symbol]
            assert [(lv.price, lv.qty) for lv in snapshot.bids] == sorted(bids.items())[::-1]
            assert [(lv.price, lv.qty) for lv in snapshot.asks] == sorted(asks.items())


@settings(max_examples=150, deadline=None)
@given(commands=steps, drain_every=st.integers(2, 12))
def test_book_conflated_deltas_rebuild_the_book_at_each_drain(
    commands: list[tuple[VenueRequest, int]], drain_every: int
) -> None:
    """Drained every few commands, one delta covers them all: each changed level once, with
    its total after the last of them (a level emptied and re-created in between included)."""
    engine = MatchingEngine(SPECS)
    books: dict[str, tuple[dict[int, int], dict[int, int]]] = {s.symbol: ({}, {}) for s in SPECS}
    now_ns = 0
    for index, (request, advance_ns) in enumerate(commands):
        now_ns += advance_ns
        engine.handle(request, now_ns)
        if index % drain_every:
            continue
        for message in engine.take_market_data(now_ns):
            if isinstance(message, BookDelta):
                bids, asks = books[message.symbol]
                for levels, changes in ((bids, message.bids), (asks, message.asks)):
                    assert len({level.price for level in changes}) == len(changes)
                    for level in changes:
                        if level.qty:
                            levels[level.price] = level.qty
                        else:
                            levels.pop(level.price, None)
        for spec in SPECS:
            snapshot = engine.snapshot(spec.symbol, 1_000)
            assert snapshot is not None
            bids, asks = books[spec.symbol]
            assert [(lv.price, lv.qty) for lv in snapshot.bids] == sorted(bids.items())[::-1]
            assert [(lv.price, lv.qty) for lv in snapshot.asks] == sorted(asks.items())


def random_commands(rng: random.Random, count: int) -> list[tuple[VenueRequest, int]]:
    """Long sequences (hypothesis favours short ones): the same kinds of commands."""
    commands: list[tuple[VenueRequest, int]] = []
    for _ in range(count):
        spec = rng.choice(SPECS)
        order_id = rng.choice(ORDER_IDS)
        roll = rng.random()
        price = spec.reference_price + rng.randint(-11, 11) * spec.tick_size
        request: VenueRequest
        if roll < 0.6:
            request = VenueNewOrder(
                order_id=f"{order_id}-{len(commands)}" if rng.random() < 0.8 else order_id,
                account_id=rng.choice(ACCOUNTS),
                symbol=spec.symbol,
                side=rng.choice(list(Side)),
                order_type=OrderType.MARKET if rng.random() < 0.1 else OrderType.LIMIT,
                qty=rng.randint(1, 9) * spec.lot_size,
                price=price,
                time_in_force=rng.choice([TimeInForce.GTC] * 4 + list(TimeInForce)),
                expire_at_ns=len(commands) * 4 + rng.randint(-5, 200),
                post_only=rng.random() < 0.1,
            )
        elif roll < 0.75:
            request = VenueCancel(_some_live(rng, commands) or order_id, spec.symbol)
        elif roll < 0.92:
            target = _some_live(rng, commands) or order_id
            request = VenueReplace(target, spec.symbol, rng.randint(1, 9) * spec.lot_size, price)
        else:
            request = VenueStatusQuery(_some_live(rng, commands) or order_id, spec.symbol)
        commands.append((request, rng.randint(0, 8)))
    return commands


def _some_live(rng: random.Random, commands: list[tuple[VenueRequest, int]]) -> str | None:
    news = [r.order_id for r, _ in commands[-40:] if isinstance(r, VenueNewOrder)]
    return rng.choice(news) if news else None


@pytest.mark.parametrize("seed", range(6))
def test_book_matches_reference_on_long_random_sequences(seed: int) -> None:
    rng = random.Random(seed)
    policy = list(SelfTradePolicy)[seed % len(SelfTradePolicy)]
    engine, reference = run_both(random_commands(rng, 1_500), policy)
    assert len(reference.trade_numbers) == len(SPECS)
    filled = [o for o in reference.orders.values() if o.status.name == "FILLED"]
    assert len(filled) > 50, "the sequence should trade a lot"
