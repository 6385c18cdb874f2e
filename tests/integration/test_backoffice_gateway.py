"""The back office against a real gateway (`switchyard run`): its WAL, its /api/reconcile.

The gateway trades with the venue's simulated market makers; the back office books what the
gateway's WAL says, either by tailing the WAL or through the outbox (stand-alone process:
`python -m switchyard.outbox`) and Kafka, then /reconcile asks the real gateway and must find
no mismatch, and a rebuild must equal the live books.
"""

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fixtures.backoffice import JWT_SECRET, BackofficeProcessless
from tests.fixtures.kafka import TansuBroker

from switchyard.backoffice.rebuild import rebuild
from switchyard.testing.gateway_harness import GatewayProcess

pytestmark = pytest.mark.integration

SYMBOLS = ("BTC", "ETH")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    environ = {"JWT_HS256_SECRET": JWT_SECRET, "VENUE_LIQUIDITY": "on", "RISK_MAX_QTY": "1000"}
    with GatewayProcess(tmp_path_factory.mktemp("gw"), env=environ) as gw:
        _trade(gw, orders=60)
        yield gw


def _trade(gw: GatewayProcess, *, orders: int) -> None:
    """Marketable orders (they fill against the makers) and resting ones that get canceled."""
    rng = random.Random(5)
    clients = {name: gw.client(name) for name in ("alice", "bob", "carol")}
    resting: list[tuple[str, str]] = []
    for index in range(orders):
        name = rng.choice(sorted(clients))
        body: dict[str, object] = {
            "symbol": rng.choice(SYMBOLS),
            "side": rng.choice(["BUY", "SELL"]),
            "qty": rng.randint(1, 5),
            "clientOrderId": f"bo-{index}",
        }
        if index % 4 == 3:
            body.update(type="LIMIT", price=1, side="BUY")  # far from the market: rests
        else:
            body.update(type="MARKET", timeInForce="IOC")
        answer = clients[name].post("/orders", body)
        assert answer.status == 202, answer.json()
        if index % 4 == 3:
            resting.append((name, answer.json()["orderId"]))
    time.sleep(0.5)
    for name, order_id in resting:
        clients[name].post(f"/orders/{order_id}/cancel")


def _gateway_seq(gw: GatewayProcess) -> int:
    return int(gw.client("ops", role="ops").get("/api/reconcile?limit=1").json()["seq"])


def _settled(gw: GatewayProcess) -> int:
    """Wait until the gateway's seq stops moving (cancels and fills have come back)."""
    seq = _gateway_seq(gw)
    while True:
        time.sleep(0.3)
        latest = _gateway_seq(gw)
        if latest == seq:
            return seq
        seq = latest


def _backoffice_env(gw: GatewayProcess, db_url: str) -> dict[str, str]:
    return {
        "JWT_HS256_SECRET": JWT_SECRET,
        "APP_DB_URL": db_url,
        "BACKOFFICE_PORT": "0",
        "SWITCHYARD_DATA_DIR": str(gw.data_dir),
        "GATEWAY_URL": f"http://127.0.0.1:{gw.port}",
        "BACKOFFICE_RECONCILE_WAIT_MS": "10000",
    }


def _assert_reconciled(backoffice: BackofficeProcessless, gw: GatewayProcess) -> None:
    ops = backoffice.token("operator", role="ops")
    status, result = backoffice.get("/reconcile", ops)
    assert status == 200, result
    assert result["mismatches"] == [], result
    assert result["ok"] is True
    assert result["ordersCompared"] > 0
    status, body = backoffice.get("/fills", ops)
    assert body["fills"], "the gateway traded: there are fills"  # type: ignore[index]


def test_backoffice_tailing_gateway_wal_reconciles_with_gateway(
    gateway: GatewayProcess, db_url: str
) -> None:
    _settled(gateway)
    backoffice = BackofficeProcessless(_backoffice_env(gateway, db_url), gateway.data_dir)
    try:
        _assert_reconciled(backoffice, gateway)
        report = rebuild(backoffice.settings)
        assert report.equal, report.as_dict()
    finally:
        backoffice.close()


def test_backoffice_through_outbox_process_and_kafka_reconciles_with_gateway(
    gateway: GatewayProcess,
    sqlite_url: str,
    kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
) -> None:
    _settled(gateway)
    kafka = {"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap, "KAFKA_TOPIC": kafka_topic}
    outbox = subprocess.Popen(
        [sys.executable, "-m", "switchyard.outbox", "--data-dir", str(gateway.data_dir)],
        env=dict(os.environ, **kafka, OUTBOX_OFFSET_PATH=str(tmp_path / "offset")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    environ = dict(
        _backoffice_env(gateway, sqlite_url), **kafka, KAFKA_GROUP_ID=f"bo-{kafka_topic}"
    )
    backoffice = BackofficeProcessless(environ, tmp_path)
    try:
        _trade(gateway, orders=20)  # more trading while the outbox runs
        _settled(gateway)
        _assert_reconciled(backoffice, gateway)
        report = rebuild(backoffice.settings)
        assert report.equal, report.as_dict()
    finally:
        backoffice.close()
        outbox.send_signal(signal.SIGTERM)
        assert outbox.wait(20) == 0
