"""Helpers of the hostile-client suite: the production-like gateway settings, tokens for it,
and a state fingerprint.

A refused request must change nothing: `fingerprint()` is the gateway's last WAL seq and its
state hash (operators' /api/admin), compared before and after a batch of refusals.
"""

from __future__ import annotations

import json
import socket
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


def raw_exchange(
    port: int, data: bytes, *, wait_s: float = 3.0, chunks: int = 1, expect: int = 0
) -> bytes:
    """Send raw bytes (in `chunks` writes); read until the server closes, `expect` responses
    arrived, or `wait_s` passes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait_s)
    received = b""
    try:
        step = max(1, len(data) // chunks)
        for start in range(0, len(data), step):
            try:
                sock.sendall(data[start : start + step])
            except OSError:
                break  # the server refused and closed: read what it said
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except OSError:
                break
            if not chunk:
                break
            received += chunk
            if expect and len(statuses(received)) >= expect:
                break
    finally:
        sock.close()
    return received


def statuses(answer: bytes) -> list[int]:
    """The status codes of the responses in a raw answer, in order (framed by content-length;
    an unframed remainder ends the list)."""
    found = []
    rest = answer
    while rest.startswith(b"HTTP/1.1 ") and b"\r\n\r\n" in rest:
        head, rest = rest.split(b"\r\n\r\n", 1)
        found.append(int(head[9:12]))
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        rest = rest[length:]
    return found


def order_bytes(account: str, cid: str) -> bytes:
    """A complete POST /orders request (fast ACK) for `account` as raw bytes."""
    body = json.dumps({**ORDER, "clientOrderId": cid}).encode()
    head = (
        f"POST /orders HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token(account)}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body
