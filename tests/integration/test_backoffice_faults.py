"""Fault tests of the outbox -> Kafka -> back office path, against tansu and SQLite/PostgreSQL.

After each fault: no event lost (every seq of the source applied), the ledger sums to zero,
positions equal the sum of fills and the flow's truth, /reconcile (against the gateway's view
of the same records) is clean, and a rebuild from the topic equals the live books.
The heavy ones carry the `slow` marker (`make test-slow`); duplicated and reordered delivery
runs in the default suite.
"""

import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from tests.fixtures.backoffice import (
    JWT_SECRET,
    SOURCE,
    BackofficeProcessless,
    WALLoad,
    WALWriter,
    assert_books_complete,
    envelopes,
    order_flow,
)
from tests.fixtures.kafka import TansuBroker, create_topic
from tests.fixtures.services import free_port
from tests.integration.test_backoffice_kafka import outbox_settings

from switchyard.backoffice.rebuild import rebuild
from switchyard.backoffice.settings import BackofficeSettings
from switchyard.outbox import Outbox

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _env(db_url: str, data_dir: Path, broker: TansuBroker, topic: str) -> dict[str, str]:
    return {
        "JWT_HS256_SECRET": JWT_SECRET,
        "APP_DB_URL": db_url,
        "SWITCHYARD_DATA_DIR": str(data_dir),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP_ID": f"bo-{topic}",
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "BACKOFFICE_PORT": "0",
    }


def _rebuild_equal(environ: dict[str, str], data_dir: Path) -> None:
    report = rebuild(BackofficeSettings.from_env(environ, data_dir=data_dir))
    assert report.equal, report.as_dict()


def test_duplicated_and_reordered_deliveries_books_exact(
    tmp_path: Path, db_url: str, kafka_broker: TansuBroker, kafka_topic: str
) -> None:
    """A misbehaving upstream: every event twice or three times, shuffled across partitions."""
    create_topic(kafka_broker.bootstrap, kafka_topic, partitions=3)
    items, expected = order_flow(seed=81, orders=150)
    raws = envelopes(items)
    rng = random.Random(81)
    deliveries = [raw for raw in raws for _ in range(rng.choice([1, 2, 3]))]
    rng.shuffle(deliveries)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "linger.ms": 5})
    for raw in deliveries:
        producer.produce(kafka_topic, raw, str(rng.random()).encode())  # random key: any partition
    assert producer.flush(30) == 0
    environ = _env(db_url, tmp_path, kafka_broker, kafka_topic)
    backoffice = BackofficeProcessless(environ, tmp_path)
    try:
        backoffice.wait_applied(SOURCE, len(items), timeout_s=60)
        assert_books_complete(backoffice.running.store.engine, items, expected)
        _, health = backoffice.get("/health")
        assert health["duplicates"] == len(deliveries) - len(raws)
    finally:
        backoffice.close()
    _rebuild_equal(environ, tmp_path)


@pytest.mark.slow
def test_broker_stopped_under_load_then_restarted(
    tmp_path: Path, db_url: str, own_kafka_broker: TansuBroker, kafka_topic: str
) -> None:
    """SIGSTOP the broker for 8 s while the gateway keeps writing, then SIGCONT it."""
    broker = own_kafka_broker
    create_topic(broker.bootstrap, kafka_topic, partitions=3)
    wal = WALWriter(tmp_path / "wal")
    items, expected = order_flow(seed=82, orders=1500)
    settings = outbox_settings(broker.bootstrap, kafka_topic, tmp_path / "outbox" / "offset")
    outbox = Outbox(settings, wal_dir=wal.wal_dir, hmac_key=None, engine_id="eng1")
    outbox.start()
    environ = _env(db_url, tmp_path, broker, kafka_topic)
    backoffice = BackofficeProcessless(environ, tmp_path)
    load = WALLoad(wal, items, batch=10, pause_s=0.003).start()
    try:
        time.sleep(1.0)
        broker.pause()
        time.sleep(8.0)
        assert outbox.delivery_errors > 0  # it noticed, backed off, and kept the WAL position
        broker.resume()
        load.join()
        backoffice.wait_applied(SOURCE, len(items), timeout_s=120)
        assert_books_complete(backoffice.running.store.engine, items, expected)
    finally:
        broker.resume()
        backoffice.close()
        outbox.close_blocking(5.0)
    _rebuild_equal(environ, tmp_path)


