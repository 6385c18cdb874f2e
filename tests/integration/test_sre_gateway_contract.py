"""The part of the gateway's HTTP API the SRE tools rely on (DESIGN.md §3), checked against
the fake gateway the tools are tested with and against the real gateway (`switchyard run`),
so the fake cannot drift from the real thing. The real gateway's cases are skipped until
`switchyard run` exists (issue 2), then they run like any other test."""

import asyncio
import importlib.util
import os
import time
from dataclasses import dataclass

import orjson
import pytest
from tests.fixtures.services import free_port

from switchyard.sre import serverside, spawn, tokens
from switchyard.sre.httpclient import Response, Target, fetch

pytestmark = pytest.mark.integration


@dataclass
class Gateway:
    target: Target
    secret: tokens.JWTSecret

    def token(self, account: str) -> str:
        return tokens.mint_token(self.secret, account, int(time.time()), 300)


@pytest.fixture(scope="module", params=["fake", "gateway"])
def gateway(request, tmp_path_factory):
    if request.param == "fake":
        secret_file = tmp_path_factory.mktemp("contract") / "jwt.key"
        secret_file.write_bytes(os.urandom(24).hex().encode())
        secret_file.chmod(0o600)
        with spawn.standin("gateway", secret_file=secret_file) as spawned:
            yield Gateway(
                spawned.target, tokens.resolve_secret({}, secret_file.parent, secret_file)
            )
        return
    if importlib.util.find_spec("switchyard.cli.cmd_run") is None:
        pytest.skip("`switchyard run` is not built yet (issue 2): only the fake is checked")
    data_dir = tmp_path_factory.mktemp("gateway-data")
    with spawn.gateway(free_port(), data_dir=data_dir) as spawned:
        yield Gateway(spawned.target, tokens.resolve_secret(os.environ, data_dir))


def _call(gateway, method, path, body=None, token=None, key=None) -> Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    payload = orjson.dumps(body) if body is not None else b""
    return asyncio.run(fetch(gateway.target, method, path, body=payload, headers=headers))


def _order(key, price=2_700):
    return {
        "symbol": "7203",
        "side": "BUY",
        "type": "LIMIT",
        "qty": 100,  # 7203 trades in 100-share lots
        "price": price,
        "timeInForce": "GTC",
        "clientOrderId": key,
    }


def test_health_stats_and_metrics_answer(gateway):
    health = _call(gateway, "GET", "/health")
    assert health.status == 200
    assert health.json()["status"] in ("healthy", "degraded")
    assert isinstance(_call(gateway, "GET", "/stats").json(), dict)
    metrics = _call(gateway, "GET", "/metrics")
    assert metrics.status == 200
    assert serverside.parse_metrics(metrics.body.decode())


def test_orders_need_a_token(gateway):
    response = _call(gateway, "POST", "/orders", _order("c-noauth"), key="c-noauth")
    assert response.status == 401
    assert "error" in response.json()


def test_orders_need_an_idempotency_key(gateway):
    order = _order("x")
    del order["clientOrderId"]
    response = _call(gateway, "POST", "/orders", order, token=gateway.token("acct-a"))
    assert response.status == 400
    assert response.json()["error"] == "IDEMPOTENCY_REQUIRED"


def test_an_accepted_order_answers_202_with_its_ids(gateway):
    key = f"c-{time.time_ns()}"
    response = _call(
        gateway, "POST", "/orders", _order(key), token=gateway.token("acct-a"), key=key
    )
    assert response.status == 202
    answer = response.json()
    assert answer["status"] == "ACCEPTED"
    assert answer["durable"] is False
    assert answer["clientOrderId"] == key
    assert isinstance(answer["acceptSeq"], int)
    assert answer["orderId"]


def test_durable_ack_says_durable(gateway):
    key = f"d-{time.time_ns()}"
    response = _call(
        gateway, "POST", "/orders?ack=durable", _order(key), token=gateway.token("acct-a"), key=key
    )
    assert response.status == 202
    assert response.json()["durable"] is True


def test_idempotent_replay_and_key_reuse(gateway):
    key = f"i-{time.time_ns()}"
    token = gateway.token("acct-a")
    first = _call(gateway, "POST", "/orders", _order(key), token=token, key=key)
    again = _call(gateway, "POST", "/orders", _order(key), token=token, key=key)
    assert again.json()["orderId"] == first.json()["orderId"]
    reused = _call(gateway, "POST", "/orders", _order(key, price=2_701), token=token, key=key)
    assert reused.status == 422
    assert reused.json()["error"] == "IDEMPOTENCY_KEY_REUSED"


def test_cancel_own_order_and_not_anothers(gateway):
    key = f"x-{time.time_ns()}"
    book = _call(gateway, "GET", "/market/7203/book?depth=1", token=gateway.token("acct-a")).json()
    # 2% under the best bid: rests (a fill needs a 2% drop in the next milliseconds).
    resting = book["bids"][0]["price"] * 98 // 100 if book["bids"] else 2_700
    order_id = _call(
        gateway,
        "POST",
        "/orders",
        _order(key, price=resting),
        token=gateway.token("acct-a"),
        key=key,
    ).json()["orderId"]
    other = _call(gateway, "POST", f"/orders/{order_id}/cancel", token=gateway.token("acct-b"))
    assert other.status == 404
    mine = _call(gateway, "POST", f"/orders/{order_id}/cancel", token=gateway.token("acct-a"))
    assert mine.status == 202


def test_events_need_a_token_and_a_key(gateway):
    token = gateway.token("acct-a")
    event = {"price": 65_000, "volume": 3}
    assert _call(gateway, "POST", "/events?key=BTC", event, token=token).status in (200, 202)
    assert _call(gateway, "POST", "/events?key=BTC", event).status == 401
    missing = _call(gateway, "POST", "/events", event, token=token)
    assert missing.status == 400
    assert missing.json()["error"] == "MISSING_KEY"


def test_book_snapshot_has_levels(gateway):
    response = _call(gateway, "GET", "/market/BTC/book?depth=1", token=gateway.token("acct-a"))
    assert response.status == 200
    book = response.json()
    assert book["symbol"] == "BTC"
    assert isinstance(book["bids"], list)
    assert isinstance(book["asks"], list)
    assert _call(gateway, "GET", "/market/BTC/book?depth=1").status == 401


def test_a_short_bench_against_it_is_clean(gateway, tmp_path):
    from tests.fixtures.sre import run_switchyard

    secret_file = tmp_path / "secret"
    secret_file.write_bytes(gateway.secret.value)
    secret_file.chmod(0o600)
    out = tmp_path / "bench.json"
    result = run_switchyard(
        "bench",
        "--url",
        gateway.target.url,
        "--jwt-secret-file",
        str(secret_file),
        "--rate",
        "300",
        "--duration",
        "1",
        "--warmup",
        "0",
        "--generator",
        "python",
        "--out",
        str(out),
        "--ceiling-file",
        str(tmp_path / "none.json"),
    )
    assert result.status == 0, result.stderr
    document = orjson.loads(out.read_bytes())
    assert document["counts"]["errors"] == 0
    assert document["counts"]["dropped"] == 0
    assert document["counts"]["sent"] == 300
