"""`GET /openapi.json`: the OpenAPI 3.1 description of the gateway (DESIGN §3), kept true.

Owns the API descriptions of both HTTP services: the gateway's, served by this extension,
and the back office's (`backoffice_document()`), and nothing else. Request bodies are the JSON
Schemas of the very msgspec Structs the handlers decode with, so a field added to a decoder
appears here by itself; paths, parameters and answers are the table below. Three things keep
it true: tests/security/test_openapi_contract.py compares the served document with the live
router's routes (every route described, nothing described that does not exist) and with the
checked-in contracts/openapi.*.json; tests/security/test_schemathesis.py runs schemathesis
against a live gateway and back office with it. `python -m switchyard.extensions.openapi
--write` rewrites the contract files after a reviewed change.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec
import orjson

from switchyard import __version__
from switchyard.adapters.api_common import ID_PATTERN
from switchyard.adapters.api_market import EventRequest
from switchyard.adapters.api_ops import KillSwitchRequest
from switchyard.adapters.api_orders import OrderRequest, ReplaceRequest
from switchyard.adapters.http import Request, Response
from switchyard.ops.handlers import DevSignInRequest

if TYPE_CHECKING:
    from switchyard.app import Gateway

ORDER = 990  # last: describes the routes every other extension registered
OPENAPI_PATH: Final = "/openapi.json"
CONTRACTS: Final = ("openapi.gateway.json", "openapi.backoffice.json")
_REF: Final = "#/components/schemas/{name}"
_JSON: Final = "application/json"
_SSE: Final = "text/event-stream"
_TEXT: Final = "text/plain"

# --- the table ---------------------------------------------------------------------------------

Param = tuple[str, str, dict[str, Any], bool, str]  # (name, in, schema, required, description)


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path, as the router registers it (`name` = the route's name)."""

    method: str
    path: str
    name: str
    summary: str
    tag: str
    responses: Mapping[int, str]  # status -> component schema name ("" = no JSON schema)
    auth: str = "bearer"  # "bearer", "stream" (bearer or ?ticket=), "admin-token", "none"
    params: tuple[Param, ...] = ()
    body: str = ""  # component schema name of the JSON body
    body_required: bool = True
    media: str = _JSON  # of the 2xx answer
    extension: str = ""  # present only when this extension is configured

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


