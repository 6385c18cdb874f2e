"""Outbox behaviour that needs no broker: settings, start before the WAL exists, stats, and
the acknowledged watermark against a fake producer."""

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.fixtures.backoffice import WALWriter, order_flow

from switchyard.core.env import ConfigError
from switchyard.outbox import Outbox, OutboxSettings, OutboxState


def _settings(tmp_path: Path) -> OutboxSettings:
    return OutboxSettings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, data_dir=tmp_path)


def test_outbox_from_env_none_without_kafka(tmp_path: Path) -> None:
    assert Outbox.from_env({}, tmp_path / "wal", None) is None


def test_outbox_yields_the_gil_only_beside_an_event_loop(tmp_path: Path) -> None:
    from switchyard.outbox.__main__ import build

    environ = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    in_gateway = Outbox.from_env(environ, tmp_path / "wal", None)
    own_process = build(environ, tmp_path, "gw1")
    assert in_gateway is not None
    assert own_process is not None
    assert in_gateway.settings.yield_between_batches is True
    assert own_process.settings.yield_between_batches is False
    assert own_process.wal_dir == tmp_path / "wal"


def test_outbox_settings_default_offset_path_under_data_dir(tmp_path: Path) -> None:
    assert _settings(tmp_path).offset_path == tmp_path / "outbox" / "offset"


def test_outbox_settings_backoff_base_above_max_names_both(tmp_path: Path) -> None:
    environ = {"OUTBOX_BACKOFF_BASE_MS": "9000", "OUTBOX_BACKOFF_MAX_MS": "100"}
    with pytest.raises(
        ConfigError, match="OUTBOX_BACKOFF_BASE_MS=9000 is above OUTBOX_BACKOFF_MAX_MS"
    ):
        OutboxSettings.from_env(environ, data_dir=tmp_path)


def test_outbox_settings_bad_compression_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OUTBOX_COMPRESSION"):
        OutboxSettings.from_env({"OUTBOX_COMPRESSION": "brotli"}, data_dir=tmp_path)


def test_outbox_closed_before_the_wal_exists_stores_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    outbox = Outbox(settings, wal_dir=tmp_path / "wal", hmac_key=None)
    outbox.start()
    assert outbox.is_alive()
    outbox.close_blocking(5.0)
    assert outbox.state is OutboxState.STOPPED
    assert not settings.offset_path.exists()
    assert outbox.stats()["durableSeq"] == 0


# --- the acknowledged watermark, against a producer whose broker the test drives ----------


class _FakeKafkaError:
    def name(self) -> str:
        return "_MSG_TIMED_OUT"

    def str(self) -> str:
        return "Local: Message timed out"


class _FakeMessage:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value


class _FakeProducer:
    """What the outbox uses of confluent_kafka.Producer. Nothing is acknowledged until the test
    says so; `len()` counts unacknowledged messages plus unserved failure reports, as
    librdkafka's does, and poll/flush serve the failure reports to the default callback."""

    def __init__(self, config: dict[str, Any]) -> None:
        assert config["delivery.report.only.error"] is True
        self.report = config["on_delivery"]
        self.values: list[bytes] = []
        self.unacknowledged: list[bytes] = []
        self.failed: list[bytes] = []  # failure reports not served yet

    def produce(  # confluent-kafka's positional order
        self,
        topic: str,
        value: bytes,
        key: bytes,
        partition: int,
        callback: object,
        on_delivery: object,
        timestamp: int,
    ) -> None:
        assert partition == -1  # the key partitioner chooses
        assert callback is None
        assert on_delivery is None  # the default (failures only) callback
        self.values.append(value)
        self.unacknowledged.append(value)

    def acknowledge(self, count: int) -> None:
        del self.unacknowledged[:count]

    def fail(self, index: int) -> None:
        self.failed.append(self.unacknowledged.pop(index))

    def __len__(self) -> int:
        return len(self.unacknowledged) + len(self.failed)

    def poll(self, timeout: float) -> int:
        served, self.failed = self.failed, []
        for value in served:
            self.report(_FakeKafkaError(), _FakeMessage(value))
        return len(served)

    def flush(self, timeout: float) -> int:
        self.poll(0)
        return len(self)

    def list_topics(self, topic: str, timeout: float) -> None:
        return None

    def purge(self) -> None:
        self.unacknowledged.clear()


