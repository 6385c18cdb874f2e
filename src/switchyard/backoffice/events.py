"""Decode event envelopes (contracts/event.v1.schema.json) into typed values for the books.

The envelope is decoded strictly enough to act on it safely: the fields the back office
uses are typed (msgspec), fields it does not use are ignored (forward compatible within v1).
Anything that fails here is not guessed at: the caller quarantines the event with the reason.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import msgspec

from switchyard.outbox.envelope import SCHEMA_VERSION

ORDER_CREATING: Final = frozenset({"OrderAccepted", "OrderDenied"})
ORDER_UPDATING: Final = frozenset(
    {
        "OrderSent",
        "OrderAcked",
        "OrderFilled",
        "CancelRequested",
        "OrderCanceled",
        "CancelRejected",
        "OrderRejected",
        "OrderExpired",
        "ReplaceRequested",
        "OrderReplaced",
        "ReplaceRejected",
    }
)
SIDES: Final = frozenset({"BUY", "SELL"})


class EventError(ValueError):
    """An envelope the back office cannot act on; the message says why."""


class Event(msgspec.Struct, frozen=True, rename="camel"):
    schema_version: int
    event_id: str
    event_type: str
    seq: int
    occurred_at_ns: int
    source: str
    account_id: str | None
    order_id: str | None
    data: dict[str, Any]


class OrderTerms(msgspec.Struct, frozen=True, rename="camel"):
    """`data` of OrderAccepted and OrderDenied (the fields the books keep)."""

    symbol: str
    side: str
    order_type: str
    qty: int
    price: int


class OrderUpdate(msgspec.Struct, frozen=True, rename="camel"):
    """`data` of any order event after the first: status and filled quantity after it."""

    status: str
    filled_qty: int


class FillTerms(msgspec.Struct, frozen=True, rename="camel"):
    """`data` of OrderFilled."""

    status: str
    filled_qty: int
    symbol: str
    side: str
    last_qty: int
    last_price: int
    cum_notional: int
    liquidity: str
    exec_id: str


class ReplaceTerms(msgspec.Struct, frozen=True, rename="camel"):
    """`data` of OrderReplaced."""

    status: str
    filled_qty: int
    qty: int
    price: int


_ENVELOPE: Final = msgspec.json.Decoder(Event)
_T = TypeVar("_T")
INT64_MAX: Final = 2**63 - 1  # database columns are BIGINT


def decode_event(raw: bytes) -> Event:
    """The envelope in `raw`, checked for what every event needs."""
    try:
        event = _ENVELOPE.decode(raw)
    except msgspec.DecodeError as error:
        raise EventError(f"not a v1 envelope: {error}") from None
    except UnicodeDecodeError as error:  # msgspec checks UTF-8 inside strings, lazily
        raise EventError(f"not UTF-8 at byte {error.start}") from None
    if event.schema_version != SCHEMA_VERSION:
        raise EventError(f"schemaVersion {event.schema_version} is not {SCHEMA_VERSION}")
    if event.seq < 1:
        raise EventError(f"seq {event.seq} is not positive")
    if not event.source or not event.event_id:
        raise EventError("eventId and source must not be empty")
    if event.event_id != f"{event.source}:{event.seq}":
        raise EventError(f"eventId {event.event_id!r} is not <source>:<seq>")
    about_an_order = event.event_type in ORDER_CREATING or event.event_type in ORDER_UPDATING
    if about_an_order and (not event.order_id or not event.account_id):
        raise EventError(f"{event.event_type} without orderId or accountId")
    return event


def order_terms(event: Event) -> OrderTerms:
    terms = _convert(event, OrderTerms)
    if terms.side not in SIDES:
        raise EventError(f"side {terms.side!r} is not BUY or SELL")
    if terms.qty <= 0 or terms.price < 0 or max(terms.qty, terms.price) > INT64_MAX:
        raise EventError(f"qty {terms.qty} / price {terms.price} out of range")
    return terms


def order_update(event: Event) -> OrderUpdate:
    return _convert(event, OrderUpdate)


def fill_terms(event: Event) -> FillTerms:
    terms = _convert(event, FillTerms)
    if terms.side not in SIDES:
        raise EventError(f"side {terms.side!r} is not BUY or SELL")
    if terms.last_qty <= 0 or terms.last_price < 0:
        raise EventError(f"lastQty {terms.last_qty} / lastPrice {terms.last_price} out of range")
    if terms.filled_qty < terms.last_qty:
        raise EventError(f"filledQty {terms.filled_qty} below lastQty {terms.last_qty}")
    if terms.last_qty * terms.last_price > INT64_MAX or terms.cum_notional > INT64_MAX:
        raise EventError("notional does not fit in 64 bits")
    return terms


def replace_terms(event: Event) -> ReplaceTerms:
    return _convert(event, ReplaceTerms)


def _convert(event: Event, kind: type[_T]) -> _T:
    try:
        return msgspec.convert(event.data, type=kind)
    except msgspec.ValidationError as error:
        raise EventError(f"{event.event_type} data: {error}") from None
