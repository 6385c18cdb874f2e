"""VenueService and its market makers: seeded, quoting around the reference, hidden reports."""

from __future__ import annotations

import pytest

from switchyard.book import DEFAULT_SPECS, SymbolSpec
from switchyard.core.codes import Reason
from switchyard.core.enums import OrderType, ReportKind, Side, TimeInForce
from switchyard.core.env import ConfigError
from switchyard.core.messages import (
    VenueCancel,
    VenueNewOrder,
    VenueReference,
    VenueStatusQuery,
)
from switchyard.venue.service import VenueService
from switchyard.venue.settings import LiquidityConfig, VenueSettings

SPECS = tuple(DEFAULT_SPECS.values())


def levels(
    service: VenueService, symbol: str
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    snapshot = service.snapshot(symbol, 20)
    assert snapshot is not None
    return [(lv.price, lv.qty) for lv in snapshot.bids], [
        (lv.price, lv.qty) for lv in snapshot.asks
    ]


def run(seed: int, ticks: int) -> VenueService:
    service = VenueService(SPECS, liquidity=True, seed=seed)
    for tick in range(ticks):
        service.tick(tick)
        service.take_market_data(tick)
    return service


def test_service_same_seed_gives_the_same_books() -> None:
    assert [levels(run(7, 30), s.symbol) for s in SPECS] == [
        levels(run(7, 30), s.symbol) for s in SPECS
    ]
    assert levels(run(7, 30), "BTC") != levels(run(8, 30), "BTC")


def test_service_quotes_depth_levels_around_the_reference_uncrossed() -> None:
    service = run(1, 20)
    for spec in SPECS:
        bids, asks = levels(service, spec.symbol)
        assert len(bids) == len(asks) == LiquidityConfig().depth
        assert bids[0][0] < service.makers[spec.symbol].reference_price < asks[0][0]
        assert all(qty % spec.lot_size == 0 and qty > 0 for _, qty in bids + asks)
        assert all(price % spec.tick_size == 0 for price, _ in bids + asks)
    service.engine.check_invariants()


def test_service_lone_user_market_order_fills_against_liquidity() -> None:
    service = run(3, 5)
    _, asks = levels(service, "BTC")
    reports = service.handle(
        VenueNewOrder("u1", "alice", "BTC", Side.BUY, OrderType.MARKET, 2, 0, TimeInForce.IOC), 9
    )
    assert [r.kind for r in reports] == [ReportKind.ACK, ReportKind.FILL]
    assert reports[-1].last_price == asks[0][0]
    assert all(not r.order_id.startswith("~") for r in reports)  # maker reports hidden
    assert service.reports_hidden > 0


def test_service_makers_follow_a_reference_price() -> None:
    service = run(3, 2)
    service.handle(VenueReference("7203", 2_900), 5)
    bids, asks = levels(service, "7203")
    assert bids[0][0] < 2_900 < asks[0][0]


def test_service_refuses_client_use_of_the_maker_namespace() -> None:
    service = run(3, 1)
    rejected = service.handle(
        VenueNewOrder(
            "~mm-BTC-1", "x", "BTC", Side.BUY, OrderType.LIMIT, 1, 60_000, TimeInForce.GTC
        ),
        2,
    )[0]
    assert (rejected.kind, rejected.reason) == (ReportKind.REJECTED, Reason.VENUE_REJECTED)
    refused = service.handle(VenueCancel("~mm-BTC-1", "BTC"), 2)[0]
    assert (refused.kind, refused.reason) == (ReportKind.CANCEL_REJECTED, Reason.UNKNOWN_ORDER)
    assert service.engine.order("~mm-BTC-1") is not None  # the maker's quote is untouched


def test_service_tick_expires_gtd_orders_without_liquidity() -> None:
    service = VenueService([SymbolSpec("X", 100)], liquidity=False)
    service.handle(
        VenueNewOrder("g", "a", "X", Side.BUY, OrderType.LIMIT, 1, 99, TimeInForce.GTD, 50), 1
    )
    assert service.tick(49) == []
    expired = service.tick(50)
    assert [(r.kind, r.reason) for r in expired] == [(ReportKind.EXPIRED, Reason.GTD_EXPIRED)]
    status = service.handle(VenueStatusQuery("g", "X"), 51)[0]
    assert status.reason == Reason.GTD_EXPIRED


def test_settings_defaults_and_bad_values_name_the_variable() -> None:
    settings = VenueSettings.from_env({})
    assert [s.symbol for s in settings.specs] == ["BTC", "ETH", "7203", "6758", "9984"]
    assert (settings.transport, settings.tcp_port, settings.sim_delay_ms) == ("sim", 9901, 0.0)
    custom = VenueSettings.from_env({"VENUE_SYMBOLS": "BTC,FOO:500:5:10:200"})
    assert custom.specs[1] == SymbolSpec("FOO", 500, 5, 10, 200)
    with pytest.raises(ConfigError, match="VENUE_SYMBOLS"):
        VenueSettings.from_env({"VENUE_SYMBOLS": "FOO:501:5"})
    with pytest.raises(ConfigError, match="EXCHANGE_TRANSPORT"):
        VenueSettings.from_env({"EXCHANGE_TRANSPORT": "carrier-pigeon"})


def test_service_makers_keep_full_depth_through_a_volatile_walk() -> None:
    config = LiquidityConfig(volatility_bps=50.0)
    service = VenueService(SPECS[:1], liquidity=True, liquidity_config=config, seed=5)
    references = set()
    for tick in range(200):
        service.tick(tick)
        service.take_market_data(tick)
        bids, asks = levels(service, "BTC")
        assert len(bids) == len(asks) == config.depth, f"tick {tick}"
        references.add(service.makers["BTC"].reference_price)
    assert len(references) > 100  # it really moved
    assert not [
        o for o in service.engine.registry.final.values() if o.reason == Reason.SELF_TRADE_PREVENTED
    ]


def test_final_order_retention_comes_from_the_environment() -> None:
    settings = VenueSettings.from_env({"VENUE_FINAL_ORDERS_RETAINED_MAX": "2"})
    assert settings.final_retained_max == 2
    service = VenueService.from_settings(settings)
    for index in range(3):  # no liquidity: each IOC order expires at once and is final
        order = VenueNewOrder(
            f"f{index}", "alice", "BTC", Side.BUY, OrderType.MARKET, 1, 0, TimeInForce.IOC
        )
        service.handle(order, index + 1)
    assert service.engine.order("f0") is None  # the oldest final order is forgotten
    assert service.engine.order("f1") is not None
    assert service.engine.order("f2") is not None
    with pytest.raises(ConfigError, match="VENUE_FINAL_ORDERS_RETAINED_MAX"):
        VenueSettings.from_env({"VENUE_FINAL_ORDERS_RETAINED_MAX": "0"})
