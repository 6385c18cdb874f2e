"""Helpers of the hostile-client suite: the production-like gateway settings, tokens for it,
and a state fingerprint.

A refused request must change nothing: `fingerprint()` is the gateway's last WAL seq and its
state hash (operators' /api/admin), compared before and after a batch of refusals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from switchyard.adapters.auth import mint_token
from switchyard.testing.gateway_harness import Client, GatewayProcess, free_port

SECRET = "security-suite-secret-0123456789abcdef"
ISSUER = "https://issuer.switchyard.test"
AUDIENCE = "switchyard-gateway"
ADMIN_TOKEN = "strategy-admin-token-for-tests-0123"
HEADER_TIMEOUT_MS = 1500
ORDER = {"symbol": "BTC", "side": "BUY", "type": "LIMIT", "qty": 1, "price": 60_000}
GATEWAY_ENV = {
    "JWT_HS256_SECRET": SECRET,
    "JWT_ISSUER": ISSUER,
    "JWT_AUDIENCE": AUDIENCE,
    "STRATEGY_ADMIN_TOKEN": ADMIN_TOKEN,
    "GATEWAY_HEADER_TIMEOUT_MS": str(HEADER_TIMEOUT_MS),
    "GATEWAY_BODY_TIMEOUT_MS": str(HEADER_TIMEOUT_MS),
    "RISK_MAX_QTY": "100",
    "RISK_MAX_QTY_BY_ACCOUNT": "victim-a7c3:90",  # an account's own limit: operators only
}


def token(account: str, *, role: str = "", ttl_s: int = 3600, **claims: Any) -> str:
    """A valid token for the hostile gateway (its issuer and audience), plus `claims`."""
    extra = {"iss": ISSUER, "aud": AUDIENCE, **claims}
    return mint_token(SECRET.encode(), account, role=role, ttl_s=ttl_s, extra=extra)


def client(gateway: GatewayProcess, account: str | None, *, role: str = "") -> Client:
    return Client(gateway.port, token(account, role=role) if account else None)


def fingerprint(gateway: GatewayProcess) -> tuple[int, str]:
    """(last seq, state hash): equal before and after means nothing changed."""
    admin = client(gateway, "security-ops", role="ops").get("/api/admin").json()
    return admin["lastSeq"], admin["stateHash"]


def start_backoffice(gateway: GatewayProcess, db_path: Path) -> GatewayProcess:
    """`switchyard backoffice` tailing the gateway's WAL, with the same token settings."""
    port = free_port()
    backoffice = GatewayProcess(
        gateway.data_dir,
        port=port,
        command=("backoffice",),
        env={
            **GATEWAY_ENV,
            "BACKOFFICE_PORT": str(port),
            "APP_DB_URL": f"sqlite:///{db_path}",
            "GATEWAY_URL": f"http://127.0.0.1:{gateway.port}",
            "BACKOFFICE_RECONCILE_WAIT_MS": "2000",
        },
    )
    backoffice.start()
    return backoffice


def wait_for(predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