def _int(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


_STR: Final[dict[str, Any]] = {"type": "string", "minLength": 1, "maxLength": 128}
_ANY: Final[dict[str, Any]] = {"type": "string"}  # looked up as given: unknown is 404/UNKNOWN
_ORDER_ID: Final[Param] = (
    "orderId",
    "path",
    _STR,
    True,
    "order id `<engine>-<walId>-<sessionSeq>-<acceptSeq>`",
)
_LIMIT_1K: Final[Param] = ("limit", "query", _int(1, 1000), False, "at most this many")
_LAST_EVENT: Final[tuple[Param, ...]] = (
    (
        "Last-Event-ID",
        "header",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
        False,
        "resume after this WAL seq (no gap, no duplicate)",
    ),
    (
        "lastEventId",
        "query",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
        False,
        "the same, for clients that cannot send headers",
    ),
    ("ticket", "query", _STR, False, "one-time stream ticket (POST /ui/api/stream-ticket)"),
)
_AUTHED: Final = {401: "Error"}
# What the HTTP layer itself may answer to any request (adapters/http/protocol.py): a request
# target over 4 KiB, a head over 16 KiB or 100 headers. Malformed HTTP (400), slow clients
# (408) and connection limits (503) happen before any operation is known.
_TRANSPORT: Final = {414: "Error", 431: "Error"}
_GATEWAY: Final[tuple[Operation, ...]] = (
    Operation(
        "POST",
        "/orders",
        "submit_order",
        "Place an order",
        "orders",
        {
            202: "OrderAck",
            400: "Error",
            401: "Error",
            409: "Error",
            413: "Error",
            415: "Error",
            422: "Error",
            429: "Error",
            503: "Error",
        },
        params=(
            (
                "ack",
                "query",
                {"enum": ["fast", "durable"]},
                False,
                "durable: answer after the record is fsynced",
            ),
            (
                "Idempotency-Key",
                "header",
                {"type": "string", "minLength": 1, "maxLength": 128, "pattern": ID_PATTERN},
                False,
                "else the clientOrderId is the key",
            ),
        ),
        body="OrderRequest",
    ),
    Operation(
        "GET",
        "/orders",
        "list_orders",
        "The caller's orders, newest first",
        "orders",
        {200: "OrderList", 400: "Error", **_AUTHED},
        params=(
            ("status", "query", {"enum": ["open", "all"]}, False, "default all"),
            _LIMIT_1K,
            ("account", "query", _ANY, False, "operators: another account (else ignored)"),
        ),
    ),
    Operation(
        "GET",
        "/orders/{orderId}",
        "get_order",
        "Order snapshot",
        "orders",
        {200: "OrderSnapshot", 404: "Error", **_AUTHED},
        params=(_ORDER_ID,),
    ),
    Operation(
        "GET",
        "/orders/client/{clientOrderId}",
        "client_status",
        "Status by client order id",
        "orders",
        {200: "ClientStatus", **_AUTHED},
        params=(("clientOrderId", "path", _ANY, True, "the client's id"),),
    ),
    Operation(
        "POST",
        "/orders/{orderId}/cancel",
        "cancel_order",
        "Cancel an order",
        "orders",
        {202: "OrderStatusAnswer", 404: "Error", 409: "Error", 415: "Error", **_AUTHED},
        params=(_ORDER_ID,),
    ),
    Operation(
        "POST",
        "/orders/{orderId}/replace",
        "replace_order",
        "Amend qty and/or price",
        "orders",
        {
            202: "OrderStatusAnswer",
            400: "Error",
            404: "Error",
            409: "Error",
            415: "Error",
            422: "Error",
            **_AUTHED,
        },
        params=(_ORDER_ID,),
        body="ReplaceRequest",
    ),
    Operation(
        "GET",
        "/orders/{orderId}/events",
        "order_events",
        "An order's audit trail",
        "audit",
        {200: "OrderEvents", 400: "Error", 404: "Error", **_AUTHED},
        params=(_ORDER_ID, _LIMIT_1K),
    ),
    Operation(
        "GET",
        "/accounts/{accountId}/events",
        "account_events",
        "An account's audit trail",
        "audit",
        {200: "AccountEvents", 400: "Error", 404: "Error", **_AUTHED},
        params=(
            ("accountId", "path", _STR, True, "your own (operators: any)"),
            _LIMIT_1K,
            ("afterSeq", "query", _int(0, 2**62), False, "records after this seq"),
        ),
    ),
    Operation(
        "GET",
        "/stream",
        "account_stream",
        "SSE of the caller's durable records",
        "streams",
        {200: "", 400: "Error", 404: "Error", 503: "Error", **_AUTHED},
        auth="stream",
        media=_SSE,
        params=(*_LAST_EVENT, ("account", "query", _STR, False, "operators")),
    ),
    Operation(
        "GET",
        "/orders/{orderId}/stream",
        "order_stream",
        "SSE of one order",
        "streams",
        {200: "", 400: "Error", 404: "Error", 503: "Error", **_AUTHED},
        auth="stream",
        media=_SSE,
        params=(_ORDER_ID, *_LAST_EVENT),
    ),
    Operation(
        "GET",
        "/market/symbols",
        "market_symbols",
        "Symbols of the venue",
        "market",
        {200: "Object", **_AUTHED},
    ),
    Operation(
        "GET",
        "/market/{symbol}/book",
        "market_book",
        "L2 snapshot",
        "market",
        {200: "Book", 400: "Error", 404: "Error", **_AUTHED},
        params=(
            ("symbol", "path", _STR, True, "e.g. BTC"),
            ("depth", "query", _int(1, 100), False, "levels per side"),
        ),
    ),
    Operation(
        "GET",
        "/market/stream",
        "market_stream",
        "SSE of book updates and trades",
        "streams",
        {200: "", 400: "Error", 503: "Error", **_AUTHED},
        auth="stream",
        media=_SSE,
        params=(("symbols", "query", {"type": "string"}, False, "a,b,c"), _LAST_EVENT[2]),
    ),
    Operation(
        "POST",
        "/events",
        "post_event",
        "Record a keyed market event (the seed's App)",
        "market",
        {200: "Object", 400: "Error", 409: "Error", 415: "Error", 503: "Error", **_AUTHED},
        params=(
            (
                "key",
                "query",
                {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,16}$"},
                True,
                "the event key",
            ),
            ("ack", "query", {"enum": ["fast", "durable"]}, False, ""),
        ),
        body="EventRequest",
    ),
    Operation(
        "GET",
        "/events/{key}",
        "get_event_key",
        "Aggregates of a key",
        "market",
        {200: "Object", 404: "Error", **_AUTHED},
        params=(("key", "path", _STR, True, "the event key"),),
    ),
    Operation(
        "GET",
        "/audit/verify",
        "audit_verify",
        "Verify the hash chain",
        "audit",
        {200: "Object", 400: "Error", **_AUTHED},
        params=(
            ("fromSeq", "query", _int(1, 2**62), False, ""),
            ("limit", "query", _int(1, 10_000_000), False, ""),
        ),
    ),
    Operation(
        "GET",
        "/audit/anchor",
        "audit_anchor",
        "The latest chain head",
        "audit",
        {200: "Object", 404: "Error", **_AUTHED},
    ),
    Operation(
        "POST",
        "/audit/anchor",
        "export_anchor",
        "Export an anchor now (operators)",
        "audit",
        {201: "Object", 403: "Error", 415: "Error", **_AUTHED},
    ),
    Operation(
        "GET",
        "/stats",
        "stats",
        "Counters and HDR percentiles",
        "operations",
        {200: "Object"},
        auth="none",
    ),
    Operation(
        "GET",
        "/health",
        "health",
        "healthy / degraded / unhealthy",
        "operations",
        {200: "Object", 503: "Object"},
        auth="none",
    ),
    Operation(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus exposition",
        "operations",
        {200: ""},
        auth="none",
        media=_TEXT,
    ),
    Operation(
        "GET",
        "/api/admin",
        "admin",
        "Configuration and state (seed shape)",
        "operations",
        {200: "Object", **_AUTHED},
    ),
    Operation(
        "POST",
        "/api/admin/kill-switch",
        "kill_switch",
        "Set a kill switch (operators)",
        "operations",
        {200: "Object", 400: "Error", 403: "Error", 415: "Error", **_AUTHED},
        body="KillSwitchRequest",
    ),
    Operation(
        "GET",
        "/api/reconcile",
        "reconcile",
        "Orders for the back office (operators)",
        "operations",
        {200: "Object", 400: "Error", 403: "Error", **_AUTHED},
        params=(
            ("afterOrderSeq", "query", _int(0, 2**62), False, ""),
            ("limit", "query", _int(1, 10_000), False, ""),
        ),
    ),
    Operation(
        "GET",
        "/ownership",
        "ownership",
        "Key ownership of this engine",
        "operations",
        {200: "Object"},
        auth="none",
    ),
    Operation(
        "GET",
        "/api/strategy",
        "strategy_get",
        "Strategy config",
        "strategy",
        {200: "Object", 503: "Error"},
        auth="none",
    ),
    Operation(
        "PUT",
        "/api/strategy",
        "strategy_put",
        "Change the strategy config",
        "strategy",
        {
            200: "Object",
            400: "Error",
            401: "Error",
            403: "Error",
            409: "Error",
            415: "Error",
            503: "Error",
        },
        auth="admin-token",
        body="StrategyConfig",
    ),
    Operation(
        "GET",
        "/api/strategy/decisions",
        "strategy_decisions",
        "Recent decisions",
        "strategy",
        {200: "Object", 400: "Error"},
        auth="none",
        params=(_LIMIT_1K, ("symbol", "query", _STR, False, "")),
    ),
    Operation(
        "GET",
        "/api/strategy/history",
        "strategy_history",
        "Config history",
        "strategy",
        {200: "Object", 400: "Error", 503: "Error"},
        auth="none",
        params=(_LIMIT_1K,),
    ),
    Operation(
        "GET",
        "/",
        "ui_page",
        "The ops and trading UI",
        "ui",
        {200: ""},
        auth="none",
        media="text/html",
    ),
    Operation(
        "GET",
        "/ui/{build}/{name}",
        "ui_asset",
        "A UI asset of this build",
        "ui",
        {200: "", 404: "Error"},
        auth="none",
        media="application/octet-stream",
        params=(("build", "path", _STR, True, ""), ("name", "path", _STR, True, "")),
    ),
    Operation(
        "GET",
        "/ui/api/info",
        "ui_info",
        "What the sign-in page needs",
        "ui",
        {200: "Object"},
        auth="none",
    ),
    Operation(
        "POST",
        "/ui/api/dev-sign-in",
        "dev_sign_in_handler",
        "A token, only while the development secret is in use",
        "ui",
        {200: "Object", 400: "Error", 404: "Error", 415: "Error"},
        auth="none",
        body="DevSignInRequest",
    ),
    Operation(
        "POST",
        "/ui/api/stream-ticket",
        "ui_stream_ticket",
        "A one-time stream ticket",
        "ui",
        {200: "Object", 503: "Error", **_AUTHED},
    ),
    Operation(
        "GET",
        "/ui/api/dashboard/stream",
        "ui_dashboard",
        "Dashboard feed (SSE)",
        "ui",
        {200: "", 503: "Error", **_AUTHED},
        auth="stream",
        media=_SSE,
        params=(_LAST_EVENT[2],),
    ),
    Operation(
        "GET",
        "/ui/api/backoffice/{view}",
        "ui_backoffice",
        "Back office view (proxy)",
        "ui",
        {200: "Object", 400: "Error", 404: "Error", 502: "Error", 503: "Error", **_AUTHED},
        params=(("view", "path", _STR, True, "positions, pnl or balances"),),
    ),
    Operation(
        "GET", OPENAPI_PATH, "openapi", "This document", "operations", {200: "Object"}, auth="none"
    ),
)

_BACKOFFICE_SCOPE: Final[Param] = (
    "accountId",
    "query",
    _STR,
    False,
    "your own (operators: any, or all when absent)",
)
_BACKOFFICE: Final[tuple[Operation, ...]] = (
    Operation(
        "GET",
        "/health",
        "health",
        "healthy / degraded / unhealthy",
        "operations",
        {200: "Object", 503: "Object"},
        auth="none",
    ),
    Operation(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus exposition",
        "operations",
        {200: ""},
        auth="none",
        media=_TEXT,
    ),
    *(
        Operation(
            "GET",
            f"/{view}",
            view,
            f"{view.title()} of the caller's account",
            "books",
            {200: "Object", 400: "Error", 404: "Error", 503: "Error", **_AUTHED},
            params=(_BACKOFFICE_SCOPE,),
        )
        for view in ("positions", "balances", "pnl")
    ),
    *(
        Operation(
            "GET",
            f"/{view}",
            view,
            f"{view.title()}, paged",
            "books",
            {200: "Object", 400: "Error", 404: "Error", 503: "Error", **_AUTHED},
            params=(
                _BACKOFFICE_SCOPE,
                ("orderId", "query", _STR, False, ""),
                (after, "query", _int(0, 2**62), False, "page after this"),
                ("limit", "query", _int(1, 1000), False, ""),
            ),
        )
        for view, after in (("fills", "afterId"), ("ledger", "afterIndex"))
    ),
    Operation(
        "GET",
        "/reconcile",
        "reconcile",
        "Books against the gateway's orders",
        "books",
        {200: "Object", 404: "Error", 429: "Error", 503: "Error", **_AUTHED},
        params=(_BACKOFFICE_SCOPE,),
    ),
    Operation(
        "GET",
        "/stats",
        "stats",
        "Consumer and database figures (operators)",
        "operations",
        {200: "Object", 403: "Error", 503: "Error", **_AUTHED},
    ),
    Operation(
        "GET", OPENAPI_PATH, "openapi", "This document", "operations", {200: "Object"}, auth="none"
    ),
)


# --- the schemas -----------------------------------------------------------------------------

_NULLABLE_STR: Final = {"type": ["string", "null"]}
_ORDER_SNAPSHOT: Final[dict[str, Any]] = {
    "type": "object",
    "required": [
        "orderId",
        "clientOrderId",
        "accountId",
        "symbol",
        "side",
        "type",
        "qty",
        "price",
        "timeInForce",
        "status",
        "filledQty",
        "avgPrice",
        "durable",
        "acceptSeq",
        "createdAt",
        "updatedAt",
    ],
    "properties": {
        "orderId": {"type": "string"},
        "clientOrderId": _NULLABLE_STR,
        "accountId": {"type": "string"},
        "symbol": {"type": "string"},
        "side": {"enum": ["BUY", "SELL"]},
        "type": {"enum": ["LIMIT", "MARKET"]},
        "qty": {"type": "integer", "minimum": 1},
        "price": {"type": ["integer", "null"]},
        "timeInForce": {"enum": ["GTC", "IOC", "FOK", "GTD"]},
        "status": {
            "enum": [
                "ACCEPTED",
                "SENT",
                "PARTIALLY_FILLED",
                "FILLED",
                "CANCEL_REQUESTED",
                "CANCELED",
                "REJECTED",
                "DENIED",
                "EXPIRED",
            ]
        },
        "filledQty": {"type": "integer", "minimum": 0},
        "leavesQty": {"type": "integer", "minimum": 0},
        "avgPrice": {"type": ["number", "null"]},
        "durable": {"type": "boolean"},
        "acceptSeq": {"type": "integer", "minimum": 1},
        "reason": _NULLABLE_STR,
        "createdAt": {"type": "integer"},
        "updatedAt": {"type": "integer"},
    },
}
_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
            "message": {"type": "string"},
        },
    },
    "Object": {"type": "object"},
    "OrderAck": {
        "type": "object",
        "required": ["orderId", "acceptSeq", "requestId", "clientOrderId", "status", "durable"],
        "properties": {
            "orderId": {"type": "string"},
            "acceptSeq": {"type": "integer"},
            "requestId": {"type": "string"},
            "clientOrderId": _NULLABLE_STR,
            "status": {"const": "ACCEPTED"},
            "durable": {"type": "boolean"},
            "idempotentReplay": {"type": "boolean"},
        },
    },
    "OrderSnapshot": _ORDER_SNAPSHOT,
    "OrderList": {
        "type": "object",
        "required": ["accountId", "orders"],
        "properties": {
            "accountId": {"type": "string"},
            "orders": {"type": "array", "items": {"$ref": _REF.format(name="OrderSnapshot")}},
        },
    },
    "ClientStatus": {
        "type": "object",
        "required": ["clientOrderId", "status"],
        "properties": {
            "clientOrderId": {"type": "string"},
            "orderId": {"type": "string"},
            "status": {"enum": ["PENDING", "DURABLE", "REJECTED", "UNKNOWN"]},
        },
    },
    "OrderStatusAnswer": {
        "type": "object",
        "required": ["orderId", "status"],
        "properties": {"orderId": {"type": "string"}, "status": {"type": "string"}},
    },
    "OrderEvents": {
        "type": "object",
        "required": ["orderId", "events"],
        "properties": {
            "orderId": {"type": "string"},
            "events": {"type": "array", "items": {"$ref": _REF.format(name="Record")}},
            "nextAfterSeq": {"type": ["integer", "null"]},
        },
    },
    "AccountEvents": {
        "type": "object",
        "required": ["accountId", "events"],
        "properties": {
            "accountId": {"type": "string"},
            "events": {"type": "array", "items": {"$ref": _REF.format(name="Record")}},
            "nextAfterSeq": {"type": ["integer", "null"]},
        },
    },
    "Record": {
        "type": "object",
        "required": ["seq", "eventType", "at", "atNs"],
        "properties": {
            "seq": {"type": "integer"},
            "eventType": {"type": "string"},
            "at": {"type": "integer"},
            "atNs": {"type": "integer"},
        },
    },
    "Book": {
        "type": "object",
        "required": ["symbol", "seq", "bids", "asks"],
        "properties": {
            "symbol": {"type": "string"},
            "seq": {"type": "integer"},
            "bids": {"type": "array", "items": {"$ref": _REF.format(name="Level")}},
            "asks": {"type": "array", "items": {"$ref": _REF.format(name="Level")}},
        },
    },
    "Level": {
        "type": "object",
        "required": ["price", "qty"],
        "properties": {"price": {"type": "integer"}, "qty": {"type": "integer"}},
    },
    "StrategyConfig": {
        "type": "object",
        "required": ["version"],
        "properties": {"version": {"type": "integer", "minimum": 0}},
    },
}
_DECODED: Final[tuple[type[msgspec.Struct], ...]] = (
    OrderRequest,
    ReplaceRequest,
    EventRequest,
    KillSwitchRequest,
    DevSignInRequest,
)


