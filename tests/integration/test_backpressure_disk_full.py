"""A full disk under a live gateway (issue 11): new orders are refused with a retryable code
before any acknowledgement is lost, the WAL stays valid, and the gateway accepts again without
a restart once space returns.

The WAL directory is a 4 MiB tmpfs with 256 KiB segments (FaultyDisk where mounting is not
possible; the `small_wal_disk` fixture says which).
"""

from __future__ import annotations

import pytest
from tests.fixtures.backpressure import (
    SmallDisk,
    answer_of,
    assert_durable,
    assert_wal_valid,
    backpressure_stats,
    check_refusal,
    order_body,
    pipelined,
    wait_drained,
    wait_for,
)

from switchyard.testing.gateway_harness import GatewayProcess

pytestmark = pytest.mark.integration


def place(gw: GatewayProcess, prefix: str, count: int) -> list[str]:
    """`count` orders answered durable; their ids."""
    client = gw.client("alice")
    ids = []
    for index in range(count):
        answer = client.post("/orders?ack=durable", order_body(f"{prefix}-{index}"))
        assert answer.status == 202, answer
        assert answer.json()["durable"] is True
        ids.append(answer.json()["orderId"])
    return ids


def test_disk_free_minimum_refuses_new_orders_then_accepts_when_space_returns(
    small_wal_disk: SmallDisk,
) -> None:
    env = {**small_wal_disk.env, "BACKPRESSURE_DISK_FREE_PCT_MIN": "25"}
    with GatewayProcess(small_wal_disk.data_dir, env=env) as gw:
        alice = gw.client("alice")
        before = place(gw, "before", 20)
        small_wal_disk.fill_to(10)
        wait_for(lambda: backpressure_stats(gw)["diskLow"], "the gateway to see the low disk")

        refused = alice.post("/orders", order_body("while-low"))
        check_refusal(answer_of(refused))
        assert refused.json()["error"] == "BACKPRESSURE_DISK_FREE"
        assert refused.status == 503
        health = alice.get("/health").json()
        assert health["checks"]["backpressure"]["status"] == "degraded"
        assert alice.get("/orders/client/while-low").json()["status"] == "UNKNOWN"
        assert_durable(alice, before)
        assert_wal_valid(alice)

        small_wal_disk.release()
        wait_for(lambda: not backpressure_stats(gw)["diskLow"], "the gateway to see free space")
        after = place(gw, "after", 5)
        assert_durable(alice, before + after)
        assert_wal_valid(alice)
        counted = backpressure_stats(gw)["refused"]["BACKPRESSURE_DISK_FREE"]
        assert counted >= 1


def test_full_disk_refuses_before_any_acknowledged_order_is_lost(
    small_wal_disk: SmallDisk,
) -> None:
    # No BACKPRESSURE_DISK_FREE_PCT_MIN: the last line of defence is the WAL writer itself
    # reporting that it cannot prepare its next segment.
    with GatewayProcess(small_wal_disk.data_dir, env=small_wal_disk.env) as gw:
        token = gw.token("alice")
        alice = gw.client("alice")
        before = place(gw, "before", 5)
        small_wal_disk.fill_to(0)
        accepted: list[str] = []
        refusals = []
        for burst in range(100):  # fill the active segment until the writer must roll
            answers = pipelined(
                gw.port,
                token,
                [("POST", "/orders", order_body(f"b{burst}-{i}")) for i in range(50)],
            )
            accepted += [a.body["orderId"] for a in answers if a.status == 202]
            refusals += [a for a in answers if a.status != 202]
            if refusals:
                break
        assert refusals, "the gateway never refused although its disk is full"
        for refusal in refusals:
            check_refusal(refusal)
            assert refusal.code == "BACKPRESSURE_DISK_FREE"
        assert backpressure_stats(gw)["walDiskFull"] is True
        wait_drained(gw)  # every acknowledged order still fits in the segment it started
        assert_durable(alice, before + accepted)
        assert_wal_valid(alice)

        small_wal_disk.release()
        wait_for(lambda: not backpressure_stats(gw)["walDiskFull"], "the writer to get space")
        after = place(gw, "after", 3)
        assert_durable(alice, before + accepted + after)
        assert_wal_valid(alice)
