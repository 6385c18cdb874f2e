"""The TCP venue protocol: newline-delimited JSON, the seed's field names, extended.

Owns the encoding and decoding of every line in both directions (docs/VENUE.md lists them
with examples). Pure functions over bytes; no sockets. Requests the venue does not
understand raise `ProtocolError` naming the problem (and the order id when one was given, so
the server can answer with a REJECTED report instead of a bare ERROR).

Client -> venue: HELLO, NEW, CANCEL, REPLACE, STATUS, REFERENCE, SUBSCRIBE, BOOK, PING.
Venue -> client: HELLO, REPORT, BOOK, DELTA, TRADE, ERROR, PONG.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import orjson

from switchyard.core.codes import Reason
from switchyard.core.enums import (
    LiquiditySide,
    OrderStatus,
    OrderType,
    ReportKind,
    Side,
    TimeInForce,
)
from switchyard.core.limits import (
    ORDER_PRICE_MAX,
    ORDER_QTY_MAX,
    SYMBOL_LEN_MAX,
    VENUE_BOOK_DEPTH_MAX,
)
from switchyard.core.messages import (
    BookDelta,
    BookLevel,
    BookSnapshot,
    ExecReport,
    MarketData,
    Trade,
    VenueCancel,
    VenueNewOrder,
    VenueReference,
    VenueReplace,
    VenueRequest,
    VenueStatusQuery,
)

ID_LEN_MAX = 128  # order, account and session ids on the wire
SUBSCRIBE_SYMBOLS_MAX = 1_024

# What the seed's `status` field says for each report kind (FILL depends on leaves).
_STATUS_OF_KIND = {
    ReportKind.ACK: "ACCEPTED",
    ReportKind.CANCELED: "CANCELED",
    ReportKind.REJECTED: "REJECTED",
    ReportKind.EXPIRED: "EXPIRED",
    ReportKind.REPLACED: "REPLACED",
    ReportKind.REPLACE_REJECTED: "REPLACE_REJECTED",
    ReportKind.CANCEL_REJECTED: "CANCEL_REJECTED",
}


class ProtocolError(ValueError):
    """A line the venue cannot act on; `order_id` is set when the line named one."""

    def __init__(self, message: str, order_id: str | None = None, kind: str = "") -> None:
        super().__init__(message)
        self.order_id = order_id
        self.kind = kind  # the request type, when known


@dataclass(frozen=True, slots=True)
class Hello:
    session: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    symbols: tuple[str, ...] | None  # None = every symbol
    depth: int


@dataclass(frozen=True, slots=True)
class BookRequest:
    symbol: str
    depth: int


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class HelloReply:
    session: str
    symbols: tuple[str, ...]
    resumed: bool
    backlog: int
    dropped_reports: int


@dataclass(frozen=True, slots=True)
class ErrorReply:
    error: str
    message: str
    order_id: str | None = None


ClientMessage = VenueRequest | Hello | Subscribe | BookRequest | Ping
VenueMessage = ExecReport | MarketData | HelloReply | ErrorReply | Ping


# --- client -> venue ------------------------------------------------------------------


def decode_request(line: bytes) -> ClientMessage:
    """Parse one request line (without its newline)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ProtocolError(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ProtocolError("a request is a JSON object")
    kind = data.get("type")
    decoder = _REQUEST_DECODERS.get(kind) if isinstance(kind, str) else None
    order_id = data.get("orderId")
    order_id = order_id if isinstance(order_id, str) and 0 < len(order_id) <= ID_LEN_MAX else None
    if decoder is None:
        raise ProtocolError(f"unknown request type {kind!r}", order_id)
    try:
        message: ClientMessage = decoder(data)
    except ProtocolError as error:
        raise ProtocolError(str(error), order_id, str(kind)) from None
    return message


def encode_request(message: ClientMessage) -> bytes:
    """One request line, newline included."""
    data: dict[str, Any]
    if isinstance(message, VenueNewOrder):
        data = {
            "type": "NEW",
            "orderId": message.order_id,
            # optional on the wire (the seed's NEW has none): "" would be refused on decode
            **({"accountId": message.account_id} if message.account_id else {}),
            "symbol": message.symbol,
            "side": message.side.name,
            "orderType": message.order_type.name,
            "qty": message.qty,
            "price": message.price,
            "timeInForce": message.time_in_force.name,
        }
        if message.expire_at_ns:
            data["expireAtNs"] = message.expire_at_ns
        if message.post_only:
            data["postOnly"] = True
    elif isinstance(message, VenueCancel):
        data = {"type": "CANCEL", "orderId": message.order_id, "symbol": message.symbol}
    elif isinstance(message, VenueReplace):
        data = {
            "type": "REPLACE",
            "orderId": message.order_id,
            "symbol": message.symbol,
            "qty": message.qty,
            "price": message.price,
        }
    elif isinstance(message, VenueStatusQuery):
        data = {"type": "STATUS", "orderId": message.order_id, "symbol": message.symbol}
    elif isinstance(message, VenueReference):
        data = {"type": "REFERENCE", "symbol": message.symbol, "price": message.price}
    elif isinstance(message, Hello):
        data = {"type": "HELLO", "session": message.session}
    elif isinstance(message, Subscribe):
        symbols: list[str] | str = "*" if message.symbols is None else list(message.symbols)
        data = {"type": "SUBSCRIBE", "symbols": symbols, "depth": message.depth}
    elif isinstance(message, BookRequest):
        data = {"type": "BOOK", "symbol": message.symbol, "depth": message.depth}
    else:
        assert isinstance(message, Ping), message
        data = {"type": "PING"}
    return orjson.dumps(data) + b"\n"


def _text(data: dict[str, Any], name: str, limit: int = ID_LEN_MAX) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"field {name} is required (a non-empty string)")
    if len(value) > limit or not value.isprintable():
        raise ProtocolError(f"field {name} must be at most {limit} printable characters")
    return value