# Rules across fields that the handlers check after decoding (api_orders._check_order,
# replace_order), so generated "valid" requests are valid. GTD's expireAt must also lie in
# the future, which no static schema can say (the description does).
_ACROSS_FIELDS: Final[dict[str, dict[str, Any]]] = {
    "OrderRequest": {
        "allOf": [
            {
                "if": {"properties": {"type": {"const": "LIMIT"}}},
                "then": {"required": ["price"], "properties": {"price": {"type": "integer"}}},
            },
            {
                "if": {"properties": {"type": {"const": "MARKET"}}},
                "then": {"properties": {"price": {"type": "null"}, "postOnly": {"const": False}}},
            },
            {
                "if": {
                    "required": ["timeInForce"],
                    "properties": {"timeInForce": {"const": "GTD"}},
                },
                "then": {"required": ["expireAt"], "properties": {"expireAt": {"type": "integer"}}},
                "else": {"properties": {"expireAt": {"type": "null"}}},
            },
        ],
        "description": "LIMIT needs price, MARKET has none; GTD needs expireAt (epoch ms, in the "
        "future) and only GTD has one; clientOrderId or an Idempotency-Key header is required.",
    },
    "ReplaceRequest": {
        "anyOf": [
            {"required": ["qty"], "properties": {"qty": {"type": "integer"}}},
            {"required": ["price"], "properties": {"price": {"type": "integer"}}},
        ],
        "description": "qty and/or price; a MARKET order's price cannot change.",
    },
}


