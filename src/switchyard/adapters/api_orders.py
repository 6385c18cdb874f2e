"""Order endpoints (DESIGN §3): submit, read, list, status by client id, cancel, replace.

`POST /orders` is the hot path: auth from the token cache, msgspec decode with validation,
one sequencer call, and a response built from a byte template. Every refusal names its code
and, for bad input, the field; a refused request changes no state.
"""

from __future__ import annotations

import time
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from switchyard.core import limits as L
from switchyard.core.codes import Reason
from switchyard.core.enums import OrderStatus, OrderType, Side, TimeInForce
from switchyard.pipeline.sequencer import Outcome, Result
from switchyard.pipeline.state import Order

from .api_common import (
    ID_PATTERN,
    GatewayContext,
    authenticate,
    decode_body,
    int_param,
    invalid,
    not_found,
    valid_client_id,
)
from .auth import Principal
from .http import DEFERRED, HandlerResult, Request, Response, Router, error_response, json_response
from .views import accept_seq_of, order_view

Symbol = Annotated[
    str, Meta(min_length=1, max_length=L.SYMBOL_LEN_MAX, pattern=r"^[A-Za-z0-9._-]+$")
]
Qty = Annotated[int, Meta(gt=0, le=L.ORDER_QTY_MAX)]
Price = Annotated[int, Meta(gt=0, le=L.ORDER_PRICE_MAX)]
ClientId = Annotated[
    str, Meta(min_length=1, max_length=L.CLIENT_ORDER_ID_LEN_MAX, pattern=ID_PATTERN)
]


class OrderRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """The body of POST /orders. Unknown fields are refused so a typo is never ignored."""

    symbol: Symbol
    side: Literal["BUY", "SELL"]
    type: Literal["LIMIT", "MARKET"]
    qty: Qty
    price: Price | None = None
    time_in_force: Literal["GTC", "IOC", "FOK", "GTD"] = "GTC"
    expire_at: Annotated[int, Meta(gt=0)] | None = None  # epoch ms, GTD only
    client_order_id: ClientId | None = None
    post_only: bool = False


class ReplaceRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    qty: Qty | None = None
    price: Price | None = None


_ORDER_DECODER: Final = msgspec.json.Decoder(OrderRequest)
_REPLACE_DECODER: Final = msgspec.json.Decoder(ReplaceRequest)
_SIDES: Final = {"BUY": Side.BUY, "SELL": Side.SELL}
_TYPES: Final = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET}
_TIFS: Final = {tif.name: tif for tif in TimeInForce}
_ACK: Final = (
    b'{"orderId":"%s","acceptSeq":%d,"requestId":"req_%d","clientOrderId":%s,'
    b'"status":"ACCEPTED","durable":%s%s}'
)
_RETRY_1: Final = ((b"retry-after", b"1"),)


def register(router: Router, ctx: GatewayContext) -> None:
    router.post("/orders", lambda r: submit_order(ctx, r), json_body=True, name="submit_order")
    router.get("/orders", lambda r: list_orders(ctx, r), name="list_orders")
    router.get("/orders/{orderId}", lambda r: get_order(ctx, r), name="get_order")
    router.get(
        "/orders/client/{clientOrderId}", lambda r: client_status(ctx, r), name="client_status"
    )
    router.post(
        "/orders/{orderId}/cancel",
        lambda r: cancel_order(ctx, r),
        json_body=True,
        name="cancel_order",
    )
    router.post(
        "/orders/{orderId}/replace",
        lambda r: replace_order(ctx, r),
        json_body=True,
        name="replace_order",
    )


# --- POST /orders -------------------------------------------------------------------------


def submit_order(ctx: GatewayContext, request: Request) -> HandlerResult:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    node = ctx.node
    refusal = _admission(ctx)
    if refusal is not None:
        return refusal
    order = decode_body(_ORDER_DECODER, request.body)
    if isinstance(order, Response):
        return order
    not_here = _ownership(ctx, order.symbol)
    if not_here is not None:
        return not_here
    problem = _check_order(order)
    if problem is not None:
        return problem
    if request.query and request.query_params().get("ack", "fast") not in ("fast", "durable"):
        return invalid("ack must be fast or durable", "ack")
    key = _idempotency_key(request, order)
    if isinstance(key, Response):
        return key
    if not node.venue_up:
        return error_response(
            503, "VENUE_UNAVAILABLE", "the venue is not connected; retry shortly", headers=_RETRY_1
        )
    result = node.submit_order(
        account_id=principal.account_id,
        idempotency_key=key,
        client_order_id=order.client_order_id or "",
        symbol=order.symbol,
        side=_SIDES[order.side],
        order_type=_TYPES[order.type],
        qty=order.qty,
        price=order.price or 0,
        time_in_force=_TIFS[order.time_in_force],
        expire_at_ms=order.expire_at or 0,
        post_only=order.post_only,
        origin="http",
        t0_ns=request.received_ns,
    )
    answer = _answer_submit(ctx, request, result)
    if answer is not DEFERRED:
        node.record_ack_latency(request.received_ns)
    return answer


