"""SimVenueTransport specifics: artificial delay, ordering, start snapshots, the timer."""

from __future__ import annotations

import asyncio

import pytest
from tests.fixtures.venue import FixedClock, wait_until

from switchyard.book import SymbolSpec
from switchyard.core.enums import OrderType, ReportKind, Side, TimeInForce
from switchyard.core.messages import (
    BookSnapshot,
    ExecReport,
    MarketData,
    VenueNewOrder,
    VenueStatusQuery,
)
from switchyard.venue.service import VenueService
from switchyard.venue.transport_sim import SimVenueTransport

pytestmark = pytest.mark.asyncio


async def test_sim_delay_holds_requests_and_keeps_their_order() -> None:
    service = VenueService([SymbolSpec("X", 100)], liquidity=False)
    transport = SimVenueTransport(service, clock=FixedClock(), delay_ms=30)
    reports: list[ExecReport] = []
    transport.set_handlers(reports.append, lambda data: None, lambda up: None)
    await transport.start()
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    for index in range(5):
        transport.send(VenueStatusQuery(f"q{index}", "X"))
    await asyncio.sleep(0.01)
    assert reports == []
    await wait_until(lambda: len(reports) == 5)
    assert loop.time() - sent_at >= 0.03
    assert [r.order_id for r in reports] == [f"q{i}" for i in range(5)]
    await transport.close()


async def test_sim_start_sends_snapshots_then_timer_runs_makers() -> None:
    service = VenueService([SymbolSpec("X", 1_000)], liquidity=True, seed=1)
    transport = SimVenueTransport(service, clock=FixedClock(), tick_ms=10)
    data: list[MarketData] = []
    ups: list[bool] = []
    transport.set_handlers(lambda report: None, data.append, ups.append)
    await transport.start()
    await wait_until(lambda: service.ticks >= 4)
    assert ups == [True]
    assert isinstance(data[0], BookSnapshot)
    assert data[0].bids
    assert data[0].asks
    await transport.close()
    assert ups == [True, False]


async def test_sim_user_order_fills_against_simulated_liquidity() -> None:
    service = VenueService([SymbolSpec("X", 1_000)], liquidity=True, seed=1)
    transport = SimVenueTransport(service, clock=FixedClock())
    reports: list[ExecReport] = []
    transport.set_handlers(reports.append, lambda data: None, lambda up: None)
    await transport.start()
    transport.send(VenueNewOrder("u", "a", "X", Side.SELL, OrderType.MARKET, 3, 0, TimeInForce.IOC))
    await wait_until(lambda: any(r.kind == ReportKind.FILL for r in reports))
    assert reports[-1].cum_qty == 3
    await transport.close()