def _components() -> dict[str, Any]:
    _, decoded = msgspec.json.schema_components(_DECODED, ref_template=_REF)
    for name, rules in _ACROSS_FIELDS.items():
        decoded[name] = {**decoded[name], **rules}
    # The idempotency key: the clientOrderId, or an Idempotency-Key header (the description).
    order = decoded["OrderRequest"]
    order["required"] = [*order["required"], "clientOrderId"]
    client_id = order["properties"]["clientOrderId"]
    order["properties"]["clientOrderId"] = next(
        branch for branch in client_id.get("anyOf", [client_id]) if branch.get("type") != "null"
    )
    return {
        "schemas": {**decoded, **_SCHEMAS},
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (HS256)"},
            "streamTicket": {"type": "apiKey", "in": "query", "name": "ticket"},
            "adminToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "STRATEGY_ADMIN_TOKEN, when it is set",
            },
        },
    }


_SECURITY: Final[dict[str, list[dict[str, list[str]]]]] = {
    "bearer": [{"bearer": []}],
    "stream": [{"bearer": []}, {"streamTicket": []}],
    "admin-token": [{"adminToken": []}, {}],
    "none": [],
}


def _operation(op: Operation) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "tags": [op.tag],
        "security": _SECURITY[op.auth],
        "responses": {
            str(status): _response(op, status, schema)
            for status, schema in sorted({**_TRANSPORT, **op.responses}.items())
        },
    }
    if op.params:
        described["parameters"] = [
            {"name": name, "in": where, "required": required, "schema": schema, "description": text}
            for name, where, schema, required, text in op.params
        ]
    if op.body:
        described["requestBody"] = {
            "required": op.body_required,
            "content": {_JSON: {"schema": {"$ref": _REF.format(name=op.body)}}},
        }
    if op.extension:
        described["x-switchyard-extension"] = op.extension
    return described


