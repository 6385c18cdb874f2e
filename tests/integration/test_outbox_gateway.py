"""The outbox installed in a real gateway (in-process `build_gateway` with the extension)."""

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.fixtures.backoffice import JWT_SECRET
from tests.fixtures.kafka import TansuBroker, read_topic

from switchyard import app
from switchyard.outbox.extension import install
from switchyard.testing.gateway_harness import Client, free_port
from switchyard.venue.transports import transport_from_env

pytestmark = pytest.mark.integration


class InProcessGateway:
    """build_gateway + start_gateway on a loop in a thread, with the outbox extension."""

    def __init__(self, environ: dict[str, str], data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.installed: list[Any] = []

        def extension(gateway: app.Gateway, env: Any) -> None:
            self.installed.append(install(gateway, env))

        async def build() -> app.Gateway:
            gateway = await app.build_gateway(
                environ,
                data_dir=data_dir,
                venue_factory=transport_from_env,
                extensions=(extension,),
            )
            await app.start_gateway(gateway)
            return gateway

        self.gateway = asyncio.run_coroutine_threadsafe(build(), self.loop).result(30)
        self.port = self.gateway.http.port

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(app.stop_gateway(self.gateway), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def gateway(
    tmp_path: Path, kafka_broker: TansuBroker, kafka_topic: str
) -> Iterator[InProcessGateway]:
    environ = {
        "JWT_HS256_SECRET": JWT_SECRET,
        "GATEWAY_PORT": str(free_port()),
        "VENUE_LIQUIDITY": "on",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap,
        "KAFKA_TOPIC": kafka_topic,
        "AUDIT_FLUSHER": "thread",
    }
    running = InProcessGateway(environ, tmp_path)
    yield running
    running.close()


def test_outbox_extension_publishes_gateway_records_and_reports(
    gateway: InProcessGateway, kafka_broker: TansuBroker, kafka_topic: str
) -> None:
    from switchyard.adapters.auth import mint_token

    outbox = gateway.installed[0]
    assert outbox is not None
    client = Client(gateway.port, mint_token(JWT_SECRET.encode(), "alice"))
    for index in range(10):
        body = {"symbol": "BTC", "side": "BUY", "type": "MARKET", "timeInForce": "IOC", "qty": 1}
        answer = client.post("/orders", {**body, "clientOrderId": f"x{index}"})
        assert answer.status == 202, answer.json()
    journal = gateway.gateway.journal
    durable, deadline = -1, time.monotonic() + 20
    while durable != journal.durable_seq and time.monotonic() < deadline:  # fills have settled
        durable = journal.durable_seq
        time.sleep(0.3)
    while outbox.acked_seq < durable and time.monotonic() < deadline:
        time.sleep(0.02)
    assert durable > 20
    assert outbox.acked_seq >= durable
    messages = read_topic(kafka_broker.bootstrap, kafka_topic, idle_s=1.0)
    types = [orjson.loads(m[3])["eventType"] for m in messages]
    assert types, (outbox.stats(), durable)
    assert types[0] == "SessionStarted" or "SessionStarted" in types
    assert types.count("OrderAccepted") == 10
    assert "OrderFilled" in types
    ops = Client(gateway.port, mint_token(JWT_SECRET.encode(), "ops", role="ops"))
    health = ops.get("/health").json()
    assert health["checks"]["outbox"]["status"] == "healthy", health
    assert ops.get("/stats").json()["outbox"]["ackedSeq"] >= durable
    metrics = ops.get("/metrics").body.decode()
    assert "gateway_outbox_events_published_total" in metrics
    assert "switchyard_outbox_lag_records" in metrics
    # the native codec verified every batch of real traffic itself (the reference never overruled)
    assert "\nswitchyard_outbox_native_verify_overruled_total 0.0\n" in metrics
