"""GET /openapi.json is kept true: it describes exactly the routes the servers have.

- the gateway's document has one operation per route of a fully built gateway (every
  extension discovered), with the route's name as operationId, and nothing else;
- the back office's document likewise for the back office's router;
- what a live gateway serves is byte for byte contracts/openapi.gateway.json, and the back
  office's document is contracts/openapi.backoffice.json (UPDATE_GOLDEN=1 rewrites both,
  like every golden file here: review the diff);
- every JSON request body schema is the decoder's: a request the handler takes validates,
  and the 2020-12 schemas of both documents are valid.
Schemathesis then checks the answers against the documents (test_schemathesis.py).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from switchyard import app
from switchyard.backoffice.api import APIContext, BackofficeAPI
from switchyard.extensions import discover
from switchyard.extensions.openapi import (
    CONTRACTS,
    backoffice_document,
    backoffice_operations,
    encode,
    gateway_document,
    gateway_operations,
)
from switchyard.testing.gateway_harness import Client, GatewayProcess
from switchyard.venue.transports import transport_from_env
from tests.security.helpers import ORDER

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"


def built_gateway_routes(tmp_path: Path) -> set[tuple[str, str, str]]:
    async def build() -> set[tuple[str, str, str]]:
        environ = {
            "JWT_HS256_SECRET": "x" * 32,
            "GATEWAY_PORT": "0",
            "WAL_FLUSHER": "inline",
            "STRATEGY_ADMIN_TOKEN": "t" * 20,
        }
        gateway = await app.build_gateway(
            environ, data_dir=tmp_path, venue_factory=transport_from_env, extensions=discover()
        )
        routes = {(r.method, r.template, r.name) for r in gateway.http.state.router.routes}
        for stop in reversed(gateway.on_stop):
            result = stop()
            if asyncio.iscoroutine(result):
                await result
        await gateway.journal.close()
        return routes

    return asyncio.run(build())


def test_the_gateway_document_describes_exactly_its_routes(tmp_path: Path) -> None:
    routes = built_gateway_routes(tmp_path)
    described = {(op.method, op.path, op.name) for op in gateway_operations()}
    assert routes - described == set(), "routes nobody described (add them to openapi.py)"
    optional = {(op.method, op.path, op.name) for op in gateway_operations() if op.extension}
    assert described - routes - optional == set(), "described routes that do not exist"


def test_the_backoffice_document_describes_exactly_its_routes() -> None:
    context: Any = APIContext(**dict.fromkeys(APIContext.__dataclass_fields__))
    context.openapi = encode(backoffice_document())  # as `switchyard backoffice` passes it
    api = BackofficeAPI(context)
    try:
        routes = {(r.method, r.template, r.name) for r in api.router().routes}
    finally:
        api.close()
    assert routes == {(op.method, op.path, op.name) for op in backoffice_operations()}


def test_the_live_gateway_serves_the_checked_in_contract(tmp_path: Path) -> None:
    with GatewayProcess(tmp_path / "gw") as gateway:
        served = Client(gateway.port, None).get("/openapi.json")
    assert served.status == 200
    assert served.headers["content-type"] == "application/json"
    documents = (served.body, encode(backoffice_document()))
    assert documents[0] == encode(gateway_document())
    for name, body in zip(CONTRACTS, documents, strict=True):
        path = CONTRACTS_DIR / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.write_bytes(body)
        assert path.read_bytes() == body, f"{name} is stale: UPDATE_GOLDEN=1 and review the diff"


@pytest.mark.parametrize(
    "document", [gateway_document(), backoffice_document()], ids=["gateway", "backoffice"]
)
def test_every_schema_is_valid_json_schema(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    for name, schema in document["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise AssertionError(f"schema {name}: {error}") from None


GOOD_BODIES = {
    "OrderRequest": {**ORDER, "clientOrderId": "c-1", "timeInForce": "GTC"},
    "ReplaceRequest": {"qty": 3, "price": 10},
    "EventRequest": {"price": 100, "volume": 2},
    "KillSwitchRequest": {"scope": "*", "active": True, "cancelOpen": False, "note": "x"},
    "DevSignInRequest": {"accountId": "alice", "role": "ops"},
}
BAD_BODIES = {
    "OrderRequest": {**ORDER, "clientOrderId": "c-1", "qty": 0},
    "ReplaceRequest": {"qty": "3"},
    "EventRequest": {"price": 0},
    "KillSwitchRequest": {"scope": "*", "active": True, "unknown": 1},
    "DevSignInRequest": {"accountId": "a b"},
}


@pytest.mark.parametrize("name", sorted(GOOD_BODIES))
def test_body_schemas_agree_with_the_decoders(name: str) -> None:
    document = gateway_document()
    schema = {**document["components"]["schemas"][name], "$defs": document["components"]["schemas"]}
    text = json.dumps(schema).replace("#/components/schemas/", "#/$defs/")
    validator = jsonschema.Draft202012Validator(json.loads(text))
    assert validator.is_valid(GOOD_BODIES[name])
    assert not validator.is_valid(BAD_BODIES[name])
