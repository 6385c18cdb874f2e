"""Events from several engines meet in one Kafka topic (issue 5, item 4).

Two gateway processes own disjoint keys (OWNED_KEYS), each with its outbox process beside it
(`python -m switchyard.outbox`, as deployed); a client posts every key to the first engine
and follows NOT_OWNER. The topic must then hold every accepted event exactly as the WALs
have it: Kafka key = the event key, one source per engine (`<ENGINE_ID>:<walId>`), event ids
unique across engines.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from tests.fixtures.kafka import TansuBroker, read_topic

from switchyard.testing.gateway_harness import GatewayProcess

pytestmark = [pytest.mark.integration, pytest.mark.services]

OWNED = {"k1": ("BTC", "K1", "K3"), "k2": ("ETH", "K2", "K4")}
SECRET = "outbox-test-secret-0123456789abcdef"


@pytest.fixture
def engines(
    tmp_path: Path, kafka_broker: TansuBroker, kafka_topic: str
) -> Iterator[dict[str, GatewayProcess]]:
    kafka = {"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap, "KAFKA_TOPIC": kafka_topic}
    gateways: dict[str, GatewayProcess] = {}
    outboxes: list[subprocess.Popen[bytes]] = []
    try:
        for name, keys in OWNED.items():
            env = {"ENGINE_ID": name, "OWNED_KEYS": ",".join(keys), "JWT_HS256_SECRET": SECRET}
            gw = GatewayProcess(tmp_path / name, env=env)
            gw.start()
            gateways[name] = gw
            log = (tmp_path / f"outbox-{name}.log").open("wb")
            outboxes.append(
                subprocess.Popen(  # noqa: S603 - our own module
                    [sys.executable, "-m", "switchyard.outbox", "--data-dir", str(gw.data_dir)],
                    env={**gw.env, **kafka},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()
        yield gateways
    finally:
        for process in outboxes:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
        for gw in gateways.values():
            gw.stop()


def test_events_of_every_engine_reach_one_topic_keyed_by_event_key(
    engines: dict[str, GatewayProcess], kafka_broker: TansuBroker, kafka_topic: str
) -> None:
    entry = engines["k1"].client("feed")
    posted = 0
    for round_index in range(5):
        for key in (k for keys in OWNED.values() for k in keys):
            body = {"price": 100 + round_index, "volume": 1}
            answer = entry.post(f"/events?key={key}&ack=durable", body)
            if answer.status == 409:
                # Static ownership names no owner; the client knows the other engine.
                owner = next(gw for name, gw in engines.items() if key in OWNED[name])
                answer = owner.client("feed").post(f"/events?key={key}&ack=durable", body)
            assert answer.status == 200, answer
            posted += 1
    messages = read_topic(kafka_broker.bootstrap, kafka_topic, idle_s=3.0, timeout_s=60)
    events = [
        (key, orjson.loads(value))
        for _, _, key, value in messages
        if orjson.loads(value)["eventType"] == "MarketEvent"
    ]
    assert len(events) == posted
    assert all(key == envelope["data"]["key"].encode() for key, envelope in events)
    sources = {envelope["source"] for _, envelope in events}
    assert {source.split(":")[0] for source in sources} == {"k1", "k2"}
    assert len(sources) == 2  # one WAL per engine
    assert len({envelope["eventId"] for _, envelope in events}) == posted
    for name, keys in OWNED.items():
        mine = [e for _, e in events if e["source"].startswith(name + ":")]
        assert {e["data"]["key"] for e in mine} == set(keys)
