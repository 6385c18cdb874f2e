"""The msgpack payload codec of core.events records."""

import pytest

from switchyard.core.codes import Reason
from switchyard.core.enums import LiquiditySide, OrderStatus, OrderType, Side, TimeInForce
from switchyard.core.events import (
    RECORD_CLASSES,
    OrderAccepted,
    OrderFilled,
    OwnershipChanged,
    RecordType,
)
from switchyard.wal.payload import PayloadError, decode_payload, encode_payload

ACCEPTED = OrderAccepted(
    order_id="E1-abcdef-1",
    account_id="acct-1",
    client_order_id="c-1",
    idempotency_key="k-1",
    symbol="BTC",
    side=Side.BUY,
    order_type=OrderType.LIMIT,
    qty=10,
    price=100,
    time_in_force=TimeInForce.GTC,
    expire_at_ms=0,
)


def test_payload_round_trips_accepted():
    assert decode_payload(RecordType.ORDER_ACCEPTED, encode_payload(ACCEPTED)) == ACCEPTED


def test_payload_round_trips_filled_and_tuple_fields():
    filled = OrderFilled(
        order_id="o",
        account_id="a",
        status=OrderStatus.FILLED,
        filled_qty=3,
        symbol="BTC",
        side=Side.SELL,
        last_qty=3,
        last_price=99,
        leaves_qty=0,
        cum_notional=297,
        liquidity=LiquiditySide.TAKER,
        exec_id="x1",
        venue_seq=5,
    )
    assert decode_payload(RecordType.ORDER_FILLED, encode_payload(filled)) == filled
    owned = OwnershipChanged(engine_id="e", revision=2, keys=("BTC", "ETH"))
    assert decode_payload(RecordType.OWNERSHIP_CHANGED, encode_payload(owned)) == owned


def test_payload_is_compact():
    assert len(encode_payload(ACCEPTED)) < 64


def test_payload_of_another_type_is_refused():
    with pytest.raises(PayloadError, match="ORDER_FILLED"):
        decode_payload(RecordType.ORDER_FILLED, encode_payload(ACCEPTED))


def test_payload_unknown_type_is_refused():
    with pytest.raises(PayloadError, match="unknown record type"):
        decode_payload(99, b"\x90")


def test_every_record_type_has_a_decoder():
    for record_type in RECORD_CLASSES:
        with pytest.raises(PayloadError):
            decode_payload(record_type, b"\xc1")  # never valid msgpack


def test_reason_enum_survives_round_trip():
    from switchyard.core.events import CancelRequested

    record = CancelRequested(
        order_id="o",
        account_id="a",
        status=OrderStatus.CANCEL_REQUESTED,
        filled_qty=0,
        reason=Reason.USER_REQUESTED,
    )
    decoded = decode_payload(RecordType.CANCEL_REQUESTED, encode_payload(record))
    assert decoded == record
