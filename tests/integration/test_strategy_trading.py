"""The auto-trader in a real gateway with simulated liquidity: its orders take the same path
as HTTP orders (WAL, order API, audit trail, metrics), the kill switch and disabling stop it,
and an enabled strategy resumes after a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from switchyard.testing.gateway_harness import Client, GatewayProcess

pytestmark = pytest.mark.integration

ADMIN = "trading-admin"
ENV = {
    "VENUE_LIQUIDITY": "1",
    "VENUE_MM_VOLATILITY_BPS": "25",  # a lively walk: the averages cross often
    "STRATEGY_ADMIN_TOKEN": ADMIN,
    "STRATEGY_SYMBOLS": "BTC,ETH",
    "STRATEGY_CONFIG_REFRESH_MS": "500",
}
FAST = {
    "enabled": True,
    "tickMs": 100,
    "shortWindow": 2,
    "longWindow": 5,
    "rsiPeriod": 3,
    "rsiOverbought": 95,
    "rsiOversold": 5,
    "orderQty": 1,
    "maxPosition": 3,
    "cooldownMs": 0,
    "maxOrdersPerMin": 0,
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with GatewayProcess(tmp_path_factory.mktemp("strategy-trading"), env=ENV) as gw:
        yield gw


def config(gw: GatewayProcess) -> dict[str, Any]:
    body: dict[str, Any] = gw.client().get("/api/strategy").json()
    return body


def put(gw: GatewayProcess, **changes: Any) -> dict[str, Any]:
    result = Client(gw.port, ADMIN).put("/api/strategy", {**config(gw), **changes})
    assert result.status == 200, result
    body: dict[str, Any] = result.json()
    return body


def strategy_orders(gw: GatewayProcess) -> list[dict[str, Any]]:
    result = gw.client("strategy").get("/orders?status=all&limit=1000")
    assert result.status == 200, result
    orders: list[dict[str, Any]] = result.json()["orders"]
    return orders


def wait_until(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def metric(gw: GatewayProcess, line_prefix: str) -> float:
    text = gw.client().get("/metrics").body.decode()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_prefix)
    )


def test_an_enabled_strategy_trades_through_the_order_path(gateway: GatewayProcess) -> None:
    put(gateway, **FAST)
    wait_until(lambda: len(strategy_orders(gateway)) >= 3)
    orders = strategy_orders(gateway)
    assert {o["origin"] for o in orders} == {"strategy"}
    assert {o["accountId"] for o in orders} == {"strategy"}
    assert {(o["type"], o["timeInForce"]) for o in orders} == {("LIMIT", "IOC")}
    assert all(o["clientOrderId"].startswith("stg-") for o in orders)
    wait_until(
        lambda: all(
            o["status"] in ("FILLED", "EXPIRED", "CANCELED") for o in strategy_orders(gateway)[1:]
        )
    )
    trail = gateway.client("strategy").get(f"/orders/{orders[-1]['orderId']}/events").json()
    first = trail["events"][0]
    assert (first["eventType"], first["origin"]) == ("OrderAccepted", "strategy")
    decisions = gateway.client().get("/api/strategy/decisions?limit=1000").json()["decisions"]
    placed = {d["orderId"] for d in decisions if d["reason"] == "order_accepted"}
    assert {o["orderId"] for o in orders[:5]} & placed
    assert metric(gateway, 'switchyard_strategy_orders_total{outcome="accepted"') >= 3
    assert metric(gateway, "switchyard_strategy_ticks_total") > 0
    assert gateway.client("ops-user", role="ops").get("/audit/verify").json()["ok"] is True


def test_exposure_never_exceeds_the_position_cap(gateway: GatewayProcess) -> None:
    decisions = gateway.client().get("/api/strategy/decisions?limit=1000").json()["decisions"]
    assert decisions
    assert max(abs(d["position"]) for d in decisions) <= FAST["maxPosition"]


def test_the_kill_switch_stops_new_strategy_orders(gateway: GatewayProcess) -> None:
    ops = gateway.client("ops-user", role="ops")
    killed = ops.post("/api/admin/kill-switch", {"scope": "strategy", "active": True})
    assert killed.status == 200, killed
    time.sleep(0.3)  # orders submitted before the switch finish
    count = len(strategy_orders(gateway))
    wait_until(
        lambda: any(
            d["reason"] == "kill_switch"
            for d in gateway.client().get("/api/strategy/decisions?limit=20").json()["decisions"]
        )
    )
    time.sleep(1.0)
    assert len(strategy_orders(gateway)) == count
    ops.post("/api/admin/kill-switch", {"scope": "strategy", "active": False})


def test_disabling_stops_the_ticks(gateway: GatewayProcess) -> None:
    stored = put(gateway, enabled=False)
    assert stored["status"]["running"] is False
    assert stored["status"]["stoppedReason"] == "disabled"
    ticks = config(gateway)["status"]["ticks"]
    count = len(strategy_orders(gateway))
    time.sleep(0.6)
    assert config(gateway)["status"]["ticks"] == ticks
    assert len(strategy_orders(gateway)) == count
    assert metric(gateway, "switchyard_strategy_running") == 0


def test_an_enabled_strategy_resumes_after_a_restart(gateway: GatewayProcess) -> None:
    version = put(gateway, enabled=True)["version"]
    gateway.stop()
    gateway.start()
    wait_until(lambda: config(gateway)["status"]["running"] is True, timeout_s=10)
    shown = config(gateway)
    assert (shown["version"], shown["enabled"]) == (version, True)
    ticks = shown["status"]["ticks"]
    wait_until(lambda: config(gateway)["status"]["ticks"] > ticks)
    put(gateway, enabled=False)
