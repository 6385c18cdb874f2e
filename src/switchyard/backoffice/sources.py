"""Where the back office's events come from: one `EventSource` interface, two implementations.

`KafkaEventSource` consumes the topic as a member of the consumer group; offsets are
committed (synchronously) only after the batch's database transaction committed. A failed
transaction rewinds the consumer to the batch's first offsets, so nothing is skipped.

`WALEventSource` tails the gateway's WAL directly (no Kafka configured). It produces the very
same envelope bytes the outbox would publish (outbox.envelope), so the books take one code
path either way. Its position is stored *inside* the batch's transaction (bo_wal_cursor), so
with the WAL the back office is exactly-once end to end.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from switchyard.core.events import SessionStarted
from switchyard.outbox import EnvelopeEncoder, source_name, wal_identity
from switchyard.outbox.publisher import ensure_topic
from switchyard.outbox.sessions import EngineHistory
from switchyard.outbox.settings import DEFAULT_ENGINE_ID
from switchyard.wal import WALTailer, decode_payload
from switchyard.wal.format import wal_id_of

from .store import WALCursor

log = logging.getLogger("switchyard.backoffice.source")

FETCH_WAIT_MAX_MS = 20
METADATA_REFRESH_MS = 10_000
WAL_IDLE_WAIT_S = 0.002  # an idle WAL source re-reads the durable watermark this often


@dataclass(frozen=True, slots=True)
class Delivery:
    """One envelope as delivered, and where it came from (for logs and the dedupe audit)."""

    raw: bytes
    position: str


class EventSource(Protocol):
    name: str

    def poll(self, max_events: int, timeout_s: float) -> list[Delivery]:
        """Up to `max_events` deliveries, waiting at most `timeout_s` for the first."""
        ...

    def cursor(self) -> WALCursor | None:
        """What to store in the batch's transaction (the WAL source's position), if anything."""
        ...

    def commit(self) -> None:
        """The batch's transaction committed: acknowledge what the last poll returned."""
        ...

    def rewind(self) -> None:
        """The batch's transaction failed: deliver what the last poll returned again."""
        ...

    def lag_records(self) -> int:
        """Events the source holds beyond the last poll (an estimate for Kafka)."""
        ...

    def close(self) -> None: ...


class KafkaEventSource:
    """A member of consumer group `group_id` on `topic`; manual commits after each batch."""

    name = "kafka"

    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str,
        group_id: str,
        session_timeout_ms: int,
        topic_partitions: int = 3,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(100, session_timeout_ms // 3),
            # How long a fetch waits at the broker when there is nothing new. tansu answers
            # only when it expires (it does not wake waiting fetches), so this bounds the lag
            # of an idle-then-busy partition: 500 ms by default, 20 ms here (bench/outbox).
            "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
            # A topic created after we subscribed is seen at the next refresh (default 5 min).
            "topic.metadata.refresh.interval.ms": METADATA_REFRESH_MS,
            "error_cb": self._on_error,
        }
        config.update(extra_config or {})
        self.topic = topic
        ensure_topic(bootstrap, topic, topic_partitions)  # before subscribing (see there)
        self._consumer = Consumer(config)
        self._consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self._batch_first: dict[int, int] = {}  # partition -> first offset of the last poll
        self._batch_last: dict[int, int] = {}  # partition -> last offset of the last poll
        self.assigned: set[int] = set()
        self.errors = 0
        self.commit_failures = 0
        self.last_error = ""

    def poll(self, max_events: int, timeout_s: float) -> list[Delivery]:
        assert not self._batch_last, "commit() or rewind() the previous batch first"
        # Wait for the first message only, then take what is already fetched: consume(n, t)
        # alone would hold a batch until n messages or the timeout (latency for nothing).
        waited = self._consumer.poll(timeout_s)
        if waited is None:
            return []
        messages = [waited]
        if max_events > 1:
            messages += self._consumer.consume(max_events - 1, 0)
        out: list[Delivery] = []
        first, last = self._batch_first, self._batch_last
        topic = self.topic
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_message_error(error)
                continue
            partition, offset = message.partition(), message.offset()
            assert partition is not None
            assert offset is not None
            first.setdefault(partition, offset)
            last[partition] = offset
            value = message.value()
            out.append(
                Delivery(value if value is not None else b"", f"{topic}:{partition}:{offset}")
            )
        return out

    def cursor(self) -> WALCursor | None:
        return None

    def commit(self) -> None:
        if not self._batch_last:
            return
        offsets = [
            TopicPartition(self.topic, p, o + 1) for p, o in sorted(self._batch_last.items())
        ]
        self._batch_first.clear()
        self._batch_last.clear()
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            # The partitions moved to another member (rebalance) or the broker is away: the
            # next owner re-delivers from the last committed offset; the dedupe key absorbs it.
            self.commit_failures += 1
            self.last_error = str(error)
            log.warning("event=backoffice_commit_failed error=%s", error)

    def rewind(self) -> None:
        for partition, offset in sorted(self._batch_first.items()):
            try:
                self._consumer.seek(TopicPartition(self.topic, partition, offset))
            except KafkaException as error:  # partition no longer ours: its next owner re-reads
                log.warning("event=backoffice_seek_failed partition=%d error=%s", partition, error)
        self._batch_first.clear()
        self._batch_last.clear()

    def lag_records(self) -> int:
        total = 0
        for partition in sorted(self.assigned):
            wanted = TopicPartition(self.topic, partition)
            try:
                low, high = self._consumer.get_watermark_offsets(wanted, cached=True)
                position = self._consumer.position([wanted])[0].offset
            except KafkaException:
                continue
            if high is None or high < 0:
                continue
            start = position if position is not None and position >= 0 else max(low or 0, 0)
            total += max(0, high - start)
        return total

    def close(self) -> None:
        self._consumer.close()

    def _on_message_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        self.errors += 1
        self.last_error = f"{error.name()}: {error.str()}"
        if error.fatal():
            raise KafkaException(error)
        log.warning("event=backoffice_consume_error error=%s", self.last_error)

    def _on_error(self, error: KafkaError) -> None:
        self.errors += 1
        self.last_error = f"{error.name()}: {error.str()}"

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned |= {p.partition for p in partitions}
        log.info("event=backoffice_assigned partitions=%s", sorted(p.partition for p in partitions))

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned -= {p.partition for p in partitions}
        log.info("event=backoffice_revoked partitions=%s", sorted(p.partition for p in partitions))


