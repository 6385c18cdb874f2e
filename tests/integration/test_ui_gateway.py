"""The UI's HTTP contract on a real gateway process: page and assets, dev sign-in, stream
tickets (one use, streams only), the dashboard feed, and the back office proxy.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from switchyard.testing.gateway_harness import Client, GatewayProcess, free_port

pytestmark = pytest.mark.integration


class _FakeBackoffice(BaseHTTPRequestHandler):
    """Answers /positions with the Authorization header it saw (to prove it is passed on)."""

    def do_GET(self) -> None:
        body = (
            '{"positions": [{"accountId": "alice", "symbol": "BTC", "qty": 3, '
            f'"avgPrice": 10.0, "realizedPnl": 0, "fees": 0}}], "auth": "{self.headers["authorization"]}"}}'
        ).encode()
        self.send_response(200 if self.path == "/positions" else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def fake_backoffice() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeBackoffice)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, fake_backoffice: int) -> Iterator[Any]:
    environ = {"BACKOFFICE_PORT": str(fake_backoffice)}
    with GatewayProcess(tmp_path_factory.mktemp("ui-http"), env=environ) as gw:
        yield gw


def _build(gw: GatewayProcess) -> str:
    info = Client(gw.port, None).get("/ui/api/info").json()
    return str(info["build"])


def _ticket(gw: GatewayProcess, account: str = "alice") -> str:
    answer = gw.client(account).post("/ui/api/stream-ticket")
    assert answer.status == 200, answer
    return str(answer.json()["ticket"])


# --- page and assets ---------------------------------------------------------------------


def test_page_is_html_revalidated_and_locked_to_its_origin(gateway: GatewayProcess) -> None:
    answer = Client(gateway.port, None).get("/")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    build = _build(gateway)
    assert f"/ui/{build}/main.js".encode() in answer.body
    assert b"{{BUILD}}" not in answer.body


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("main.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
def test_assets_have_their_type_and_are_immutable(
    gateway: GatewayProcess, name: str, content_type: str
) -> None:
    answer = Client(gateway.port, None).get(f"/ui/{_build(gateway)}/{name}")
    assert answer.status == 200
    assert answer.headers["content-type"] == content_type
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_assets_of_another_build_or_unknown_names_are_404(gateway: GatewayProcess) -> None:
    client = Client(gateway.port, None)
    assert client.get("/ui/000000000000/main.js").status == 404
    assert client.get(f"/ui/{_build(gateway)}/nope.js").status == 404
    assert client.get(f"/ui/{_build(gateway)}/..%2Fassets.py").status == 404


def test_head_of_the_page_has_no_body(gateway: GatewayProcess) -> None:
    answer = Client(gateway.port, None).request("HEAD", "/")
    assert answer.status == 200
    assert answer.body == b""


# --- dev sign-in ---------------------------------------------------------------------------


def test_dev_sign_in_mints_a_token_the_gateway_accepts(gateway: GatewayProcess) -> None:
    anonymous = Client(gateway.port, None)
    assert anonymous.get("/ui/api/info").json()["devSignIn"] is True
    answer = anonymous.post("/ui/api/dev-sign-in", {"accountId": "zoe", "role": "ops"})
    assert answer.status == 200
    token = answer.json()["token"]
    assert answer.headers["cache-control"] == "no-store"
    admin = Client(gateway.port, token).get("/api/admin")
    assert admin.status == 200
    assert Client(gateway.port, token).get("/orders").json()["accountId"] == "zoe"


@pytest.mark.parametrize(
    "body",
    [{"accountId": ""}, {"accountId": "a b"}, {"accountId": "x", "role": "root"}, {"who": "x"}],
)
def test_dev_sign_in_refuses_bad_input(gateway: GatewayProcess, body: dict[str, str]) -> None:
    answer = Client(gateway.port, None).post("/ui/api/dev-sign-in", body)
    assert answer.status == 400
    assert answer.json()["error"] == "INVALID_REQUEST"


def test_dev_sign_in_is_off_with_a_configured_secret(tmp_path: Any) -> None:
    environ = {"JWT_HS256_SECRET": "a-real-secret-of-at-least-32-bytes-long!"}
    with GatewayProcess(tmp_path, env=environ) as gw:
        anonymous = Client(gw.port, None)
        assert anonymous.get("/ui/api/info").json()["devSignIn"] is False
        answer = anonymous.post("/ui/api/dev-sign-in", {"accountId": "mallory", "role": "ops"})
        assert answer.status == 404
        assert answer.json()["error"] == "DEV_SIGN_IN_OFF"
        assert anonymous.get("/").status == 200  # the UI itself is still served


# --- stream tickets ------------------------------------------------------------------------


def test_a_ticket_opens_one_stream_once(gateway: GatewayProcess) -> None:
    ticket = _ticket(gateway)
    anonymous = Client(gateway.port, None)
    stream = anonymous.stream(f"/stream?ticket={ticket}")
    assert stream.status == 200
    stream.close()
    again = anonymous.stream(f"/stream?ticket={ticket}")
    assert again.status == 401
    again.close()


def test_a_ticket_streams_only_its_own_account(gateway: GatewayProcess) -> None:
    alice = gateway.client("alice")
    stream = Client(gateway.port, None).stream(f"/stream?ticket={_ticket(gateway, 'alice')}")
    body = {"symbol": "BTC", "side": "BUY", "type": "LIMIT", "qty": 1, "price": 1}
    assert gateway.client("bob").post("/orders", {**body, "clientOrderId": "t-bob"}).status == 202
    answer = alice.post("/orders", {**body, "clientOrderId": "t-alice"})
    _, name, data = stream.next_event()
    assert name == "order_accepted"
    assert data["orderId"] == answer.json()["orderId"]
    stream.close()


def test_tickets_are_refused_outside_streams_and_when_unknown(gateway: GatewayProcess) -> None:
    anonymous = Client(gateway.port, None)
    assert anonymous.get(f"/orders?ticket={_ticket(gateway)}").status == 401
    unknown = anonymous.stream("/stream?ticket=made-up")
    assert unknown.status == 401
    unknown.close()
    assert anonymous.post("/ui/api/stream-ticket").status == 401


def test_market_and_order_streams_take_tickets(gateway: GatewayProcess) -> None:
    anonymous = Client(gateway.port, None)
    market = anonymous.stream(f"/market/stream?symbols=BTC&ticket={_ticket(gateway)}")
    assert market.status == 200
    _, name, data = market.next_event()
    assert (name, data["symbol"]) == ("book_snapshot", "BTC")
    market.close()
    body = {"symbol": "BTC", "side": "BUY", "type": "LIMIT", "qty": 1, "price": 1}
    order = gateway.client("alice").post("/orders?ack=durable", {**body, "clientOrderId": "t-o"})
    order_id = order.json()["orderId"]
    stream = anonymous.stream(f"/orders/{order_id}/stream?ticket={_ticket(gateway)}")
    assert stream.status == 200
    assert stream.next_event()[1] == "order_accepted"
    stream.close()


# --- dashboard feed ------------------------------------------------------------------------


def test_dashboard_feed_sends_history_then_snapshots(gateway: GatewayProcess) -> None:
    client = gateway.client("alice")
    feed = Client(gateway.port, None).stream(f"/ui/api/dashboard/stream?ticket={_ticket(gateway)}")
    assert feed.status == 200
    _, name, history = feed.next_event()
    assert name == "history"
    assert isinstance(history, list)
    body = {"symbol": "BTC", "side": "BUY", "type": "LIMIT", "qty": 1, "price": 1}
    for index in range(5):
        assert client.post("/orders", {**body, "clientOrderId": f"feed-{index}"}).status == 202
    snapshots = []
    for _ in range(5):  # the first one may have been taken before the orders arrived
        _, name, snapshot = feed.next_event(timeout_s=5)
        assert name == "snapshot"
        snapshots.append(snapshot)
        if snapshot["latencyUs"]["fastAck"]["count"] >= 5:
            break
    assert snapshot["health"]["status"] == "healthy"
    assert set(snapshot["latencyUs"]) == {"fastAck", "durableAck", "fsync"}
    assert snapshot["latencyUs"]["fastAck"]["count"] >= 5
    assert max(s["throughput"]["ordersPerS"] for s in snapshots) > 0
    assert snapshot["slo"]["fastAckP99"] == 1000
    assert snapshot["outbox"]["enabled"] is False
    assert snapshot["backpressure"]["state"] == "normal"
    _, _, following = feed.next_event(timeout_s=5)
    assert 500 <= following["ts"] - snapshot["ts"] <= 3000
    feed.close()


def test_dashboard_feed_needs_a_token_or_ticket(gateway: GatewayProcess) -> None:
    feed = Client(gateway.port, None).stream("/ui/api/dashboard/stream")
    assert feed.status == 401
    feed.close()
    with_header = gateway.client("alice").stream("/ui/api/dashboard/stream")
    assert with_header.status == 200
    with_header.close()


# --- back office proxy ---------------------------------------------------------------------


def test_backoffice_views_are_relayed_with_the_callers_token(gateway: GatewayProcess) -> None:
    client = gateway.client("alice")
    answer = client.get("/ui/api/backoffice/positions")
    assert answer.status == 200
    assert answer.json()["positions"][0]["symbol"] == "BTC"
    assert answer.json()["auth"] == f"Bearer {client.token}"
    assert client.get("/ui/api/backoffice/ledger").status == 404  # not a relayed view
    assert Client(gateway.port, None).get("/ui/api/backoffice/positions").status == 401


def test_backoffice_offline_is_a_clear_503(tmp_path: Any) -> None:
    with GatewayProcess(tmp_path, env={"BACKOFFICE_PORT": str(free_port())}) as gw:
        answer = gw.client("alice").get("/ui/api/backoffice/positions")
        assert answer.status == 503
        assert answer.json()["error"] == "BACKOFFICE_OFFLINE"
        assert re.search(r"connection refused", answer.json()["message"])
