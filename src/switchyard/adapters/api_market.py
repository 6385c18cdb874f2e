"""Market data and the keyed event feed: `GET /market/...`, `POST /events?key=K`,
`GET /events/{key}`.

`/events` is the seed App's ingestion path: a validated `{price, volume}` for a key, sequenced
and journaled like an order (so it survives restarts and reaches the outbox), updating the
key's state (last price, volume, VWAP, count) and the venue's reference price for that symbol.
With several engines, only the key's owner accepts it (`ctx.extras["ownership"]`, installed
by extensions/ownership.py; 409 NOT_OWNER names the owner). Of the seed's FAST_PATH_*
settings only FAST_PATH_SYMBOLS keeps a meaning here (which keys drive the venue's reference
price, as the seed's fast path fed its order book); the rest are retired (listed below, and
warned about at start).
"""

from __future__ import annotations

import re
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from switchyard.core import env
from switchyard.core import limits as L

from .api_common import (
    GatewayContext,
    authenticate,
    authenticate_stream,
    decode_body,
    int_param,
    invalid,
    not_found,
)
from .http import DEFERRED, HandlerResult, Request, Response, Router, error_response, json_response
from .market_stream import MarketHub, book_view

_KEY_RE: Final = re.compile(r"^[A-Za-z0-9._-]+$")

FAST_PATH_SYMBOLS = env.declare(
    "FAST_PATH_SYMBOLS",
    "",
    "Keys whose POST /events prices drive the venue's reference price (CSV; empty = every "
    "venue symbol); other keys are journaled and tracked only (the seed's slow path)",
    env.csv,
    section="events",
)
# The seed's other fast-path settings: accepted, ignored, warned about at start.
RETIRED_FAST_PATH_SETTINGS: Final = {
    "FAST_PATH_ENABLE": "there is one path: every event is checked, sequenced and journaled",
    "FAST_PATH_FALLBACK": "no ring to overflow: a full inbox answers 503 (backpressure)",
    "FAST_PATH_METRICS": "latency histograms are always on (/stats, /metrics)",
    "FAST_PATH_BUFFER_SIZE": "bounded queues are sized by BACKPRESSURE_* and WAL settings",
    "FAST_PATH_WAIT_STRATEGY": "no consumer thread: the event loop runs the sequencer",
}


class EventRequest(msgspec.Struct, forbid_unknown_fields=True):
    price: Annotated[int, Meta(gt=0, le=L.ORDER_PRICE_MAX)]
    volume: Annotated[int, Meta(ge=0, le=L.ORDER_QTY_MAX)] = 0


_EVENT_DECODER: Final = msgspec.json.Decoder(EventRequest)


def register(router: Router, ctx: GatewayContext, market: MarketHub) -> None:
    router.get("/market/symbols", lambda r: symbols(ctx, r), name="market_symbols")
    router.get("/market/{symbol}/book", lambda r: book(ctx, r), name="market_book")
    router.get("/market/stream", lambda r: stream(ctx, market, r), name="market_stream")
    drives = FAST_PATH_SYMBOLS.read(ctx.settings_view)
    reference_keys = frozenset(drives) if drives else None
    router.post(
        "/events", lambda r: post_event(ctx, r, reference_keys), json_body=True, name="post_event"
    )
    router.get("/events/{key}", lambda r: get_event_key(ctx, r), name="get_event_key")


def symbols(ctx: GatewayContext, request: Request) -> Response:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    return json_response(200, {"symbols": sorted(ctx.node.venue.symbols())})


def book(ctx: GatewayContext, request: Request) -> Response:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    depth = int_param(request, "depth", 10, 1, 100)
    if isinstance(depth, Response):
        return depth
    snapshot = ctx.node.venue.book(request.params["symbol"], depth)
    if snapshot is None:
        return not_found(f"symbol {request.params['symbol']}")
    return json_response(200, book_view(snapshot))


def stream(ctx: GatewayContext, market: MarketHub, request: Request) -> HandlerResult:
    principal = authenticate_stream(ctx, request)
    if isinstance(principal, Response):
        return principal
    raw = request.query_params().get("symbols", "")
    wanted = frozenset(s for s in raw.split(",") if s) or None
    if wanted is not None:
        unknown = wanted - set(ctx.node.venue.symbols())
        if unknown:
            return invalid(f"unknown symbol(s): {', '.join(sorted(unknown))}", "symbols")
    return market.subscribe(wanted)


def post_event(
    ctx: GatewayContext, request: Request, reference_keys: frozenset[str] | None = None
) -> HandlerResult:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    params = request.query_params()
    key = params.get("key", "").strip()
    if not key:
        return error_response(
            400, "MISSING_KEY", "the query parameter key is required", field="key"
        )
    if len(key) > L.SYMBOL_LEN_MAX or not _KEY_RE.match(key):
        return invalid(f"key must be 1..{L.SYMBOL_LEN_MAX} characters of A-Z a-z 0-9 . _ -", "key")
    ownership = ctx.extras.get("ownership")
    if ownership is not None:
        refusal: Response | None = ownership(key)
        if refusal is not None:
            return refusal
    body = decode_body(_EVENT_DECODER, request.body)
    if isinstance(body, Response):
        return body
    if not ctx.node.accepting:
        return error_response(
            503, "SHUTTING_DOWN", "the gateway is stopping", headers=((b"retry-after", b"1"),)
        )
    seq = ctx.node.record_market_event(
        key=key,
        price=body.price,
        volume=body.volume,
        account_id=principal.account_id,
        reference=reference_keys is None or key in reference_keys,
    )
    payload = {"status": "OK", "key": key, "seq": seq}
    if params.get("ack") == "durable":
        durable = json_response(200, {**payload, "durable": True})
        ctx.node.wait_durable(seq, lambda: request.respond(durable))
        return DEFERRED
    return json_response(200, {**payload, "durable": False})


def get_event_key(ctx: GatewayContext, request: Request) -> Response:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    key = request.params["key"]
    entry = ctx.node.sequencer.state.market.get(key)
    if entry is None:
        return not_found(f"key {key}")
    return json_response(
        200,
        {
            "key": key,
            "lastPrice": entry.last_price,
            "volume": entry.volume,
            "vwap": round(entry.notional / entry.volume, 6) if entry.volume else None,
            "count": entry.count,
            "lastSeq": entry.last_seq,
        },
    )
