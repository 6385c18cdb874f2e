"""The outbox against a real Kafka-protocol broker (tansu) and a real WAL on disk."""

import gc
import json
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from confluent_kafka import Producer
from tests.fixtures.backoffice import SOURCE, WALWriter, order_flow, sample_records
from tests.fixtures.kafka import TansuBroker, create_topic, read_topic

from switchyard.core.events import RECORD_CLASSES
from switchyard.outbox import Outbox, OutboxSettings, OutboxState

pytestmark = pytest.mark.integration

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "contracts" / "event.v1.schema.json").read_text()
)


def _settings(broker: TansuBroker, topic: str, tmp_path: Path, **overrides: int) -> OutboxSettings:
    values = dict(
        bootstrap_servers=broker.bootstrap,
        topic=topic,
        client_id="test-outbox",
        topic_partitions=3,
        offset_path=tmp_path / "outbox" / "offset",
        backoff_base_ms=50,
        backoff_max_ms=400,
        delivery_timeout_ms=3000,
        linger_ms=1,
        inflight_max=5000,
        offset_flush_ms=20,
        poll_interval_ms=2,
        compression="lz4",
    )
    values.update(overrides)
    return OutboxSettings(**values)  # type: ignore[arg-type]


def _wait(predicate, timeout_s: float = 30.0, what: str = "condition") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def wal(tmp_path: Path) -> WALWriter:
    return WALWriter(tmp_path / "wal")


@pytest.fixture
def running() -> Iterator[list[Outbox]]:
    started: list[Outbox] = []
    yield started
    for outbox in started:
        outbox.close_blocking(5.0)


def _start(settings: OutboxSettings, wal: WALWriter, running: list[Outbox]) -> Outbox:
    outbox = Outbox(settings, wal_dir=wal.wal_dir, hmac_key=None, engine_id="eng1")
    outbox.start()
    running.append(outbox)
    return outbox


def _seqs(messages: list[tuple[int, int, bytes | None, bytes]]) -> list[int]:
    return [orjson.loads(value)["seq"] for _, _, _, value in messages]


def test_outbox_publishes_every_record_type_valid_and_keyed(
    kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
    wal: WALWriter,
    running: list[Outbox],
) -> None:
    samples = list(sample_records().values())
    wal.append([(i + 1, 1_000 + i, record) for i, record in enumerate(samples)])
    outbox = _start(_settings(kafka_broker, kafka_topic, tmp_path), wal, running)
    _wait(lambda: outbox.acked_seq == len(samples), what="all samples acknowledged")
    messages = read_topic(kafka_broker.bootstrap, kafka_topic, expect=len(samples))
    envelopes = [orjson.loads(value) for _, _, _, value in messages]
    for envelope in envelopes:
        jsonschema.validate(envelope, SCHEMA)
    assert {e["eventType"] for e in envelopes} == {c.__name__ for c in RECORD_CLASSES.values()}
    assert {e["source"] for e in envelopes} == {SOURCE}
    for _, _, key, value in messages:
        envelope = orjson.loads(value)
        if envelope["eventType"] == "OrderFilled":
            assert key == b"acct-1"


def test_outbox_flow_every_seq_once_and_in_order_per_partition(
    kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
    wal: WALWriter,
    running: list[Outbox],
) -> None:
    create_topic(kafka_broker.bootstrap, kafka_topic, partitions=3)
    items, _ = order_flow(seed=7, orders=300)
    wal.append_all(items)
    outbox = _start(_settings(kafka_broker, kafka_topic, tmp_path), wal, running)
    _wait(lambda: outbox.acked_seq == len(items), what="flow acknowledged")
    messages = read_topic(kafka_broker.bootstrap, kafka_topic, expect=len(items))
    assert sorted(_seqs(messages)) == list(range(1, len(items) + 1))
    by_partition: dict[int, list[int]] = {}
    for partition, _, _, value in sorted(messages, key=lambda m: (m[0], m[1])):
        by_partition.setdefault(partition, []).append(orjson.loads(value)["seq"])
    assert len(by_partition) > 1
    for seqs in by_partition.values():
        assert seqs == sorted(seqs)
    assert outbox.stats()["lagRecords"] == 0


