"""SIGKILL the gateway under mixed load at random points; every promise holds after restart.

See switchyard.testing.crash_harness for the load and the checks. The default suite runs 50
kill points (2 data directories x 25); `make test-crash` (-m crash_full) runs 1,040.
A failure names its seed; `CRASH_SEED=<seed> pytest tests/crash/test_gateway_kill_points.py
-k replay` runs that rig again (CRASH_POINTS sets how many kill points, default 25).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchyard.testing.crash_harness import GatewayCrashRig, Zygote

pytestmark = pytest.mark.integration

DEFAULT_BLOCKS = 2
FULL_BLOCKS = 40
POINTS_PER_BLOCK = 25
FULL_POINTS_PER_BLOCK = 26


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    process = Zygote()
    yield process
    process.close()


def run_rig(data_dir: Path, zygote: Zygote, seed: int, points: int) -> GatewayCrashRig:
    rig = GatewayCrashRig(data_dir, seed=seed, zygote=zygote)
    try:
        for _ in range(points):
            rig.kill_point()
        rig.finish()
    finally:
        rig.gateway.kill(with_writer=True)
    figures = rig.figures
    assert figures.kill_points == points
    # the load really happened and the checks really looked at it
    assert figures.durable_acks > 0
    assert figures.present_after > 0
    assert figures.stream_events_checked > 0
    print(f"seed {seed}: {figures}")
    return rig


@pytest.mark.parametrize("block", range(DEFAULT_BLOCKS))
def test_sigkill_under_load_keeps_every_promise(tmp_path: Path, zygote: Zygote, block: int) -> None:
    run_rig(tmp_path / "gw", zygote, 1_000 + block, POINTS_PER_BLOCK)


@pytest.mark.crash_full
@pytest.mark.parametrize("block", range(FULL_BLOCKS))
def test_sigkill_full(tmp_path: Path, zygote: Zygote, block: int) -> None:
    base = int(os.environ.get("CRASH_SEED_BASE", "2000000"))
    run_rig(tmp_path / "gw", zygote, base + block, FULL_POINTS_PER_BLOCK)


@pytest.mark.skipif("CRASH_SEED" not in os.environ, reason="set CRASH_SEED to replay a rig")
def test_replay(tmp_path: Path, zygote: Zygote) -> None:
    points = int(os.environ.get("CRASH_POINTS", str(POINTS_PER_BLOCK)))
    run_rig(tmp_path / "gw", zygote, int(os.environ["CRASH_SEED"]), points)


def test_an_order_id_from_a_lost_fast_ack_never_names_another_order(
    tmp_path: Path, zygote: Zygote
) -> None:
    from switchyard.testing.crash_harness import ForkedGateway
    from switchyard.testing.faulty_disk import write_control

    control = str(tmp_path / "faults.json")
    write_control(control)
    gateway = ForkedGateway(
        tmp_path / "gw", zygote, env={"WAL_FAULTS_FILE": control, "JWT_HS256_SECRET": "s" * 40}
    )
    gateway.start()
    try:
        alice = gateway.client("alice")
        order = {"symbol": "BTC", "side": "BUY", "type": "LIMIT", "qty": 1, "price": 60_000}
        alice.post("/orders?ack=durable", {**order, "clientOrderId": "settled"})
        write_control(control, delay_ms={"pwrite": 500})  # the writer is slow to write now
        time.sleep(0.05)
        lost = [
            alice.post("/orders", {**order, "clientOrderId": f"first-{i}"}).json()
            for i in range(10)
        ]
        assert all(answer["durable"] is False for answer in lost)
        gateway.kill(with_writer=True)  # before their pwrite: the records are gone
        write_control(control)
        gateway.start()
        alice = gateway.client("alice")
        assert alice.get("/orders/client/first-0").json()["status"] == "UNKNOWN"
        for index in range(10):
            alice.post("/orders?ack=durable", {**order, "clientOrderId": f"second-{index}"})
        for answer in lost:
            same_id = alice.get(f"/orders/{answer['orderId']}")
            assert (
                same_id.status == 404
                or same_id.json()["clientOrderId"] == (answer["clientOrderId"])
            ), f"{answer['orderId']} was {answer['clientOrderId']}, now {same_id.json()}"
    finally:
        gateway.kill(with_writer=True)


@pytest.mark.services
def test_sigkill_with_the_outbox_loses_no_event(
    tmp_path: Path, zygote: Zygote, kafka_broker: Any, kafka_topic: str
) -> None:
    """Kill points with the outbox on (tansu): Kafka ends up holding every durable record."""
    import orjson
    from tests.fixtures.kafka import read_topic

    rig = GatewayCrashRig(
        tmp_path / "gw",
        seed=4_000,
        zygote=zygote,
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap, "KAFKA_TOPIC": kafka_topic},
    )
    try:
        for _ in range(8):
            rig.kill_point()
        last_seq = int(rig.finish()["last_seq"])
    finally:
        rig.gateway.kill(with_writer=True)
    messages = read_topic(kafka_broker.bootstrap, kafka_topic, idle_s=3.0, timeout_s=60)
    seqs = {orjson.loads(value)["seq"] for _, _, _, value in messages}
    missing = sorted(set(range(1, last_seq + 1)) - seqs)
    assert not missing, f"{len(missing)} durable records never reached Kafka: {missing[:10]}"
    assert len(messages) >= last_seq  # at least once; duplicates after crashes are allowed
    print(f"outbox: {last_seq} durable records, {len(messages)} messages on {kafka_topic}")