def _admission(ctx: GatewayContext) -> Response | None:
    if not ctx.node.accepting:
        return error_response(503, "SHUTTING_DOWN", "the gateway is stopping", headers=_RETRY_1)
    admission = ctx.extras.get("admission")
    return admission() if admission is not None else None


def _ownership(ctx: GatewayContext, symbol: str) -> Response | None:
    """409 NOT_OWNER (or 503 in a hand-over) when another engine owns the symbol."""
    check = ctx.extras.get("ownership")  # installed by extensions/ownership.py
    return check(symbol) if check is not None else None


def _check_order(order: OrderRequest) -> Response | None:
    """Rules across fields, each answered with the field to fix."""
    if order.type == "LIMIT" and order.price is None:
        return invalid("price is required for LIMIT orders", "price")
    if order.type == "MARKET":
        if order.price is not None:
            return invalid("price must be omitted for MARKET orders", "price")
        if order.post_only:
            return invalid("postOnly needs a LIMIT order", "postOnly")
    if order.time_in_force == "GTD":
        if order.expire_at is None:
            return invalid("expireAt (epoch ms) is required for GTD", "expireAt")
        if order.expire_at <= time.time() * 1000:
            return invalid("expireAt must be in the future", "expireAt")
    elif order.expire_at is not None:
        return invalid("expireAt is only for GTD orders", "expireAt")
    return None


def _idempotency_key(request: Request, order: OrderRequest) -> str | Response:
    raw = request.headers.get(b"idempotency-key")
    if raw is not None:
        key = raw.decode("latin-1").strip()
        if key:
            if len(key) > L.IDEMPOTENCY_KEY_LEN_MAX or not valid_client_id(key):
                return invalid(
                    f"Idempotency-Key must be 1..{L.IDEMPOTENCY_KEY_LEN_MAX} characters of "
                    "A-Z a-z 0-9 . _ : @ / + = # ~ -",
                    "Idempotency-Key",
                )
            return key
    if order.client_order_id:
        return order.client_order_id
    return error_response(
        400,
        "IDEMPOTENCY_REQUIRED",
        "send an Idempotency-Key header or a clientOrderId",
        field="Idempotency-Key",
    )


def _answer_submit(ctx: GatewayContext, request: Request, result: Result) -> HandlerResult:
    outcome = result.outcome
    node = ctx.node
    if outcome == Outcome.ACCEPTED:
        order = result.order
        assert order is not None
        if request.query and request.query_params().get("ack") == "durable":
            body = _ack_body(order, durable=True)
            node.wait_durable(result.seq, lambda: request.respond(Response(202, body)))
            return DEFERRED
        return Response(202, _ack_body(order, durable=False))
    if outcome == Outcome.REPLAYED:
        return _replay_answer(ctx, result)
    if outcome == Outcome.DENIED:
        order = result.order
        assert order is not None
        return error_response(
            422,
            result.reason.name,
            result.detail,
            orderId=order.order_id,
            clientOrderId=order.client_order_id or None,
            status="DENIED",
        )
    if outcome == Outcome.KEY_REUSED:
        return error_response(
            422,
            "IDEMPOTENCY_KEY_REUSED",
            "this idempotency key was used for a different request",
            orderId=result.order.order_id if result.order is not None else None,
        )
    assert outcome == Outcome.CAPACITY, outcome
    return error_response(503, "CAPACITY_EXCEEDED", result.detail, headers=_RETRY_1)


def _ack_body(order: Order, *, durable: bool, replay: bool = False) -> bytes:
    client_id = b'"%s"' % order.client_order_id.encode() if order.client_order_id else b"null"
    return _ACK % (
        order.order_id.encode(),
        order.accept_seq,
        order.accept_seq,
        client_id,
        b"true" if durable else b"false",
        b',"idempotentReplay":true' if replay else b"",
    )


def _replay_answer(ctx: GatewayContext, result: Result) -> Response:
    """The original answer to a repeated request (no new order)."""
    order = result.order
    if order is None:  # forgotten from memory (retention); the id still says what it was
        seq = accept_seq_of(result.detail) or 0
        return json_response(
            202,
            {
                "orderId": result.detail,
                "acceptSeq": seq,
                "requestId": f"req_{seq}",
                "status": "ACCEPTED",
                "durable": seq <= ctx.node.durable_seq,
                "idempotentReplay": True,
            },
        )
    if order.status == OrderStatus.DENIED:
        return error_response(
            422,
            Reason(order.reason).name,
            "this request was denied before (idempotent replay)",
            orderId=order.order_id,
            clientOrderId=order.client_order_id or None,
            status="DENIED",
            idempotentReplay=True,
        )
    return Response(202, _ack_body(order, durable=ctx.node.is_durable(order), replay=True))


# --- reads --------------------------------------------------------------------------------


def _visible_order(ctx: GatewayContext, principal: Principal, order_id: str) -> Order | None:
    state = ctx.node.sequencer.state
    if principal.is_ops:
        return state.orders.get(order_id)
    return state.find_order(principal.account_id, order_id)