def test_outbox_follows_new_durable_records_only(
    kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
    wal: WALWriter,
    running: list[Outbox],
) -> None:
    items, _ = order_flow(seed=3, orders=20)
    wal.append(items[:10])
    outbox = _start(_settings(kafka_broker, kafka_topic, tmp_path), wal, running)
    _wait(lambda: outbox.acked_seq == 10, what="first batch")
    wal.append(items[10:20], durable=False)
    time.sleep(0.3)
    assert outbox.acked_seq == 10  # not durable yet: not published
    wal.make_durable()
    outbox.notify()
    _wait(lambda: outbox.acked_seq == 20, what="second batch")


def test_outbox_restart_resumes_after_stored_offset(
    kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
    wal: WALWriter,
    running: list[Outbox],
) -> None:
    items, _ = order_flow(seed=11, orders=60)
    half = len(items) // 2
    wal.append_all(items[:half])
    settings = _settings(kafka_broker, kafka_topic, tmp_path)
    first = _start(settings, wal, running)
    _wait(lambda: first.acked_seq == half, what="first half")
    first.close_blocking(5.0)
    wal.append_all(items[half:])
    second = _start(settings, wal, running)
    _wait(lambda: second.acked_seq == len(items), what="second half")
    seqs = _seqs(read_topic(kafka_broker.bootstrap, kafka_topic, expect=len(items)))
    assert sorted(seqs) == list(range(1, len(items) + 1))  # no duplicate after a clean stop


def test_outbox_corrupt_offset_file_moved_aside_and_resends(
    kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
    wal: WALWriter,
    running: list[Outbox],
) -> None:
    items, _ = order_flow(seed=5, orders=10)
    wal.append_all(items)
    settings = _settings(kafka_broker, kafka_topic, tmp_path)
    first = _start(settings, wal, running)
    _wait(lambda: first.acked_seq == len(items), what="published")
    first.close_blocking(5.0)
    settings.offset_path.write_bytes(b'{"seq": 99999')  # torn / corrupt
    settings.offset_path.with_name("offset.prev").unlink()
    second = _start(settings, wal, running)
    _wait(lambda: second.acked_seq == len(items), what="republished")
    assert second.offset_resets == 1
    assert list(settings.offset_path.parent.glob("offset.bad.*"))
    seqs = _seqs(read_topic(kafka_broker.bootstrap, kafka_topic, expect=2 * len(items)))
    assert sorted(set(seqs)) == list(range(1, len(items) + 1))
    assert len(seqs) == 2 * len(items)  # restarted from the beginning: duplicates, no gap


def test_outbox_offset_of_another_wal_starts_from_beginning(
    kafka_broker: TansuBroker, kafka_topic: str, tmp_path: Path, running: list[Outbox]
) -> None:
    settings = _settings(kafka_broker, kafka_topic, tmp_path)
    old = WALWriter(tmp_path / "old" / "wal", wal_id="0000aa")
    items, _ = order_flow(seed=2, orders=5)
    old.append_all(items)
    first = _start(settings, old, running)
    _wait(lambda: first.acked_seq == len(items), what="old wal published")
    first.close_blocking(5.0)
    new = WALWriter(tmp_path / "new" / "wal", wal_id="0000bb")
    new.append_all(items[:3])
    second = _start(settings, new, running)
    _wait(lambda: second.acked_seq == 3, what="new wal from seq 1")
    assert second.offset_resets == 1


def test_outbox_broker_paused_backs_off_then_delivers_everything(
    own_kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
    wal: WALWriter,
    running: list[Outbox],
) -> None:
    items, _ = order_flow(seed=13, orders=200)
    third = len(items) // 3
    wal.append_all(items[:third])
    settings = _settings(own_kafka_broker, kafka_topic, tmp_path, delivery_timeout_ms=1500)
    outbox = _start(settings, wal, running)
    _wait(lambda: outbox.acked_seq == third, what="before the outage")
    own_kafka_broker.pause()
    try:
        wal.append_all(items[third : 2 * third])
        _wait(lambda: outbox.delivery_errors > 0, timeout_s=15, what="delivery failures")
        _wait(lambda: outbox.backoff_current_ms > 0, timeout_s=15, what="backoff")
        assert outbox.acked_seq < 2 * third
        assert outbox.stats()["status"] == "degraded"
        wal.append_all(items[2 * third :])
    finally:
        own_kafka_broker.resume()
    _wait(lambda: outbox.acked_seq == len(items), timeout_s=60, what="all delivered after resume")
    assert outbox.state is OutboxState.RUNNING
    seqs = _seqs(read_topic(own_kafka_broker.bootstrap, kafka_topic, idle_s=2.0))
    assert set(seqs) == set(range(1, len(items) + 1))