def _int(data: dict[str, Any], name: str, maximum: int, *, default: int | None = None) -> int:
    value = data.get(name, default)
    if value is None and default is None:
        raise ProtocolError(f"field {name} is required (an integer)")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"field {name} must be an integer, got {value!r}")
    if not 0 <= value <= maximum:
        raise ProtocolError(f"field {name}={value} is outside 0..{maximum}")
    return value


def _enum(data: dict[str, Any], name: str, enum: Any, default: str | None = None) -> Any:
    value = data.get(name, default)
    if value is None:
        raise ProtocolError(f"field {name} is required")
    if not isinstance(value, str) or value not in enum.__members__:
        allowed = "|".join(enum.__members__)
        raise ProtocolError(f"field {name} must be one of {allowed}, got {value!r}")
    return enum[value]


def _decode_new(data: dict[str, Any]) -> VenueNewOrder:
    order_type = _enum(data, "orderType", OrderType, "LIMIT")
    if order_type == OrderType.LIMIT:
        price = _int(data, "price", ORDER_PRICE_MAX)
    else:
        price = _int(data, "price", ORDER_PRICE_MAX, default=0)
    post_only = data.get("postOnly", False)
    if not isinstance(post_only, bool):
        raise ProtocolError("field postOnly must be true or false")
    account = data.get("accountId")
    return VenueNewOrder(
        order_id=_text(data, "orderId"),
        account_id=_text(data, "accountId") if account is not None else "",
        symbol=_text(data, "symbol", SYMBOL_LEN_MAX),
        side=_enum(data, "side", Side),
        order_type=order_type,
        qty=_int(data, "qty", ORDER_QTY_MAX),
        price=price,
        time_in_force=_enum(data, "timeInForce", TimeInForce, "GTC"),
        expire_at_ns=_int(data, "expireAtNs", 2**63 - 1, default=0),
        post_only=post_only,
    )


def _decode_subscribe(data: dict[str, Any]) -> Subscribe:
    raw = data.get("symbols", "*")
    depth = _int(data, "depth", VENUE_BOOK_DEPTH_MAX, default=20)
    if raw == "*":
        return Subscribe(None, depth)
    if not isinstance(raw, list) or len(raw) > SUBSCRIBE_SYMBOLS_MAX:
        raise ProtocolError('field symbols must be "*" or a list of symbols')
    symbols = tuple(_text({"symbol": item}, "symbol", SYMBOL_LEN_MAX) for item in raw)
    return Subscribe(symbols, depth)


_REQUEST_DECODERS: dict[str, Any] = {
    "NEW": _decode_new,
    "CANCEL": lambda d: VenueCancel(_text(d, "orderId"), _text(d, "symbol", SYMBOL_LEN_MAX)),
    "REPLACE": lambda d: VenueReplace(
        _text(d, "orderId"),
        _text(d, "symbol", SYMBOL_LEN_MAX),
        _int(d, "qty", ORDER_QTY_MAX),
        _int(d, "price", ORDER_PRICE_MAX),
    ),
    "STATUS": lambda d: VenueStatusQuery(_text(d, "orderId"), _text(d, "symbol", SYMBOL_LEN_MAX)),
    "REFERENCE": lambda d: VenueReference(
        _text(d, "symbol", SYMBOL_LEN_MAX), _int(d, "price", ORDER_PRICE_MAX)
    ),
    "HELLO": lambda d: Hello(_text(d, "session", 64)),
    "SUBSCRIBE": _decode_subscribe,
    "BOOK": lambda d: BookRequest(
        _text(d, "symbol", SYMBOL_LEN_MAX), _int(d, "depth", VENUE_BOOK_DEPTH_MAX, default=20)
    ),
    "PING": lambda d: Ping(),
}


# --- venue -> client ------------------------------------------------------------------


def iso_instant(ts_ns: int) -> str:
    """The seed's `at`: an ISO-8601 UTC instant with microseconds."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1_000:06d}Z"


def report_status(report: ExecReport) -> str:
    """The seed's `status` string of a report."""
    if report.kind == ReportKind.FILL:
        return "FILLED" if report.leaves_qty == 0 else "PARTIALLY_FILLED"
    if report.kind == ReportKind.STATUS:
        return report.order_status.name if report.order_status is not None else "UNKNOWN"
    return _STATUS_OF_KIND[report.kind]