def get_order(ctx: GatewayContext, request: Request) -> Response:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    order = _visible_order(ctx, principal, request.params["orderId"])
    if order is None:
        return not_found("order")
    return json_response(200, order_view(order, durable=ctx.node.is_durable(order)))


def list_orders(ctx: GatewayContext, request: Request) -> Response:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    params = request.query_params()
    status = params.get("status", "all")
    if status not in ("open", "all"):
        return invalid("status must be open or all", "status")
    limit = int_param(request, "limit", 100, 1, L.ORDERS_LIST_LIMIT_MAX)
    if isinstance(limit, Response):
        return limit
    account = principal.account_id
    if principal.is_ops and params.get("account"):
        account = params["account"]
    state = ctx.node.sequencer.state
    ids = state.account_orders.get(account, {})
    orders = []
    for order_id in reversed(ids):
        order = state.orders[order_id]
        if status == "open" and order.is_terminal:
            continue
        orders.append(order_view(order, durable=ctx.node.is_durable(order)))
        if len(orders) >= limit:
            break
    return json_response(200, {"accountId": account, "orders": orders})


def client_status(ctx: GatewayContext, request: Request) -> Response:
    """PENDING (not yet durable), DURABLE, REJECTED (denied/rejected) or UNKNOWN."""
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    client_id = request.params["clientOrderId"]
    state = ctx.node.sequencer.state
    order_id = state.client_index.get((principal.account_id, client_id))
    order = state.orders.get(order_id) if order_id is not None else None
    if order is None:
        return json_response(200, {"clientOrderId": client_id, "status": "UNKNOWN"})
    if order.status in (OrderStatus.DENIED, OrderStatus.REJECTED):
        status = "REJECTED"
    else:
        status = "DURABLE" if ctx.node.is_durable(order) else "PENDING"
    return json_response(
        200,
        {
            "clientOrderId": client_id,
            "orderId": order.order_id,
            "status": status,
            "orderStatus": order.status.name,
        },
    )


# --- cancel and replace --------------------------------------------------------------------


def _owner_for(ctx: GatewayContext, principal: Principal, order_id: str) -> str:
    """Whose order this is for the sequencer: operators act for the owner."""
    if principal.is_ops:
        order = ctx.node.sequencer.state.orders.get(order_id)
        if order is not None:
            return order.account_id
    return principal.account_id


def cancel_order(ctx: GatewayContext, request: Request) -> Response:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    order_id = request.params["orderId"]
    result = ctx.node.cancel_order(
        account_id=_owner_for(ctx, principal, order_id),
        order_id=order_id,
        reason=Reason.USER_REQUESTED,
    )
    outcome = result.outcome
    if outcome == Outcome.NOT_FOUND:
        return not_found("order")
    order = result.order
    assert order is not None
    if outcome == Outcome.FINAL:
        return error_response(
            409,
            "ORDER_FINAL",
            f"the order is already {order.status.name}",
            orderId=order_id,
            status=order.status.name,
        )
    status = "CANCELED" if outcome == Outcome.DONE_LOCALLY else "CANCEL_REQUESTED"
    return json_response(202, {"orderId": order_id, "status": status})


def replace_order(ctx: GatewayContext, request: Request) -> Response:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    body = decode_body(_REPLACE_DECODER, request.body)
    if isinstance(body, Response):
        return body
    if body.qty is None and body.price is None:
        return invalid("send qty and/or price", "qty")
    order_id = request.params["orderId"]
    owner = _owner_for(ctx, principal, order_id)
    current = ctx.node.sequencer.state.find_order(owner, order_id)
    if current is None:
        return not_found("order")
    if current.order_type == OrderType.MARKET and body.price is not None:
        return invalid("the price of a MARKET order cannot change", "price")
    result = ctx.node.replace_order(
        account_id=owner,
        order_id=order_id,
        qty=body.qty if body.qty is not None else current.qty,
        price=body.price if body.price is not None else current.price,
    )
    return _answer_replace(order_id, result)


def _answer_replace(order_id: str, result: Result) -> Response:
    outcome = result.outcome
    order = result.order
    assert order is not None
    if outcome == Outcome.FINAL:
        return error_response(
            409, "ORDER_FINAL", f"the order is already {order.status.name}", orderId=order_id
        )
    if outcome == Outcome.CONFLICT:
        return error_response(409, "ORDER_BUSY", result.detail, orderId=order_id)
    if outcome == Outcome.INVALID:
        field_name = "price" if "price" in result.detail else "qty"
        return invalid(result.detail, field_name)
    if outcome == Outcome.DENIED:
        return error_response(422, result.reason.name, result.detail, orderId=order_id)
    if outcome == Outcome.DONE_LOCALLY:
        return json_response(
            202, {"orderId": order_id, "status": "REPLACED", "qty": order.qty, "price": order.price}
        )
    return json_response(202, {"orderId": order_id, "status": "REPLACE_REQUESTED"})