def _response(op: Operation, status: int, schema: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": f"{status}"}
    media = op.media if 200 <= status < 300 else _JSON
    content: dict[str, Any] = {"schema": {"$ref": _REF.format(name=schema)}} if schema else {}
    answer["content"] = {media: content}
    return answer


def _document(title: str, description: str, operations: tuple[Operation, ...]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    components = _components()
    components["schemas"] = _referenced(paths, components["schemas"])
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__, "description": description},
        "paths": paths,
        "components": components,
    }


def _referenced(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schemas `paths` refer to, directly or through other schemas."""
    prefix = _REF.format(name="")
    wanted: set[str] = set()
    pending = [paths]
    while pending:
        text = orjson.dumps(pending.pop()).decode()
        for piece in text.split(prefix)[1:]:
            name = piece.split('"', 1)[0]
            if name not in wanted:
                wanted.add(name)
                pending.append(schemas[name])
    return {name: schemas[name] for name in sorted(wanted)}


def gateway_operations() -> tuple[Operation, ...]:
    return _GATEWAY


def backoffice_operations() -> tuple[Operation, ...]:
    return _BACKOFFICE


def gateway_document() -> dict[str, Any]:
    """The gateway's API (DESIGN §3) as an OpenAPI 3.1 document."""
    return _document(
        "Switchyard gateway",
        "Orders, streams, audit and operations of `switchyard run` (DESIGN.md §3). Errors are "
        '`{"error": CODE, "message": text}` plus helpful fields.',
        _GATEWAY,
    )


def backoffice_document() -> dict[str, Any]:
    """The back office's API (DESIGN §6) as an OpenAPI 3.1 document."""
    return _document(
        "Switchyard back office",
        "Positions, balances, PnL, fills, ledger and reconciliation of `switchyard backoffice` "
        "(DESIGN.md §6). An account sees only its own; role ops sees all.",
        _BACKOFFICE,
    )


def encode(document: dict[str, Any]) -> bytes:
    """Canonical bytes (sorted keys, indented): what is served and checked in."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


# --- serving and writing -------------------------------------------------------------------------


@dataclass
class _Served:
    body: bytes = field(default_factory=lambda: encode(gateway_document()))

    def answer(self, request: Request) -> Response:
        return Response(200, self.body, headers=((b"cache-control", b"no-cache"),))


def install(gateway: Gateway, environ: Mapping[str, str]) -> None:
    """Serve GET /openapi.json (public: it says what exists, not what anyone holds)."""
    served = _Served()
    gateway.http.state.router.get(OPENAPI_PATH, served.answer, name="openapi")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchyard.extensions.openapi")
    parser.add_argument("--write", type=Path, metavar="DIR", help="write the contract files")
    args = parser.parse_args(argv)
    documents = (gateway_document(), backoffice_document())
    if args.write is None:
        sys.stdout.write(encode(documents[0]).decode())
        return 0
    for name, document in zip(CONTRACTS, documents, strict=True):
        (args.write / name).write_bytes(encode(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
