"""The TCP venue protocol codec: round trips, the seed's field names, refusals."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.codes import Reason
from switchyard.core.enums import (
    LiquiditySide,
    OrderStatus,
    OrderType,
    ReportKind,
    Side,
    TimeInForce,
)
from switchyard.core.limits import ORDER_PRICE_MAX, ORDER_QTY_MAX
from switchyard.core.messages import (
    BookDelta,
    BookLevel,
    BookSnapshot,
    ExecReport,
    Trade,
    VenueCancel,
    VenueNewOrder,
    VenueReference,
    VenueReplace,
    VenueStatusQuery,
)
from switchyard.venue import protocol
from switchyard.venue.protocol import BookRequest, Hello, Ping, ProtocolError, Subscribe

ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
symbols = st.text(st.characters(min_codepoint=48, max_codepoint=90), min_size=1, max_size=8)
quantities = st.integers(0, ORDER_QTY_MAX)
prices = st.integers(0, ORDER_PRICE_MAX)

requests = st.one_of(
    st.builds(
        VenueNewOrder,
        order_id=ids,
        account_id=ids,
        symbol=symbols,
        side=st.sampled_from(list(Side)),
        order_type=st.sampled_from(list(OrderType)),
        qty=quantities,
        price=prices,
        time_in_force=st.sampled_from(list(TimeInForce)),
        expire_at_ns=st.integers(0, 2**62),
        post_only=st.booleans(),
    ),
    st.builds(VenueCancel, ids, symbols),
    st.builds(VenueReplace, ids, symbols, quantities, prices),
    st.builds(VenueStatusQuery, ids, symbols),
    st.builds(VenueReference, symbols, prices),
    st.builds(Hello, ids),
    st.builds(BookRequest, symbols, st.integers(0, 1_000)),
    st.builds(
        Subscribe, st.none() | st.lists(symbols, max_size=4).map(tuple), st.integers(0, 1_000)
    ),
    st.just(Ping()),
)

reports = st.builds(
    ExecReport,
    kind=st.sampled_from(list(ReportKind)),
    order_id=ids,
    venue_seq=st.integers(0, 2**62),
    symbol=symbols,
    side=st.sampled_from(list(Side)),
    qty=quantities,
    price=prices,
    last_qty=quantities,
    last_price=prices,
    cum_qty=quantities,
    leaves_qty=quantities,
    liquidity=st.none() | st.sampled_from(list(LiquiditySide)),
    reason=st.sampled_from(list(Reason)),
    exec_id=st.text(max_size=20),
    ts_ns=st.integers(0, 2**62),
    priority_kept=st.booleans(),
    order_status=st.none() | st.sampled_from(list(OrderStatus)),
)


@given(requests)
def test_protocol_requests_round_trip(message: object) -> None:
    line = protocol.encode_request(message)  # type: ignore[arg-type]
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert protocol.decode_request(line[:-1]) == message


@given(reports)
def test_protocol_reports_round_trip(report: ExecReport) -> None:
    line = protocol.encode_report(report)
    assert protocol.decode_venue_message(line[:-1]) == report


@given(
    st.lists(st.builds(BookLevel, prices, quantities), max_size=5),
    st.lists(st.builds(BookLevel, prices, quantities), max_size=5),
)
def test_protocol_market_data_round_trips(bids: list[BookLevel], asks: list[BookLevel]) -> None:
    for data in (
        BookSnapshot("BTC", 7, bids, asks, 5),
        BookDelta("BTC", 8, bids, asks, 6),
        Trade("BTC", 8, 100, 3, Side.SELL, 9),
    ):
        assert protocol.decode_venue_message(protocol.encode_market_data(data)[:-1]) == data


def test_protocol_report_keeps_the_seed_field_names() -> None:
    report = ExecReport(
        ReportKind.FILL, "o1", 9, "BTC", Side.BUY, 10, 65_000, last_qty=4, last_price=64_990,
        cum_qty=4, leaves_qty=6, liquidity=LiquiditySide.TAKER, ts_ns=1_700_000_000_123_456_789,
    )  # fmt: skip
    data = orjson.loads(protocol.encode_report(report))
    assert {
        k: data[k] for k in ("orderId", "status", "filledQtyDelta", "filledQtyTotal", "price", "at")
    } == {
        "orderId": "o1",
        "status": "PARTIALLY_FILLED",
        "filledQtyDelta": 4,
        "filledQtyTotal": 4,
        "price": 65_000,
        "at": "2023-11-14T22:13:20.123456Z",
    }


def test_protocol_seed_new_defaults_to_limit_gtc() -> None:
    line = b'{"type":"NEW","orderId":"1","symbol":"BTC","side":"SELL","qty":3,"price":100}'
    message = protocol.decode_request(line)
    assert message == VenueNewOrder(
        "1", "", "BTC", Side.SELL, OrderType.LIMIT, 3, 100, TimeInForce.GTC
    )


@pytest.mark.parametrize(
    ("line", "fragment", "order_id"),
    [
        (b"not json", "not JSON", None),
        (b"[1]", "JSON object", None),
        (b'{"type":"NOPE","orderId":"a"}', "unknown request type", "a"),
        (b'{"type":"NEW","orderId":"a","symbol":"X","side":"BUY","price":1}', "qty", "a"),
        (b'{"type":"NEW","orderId":"a","symbol":"X","side":"UP","qty":1,"price":1}', "side", "a"),
        (
            b'{"type":"NEW","orderId":"a","symbol":"X","side":"BUY","qty":true,"price":1}',
            "qty",
            "a",
        ),
        (b'{"type":"NEW","orderId":"a","symbol":"X","side":"BUY","qty":-1,"price":1}', "qty", "a"),
        (b'{"type":"CANCEL","orderId":"a"}', "symbol", "a"),
        (b'{"type":"STATUS","orderId":"","symbol":"X"}', "orderId", None),
    ],
)
def test_protocol_refuses_bad_requests_naming_the_problem(
    line: bytes, fragment: str, order_id: str | None
) -> None:
    with pytest.raises(ProtocolError, match=fragment) as caught:
        protocol.decode_request(line)
    assert caught.value.order_id == order_id


def test_protocol_status_report_says_unknown_for_unknown_orders() -> None:
    report = ExecReport(
        ReportKind.STATUS, "x", 1, "BTC", Side.BUY, 0, 0, reason=Reason.UNKNOWN_ORDER
    )
    assert protocol.report_status(report) == "UNKNOWN"