class _ManualClock:
    def __init__(self) -> None:
        self.now_ns = 1_000_000_000

    def wall_ns(self) -> int:
        return self.now_ns

    def mono_ns(self) -> int:
        return self.now_ns


class _OfflineOutbox(Outbox):
    def _ensure_topic(self) -> bool:
        return True  # no broker to ask


def _offline_outbox(
    tmp_path: Path, records: int, *, more: int = 0
) -> tuple[Outbox, list[_FakeProducer], Callable[[], None]]:
    """An outbox over a WAL of `records` records; the callable appends `more` records."""
    wal = WALWriter(tmp_path / "wal")
    items, _ = order_flow(seed=3, orders=records + more)
    wal.append(items[:records])
    producers: list[_FakeProducer] = []

    def factory(config: dict[str, Any]) -> _FakeProducer:
        producers.append(_FakeProducer(config))
        return producers[-1]

    settings = dataclasses.replace(_settings(tmp_path), backoff_base_ms=1, backoff_max_ms=1)
    outbox = _OfflineOutbox(
        settings,
        wal_dir=wal.wal_dir,
        hmac_key=None,
        clock=_ManualClock(),
        producer_factory=factory,  # type: ignore[arg-type]
    )
    outbox._startup()
    return outbox, producers, lambda: wal.append(items[records : records + more])


def _seqs(values: list[bytes]) -> list[int]:
    return [orjson.loads(value)["seq"] for value in values]


def test_outbox_watermark_waits_until_the_producer_holds_nothing(tmp_path: Path) -> None:
    outbox, producers, _ = _offline_outbox(tmp_path, 10)
    outbox._cycle()
    assert _seqs(producers[0].values) == list(range(1, 11))
    producers[0].acknowledge(9)  # 9 of 10 acknowledged: which 9 is unknown, nothing is proven
    outbox._cycle()
    assert outbox.acked_seq == 0
    assert outbox.inflight_records() == 10
    producers[0].acknowledge(1)
    outbox._cycle()
    assert outbox.acked_seq == 10
    assert outbox.events_published == 10


def test_outbox_failure_report_keeps_the_watermark_and_resends_after_it(tmp_path: Path) -> None:
    outbox, producers, _ = _offline_outbox(tmp_path, 10)
    outbox._cycle()
    producers[0].fail(4)  # seq 5 fails; every other message is acknowledged
    producers[0].acknowledge(9)
    outbox._cycle()  # serves the failure report
    assert outbox.delivery_errors == 1
    assert "seq 5" in outbox.last_error
    assert outbox.acked_seq == 0
    outbox._cycle()  # nothing left out: replace the producer, rewind to the watermark
    outbox._cycle()
    assert len(producers) == 2
    assert _seqs(producers[1].values) == list(range(1, 11))
    producers[1].acknowledge(10)
    outbox._cycle()
    assert outbox.acked_seq == 10


def test_outbox_under_continuous_load_stops_reading_to_prove_the_watermark(
    tmp_path: Path,
) -> None:
    outbox, producers, append_more = _offline_outbox(tmp_path, 10, more=5)
    outbox._cycle()
    append_more()
    clock = outbox._clock
    assert isinstance(clock, _ManualClock)
    clock.now_ns += outbox.settings.offset_flush_ms * 1_000_000  # the watermark is now due
    outbox._cycle()
    assert len(producers[0].values) == 10  # the new records wait: the producer must empty
    producers[0].acknowledge(10)
    outbox._cycle()
    assert outbox.acked_seq == 10
    outbox._cycle()
    assert _seqs(producers[0].values) == list(range(1, 16))
