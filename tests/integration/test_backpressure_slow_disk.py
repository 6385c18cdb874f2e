"""A slow disk under a live gateway (issue 11), through FaultyDisk (`WAL_FAULTS_FILE`).

The adaptive limit shrinks while every fdatasync takes 50 ms (longer than ALPHA x TARGET =
16 ms: the target cannot be met, so the limit heads for MIN), the share of refused orders
rises, nothing acknowledged is lost, and the limit grows back once the disk is fast again.
Also the WAL-age and WAL-bytes limits: a stuck fdatasync first gets 429 SOFT_WAL_AGE, then
503 WAL_AGE; pending bytes over their limit get 503 WAL_BYTES. Assertions are on direction
and bounds, never on times: the phases only pace the load.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.fixtures.backpressure import (
    Answer,
    assert_durable,
    assert_wal_valid,
    backpressure_stats,
    check_refusal,
    order_body,
    pipelined,
    wait_drained,
    wait_for,
)

from switchyard.testing.faulty_disk import write_control
from switchyard.testing.gateway_harness import GatewayProcess

pytestmark = pytest.mark.integration

DRIVERS = 4
PIPELINE = 16


def drive(gw: GatewayProcess, tag: str, seconds: float) -> dict[str, list[Answer]]:
    """Closed-loop load: each driver sends PIPELINE orders, reads the answers, repeats."""

    def driver(index: int) -> tuple[str, list[Answer]]:
        account = f"{tag}{index}"
        token = gw.token(account)
        answers: list[Answer] = []
        stop = time.monotonic() + seconds
        batch = 0
        while time.monotonic() < stop:
            requests: list[tuple[str, str, object]] = [
                ("POST", "/orders", order_body(f"{tag}-{index}-{batch}-{n}"))
                for n in range(PIPELINE)
            ]
            answers += pipelined(gw.port, token, requests)
            batch += 1
        return account, answers

    with ThreadPoolExecutor(DRIVERS) as pool:
        return dict(pool.map(driver, range(DRIVERS)))


def refused_share(answers: dict[str, list[Answer]]) -> float:
    flat = [answer for account in answers.values() for answer in account]
    for answer in flat:
        if answer.status != 202:
            check_refusal(answer)
    return sum(answer.status != 202 for answer in flat) / len(flat)


def accepted_ids(answers: dict[str, list[Answer]]) -> dict[str, list[str]]:
    return {
        account: [a.body["orderId"] for a in account_answers if a.status == 202]
        for account, account_answers in answers.items()
    }


def test_slow_disk_shrinks_the_adaptive_limit_and_it_recovers(
    tmp_path: Path, slow_disk: Path
) -> None:
    env = {
        "WAL_FAULTS_FILE": str(slow_disk),
        "BACKPRESSURE_INFLIGHT_DYNAMIC": "1",
        "BACKPRESSURE_INFLIGHT_TARGET_WAL_AGE_SEC": "0.02",
        "BACKPRESSURE_INFLIGHT_MIN": "4",
        "BACKPRESSURE_INFLIGHT_CAP": "1000",
        "BACKPRESSURE_INFLIGHT_INITIAL": "100",
        "BACKPRESSURE_INFLIGHT_TICK_MS": "50",
    }
    with GatewayProcess(tmp_path / "data", env=env) as gw:
        fast = drive(gw, "fast", 2.5)
        limit_fast = backpressure_stats(gw)["controller"]["limit"]

        write_control(str(slow_disk), delay_ms={"fdatasync": 50})
        drive(gw, "turn", 1.0)  # the controller adapts; not measured
        slow = drive(gw, "slow", 2.5)
        limit_slow = backpressure_stats(gw)["controller"]["limit"]

        write_control(str(slow_disk))
        drive(gw, "back", 2.0)
        recovered = drive(gw, "rec", 1.0)
        limit_recovered = backpressure_stats(gw)["controller"]["limit"]

        assert limit_slow < limit_fast
        assert refused_share(slow) > refused_share(fast)
        assert limit_recovered > limit_slow
        assert refused_share(recovered) < refused_share(slow)
        stats = backpressure_stats(gw)
        assert stats["inflightHighWater"] <= 1000
        assert 4 <= min(limit_fast, limit_slow, limit_recovered)

        wait_drained(gw)  # every accepted order's accept record is durable ...
        ids = {account: [] for account in fast} | {a: [] for a in slow} | {a: [] for a in recovered}
        for phase in (fast, slow, recovered):
            for account, accepted in accepted_ids(phase).items():
                ids[account] += accepted
        told = sum(len(accepted) for accepted in ids.values())
        phases_total = gw.client().get("/stats").json()["orders"]["accepted"]
        assert told > 0
        assert phases_total >= told  # ... and the unmeasured phases account for the rest
        for account, accepted in ids.items():
            assert_durable(gw.client(account), accepted[-25:])  # ... and is the one we were told
        assert_wal_valid(gw.client("auditor"))


def test_stuck_fdatasync_gets_soft_then_hard_wal_age_refusals(
    tmp_path: Path, slow_disk: Path
) -> None:
    env = {
        "WAL_FAULTS_FILE": str(slow_disk),
        "BACKPRESSURE_SOFT_WAL_AGE_MS_MAX": "100",
        "BACKPRESSURE_WAL_AGE_MS_MAX": "1000",
    }
    with GatewayProcess(tmp_path / "data", env=env) as gw:
        alice = gw.client("alice")
        write_control(str(slow_disk), delay_ms={"fdatasync": 2500})
        first = alice.post("/orders", order_body("stuck-1"))
        assert first.status == 202
        time.sleep(0.15)  # pacing: let the pending record age past the soft limit
        codes: list[str] = []
        while "BACKPRESSURE_WAL_AGE" not in codes:
            answer = alice.post("/orders", order_body(f"probe-{len(codes)}"))
            assert answer.status != 202, "an order was accepted while the WAL was stuck"
            check_refusal(Answer(answer.status, answer.headers, answer.json()))
            codes.append(answer.json()["error"])
            time.sleep(0.02)
        assert codes[0] == "BACKPRESSURE_SOFT_WAL_AGE"
        assert set(codes) == {"BACKPRESSURE_SOFT_WAL_AGE", "BACKPRESSURE_WAL_AGE"}
        assert codes.index("BACKPRESSURE_WAL_AGE") > codes.index("BACKPRESSURE_SOFT_WAL_AGE")

        write_control(str(slow_disk))
        wait_drained(gw)
        accepted = wait_for(
            lambda: alice.post("/orders", order_body("after")).status == 202, "an accept"
        )
        assert accepted
        assert_durable(alice, [first.json()["orderId"]])
        assert_wal_valid(alice)


def test_pending_wal_bytes_over_the_limit_get_503(tmp_path: Path, slow_disk: Path) -> None:
    env = {"WAL_FAULTS_FILE": str(slow_disk), "BACKPRESSURE_WAL_BYTES_MAX": "2000"}
    with GatewayProcess(tmp_path / "data", env=env) as gw:
        write_control(str(slow_disk), delay_ms={"fdatasync": 1000})
        answers = pipelined(
            gw.port, gw.token("bob"), [("POST", "/orders", order_body(f"b-{n}")) for n in range(40)]
        )
        accepted = [a.body["orderId"] for a in answers if a.status == 202]
        refused = [a for a in answers if a.status != 202]
        assert accepted
        assert refused
        for answer in refused:
            check_refusal(answer)
            assert answer.code == "BACKPRESSURE_WAL_BYTES"
        write_control(str(slow_disk))
        wait_drained(gw)
        assert_durable(gw.client("bob"), accepted)
        assert_wal_valid(gw.client("bob"))