@pytest.mark.slow
def test_outbox_broker_killed_and_restarted_empty_resumes_from_its_offset(
    own_kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
    wal: WALWriter,
    running: list[Outbox],
) -> None:
    """tansu keeps the log in memory: after a restart the topic is empty. The outbox must
    notice (delivery failures), replace its producer and publish everything after its
    acknowledged position to the new broker. (Records acknowledged by the old broker are that
    broker's to keep; a real Kafka cluster keeps them.)"""
    items, _ = order_flow(seed=17, orders=300)
    half = len(items) // 2
    wal.append_all(items[:half])
    settings = _settings(own_kafka_broker, kafka_topic, tmp_path, delivery_timeout_ms=1500)
    outbox = _start(settings, wal, running)
    _wait(lambda: outbox.acked_seq == half, what="first half")
    own_kafka_broker.kill()
    wal.append_all(items[half:])
    _wait(lambda: outbox.delivery_errors > 0, timeout_s=20, what="failures while down")
    acked_before_restart = outbox.acked_seq
    own_kafka_broker.start()
    _wait(lambda: outbox.acked_seq == len(items), timeout_s=60, what="published after restart")
    seqs = set(_seqs(read_topic(own_kafka_broker.bootstrap, kafka_topic, idle_s=2.0)))
    assert set(range(acked_before_restart + 1, len(items) + 1)) <= seqs
    assert outbox.producer_restarts >= 2


def test_outbox_closed_releases_its_producer_without_a_garbage_collection(
    kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
    wal: WALWriter,
) -> None:
    """A dropped producer must go at once (a replaced one would otherwise keep connecting).
    The topic exists, so the outbox's topic check ends in TOPIC_ALREADY_EXISTS: that
    exception's traceback once held the producer in a reference cycle."""
    create_topic(kafka_broker.bootstrap, kafka_topic, partitions=3)
    items, _ = order_flow(seed=19, orders=5)
    wal.append_all(items)
    made: list[weakref.ref[Producer]] = []

    class _TrackedProducer(Producer):  # the C type takes no weak references; a subclass does
        pass

    def factory(config: dict[str, Any]) -> Producer:
        producer = _TrackedProducer(config)
        made.append(weakref.ref(producer))
        return producer

    settings = _settings(kafka_broker, kafka_topic, tmp_path)
    gc.disable()  # only reference counting may free it
    try:
        outbox = Outbox(
            settings, wal_dir=wal.wal_dir, hmac_key=None, engine_id="eng1", producer_factory=factory
        )
        outbox.start()
        _wait(lambda: outbox.acked_seq == len(items), what="published")
        outbox.close_blocking(5.0)
        assert len(made) == 1
        assert made[0]() is None
    finally:
        gc.enable()


def test_outbox_messages_carry_the_record_time_as_their_timestamp(
    kafka_broker: TansuBroker,
    kafka_topic: str,
    tmp_path: Path,
    wal: WALWriter,
    running: list[Outbox],
) -> None:
    """The outbox calls produce() positionally (faster); this pins the argument order."""
    from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, TopicPartition

    create_topic(kafka_broker.bootstrap, kafka_topic, partitions=3)
    items, _ = order_flow(seed=23, orders=10)
    wal.append_all(items)
    outbox = _start(_settings(kafka_broker, kafka_topic, tmp_path), wal, running)
    _wait(lambda: outbox.acked_seq == len(items), what="published")
    consumer = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": "timestamps"})
    consumer.assign([TopicPartition(kafka_topic, partition, 0) for partition in range(3)])
    stamps: dict[int, tuple[int, int]] = {}
    deadline = time.monotonic() + 30
    while len(stamps) < len(items) and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            stamps[orjson.loads(message.value())["seq"]] = message.timestamp()
    consumer.close()
    assert stamps == {seq: (TIMESTAMP_CREATE_TIME, ts_ns // 1_000_000) for seq, ts_ns, _ in items}