class WALEventSource:
    """Tails a gateway WAL from the cursor stored in the back office database."""

    name = "wal"

    def __init__(
        self,
        wal_dir: Path,
        *,
        hmac_key: bytes | None,
        cursor: WALCursor | None,
        engine_id: str = DEFAULT_ENGINE_ID,
    ) -> None:
        self.wal_dir = wal_dir
        self._hmac_key = hmac_key
        self._stored = cursor
        self._fallback_engine_id = engine_id
        self._wal_id = ""
        self._acked = 0
        self._polled = 0
        self._tailer: WALTailer | None = None
        self._engines = EngineHistory(engine_id)
        self._encoder: EnvelopeEncoder | None = None
        self._idle = threading.Event()

    def _open(self) -> bool:
        identity = wal_identity(self.wal_dir)
        if identity is None:
            return False
        self._wal_id = wal_id_of(identity[0])
        stored = self._stored
        if stored is not None and stored.wal_id == self._wal_id:
            self._acked, engine_id = stored.acked_seq, stored.engine_id
        else:
            if stored is not None:
                log.warning(
                    "event=backoffice_wal_changed stored_wal_id=%s wal_id=%s: reading from seq 1",
                    stored.wal_id,
                    self._wal_id,
                )
            self._acked, engine_id = 0, self._fallback_engine_id
        self._engines = EngineHistory(engine_id, since_seq=self._acked)
        self._encoder = EnvelopeEncoder(source_name(engine_id, self._wal_id))
        self._reopen()
        return True

    def _reopen(self) -> None:
        if self._tailer is not None:
            self._tailer.close()
        self._tailer = WALTailer(self.wal_dir, start_seq=self._acked + 1, hmac_key=self._hmac_key)
        self._polled = self._acked
        self._engines.rewind(self._acked)
        assert self._encoder is not None
        self._encoder.source = source_name(self._engines.current(), self._wal_id)

    def poll(self, max_events: int, timeout_s: float) -> list[Delivery]:
        if self._tailer is None and not self._open():
            self._idle.wait(timeout_s)
            return []
        assert self._tailer is not None
        records = self._tailer.poll(max_events)
        if not records:
            self._idle.wait(min(timeout_s, WAL_IDLE_WAIT_S))
            return []
        encoder = self._encoder
        assert encoder is not None
        out: list[Delivery] = []
        for record in records:
            event = decode_payload(record.record_type, record.payload)
            if isinstance(event, SessionStarted):
                self._engines.seen(record.seq, event.engine_id)
                encoder.source = source_name(event.engine_id, self._wal_id)
            raw = encoder.encode(event, seq=record.seq, ts_ns=record.ts_ns)
            out.append(Delivery(raw, f"wal:{self._wal_id}:{record.seq}"))
            self._polled = record.seq
        return out

    def cursor(self) -> WALCursor | None:
        if not self._wal_id:
            return None
        return WALCursor(self._wal_id, self._polled, self._engines.at(self._polled))

    def commit(self) -> None:
        self._acked = self._polled
        self._engines.forget_before(self._acked)

    def rewind(self) -> None:
        if self._tailer is not None:
            self._reopen()

    def lag_records(self) -> int:
        identity = wal_identity(self.wal_dir)
        return 0 if identity is None else max(0, identity[1] - self._polled)

    def close(self) -> None:
        self._idle.set()
        if self._tailer is not None:
            self._tailer.close()
