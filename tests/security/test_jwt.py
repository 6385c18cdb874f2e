"""Every authenticated endpoint refuses every kind of bad token with 401, and changes nothing.

Endpoints come from the OpenAPI description (itself checked against the live router by
test_openapi_contract.py), so a new route is covered the day it is described. For each one:
a valid token is not refused (so a 401 below is the token's doing), and each bad token is
401 with `WWW-Authenticate: Bearer` and the reason code, on a gateway configured like
production (explicit secret, JWT_ISSUER, JWT_AUDIENCE). The state fingerprint (last WAL seq,
state hash) is the same after all of it.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from switchyard.extensions.openapi import Operation, backoffice_operations, gateway_operations
from switchyard.testing.gateway_harness import Client, GatewayProcess
from tests.security.helpers import ADMIN_TOKEN, AUDIENCE, ISSUER, ORDER, SECRET, fingerprint, token

pytestmark = pytest.mark.integration

NOW = int(time.time())
BODIES = {
    "OrderRequest": {**ORDER, "clientOrderId": "jwt-probe"},
    "ReplaceRequest": {"qty": 1},
    "EventRequest": {"price": 100, "volume": 1},
    "KillSwitchRequest": {"scope": "nobody", "active": False},
    "StrategyConfig": {"version": 0},
}
PATH_VALUES = {
    "orderId": "e1-000000-1",
    "clientOrderId": "c1",
    "symbol": "BTC",
    "key": "BTC",
    "accountId": "alice",
    "view": "positions",
    "build": "x",
    "name": "app.js",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join([*map(_b64, parts), _b64(signature)])


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "sub": "alice",
        "accountId": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": NOW,
        "exp": NOW + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _hs256(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def bad_tokens() -> dict[str, tuple[str | None, set[str]]]:
    """name -> (Authorization header value or None, acceptable error codes)."""
    good = _hs256(_claims())
    head, payload, signature = good.split(".")
    forged_payload = _b64(json.dumps(_claims(accountId="mallory", sub="mallory")).encode())
    public_key = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END"
    return {
        "no header": (None, {"MISSING_BEARER_TOKEN"}),
        "empty bearer": ("Bearer ", {"MISSING_BEARER_TOKEN"}),
        "basic scheme": ("Basic YWxpY2U6c2VjcmV0", {"MISSING_BEARER_TOKEN"}),
        "alg none": (
            "Bearer " + _unsigned({"alg": "none", "typ": "JWT"}, _claims()),
            {"UNSUPPORTED_ALG"},
        ),
        "alg None spelled": (
            "Bearer " + _unsigned({"alg": "None"}, _claims()),
            {"UNSUPPORTED_ALG"},
        ),
        "alg HS512 with the secret": (
            "Bearer " + jwt.encode(_claims(), SECRET + "x" * 40, algorithm="HS512"),
            {"UNSUPPORTED_ALG"},
        ),
        "alg confusion RS256 signed with a public key as HMAC secret": (
            "Bearer "
            + _unsigned(
                {"alg": "RS256", "typ": "JWT"}, _claims(), b"\x00" * 32 + public_key.encode()[:8]
            ),
            {"UNSUPPORTED_ALG"},
        ),
        "no alg": ("Bearer " + _unsigned({"typ": "JWT"}, _claims(), b"x"), {"MISSING_ALG"}),
        "wrong secret": (
            "Bearer " + _hs256(_claims(), "not-the-secret-" * 3),
            {"INVALID_JWT_SIGNATURE"},
        ),
        "tampered payload": (
            f"Bearer {head}.{forged_payload}.{signature}",
            {"INVALID_JWT_SIGNATURE"},
        ),
        "signature stripped": (
            f"Bearer {head}.{payload}.",
            {"INVALID_JWT_SIGNATURE", "INVALID_JWT_PAYLOAD"},
        ),
        "truncated": (
            "Bearer " + good[: len(good) // 2],
            {"INVALID_JWT_FORMAT", "INVALID_JWT_PAYLOAD", "INVALID_JWT_SIGNATURE"},
        ),
        "two parts": (f"Bearer {head}.{payload}", {"INVALID_JWT_FORMAT"}),
        "four parts": (f"Bearer {good}.{signature}", {"INVALID_JWT_FORMAT"}),
        "not base64": ("Bearer !!!.@@@.###", {"INVALID_JWT_HEADER"}),
        "header not json": (
            f"Bearer {_b64(b'{not json')}.{payload}.{signature}",
            {"INVALID_JWT_HEADER"},
        ),
        "oversized (9 KiB)": ("Bearer " + _hs256(_claims(pad="x" * 9000)), {"INVALID_JWT_FORMAT"}),
        "expired": ("Bearer " + _hs256(_claims(exp=NOW - 3600)), {"TOKEN_EXPIRED"}),
        "exp not a number": (
            "Bearer " + _hs256(_claims(exp="tomorrow")),
            {"INVALID_JWT_PAYLOAD", "MISSING_EXP"},
        ),
        "no exp": ("Bearer " + _hs256(_claims(exp=None)), {"MISSING_EXP"}),
        "nbf in the future": ("Bearer " + _hs256(_claims(nbf=NOW + 3600)), {"TOKEN_NOT_YET_VALID"}),
        "wrong issuer": ("Bearer " + _hs256(_claims(iss="https://evil.test")), {"INVALID_ISSUER"}),
        "no issuer": ("Bearer " + _hs256(_claims(iss=None)), {"INVALID_JWT_PAYLOAD"}),
        "wrong audience": (
            "Bearer " + _hs256(_claims(aud="another-service")),
            {"INVALID_AUDIENCE"},
        ),
        "no audience": ("Bearer " + _hs256(_claims(aud=None)), {"INVALID_JWT_PAYLOAD"}),
        "no account": (
            "Bearer " + _hs256(_claims(sub=None, accountId=None)),
            {"MISSING_ACCOUNT_ID"},
        ),
        "account not a string": (
            "Bearer " + _hs256(_claims(sub=None, accountId=42)),
            {"MISSING_ACCOUNT_ID"},
        ),
        "account of 65 characters": (
            "Bearer " + _hs256(_claims(sub=None, accountId="a" * 65)),
            {"MISSING_ACCOUNT_ID"},
        ),
    }


BAD = bad_tokens()
PROTECTED = [op for op in gateway_operations() if op.auth in ("bearer", "stream")]


def _request(gateway: GatewayProcess, op: Operation, authorization: str | None) -> Any:
    path = op.path
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    if op.path == "/events":
        path += "?key=BTC"
    client = Client(gateway.port, None)
    headers = {"authorization": authorization} if authorization is not None else {}
    body = BODIES.get(op.body) if op.body else None
    if op.method in ("POST", "PUT"):
        result = client.request(op.method, path, body if body is not None else {}, headers=headers)
    else:
        result = client.request(op.method, path, headers=headers)
    client.close()
    return result


@pytest.mark.parametrize("op", PROTECTED, ids=lambda op: f"{op.method} {op.path}")
def test_every_bad_token_is_401_on_every_protected_endpoint(
    gateway: GatewayProcess, op: Operation
) -> None:
    before = fingerprint(gateway)
    refused = []
    for name, (authorization, codes) in BAD.items():
        result = _request(gateway, op, authorization)
        body = (
            result.json()
            if result.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        if result.status != 401 or body.get("error") not in codes:
            refused.append(f"{name}: {result.status} {body}")
        elif not result.headers.get("www-authenticate", "").startswith("Bearer"):
            refused.append(f"{name}: 401 without WWW-Authenticate: Bearer")
    assert not refused, "\n".join(refused)
    assert fingerprint(gateway) == before


@pytest.mark.parametrize("op", PROTECTED, ids=lambda op: f"{op.method} {op.path}")
def test_a_valid_token_is_not_refused(gateway: GatewayProcess, op: Operation) -> None:
    if op.media == "text/event-stream":
        pytest.skip("streams are opened in test_cross_account.py")
    result = _request(gateway, op, "Bearer " + token("jwt-valid"))
    assert result.status != 401, result


def test_strategy_writes_need_the_admin_token(gateway: GatewayProcess) -> None:
    before = fingerprint(gateway)
    client = Client(gateway.port, None)
    current = client.get("/api/strategy").json()
    attempts = {
        None: 401,
        "Bearer wrong-admin-token": 403,
        "Bearer " + token("alice", role="ops"): 403,  # a JWT, even an operator's, is not it
    }
    for authorization, status in attempts.items():
        headers = {"authorization": authorization} if authorization else {}
        result = client.put("/api/strategy", current, headers=headers)
        assert result.status == status, (authorization, result)
    assert client.get("/api/strategy").json()["version"] == current["version"]
    good = client.put("/api/strategy", current, headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert good.status == 200, good
    assert fingerprint(gateway)[0] >= before[0]


def test_operator_endpoints_refuse_a_plain_account(gateway: GatewayProcess) -> None:
    before = fingerprint(gateway)
    alice = Client(gateway.port, token("alice"))
    kill = alice.post("/api/admin/kill-switch", {"scope": "*", "active": True})
    assert kill.status == 403, kill
    assert alice.get("/api/reconcile").status == 403
    assert alice.post("/audit/anchor", {}).status == 403
    assert alice.get("/api/admin").json().get("stateHash") is None
    assert fingerprint(gateway) == before


BACKOFFICE_PROTECTED = [op for op in backoffice_operations() if op.auth == "bearer"]


@pytest.mark.parametrize("op", BACKOFFICE_PROTECTED, ids=lambda op: f"{op.method} {op.path}")
def test_the_backoffice_refuses_every_bad_token(backoffice: GatewayProcess, op: Operation) -> None:
    refused = []
    for name, (authorization, codes) in BAD.items():
        headers = {"authorization": authorization} if authorization is not None else {}
        result = Client(backoffice.port, None).get(op.path, headers=headers)
        body = result.json()
        if result.status != 401 or body.get("error") not in codes:
            refused.append(f"{name}: {result.status} {body}")
        elif not result.headers.get("www-authenticate", "").startswith("Bearer"):
            refused.append(f"{name}: 401 without WWW-Authenticate: Bearer (RFC 9110 15.5.2)")
    assert not refused, "\n".join(refused)
    valid = Client(backoffice.port, token("jwt-valid")).get(op.path)
    assert valid.status not in (401, 403) or op.name == "stats", valid
