"""No cross-account read, no cross-account action: every endpoint, with another account's ids.

A victim account places orders (one of them fills against a counterparty), posts an event,
and an operator sets a kill switch on it. A thief with a valid token of its own then calls
every endpoint of the gateway (from the OpenAPI description) and of the back office with the
victim's account id, order ids and client order ids in every path and query parameter. Every
answer is a refusal or the thief's own data, and no answer or stream event contains any of
the victim's identifiers that the thief did not send itself. Nothing the thief did changed
the gateway's state.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from switchyard.extensions.openapi import Operation, backoffice_operations, gateway_operations
from switchyard.testing.gateway_harness import Client, GatewayProcess
from tests.security.helpers import (
    ORDER,
    client,
    fingerprint,
    token,
    wait_for,
)

pytestmark = pytest.mark.integration

VICTIM = "victim-a7c3"
THIEF = "thief-19bd"


class Victim:
    def __init__(self, gateway: GatewayProcess) -> None:
        self.client = client(gateway, VICTIM)
        counterparty = client(gateway, "counterparty-55")
        sell = {**ORDER, "side": "SELL", "qty": 5, "clientOrderId": "cp-sell-1"}
        assert counterparty.post("/orders?ack=durable", sell).status == 202
        self.cids = [f"vcid-{index}-e91f" for index in range(3)]
        self.order_ids = []
        for index, cid in enumerate(self.cids):
            body = {**ORDER, "qty": 2 if index == 0 else 1, "clientOrderId": cid}
            if index == 0:
                body["price"] = ORDER["price"]  # crosses the counterparty: a fill
            else:
                body["price"] = 59_000 + index
            answer = self.client.post("/orders?ack=durable", body).json()
            self.order_ids.append(answer["orderId"])
        assert self.client.post("/events?key=VKEY1&ack=durable", {"price": 5, "volume": 1})
        ops = client(gateway, "ops-1", role="ops")
        killed = ops.post(
            "/api/admin/kill-switch", {"scope": VICTIM, "active": True, "note": "drill"}
        )
        assert killed.status == 200, killed
        wait_for(lambda: self.client.get(f"/orders/{self.order_ids[0]}").json()["filledQty"] == 2)

    @property
    def secrets(self) -> set[str]:
        return {VICTIM, *self.order_ids, *self.cids}


@pytest.fixture(scope="module")
def victim(gateway: GatewayProcess) -> Victim:
    return Victim(gateway)


@pytest.fixture(scope="module")
def victim_books(backoffice: GatewayProcess, victim: Victim) -> GatewayProcess:
    """The back office, once it has applied the victim's fill."""
    ops = Client(backoffice.port, token("ops-2", role="ops"))
    wait_for(
        lambda: any(p["accountId"] == VICTIM for p in ops.get("/positions").json()["positions"]),
        30,
    )
    return backoffice


def substitutions(op: Operation, victim: Victim) -> list[tuple[str, set[str]]]:
    """(path with query, the victim identifiers it sends) for each way to aim at the victim."""
    targets = []
    for order_id, cid in zip(victim.order_ids, victim.cids, strict=True):
        values = {
            "orderId": order_id,
            "clientOrderId": cid,
            "accountId": VICTIM,
            "symbol": "BTC",
            "key": "VKEY1",
            "view": "positions",
            "build": "x",
            "name": "x",
        }
        path = op.path
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        sent = {value for name, value in values.items() if "{" + name + "}" in op.path}
        query = [
            f"{name}={VICTIM}"
            for name in ("account", "accountId")
            if any(p[0] == name for p in op.params)
        ]
        if any(p[0] == "orderId" and p[1] == "query" for p in op.params):
            query.append(f"orderId={order_id}")
            sent.add(order_id)
        if query:
            sent.add(VICTIM)
        targets.append((path + ("?" + "&".join(query) if query else ""), sent))
    return targets


def leaked(text: str, secrets: set[str]) -> list[str]:
    return sorted(secret for secret in secrets if secret in text)


