"""JSON views of orders and WAL records, in the API's camelCase (DESIGN §3).

One place decides how a fact looks to clients, so SSE, the audit endpoints and the order
snapshot endpoints never disagree. Enum values become their names; ticks and lots stay
integers; timestamps are epoch milliseconds (and ns where precision matters).
"""

from __future__ import annotations

from typing import Any, Final

from msgspec import structs

from switchyard.core.codes import Reason
from switchyard.core.enums import OrderStatus, OrderType, Side, TimeInForce
from switchyard.core.events import Record, RecordType
from switchyard.pipeline.state import Order

_NS_PER_MS: Final = 1_000_000

# WAL record type -> (SSE event name, eventType name used in audits and the outbox)
EVENT_NAMES: Final[dict[RecordType, tuple[str, str]]] = {
    RecordType.SESSION_STARTED: ("session_started", "SessionStarted"),
    RecordType.ORDER_ACCEPTED: ("order_accepted", "OrderAccepted"),
    RecordType.ORDER_DENIED: ("order_denied", "OrderDenied"),
    RecordType.ORDER_SENT: ("order_update", "OrderSent"),
    RecordType.ORDER_ACKED: ("order_update", "OrderAcked"),
    RecordType.ORDER_FILLED: ("execution_report", "OrderFilled"),
    RecordType.CANCEL_REQUESTED: ("order_update", "CancelRequested"),
    RecordType.ORDER_CANCELED: ("order_canceled", "OrderCanceled"),
    RecordType.CANCEL_REJECTED: ("order_update", "CancelRejected"),
    RecordType.ORDER_REJECTED: ("order_rejected", "OrderRejected"),
    RecordType.ORDER_EXPIRED: ("order_update", "OrderExpired"),
    RecordType.REPLACE_REQUESTED: ("order_update", "ReplaceRequested"),
    RecordType.ORDER_REPLACED: ("order_update", "OrderReplaced"),
    RecordType.REPLACE_REJECTED: ("order_update", "ReplaceRejected"),
    RecordType.KILL_SWITCH_SET: ("kill_switch", "KillSwitchSet"),
    RecordType.MARKET_EVENT: ("market_event", "MarketEvent"),
    RecordType.OWNERSHIP_CHANGED: ("ownership_changed", "OwnershipChanged"),
}
assert set(EVENT_NAMES) == set(RecordType)

_ENUM_FIELDS: Final = {
    "side": Side,
    "order_type": OrderType,
    "time_in_force": TimeInForce,
    "status": OrderStatus,
    "reason": Reason,
}
_RENAMES: Final = {"order_type": "type", "expire_at_ms": "expireAt"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_CAMEL_CACHE: dict[str, str] = {}


def camel(name: str) -> str:
    cached = _CAMEL_CACHE.get(name)
    if cached is None:
        cached = _CAMEL_CACHE[name] = _RENAMES.get(name) or _camel(name)
    return cached


def record_data(record: Record) -> dict[str, Any]:
    """The record's own fields, camelCase, enums as names."""
    data: dict[str, Any] = {}
    for name, value in structs.asdict(record).items():
        if name in _ENUM_FIELDS and value is not None:
            value = _ENUM_FIELDS[name](value).name
        elif name == "liquidity" and value is not None:
            value = "MAKER" if value == 1 else "TAKER"
        elif isinstance(value, tuple):
            value = list(value)
        data[camel(name)] = value
    return data


def record_view(seq: int, ts_ns: int, record: Record) -> dict[str, Any]:
    """One WAL record as clients see it: seq, type, time and the record's fields."""
    view = {
        "seq": seq,
        "eventType": EVENT_NAMES[record.record_type][1],
        "at": ts_ns // _NS_PER_MS,
        "atNs": ts_ns,
    }
    view.update(record_data(record))
    return view


def order_view(order: Order, *, durable: bool) -> dict[str, Any]:
    """The order snapshot of DESIGN §3."""
    filled = order.filled_qty
    return {
        "orderId": order.order_id,
        "clientOrderId": order.client_order_id or None,
        "accountId": order.account_id,
        "symbol": order.symbol,
        "side": order.side.name,
        "type": order.order_type.name,
        "qty": order.qty,
        "price": order.price if order.order_type == OrderType.LIMIT else None,
        "timeInForce": order.time_in_force.name,
        "expireAt": order.expire_at_ms or None,
        "postOnly": order.post_only,
        "status": order.status.name,
        "filledQty": filled,
        "leavesQty": order.leaves_qty,
        "avgPrice": round(order.cum_notional / filled, 6) if filled else None,
        "durable": durable,
        "acceptSeq": order.accept_seq,
        "reason": Reason(order.reason).name if order.reason else None,
        "pendingReplace": (
            {"qty": order.pending_replace[0], "price": order.pending_replace[1]}
            if order.pending_replace
            else None
        ),
        "origin": order.origin,
        "createdAt": order.created_ns // _NS_PER_MS,
        "updatedAt": order.updated_ns // _NS_PER_MS,
    }


def accept_seq_of(order_id: str) -> int | None:
    """The acceptSeq encoded in an order id `<engine>-<walId>-<sessionSeq>-<acceptSeq>`, or None."""
    _, _, tail = order_id.rpartition("-")
    return int(tail) if tail.isascii() and tail.isdigit() else None  # not "²": int() raises