def encode_report(report: ExecReport, message: str = "") -> bytes:
    """A REPORT line: the seed's fields first, then ours."""
    data: dict[str, Any] = {
        "type": "REPORT",
        "orderId": report.order_id,
        "status": report_status(report),
        "filledQtyDelta": report.last_qty,
        "filledQtyTotal": report.cum_qty,
        "price": report.price,
        "at": iso_instant(report.ts_ns),
        "kind": report.kind.name,
        "venueSeq": report.venue_seq,
        "symbol": report.symbol,
        "side": report.side.name,
        "qty": report.qty,
        "leavesQty": report.leaves_qty,
        "lastPrice": report.last_price,
        "liquidity": report.liquidity.name if report.liquidity is not None else None,
        "reason": report.reason.name,
        "execId": report.exec_id,
        "tsNs": report.ts_ns,
        "priorityKept": report.priority_kept,
        "orderStatus": report.order_status.name if report.order_status is not None else None,
    }
    if message:
        data["message"] = message
    return orjson.dumps(data) + b"\n"


def encode_market_data(data: MarketData) -> bytes:
    """A BOOK, DELTA or TRADE line."""
    if isinstance(data, Trade):
        body: dict[str, Any] = {
            "type": "TRADE",
            "symbol": data.symbol,
            "seq": data.seq,
            "price": data.price,
            "qty": data.qty,
            "aggressor": data.aggressor.name,
            "tsNs": data.ts_ns,
        }
    else:
        body = {
            "type": "BOOK" if isinstance(data, BookSnapshot) else "DELTA",
            "symbol": data.symbol,
            "seq": data.seq,
            "bids": [{"price": level.price, "qty": level.qty} for level in data.bids],
            "asks": [{"price": level.price, "qty": level.qty} for level in data.asks],
            "tsNs": data.ts_ns,
        }
    return orjson.dumps(body) + b"\n"


def encode_hello(reply: HelloReply) -> bytes:
    return (
        orjson.dumps(
            {
                "type": "HELLO",
                "session": reply.session,
                "symbols": list(reply.symbols),
                "resumed": reply.resumed,
                "backlog": reply.backlog,
                "droppedReports": reply.dropped_reports,
            }
        )
        + b"\n"
    )


def encode_error(error: str, message: str, order_id: str | None = None) -> bytes:
    body: dict[str, Any] = {"type": "ERROR", "error": error, "message": message}
    if order_id is not None:
        body["orderId"] = order_id
    return orjson.dumps(body) + b"\n"


PONG_LINE = b'{"type":"PONG"}\n'


def decode_venue_message(line: bytes) -> VenueMessage:
    """Parse one line from the venue (the client side of the protocol)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ProtocolError(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ProtocolError("a venue message is a JSON object")
    kind = data.get("type")
    try:
        if kind == "REPORT":
            return _decode_report(data)
        if kind in ("BOOK", "DELTA"):
            cls = BookSnapshot if kind == "BOOK" else BookDelta
            return cls(
                data["symbol"],
                data["seq"],
                [BookLevel(level["price"], level["qty"]) for level in data["bids"]],
                [BookLevel(level["price"], level["qty"]) for level in data["asks"]],
                data.get("tsNs", 0),
            )
        if kind == "TRADE":
            return Trade(
                data["symbol"],
                data["seq"],
                data["price"],
                data["qty"],
                Side[data["aggressor"]],
                data.get("tsNs", 0),
            )
        if kind == "HELLO":
            return HelloReply(
                data["session"],
                tuple(data["symbols"]),
                bool(data.get("resumed", False)),
                int(data.get("backlog", 0)),
                int(data.get("droppedReports", 0)),
            )
        if kind == "ERROR":
            return ErrorReply(str(data.get("error")), str(data.get("message")), data.get("orderId"))
        if kind == "PONG":
            return Ping()
    except (KeyError, TypeError, ValueError) as error:
        raise ProtocolError(f"malformed {kind} message: {error!r}") from None
    raise ProtocolError(f"unknown venue message type {kind!r}")


def _decode_report(data: dict[str, Any]) -> ExecReport:
    liquidity = data.get("liquidity")
    order_status = data.get("orderStatus")
    return ExecReport(
        kind=ReportKind[data["kind"]],
        order_id=data["orderId"],
        venue_seq=data["venueSeq"],
        symbol=data["symbol"],
        side=Side[data["side"]],
        qty=data["qty"],
        price=data["price"],
        last_qty=data["filledQtyDelta"],
        last_price=data["lastPrice"],
        cum_qty=data["filledQtyTotal"],
        leaves_qty=data["leavesQty"],
        liquidity=LiquiditySide[liquidity] if liquidity is not None else None,
        reason=Reason[data["reason"]],
        exec_id=data["execId"],
        ts_ns=data["tsNs"],
        priority_kept=data["priorityKept"],
        order_status=OrderStatus[order_status] if order_status is not None else None,
    )
