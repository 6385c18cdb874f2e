"""A WAL write or fdatasync error stops the whole gateway without acknowledging the batch.

The WAL engineer's tests show it for the journal alone (tests/crash/test_wal_power_loss.py);
these run `switchyard run` with its disk wrapped in FaultyDisk (WAL_FAULTS_FILE), switch the
fault on while clients wait for durable ACKs and follow SSE, and check from outside: the
process exits 70, no durable ACK and no SSE event goes beyond the last durable seq it names,
and a restart (faults off) recovers every order acknowledged before, with the failed batch
all there or all gone.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from switchyard.testing.faulty_disk import write_control
from switchyard.testing.gateway_harness import Client, GatewayProcess

pytestmark = pytest.mark.integration

FATAL_EXIT = 70
_STOPPED = re.compile(r"stopping without acknowledging seq > (\d+)")


def order(cid: str) -> dict[str, Any]:
    return {
        "symbol": "BTC",
        "side": "BUY",
        "type": "LIMIT",
        "qty": 1,
        "price": 60_000,
        "clientOrderId": cid,
    }


def durable_orders(client: Client, prefix: str, answers: list[tuple[str, Any]]) -> None:
    """Durable-ACK orders until the gateway is gone; records (cid, answer or None)."""
    for index in range(10_000):
        cid = f"{prefix}-{index}"
        try:
            result = client.post("/orders?ack=durable", order(cid))
        except OSError:
            answers.append((cid, None))
            return
        answers.append((cid, result.json()))


@pytest.mark.parametrize(
    ("op", "error"), [("fdatasync", "eio"), ("pwrite", "eio"), ("pwrite", "enospc")]
)
def test_wal_error_stops_the_gateway_without_acknowledging(
    tmp_path: Path, op: str, error: str
) -> None:
    control = str(tmp_path / "faults.json")
    write_control(control)
    gw = GatewayProcess(tmp_path / "gw", env={"WAL_FAULTS_FILE": control})
    gw.start()
    try:
        alice = gw.client("alice")
        before = [alice.post("/orders?ack=durable", order(f"ok-{i}")).json() for i in range(20)]
        assert all(body["durable"] is True for body in before)
        stream = alice.stream("/stream", headers={"last-event-id": "0"})
        seen: list[int] = []

        def follow() -> None:
            try:
                while True:
                    event_id, _, _ = stream.next_event(timeout_s=10)
                    if event_id is not None:
                        seen.append(event_id)
            except (OSError, ValueError):
                return

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        answers: list[tuple[str, Any]] = []
        loader = threading.Thread(target=durable_orders, args=(gw.client("alice"), "x", answers))
        loader.start()
        time.sleep(0.2)
        write_control(control, **{error: [op]})
        assert gw.process is not None
        code = gw.process.wait(timeout=30)
        loader.join(timeout=30)
        follower.join(timeout=30)
        stream.close()
    finally:
        gw.kill()
    assert code == FATAL_EXIT, gw.log()
    match = _STOPPED.search(gw.log())
    assert match is not None, gw.log()
    last_durable = int(match.group(1))
    acknowledged = [body for _, body in answers if body is not None and body.get("durable")]
    assert all(body["acceptSeq"] <= last_durable for body in acknowledged)
    assert all(event_id <= last_durable for event_id in seen), (seen[-5:], last_durable)
    assert answers
    assert answers[-1][1] is None, "a request must have been left unanswered"
    write_control(control)
    gw.start()
    try:
        alice = gw.client("alice")
        for body in [*before, *acknowledged]:
            found = alice.get(f"/orders/{body['orderId']}")
            assert found.status == 200, body
            assert found.json()["acceptSeq"] == body["acceptSeq"]
        admin = gw.client("ops", role="ops").get("/api/admin").json()
        assert admin["durableSeq"] >= last_durable
        assert gw.client("ops", role="ops").get("/audit/verify").json()["ok"] is True
    finally:
        gw.stop()
