"""The gateway as users see it: a real `switchyard run` process, real sockets, real WAL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from switchyard.testing.gateway_harness import Client, GatewayProcess

pytestmark = pytest.mark.integration

ORDER = {"symbol": "BTC", "side": "BUY", "type": "LIMIT", "qty": 2, "price": 60000}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with GatewayProcess(tmp_path_factory.mktemp("gw"), env={"RISK_MAX_QTY": "1000"}) as gw:
        yield gw


def order_records(gw: GatewayProcess) -> int:
    """Orders recorded so far (accepted + denied). Sent/ack records of earlier orders may still
    arrive, so "changes nothing" is judged by this count, not by the WAL seq."""
    counts = gw.client().get("/stats").json()["orders"]
    return int(counts["accepted"]) + int(counts["denied"])


def order(client_id: str, **overrides: object) -> dict[str, object]:
    return {**ORDER, "clientOrderId": client_id, **overrides}


def wait_status(client: Client, order_id: str, status: str, tries: int = 250) -> dict[str, object]:
    for _ in range(tries):
        body = client.get(f"/orders/{order_id}").json()
        if body["status"] == status:
            return body  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"order {order_id} never reached {status}: {body}")


def test_resting_order_is_acknowledged_then_canceled(gateway: GatewayProcess) -> None:
    alice = gateway.client("alice")
    placed = alice.post("/orders", order("rest-1"))
    assert placed.status == 202
    body = placed.json()
    assert body["status"] == "ACCEPTED"
    assert body["durable"] is False
    order_id = body["orderId"]
    wait_status(alice, order_id, "SENT")
    cancel = alice.post(f"/orders/{order_id}/cancel")
    assert cancel.status == 202
    assert cancel.json()["status"] in ("CANCEL_REQUESTED", "CANCELED")
    final = wait_status(alice, order_id, "CANCELED")
    assert final["reason"] == "USER_REQUESTED"
    again = alice.post(f"/orders/{order_id}/cancel")
    assert again.status == 409
    assert again.json()["error"] == "ORDER_FINAL"


def test_two_accounts_cross_and_both_fill(gateway: GatewayProcess) -> None:
    seller = gateway.client("seller")
    buyer = gateway.client("buyer")
    sell = seller.post("/orders", order("x-sell", side="SELL", qty=5, price=3510, symbol="ETH"))
    assert sell.status == 202
    wait_status(seller, sell.json()["orderId"], "SENT")
    buy = buyer.post("/orders?ack=durable", order("x-buy", qty=3, price=3510, symbol="ETH"))
    assert buy.status == 202
    assert buy.json()["durable"] is True
    bought = wait_status(buyer, buy.json()["orderId"], "FILLED")
    assert bought["filledQty"] == 3
    assert bought["avgPrice"] == 3510
    sold = wait_status(seller, sell.json()["orderId"], "PARTIALLY_FILLED")
    assert sold["filledQty"] == 3
    assert sold["leavesQty"] == 2


def test_replace_changes_qty_and_keeps_the_order(gateway: GatewayProcess) -> None:
    alice = gateway.client("alice")
    order_id = alice.post("/orders", order("repl-1", qty=4, price=60000)).json()["orderId"]
    wait_status(alice, order_id, "SENT")
    replaced = alice.post(f"/orders/{order_id}/replace", {"qty": 3})
    assert replaced.status == 202
    for _ in range(250):
        body = alice.get(f"/orders/{order_id}").json()
        if body["qty"] == 3:
            break
        time.sleep(0.02)
    assert body["qty"] == 3
    assert body["status"] == "SENT"
    assert body["pendingReplace"] is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"symbol":"BTC","side":"BUY",', None),  # malformed JSON
        (
            b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":"2","price":1,"clientOrderId":"b1"}',
            "qty",
        ),
        (
            b'{"symbol":"BTC","side":"HOLD","type":"LIMIT","qty":2,"price":1,"clientOrderId":"b2"}',
            "side",
        ),
        (
            b'{"symbol":"BTC","side":"BUY","type":"STOP","qty":2,"price":1,"clientOrderId":"b3"}',
            "type",
        ),
        (
            b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":0,"price":1,"clientOrderId":"b4"}',
            "qty",
        ),
        (
            b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":-5,"price":1,"clientOrderId":"b5"}',
            "qty",
        ),
        (b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":2,"clientOrderId":"b6"}', "price"),
        (
            b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":99999999999999999999999,"price":1,"clientOrderId":"b7"}',
            None,
        ),
        (
            b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":2.5,"price":1,"clientOrderId":"b8"}',
            "qty",
        ),
        (
            b'{"symbol":"BTC","side":"BUY","type":"MARKET","qty":2,"price":5,"clientOrderId":"b9"}',
            "price",
        ),
        (
            b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":2,"price":1,"accountId":"x","clientOrderId":"b10"}',
            None,
        ),
        (
            b'{"symbol":"","side":"BUY","type":"LIMIT","qty":2,"price":1,"clientOrderId":"b11"}',
            "symbol",
        ),
        (
            b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":2,"price":1,"timeInForce":"GTD","clientOrderId":"b12"}',
            "expireAt",
        ),
        (b"[1,2,3]", None),
    ],
)
def test_bad_order_bodies_are_400_and_change_nothing(
    gateway: GatewayProcess, raw: bytes, field: str | None
) -> None:
    before = order_records(gateway)
    result = gateway.client("alice").post(
        "/orders", raw_body=raw, headers={"content-type": "application/json"}
    )
    assert result.status == 400, result
    body = result.json()
    assert body["error"] == "INVALID_REQUEST"
    if field is not None:
        assert body["field"] == field, body
    assert order_records(gateway) == before


def test_missing_idempotency_key_is_400(gateway: GatewayProcess) -> None:
    result = gateway.client("alice").post("/orders", ORDER)
    assert result.status == 400
    assert result.json()["error"] == "IDEMPOTENCY_REQUIRED"


def test_oversized_body_is_413(gateway: GatewayProcess) -> None:
    huge = {**ORDER, "clientOrderId": "big", "pad": "x" * 70_000}
    result = gateway.client("alice").post("/orders", huge)
    assert result.status == 413
    assert result.json()["error"] == "PAYLOAD_TOO_LARGE"


def test_non_json_content_type_is_415(gateway: GatewayProcess) -> None:
    result = gateway.client("alice").post(
        "/orders", raw_body=json.dumps(order("ct")).encode(), headers={"content-type": "text/plain"}
    )
    assert result.status == 415


@pytest.mark.parametrize("kind", ["none", "expired", "alg_none", "wrong_secret", "garbage"])
def test_bad_tokens_are_401_and_change_nothing(gateway: GatewayProcess, kind: str) -> None:
    tokens = {
        "none": None,
        "expired": gateway.token("alice", ttl_s=-3600),
        "alg_none": jwt.encode({"sub": "alice", "exp": 4_000_000_000}, None, algorithm="none"),
        "wrong_secret": jwt.encode(
            {"sub": "alice", "exp": 4_000_000_000}, "x" * 32, algorithm="HS256"
        ),
        "garbage": "not.a.token",
    }
    before = order_records(gateway)
    result = Client(gateway.port, tokens[kind]).post("/orders", order(f"tok-{kind}"))
    assert result.status == 401
    assert result.headers["www-authenticate"].startswith("Bearer")
    assert order_records(gateway) == before


def test_auth_is_checked_before_the_body(gateway: GatewayProcess) -> None:
    result = Client(gateway.port, None).post(
        "/orders", raw_body=b"{not json", headers={"content-type": "application/json"}
    )
    assert result.status == 401


def test_another_accounts_order_is_not_found_everywhere(gateway: GatewayProcess) -> None:
    owner = gateway.client("owner")
    thief = gateway.client("thief")
    order_id = owner.post("/orders", order("own-1")).json()["orderId"]
    wait_status(owner, order_id, "SENT")
    assert thief.get(f"/orders/{order_id}").status == 404
    assert thief.post(f"/orders/{order_id}/cancel").status == 404
    assert thief.post(f"/orders/{order_id}/replace", {"qty": 1}).status == 404
    assert thief.get(f"/orders/{order_id}/events").status == 404
    assert thief.get("/accounts/owner/events").status == 404
    assert thief.get("/orders/client/own-1").json()["status"] == "UNKNOWN"
    stream = thief.stream(f"/orders/{order_id}/stream")
    assert stream.status == 404
    stream.close()
    assert owner.get(f"/orders/{order_id}").status == 200


def test_idempotent_replay_and_conflicting_reuse(gateway: GatewayProcess) -> None:
    alice = gateway.client("alice")
    first = alice.post("/orders", order("idem-1"))
    assert first.status == 202
    before = order_records(gateway)
    replay = alice.post("/orders", order("idem-1"))
    assert replay.status == 202
    assert replay.json()["orderId"] == first.json()["orderId"]
    assert replay.json()["idempotentReplay"] is True
    conflict = alice.post("/orders", order("idem-1", qty=3))
    assert conflict.status == 422
    assert conflict.json()["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert order_records(gateway) == before
    # the same key under the header, in another account, is another order
    other = gateway.client("bob").post(
        "/orders", order("idem-1"), headers={"idempotency-key": "idem-1"}
    )
    assert other.status == 202
    assert other.json()["orderId"] != first.json()["orderId"]


def test_risk_denial_is_422_recorded_and_replayed(gateway: GatewayProcess) -> None:
    alice = gateway.client("alice")
    denied = alice.post("/orders", order("risk-1", qty=1001))
    assert denied.status == 422
    assert denied.json()["error"] == "QTY_LIMIT_EXCEEDED"
    order_id = denied.json()["orderId"]
    assert alice.get(f"/orders/{order_id}").json()["status"] == "DENIED"
    assert alice.get("/orders/client/risk-1").json()["status"] == "REJECTED"
    again = alice.post("/orders", order("risk-1", qty=1001))
    assert again.status == 422
    assert again.json()["orderId"] == order_id


def test_sse_resume_has_no_gap_and_no_duplicate(gateway: GatewayProcess) -> None:
    carol = gateway.client("carol")
    stream = carol.stream("/stream", headers={"last-event-id": "0"})
    ids: list[int] = []
    order_ids = [carol.post("/orders", order(f"sse-{i}")).json()["orderId"] for i in range(3)]
    while len(ids) < 6:  # accepted + sent per order at least
        event_id, name, data = stream.next_event()
        if event_id is not None:
            ids.append(event_id)
    stream.close()
    cut = ids[2]
    resumed = carol.stream("/stream", headers={"last-event-id": str(cut)})
    seen: list[int] = []
    while len(seen) < len(ids) - 3:  # events without an id (no replay position) do not count
        event_id, _, data = resumed.next_event()
        if event_id is not None:
            seen.append(event_id)
    resumed.close()
    assert seen == ids[3:]
    assert all(b > a for a, b in zip(ids, ids[1:], strict=False))
    assert order_ids


def test_durable_answer_comes_after_the_record_is_durable(gateway: GatewayProcess) -> None:
    alice = gateway.client("alice")
    result = alice.post("/orders?ack=durable", order("dur-1"))
    assert result.status == 202
    body = result.json()
    assert body["durable"] is True
    status = alice.get("/orders/client/dur-1").json()
    assert status["status"] == "DURABLE"
    stats = gateway.client().get("/stats").json()
    assert stats["wal_durable_seq"] >= body["acceptSeq"]
    # the writer reports each batch: its fdatasync time and size reach /stats
    assert stats["gateway_fdatasync_count"] >= 1
    assert stats["gateway_fdatasync_p50_us"] > 0
    assert stats["wal_batch_mean_records"] >= 1
    assert stats["wal_bytes_total"] > 0
    metrics = {
        line.split(" ")[0]: float(line.rsplit(" ", 1)[1])
        for line in gateway.client().get("/metrics").body.decode().splitlines()
        if line and not line.startswith("#")
    }
    assert metrics["switchyard_wal_fsync_seconds_count"] >= 1
    assert metrics["switchyard_wal_syncs_total"] >= 1
    assert metrics["switchyard_wal_bytes_total"] == stats["wal_bytes_total"]
    assert metrics["gateway_fdatasync_p99_us"] > 0
    # the seed README's /stats keys are there, from the same recorders
    assert stats["persistence_queue_write_p99_us"] == stats["gateway_fdatasync_p99_us"] > 0
    assert stats["fast_path_avg_process_us"] == stats["fast_path_process_mean_us"] > 0
    assert stats["fast_path_publish_p99_us"] == stats["gateway_wal_enqueue_p99_us"] > 0
    assert stats["fast_path_drop_count"] == 0
    assert stats["persistence_queue_error_count"] == 0
    assert metrics['switchyard_http_responses_total{code="202"}'] >= 1


def test_orders_survive_a_restart_with_the_same_state(tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path / "gw")
    with gw:
        alice = gw.client("alice")
        kept = [
            alice.post("/orders?ack=durable", order(f"keep-{i}")).json()["orderId"]
            for i in range(5)
        ]
        alice.post(f"/orders/{kept[0]}/cancel")
        wait_status(alice, kept[0], "CANCELED")
        before = alice.get("/orders?limit=100").json()["orders"]
    gw.start()
    try:
        alice = gw.client("alice")
        after = {o["orderId"]: o for o in alice.get("/orders?limit=100").json()["orders"]}
        assert list(after) == [o["orderId"] for o in before]
        for was in before:
            now = after[was["orderId"]]
            assert (now["qty"], now["price"], now["clientOrderId"], now["acceptSeq"]) == (
                was["qty"],
                was["price"],
                was["clientOrderId"],
                was["acceptSeq"],
            )
            if was["status"] == "CANCELED":
                assert now["status"] == "CANCELED"
            else:
                # The in-process venue restarted empty: reconciliation finds the resting
                # orders unknown and says so, instead of leaving them silently open.
                reconciled = wait_status(alice, was["orderId"], "CANCELED")
                assert reconciled["reason"] == "VENUE_LOST_ORDER"
        replay = alice.post("/orders", order("keep-1"))
        assert replay.json()["orderId"] == kept[1]
    finally:
        gw.stop()


def test_sigkill_loses_no_durably_acknowledged_order(tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path / "gw")
    gw.start()
    alice = gw.client("alice")
    acked = [alice.post("/orders?ack=durable", order(f"k-{i}")).json() for i in range(20)]
    gw.kill()
    gw.start()
    try:
        alice = gw.client("alice")
        for body in acked:
            found = alice.get(f"/orders/{body['orderId']}")
            assert found.status == 200
            snapshot = found.json()
            assert snapshot["acceptSeq"] == body["acceptSeq"]
            assert snapshot["clientOrderId"] == body["clientOrderId"]
            assert snapshot["qty"] == ORDER["qty"]
    finally:
        gw.stop()


def test_recovery_rebuilds_exactly_the_state_it_stopped_with(tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path / "gw", env={"RISK_RATE_PER_SEC": "100", "RISK_MAX_QTY": "50"})
    with gw:
        alice, bob = gw.client("alice"), gw.client("bob")
        resting = alice.post("/orders?ack=durable", order("h-1")).json()["orderId"]
        alice.post("/orders?ack=durable", order("h-2", qty=60))  # denied
        seller = bob.post(
            "/orders?ack=durable", order("h-3", side="SELL", symbol="ETH", price=3500)
        )
        alice.post("/orders?ack=durable", order("h-4", symbol="ETH", price=3500, qty=1))
        wait_status(bob, seller.json()["orderId"], "PARTIALLY_FILLED")
        wait_status(alice, resting, "SENT")
        alice.post("/events?key=BTC&ack=durable", {"price": 65100, "volume": 2})
        time.sleep(0.3)  # venue acks and fills settle into the WAL
        ops = gw.client("ops", role="ops")
        before = ops.get("/api/admin").json()
        assert before["lastSeq"] == before["durableSeq"]
    gw.start()
    try:
        after = gw.client("ops", role="ops").get("/api/admin").json()
        assert after["recoveredStateHash"] == before["stateHash"]
        assert len(before["stateHash"]) == 64
    finally:
        gw.stop()
