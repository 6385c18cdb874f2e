"""Market data over SSE: `GET /market/stream` sends an L2 snapshot per symbol, then the venue's
incremental updates and trades as they come. Each update carries the book's seq, so a client
sees a gap (and resubscribes) instead of silently drawing a wrong book.
"""

from __future__ import annotations

from typing import Final

import orjson
from msgspec import structs

from switchyard.core import limits as L
from switchyard.core.messages import BookDelta, BookSnapshot, MarketData, Trade
from switchyard.core.ports import VenueTransport

from .http import HTTPProtocol, Response, StreamResponse, error_response

_SNAPSHOT_DEPTH: Final = 20


def book_view(book: BookSnapshot) -> dict[str, object]:
    return {
        "symbol": book.symbol,
        "seq": book.seq,
        "bids": [{"price": level.price, "qty": level.qty} for level in book.bids],
        "asks": [{"price": level.price, "qty": level.qty} for level in book.asks],
        "ts": book.ts_ns // 1_000_000,
    }


def _frame(event: str, payload: object) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event.encode(), orjson.dumps(payload))


class MarketHub:
    """Fan-out of market data to SSE subscribers, each with its own symbol filter."""

    def __init__(self, venue: VenueTransport, subscribers_max: int = L.SSE_SUBSCRIBERS_MAX) -> None:
        self._venue = venue
        self._subscribers: dict[HTTPProtocol, frozenset[str] | None] = {}
        self._subscribers_max = subscribers_max
        self.counters = {"dropped_slow": 0, "updates": 0}

    def subscribe(self, symbols: frozenset[str] | None) -> StreamResponse | Response:
        if len(self._subscribers) >= self._subscribers_max:
            return error_response(
                503,
                "TOO_MANY_STREAMS",
                "too many market streams",
                headers=((b"retry-after", b"5"),),
            )

        protocol_ref: list[HTTPProtocol] = []

        def start(protocol: HTTPProtocol) -> None:
            protocol_ref.append(protocol)
            self._subscribers[protocol] = symbols
            wanted = symbols if symbols is not None else frozenset(self._venue.symbols())
            for symbol in sorted(wanted):
                book = self._venue.book(symbol, _SNAPSHOT_DEPTH)
                if book is not None:
                    protocol.write_stream(_frame("book_snapshot", book_view(book)))

        def on_close() -> None:
            if protocol_ref:
                self._subscribers.pop(protocol_ref[0], None)

        return StreamResponse(start, on_close)

    def publish(self, data: MarketData) -> None:
        if not self._subscribers:
            return
        self.counters["updates"] += 1
        frame: bytes | None = None
        for protocol, symbols in list(self._subscribers.items()):
            if symbols is not None and data.symbol not in symbols:
                continue
            if frame is None:
                frame = _encode(data)
            if not protocol.write_stream(frame):
                self.counters["dropped_slow"] += 1
                self._subscribers.pop(protocol, None)
                protocol.close()


def _encode(data: MarketData) -> bytes:
    if isinstance(data, Trade):
        return _frame(
            "trade",
            {
                "symbol": data.symbol,
                "seq": data.seq,
                "price": data.price,
                "qty": data.qty,
                "aggressor": data.aggressor.name,
                "ts": data.ts_ns // 1_000_000,
            },
        )
    if isinstance(data, BookSnapshot):
        return _frame("book_snapshot", book_view(data))
    assert isinstance(data, BookDelta)
    view = structs.asdict(data)
    view["bids"] = [{"price": lv.price, "qty": lv.qty} for lv in data.bids]
    view["asks"] = [{"price": lv.price, "qty": lv.qty} for lv in data.asks]
    view["ts"] = view.pop("ts_ns") // 1_000_000
    return _frame("book_delta", view)
