"""VenueTransport contract: the same tests against SimVenueTransport and TcpVenueTransport.

The tcp case talks to an in-process VenueServer over a real loopback socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from tests.fixtures.venue import VENUE_TEST_SPECS, FixedClock, InProcessVenue, wait_until

from switchyard.core.codes import Reason
from switchyard.core.enums import OrderStatus, OrderType, ReportKind, Side, TimeInForce
from switchyard.core.messages import (
    BookDelta,
    ExecReport,
    MarketData,
    VenueCancel,
    VenueNewOrder,
    VenueStatusQuery,
)
from switchyard.core.ports import VenueTransport
from switchyard.venue.service import VenueService
from switchyard.venue.transport_sim import SimVenueTransport
from switchyard.venue.transport_tcp import TcpVenueTransport

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@dataclass
class Recorder:
    reports: list[ExecReport] = field(default_factory=list)
    market_data: list[MarketData] = field(default_factory=list)
    connection: list[bool] = field(default_factory=list)
    in_send: bool = False
    reentrant_calls: int = 0

    def on_report(self, report: ExecReport) -> None:
        self.reentrant_calls += self.in_send
        self.reports.append(report)

    def on_market_data(self, data: MarketData) -> None:
        self.reentrant_calls += self.in_send
        self.market_data.append(data)

    def on_connection(self, up: bool) -> None:
        self.connection.append(up)

    def of(self, order_id: str) -> list[ExecReport]:
        return [r for r in self.reports if r.order_id == order_id]


@dataclass
class Rig:
    transport: VenueTransport
    recorder: Recorder

    def send(self, request: object) -> bool:
        self.recorder.in_send = True
        try:
            return self.transport.send(request)  # type: ignore[arg-type]
        finally:
            self.recorder.in_send = False


def new(order_id: str, side: Side, qty: int, price: int, account: str = "a") -> VenueNewOrder:
    return VenueNewOrder(
        order_id, account, "BTC", side, OrderType.LIMIT, qty, price, TimeInForce.GTC
    )


@pytest_asyncio.fixture(params=["sim", "tcp"])
async def rig(request: pytest.FixtureRequest, venue_server: InProcessVenue) -> AsyncIterator[Rig]:
    transport: VenueTransport
    if request.param == "sim":
        service = VenueService(VENUE_TEST_SPECS, liquidity=False)
        transport = SimVenueTransport(service, clock=FixedClock(), queue_max=4)
    else:
        transport = TcpVenueTransport("127.0.0.1", venue_server.port, queue_max=4)
    recorder = Recorder()
    transport.set_handlers(recorder.on_report, recorder.on_market_data, recorder.on_connection)
    await transport.start()
    await wait_until(transport.is_up)
    yield Rig(transport, recorder)
    await transport.close()


async def test_transport_delivers_fills_after_send_returns(rig: Rig) -> None:
    assert rig.send(new("s1", Side.SELL, 5, 65_010, account="m"))
    assert rig.send(new("b1", Side.BUY, 5, 65_010))
    assert rig.recorder.of("b1") == []  # nothing is delivered inside send()
    await wait_until(lambda: len(rig.recorder.of("b1")) == 2)
    ack, fill = rig.recorder.of("b1")
    assert (ack.kind, fill.kind, fill.cum_qty, fill.last_price) == (
        ReportKind.ACK,
        ReportKind.FILL,
        5,
        65_010,
    )
    assert rig.recorder.reentrant_calls == 0


async def test_transport_cancel_cancels(rig: Rig) -> None:
    rig.send(new("b1", Side.BUY, 5, 64_990))
    rig.send(VenueCancel("b1", "BTC"))
    await wait_until(lambda: len(rig.recorder.of("b1")) == 2)
    canceled = rig.recorder.of("b1")[1]
    assert (canceled.kind, canceled.reason) == (ReportKind.CANCELED, Reason.USER_REQUESTED)


async def test_transport_status_of_unknown_order(rig: Rig) -> None:
    rig.send(VenueStatusQuery("ghost", "BTC"))
    await wait_until(lambda: bool(rig.recorder.of("ghost")))
    status = rig.recorder.of("ghost")[0]
    assert (status.kind, status.reason, status.order_status) == (
        ReportKind.STATUS,
        Reason.UNKNOWN_ORDER,
        None,
    )


async def test_transport_duplicate_new_is_not_a_second_order(rig: Rig) -> None:
    rig.send(new("b1", Side.BUY, 5, 64_990))
    rig.send(new("b1", Side.BUY, 5, 64_990))
    await wait_until(lambda: len(rig.recorder.of("b1")) == 2)
    duplicate = rig.recorder.of("b1")[1]
    assert (duplicate.kind, duplicate.reason, duplicate.order_status) == (
        ReportKind.STATUS,
        Reason.DUPLICATE_ORDER_ID,
        OrderStatus.SENT,
    )


async def test_transport_book_and_market_data_follow_the_venue(rig: Rig) -> None:
    rig.send(new("b1", Side.BUY, 7, 64_990))
    await wait_until(lambda: any(isinstance(m, BookDelta) for m in rig.recorder.market_data))
    await wait_until(lambda: _has_bids(rig.transport, "BTC"))
    snapshot = rig.transport.book("BTC", 5)
    assert snapshot is not None
    assert [(lv.price, lv.qty) for lv in snapshot.bids] == [(64_990, 7)]
    assert rig.transport.book("NOPE", 5) is None
    assert rig.transport.symbols() == ["BTC", "7203"]


async def test_transport_bounded_queue_refuses_when_full(rig: Rig) -> None:
    accepted = [rig.send(VenueStatusQuery(f"q{i}", "BTC")) for i in range(6)]
    assert accepted == [True, True, True, True, False, False]
    assert rig.transport.queue_depth() == 4


async def test_transport_refuses_after_close(rig: Rig) -> None:
    await rig.transport.close()
    assert not rig.transport.is_up()
    assert rig.send(VenueStatusQuery("q", "BTC")) is False
    assert rig.recorder.connection[-1] is False


def _has_bids(transport: VenueTransport, symbol: str) -> bool:
    snapshot = transport.book(symbol, 5)
    return snapshot is not None and bool(snapshot.bids)
