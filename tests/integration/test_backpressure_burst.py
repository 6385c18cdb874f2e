"""A burst far above capacity against a live gateway (issue 11).

Every refusal is a 429 (soft) or 503 (hard) with its reason code and `Retry-After`; every
accepted order becomes durable and nothing is lost (the gateway's count of accepted orders is
exactly what clients were told); the inflight bound holds; refusals are counted by reason.

"Far above capacity" without timing: each connection pipelines hundreds of orders in one
write, so the gateway decides on dozens of them per loop iteration, before any WAL batch can
come back durable. No assertion depends on how fast anything is.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.fixtures.backpressure import (
    Answer,
    assert_durable,
    assert_wal_valid,
    backpressure_stats,
    check_refusal,
    order_body,
    pipelined,
    refusal_metrics,
    wait_drained,
    wait_for,
)

from switchyard.testing.gateway_harness import GatewayProcess

pytestmark = pytest.mark.integration

CONNECTIONS = 6
PER_CONNECTION = 300  # > HTTP_PIPELINE_DEPTH_MAX: the server also pauses reading (flow control)


def burst(gw: GatewayProcess, tag: str, *, health_probe: bool = False) -> dict[str, list[Answer]]:
    """Every connection's answers (account per connection), all sent at once."""

    def one(index: int) -> tuple[str, list[Answer]]:
        account = f"{tag}{index}"
        requests: list[tuple[str, str, object]] = [
            ("POST", "/orders", order_body(f"{tag}-{index}-{n}")) for n in range(PER_CONNECTION)
        ]
        if health_probe and index == 0:
            requests.append(("GET", "/health", None))
        return account, pipelined(gw.port, gw.token(account), requests)

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        return dict(pool.map(one, range(CONNECTIONS)))


def check_outcome(gw: GatewayProcess, answers: dict[str, list[Answer]]) -> Counter[str]:
    """Refusals are well-formed, accepted orders are durable; the refusal codes seen."""
    codes: Counter[str] = Counter()
    accepted_total = 0
    wait_drained(gw)
    for account, account_answers in answers.items():
        accepted = []
        for answer in account_answers:
            if answer.status == 202:
                accepted.append(answer.body["orderId"])
            else:
                check_refusal(answer)
                codes[answer.code] += 1
        assert_durable(gw.client(account), accepted)
        accepted_total += len(accepted)
    assert accepted_total > 0
    assert sum(codes.values()) > 0, "a burst far above capacity was not shed"
    stats = gw.client().get("/stats").json()
    assert stats["orders"]["accepted"] == accepted_total  # nothing accepted that nobody heard of
    assert refusal_metrics(gw.client()) == {
        **dict.fromkeys(refusal_metrics(gw.client()), 0),
        **codes,
    }
    assert_wal_valid(gw.client("auditor"))
    return codes


def test_burst_adaptive_limit_sheds_soft_and_keeps_its_bound(tmp_path) -> None:
    env = {
        "BACKPRESSURE_INFLIGHT_DYNAMIC": "1",
        "BACKPRESSURE_INFLIGHT_MIN": "4",
        "BACKPRESSURE_INFLIGHT_CAP": "32",
        "BACKPRESSURE_INFLIGHT_INITIAL": "16",
        "BACKPRESSURE_INFLIGHT_TARGET_WAL_AGE_SEC": "0.005",
        "BACKPRESSURE_INFLIGHT_TICK_MS": "50",
    }
    with GatewayProcess(tmp_path, env=env) as gw:
        answers = burst(gw, "dyn", health_probe=True)
        probe = answers["dyn0"].pop()
        assert probe.body["checks"]["backpressure"]["status"] == "degraded"
        codes = check_outcome(gw, answers)
        assert codes["BACKPRESSURE_INFLIGHT_SOFT"] > 0
        assert set(codes) <= {"BACKPRESSURE_INFLIGHT_SOFT", "BACKPRESSURE_DURABLE_RATE_DECLINE"}
        stats = backpressure_stats(gw)
        assert 1 <= stats["inflightHighWater"] <= 32
        assert 4 <= stats["controller"]["limit"] <= 32
        wait_for(
            lambda: (
                gw.client().get("/health").json()["checks"]["backpressure"]["status"] == "healthy"
            ),
            "the backpressure check to be healthy once shedding stopped",
        )


def test_burst_static_inflight_limit_sheds_hard(tmp_path) -> None:
    with GatewayProcess(tmp_path, env={"BACKPRESSURE_INFLIGHT_MAX": "12"}) as gw:
        codes = check_outcome(gw, burst(gw, "static"))
        assert set(codes) == {"BACKPRESSURE_INFLIGHT"}
        assert 1 <= backpressure_stats(gw)["inflightHighWater"] <= 12


def test_burst_venue_queue_bound_refuses_queue_reject(tmp_path) -> None:
    # The queue bound counts orders accepted but not yet handed to the venue: with a bound of
    # 1, every order behind an undurable one is refused before it could overflow the queue.
    with GatewayProcess(tmp_path, env={"BACKPRESSURE_VENUE_QUEUE_MAX": "1"}) as gw:
        answers = {"q": pipelined(gw.port, gw.token("q"), [
            ("POST", "/orders", order_body(f"q-{n}")) for n in range(60)
        ])}  # fmt: skip
        codes = check_outcome(gw, answers)
        assert set(codes) == {"QUEUE_REJECT"}