_OUTBOX_SCRIPT = """
import os, sys, time
from pathlib import Path
from switchyard.outbox import Outbox
outbox = Outbox.from_env(os.environ, Path(sys.argv[1]), None, engine_id="eng1")
outbox.start()
while True:
    time.sleep(1)
"""


@pytest.mark.slow
def test_outbox_killed_between_send_and_offset_write(
    tmp_path: Path, db_url: str, kafka_broker: TansuBroker, kafka_topic: str
) -> None:
    """SIGKILL the outbox process repeatedly while it publishes; its offset lags its sends."""
    create_topic(kafka_broker.bootstrap, kafka_topic, partitions=3)
    wal = WALWriter(tmp_path / "wal")
    items, expected = order_flow(seed=83, orders=2000)
    environ = _env(db_url, tmp_path, kafka_broker, kafka_topic)
    outbox_env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=kafka_broker.bootstrap,
        KAFKA_TOPIC=kafka_topic,
        OUTBOX_OFFSET_PATH=str(tmp_path / "outbox" / "offset"),
        OUTBOX_OFFSET_FLUSH_MS="1500",  # sends run well ahead of the stored offset
    )
    load = WALLoad(wal, items, batch=10, pause_s=0.008).start()  # ~10 s of publishing
    kills = 0
    rng = random.Random(83)
    while load.written < len(items) or kills < 3:
        process = subprocess.Popen(
            [sys.executable, "-c", _OUTBOX_SCRIPT, str(wal.wal_dir)], env=outbox_env, cwd=ROOT
        )
        time.sleep(rng.uniform(1.5, 3.0))
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        kills += 1
    load.join()
    final = subprocess.Popen(
        [sys.executable, "-c", _OUTBOX_SCRIPT, str(wal.wal_dir)], env=outbox_env, cwd=ROOT
    )
    backoffice = BackofficeProcessless(environ, tmp_path)
    try:
        backoffice.wait_applied(SOURCE, len(items), timeout_s=120)
        assert_books_complete(backoffice.running.store.engine, items, expected)
        _, health = backoffice.get("/health")
        assert health["duplicates"] > 0  # the kills made the outbox send some events again
    finally:
        backoffice.close()
        final.send_signal(signal.SIGTERM)
        final.kill()
        final.wait(10)
    _rebuild_equal(environ, tmp_path)


def _start_backoffice_process(environ: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(environ)
    env.update(BACKOFFICE_PORT=str(port), BACKOFFICE_BATCH_MAX="2000")
    return subprocess.Popen(
        [sys.executable, "-m", "switchyard", "backoffice"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _applied_through(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            body = orjson.loads(answer.read())
    except OSError:
        return -1
    return int(body.get("sources", {}).get(SOURCE, {}).get("appliedThroughSeq", 0))


@pytest.mark.slow
def test_backoffice_killed_mid_transaction(
    tmp_path: Path, db_url: str, kafka_broker: TansuBroker, kafka_topic: str
) -> None:
    """SIGKILL the back office process while it applies large batches; restart; books exact.

    The gateway keeps writing while the back office is down (each restart re-joins the group,
    ~3 s), so every restart starts with a backlog it applies in 2000-event transactions;
    the kill lands 50-300 ms after its first commit, inside one of those.
    """
    create_topic(kafka_broker.bootstrap, kafka_topic, partitions=3)
    wal = WALWriter(tmp_path / "wal")
    items, expected = order_flow(seed=84, orders=5000)
    settings = outbox_settings(kafka_broker.bootstrap, kafka_topic, tmp_path / "outbox" / "offset")
    outbox = Outbox(settings, wal_dir=wal.wal_dir, hmac_key=None, engine_id="eng1")
    outbox.start()
    environ = _env(db_url, tmp_path, kafka_broker, kafka_topic)
    port = free_port()
    rng = random.Random(84)
    load = WALLoad(wal, items, batch=20, pause_s=0.008).start()  # ~2000 records/s
    try:
        reached = 0
        kills = 0
        while kills < 4:
            process = _start_backoffice_process(environ, port)
            deadline = time.monotonic() + 60
            while _applied_through(port) <= reached and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.05, 0.3))
            reached = max(reached, _applied_through(port))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            kills += 1
        assert reached < len(items), "every kill happened while there was work left"
        load.join()
        backoffice = BackofficeProcessless(environ, tmp_path)
        try:
            backoffice.wait_applied(SOURCE, len(items), timeout_s=120)
            assert_books_complete(backoffice.running.store.engine, items, expected)
        finally:
            backoffice.close()
    finally:
        outbox.close_blocking(5.0)
    _rebuild_equal(environ, tmp_path)