def read_stream(port: int, path: str, bearer: str, seconds: float = 0.4) -> tuple[int, str]:
    """Open an SSE path, read what arrives in `seconds`: (status, text)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=seconds)
    request = f"GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {bearer}\r\n"
    sock.sendall((request + "last-event-id: 0\r\n\r\n").encode())
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    finally:
        sock.close()
    head = data.split(b"\r\n", 1)[0].split()
    return (int(head[1]) if len(head) > 1 else 0), data.decode("latin-1")


def call(port: int, op: Operation, path: str) -> tuple[int, str]:
    if op.media == "text/event-stream":
        return read_stream(port, path, token(THIEF))
    thief = Client(port, token(THIEF))
    body: Any = {"qty": 1} if op.body == "ReplaceRequest" else {}
    if op.method == "POST" and op.body == "OrderRequest":
        body = {**ORDER, "clientOrderId": "thief-own-1"}
    result = thief.request(op.method, path, body if op.method in ("POST", "PUT") else None)
    thief.close()
    return result.status, result.body.decode("latin-1")


GATEWAY_TARGETS = [op for op in gateway_operations() if op.auth in ("bearer", "stream")]
ACTIONS = {"cancel_order", "replace_order"}


@pytest.mark.parametrize("op", GATEWAY_TARGETS, ids=lambda op: f"{op.method} {op.path}")
def test_no_gateway_endpoint_shows_or_touches_another_account(
    gateway: GatewayProcess, victim: Victim, op: Operation
) -> None:
    before = {
        order_id: client(gateway, VICTIM).get(f"/orders/{order_id}").json()
        for order_id in victim.order_ids
    }
    problems = []
    for path, sent in substitutions(op, victim):
        status, text = call(gateway.port, op, path)
        found = leaked(text, victim.secrets - sent)
        if found:
            problems.append(f"{op.method} {path} -> {status} shows {found}: {text[:300]}")
        if op.name in ACTIONS and status != 404:
            problems.append(f"{op.method} {path} -> {status}, not 404")
    assert not problems, "\n".join(problems)
    after = {
        order_id: client(gateway, VICTIM).get(f"/orders/{order_id}").json()
        for order_id in victim.order_ids
    }
    assert after == before


def test_thief_gets_404_or_its_own_data_for_victim_ids(
    gateway: GatewayProcess, victim: Victim
) -> None:
    thief = client(gateway, THIEF)
    order_id = victim.order_ids[1]
    before = fingerprint(gateway)
    assert thief.get(f"/orders/{order_id}").status == 404
    assert thief.post(f"/orders/{order_id}/cancel").status == 404
    assert thief.post(f"/orders/{order_id}/replace", {"qty": 1}).status == 404
    assert thief.get(f"/orders/{order_id}/events").status == 404
    assert thief.get(f"/accounts/{VICTIM}/events").status == 404
    assert thief.get(f"/orders/client/{victim.cids[1]}").json()["status"] == "UNKNOWN"
    assert thief.get(f"/orders?account={VICTIM}").json()["accountId"] == THIEF
    assert read_stream(gateway.port, f"/stream?account={VICTIM}", token(THIEF))[0] == 404
    assert read_stream(gateway.port, f"/orders/{order_id}/stream", token(THIEF))[0] == 404
    assert fingerprint(gateway) == before


BACKOFFICE_TARGETS = [op for op in backoffice_operations() if op.auth == "bearer"]


@pytest.mark.parametrize("op", BACKOFFICE_TARGETS, ids=lambda op: f"{op.method} {op.path}")
def test_no_backoffice_endpoint_shows_another_account(
    victim_books: GatewayProcess, victim: Victim, op: Operation
) -> None:
    backoffice = victim_books
    problems = []
    for path, sent in substitutions(op, victim):
        status, text = call(backoffice.port, op, path)
        found = leaked(text, victim.secrets - sent)
        if found:
            problems.append(f"{path} -> {status} shows {found}: {text[:300]}")
        if "accountId=" in path and status not in (403, 404):
            problems.append(f"{path} -> {status}, not 404")
    assert not problems, "\n".join(problems)


def test_the_backoffice_shows_the_victim_its_own_books(
    victim_books: GatewayProcess, victim: Victim
) -> None:
    """The books the thief cannot see exist: the refusals above are not empty answers."""
    own = Client(victim_books.port, token(VICTIM))
    positions = own.get("/positions").json()["positions"]
    assert [p["accountId"] for p in positions] == [VICTIM]
    fills = own.get("/fills").json()["fills"]
    assert {f["orderId"] for f in fills} == {victim.order_ids[0]}
