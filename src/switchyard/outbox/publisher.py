"""The outbox: publishes every durable WAL record to Kafka, at least once, in seq order per key.

Runs in its own thread (confluent-kafka calls block and its callbacks need a poller), so the
gateway's event loop only pays for the interpreter lock. One cycle: read up to a batch of
durable records from a `WALTailer` and encode them (outbox.native: one C call per WAL batch
verifies the records and writes their envelopes, as outbox.envelope would), hand each to an
idempotent `acks=all` producer, serve delivery reports, advance the acknowledged watermark (the
highest seq with it and every record before it acknowledged) and, at most every
`OUTBOX_OFFSET_FLUSH_MS`, store it in the offset file (fsynced, atomic).

Acknowledgement without a report per message: the producer reports failures only
(`delivery.report.only.error`); a report per message cost ~1 us (confluent-kafka builds a
Message with copies of key and value for each). The watermark moves when the producer is
empty: `len(producer)` counts every message not yet acknowledged by the broker *and* every
delivery report not yet served, so once `poll` has run our failure callback for every failed
message, `len(producer) == 0` with no failure seen proves that every message produced so far
was acknowledged (messages to different partitions complete in any order, so a count above
zero proves nothing about any prefix). Under continuous load the producer is rarely empty by
itself: when the watermark is older than `OUTBOX_OFFSET_FLUSH_MS` (or the in-flight bound is
reached) the outbox stops reading and flushes (librdkafka then sends what is lingering at
once) until it is.

Failure handling: any delivery error (broker down, timeout, fenced producer) stops reading;
once the in-flight records are resolved the producer is replaced (a new producer id: tansu and
Kafka both refuse an idempotent producer whose sequence broke), the tailer rewinds to the
watermark + 1 and publishing resumes after an exponential backoff. Records acknowledged after
the failed one are sent again: duplicates, never gaps. A WAL read error stalls publishing with
the same backoff (a record is never skipped). The thread never dies silently: an unexpected
exception is logged, counted and handed to `on_fatal`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from switchyard.core.ports import Clock
from switchyard.wal import PayloadError, WALError, WALTailer
from switchyard.wal.format import wal_id_of
from switchyard.wal.watermark import WATERMARK_FILE, WATERMARK_SIZE, decode_watermark

from .envelope import EnvelopeEncoder, source_name
from .native import NativeEnvelopes, load_codec
from .offset_file import LoadOutcome, OffsetFile, OutboxPosition
from .sessions import EngineHistory
from .settings import DEFAULT_ENGINE_ID, KAFKA_BOOTSTRAP_SERVERS, OutboxSettings

if TYPE_CHECKING:
    from ._codec import Codec

log = logging.getLogger("switchyard.outbox")

_DELIVERY_GRACE_MS = 5_000  # wait this long past message.timeout.ms for stragglers, then purge
_ACK_INTERVAL_MIN_MS = 10  # least time between two flushes that prove the watermark (see above)
_DRAIN_WAIT_S = 0.05  # one flush() call while proving the watermark; the loop then re-checks


class _EnvelopeSeq(msgspec.Struct):
    seq: int


_SEQ_OF_ENVELOPE = msgspec.json.Decoder(_EnvelopeSeq)  # names the seq of a failed message
# produce() is called positionally: (topic, value, key, partition, callback, on_delivery,
# timestamp). Keyword arguments cost 0.3 us per call, 6% of the outbox's cost per record
# (measured). Partition -1 (RD_KAFKA_PARTITION_UA) leaves the choice to the key partitioner;
# no callback means the producer's default one. tests/integration/test_outbox_kafka.py checks
# that messages carry the record's timestamp, so a change of that order cannot pass unseen.
_PARTITIONER: Final = -1


class OutboxState(Enum):
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"  # Kafka failed; waiting before a new producer retries
    STALLED = "stalled"  # the WAL could not be read; retrying
    STOPPED = "stopped"
    FAILED = "failed"  # the thread died (a bug); on_fatal was called


class SystemClock:
    """Wall and monotonic time from the OS (the outbox is an edge component)."""

    def wall_ns(self) -> int:
        return time.time_ns()  # noqa: TID251 - adapter edge: the real clock

    def mono_ns(self) -> int:
        return time.monotonic_ns()  # noqa: TID251 - adapter edge: the real clock


class Outbox:
    """Tails `wal_dir` and publishes to Kafka. Create, `start()`, later `await close()`."""

    def __init__(
        self,
        settings: OutboxSettings,
        *,
        wal_dir: Path,
        hmac_key: bytes | None,
        engine_id: str = DEFAULT_ENGINE_ID,
        clock: Clock | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        producer_config: Mapping[str, Any] | None = None,
        producer_factory: Callable[[dict[str, Any]], Producer] | None = None,
    ) -> None:
        # configuration
        self.settings = settings
        self.wal_dir = wal_dir
        self._hmac_key = hmac_key
        self._fallback_engine_id = engine_id
        self._clock: Clock = clock or SystemClock()
        self._on_fatal = on_fatal
        self._producer_extra = dict(producer_config or {})
        self._make_producer = producer_factory or Producer
        self._offsets = OffsetFile(settings.offset_path)
        # lifetime of the thread
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self._producer: Producer | None = None
        self._tailer: WALTailer | None = None
        # Raises (RuntimeError) if the native codec is not built or disagrees with the
        # reference encoder: no outbox without it, never a silent fallback (outbox/native.py).
        self._codec: Codec = load_codec(hmac_key)
        self._messages: NativeEnvelopes | None = None
        self._encoder: EnvelopeEncoder | None = None
        self._wal_id = ""
        self._engines = EngineHistory(engine_id)  # engine ids by seq (SessionStarted records)
        self._unacked_since_ns = 0  # monotonic time the oldest unacknowledged record was sent
        self._delivery_failed_seen = False  # a failure report since the producer was created
        self._failed = False
        self._failed_since_ns = 0
        self._backoff_ms = settings.backoff_base_ms
        self._stored_seq = -1
        self._stored_at_ns = 0
        self._topic_checked = False
        # counters and gauges (read by stats() and the Prometheus collector at scrape time)
        self.state = OutboxState.STARTING
        self.acked_seq = 0
        self.sent_seq = 0
        self.records_read = 0
        self.events_published = 0
        self.publish_queued = 0
        self.delivery_ok = 0
        self.delivery_errors = 0
        self.publish_errors = 0
        self.read_errors = 0
        self.offset_resets = 0
        self.offset_writes = 0
        self.offset_write_seconds = 0.0
        self.producer_restarts = 0
        self._overruled_before = 0  # native_verify_overruled of the tailers already replaced
        self.backoff_current_ms = 0
        self.last_error = ""
        self._oldest_unacked_ts_ns = 0

    # --- construction from the environment ---------------------------------------------

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        wal_dir: Path,
        hmac_key: bytes | None,
        *,
        engine_id: str = DEFAULT_ENGINE_ID,
        clock: Clock | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        shares_event_loop: bool = True,
    ) -> Outbox | None:
        """The outbox configured by the environment, or None when KAFKA_BOOTSTRAP_SERVERS is empty.

        The default offset file is `<wal_dir>/../outbox/offset` (the data directory's).
        `shares_event_loop=False` (its own process): it never offers the GIL between batches.
        """
        if not KAFKA_BOOTSTRAP_SERVERS.read(environ):
            return None
        settings = OutboxSettings.from_env(
            environ, data_dir=wal_dir.parent, shares_event_loop=shares_event_loop
        )
        return cls(
            settings,
            wal_dir=wal_dir,
            hmac_key=hmac_key,
            engine_id=engine_id,
            clock=clock,
            on_fatal=on_fatal,
        )

    # --- public surface (called from the event loop) -------------------------------------

    def start(self) -> None:
        """Start the publishing thread. Call after the Journal has opened (recovered) the WAL."""
        assert self._thread is None, "outbox started twice"
        self._thread = threading.Thread(target=self._run, name="switchyard-outbox", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New durable records exist: wake the thread now instead of at its next poll."""
        self._wakeup.set()

    async def close(self, timeout_s: float = 10.0) -> None:
        """Stop reading, wait up to `timeout_s` for in-flight deliveries, store the offset."""
        await asyncio.to_thread(self.close_blocking, timeout_s)

    def close_blocking(self, timeout_s: float = 10.0) -> None:
        """`close()` for callers without an event loop (CLI tools, benchmarks, tests)."""
        self._close_timeout_s = timeout_s
        self._stop.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout_s + 5.0)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def durable_seq(self) -> int:
        found = wal_identity(self.wal_dir)
        return 0 if found is None else found[1]

    def inflight_records(self) -> int:
        return self.sent_seq - self.acked_seq

    def native_verify_overruled(self) -> int:
        """WAL batches the native codec refused and the reference parser accepted (a codec bug
        that costs nothing but speed: the reference's verdict stands; should stay 0)."""
        current = 0 if self._tailer is None else self._tailer.verify_overruled
        return self._overruled_before + current

    def lag_records(self) -> int:
        return max(0, self.durable_seq() - self.acked_seq)

    def lag_seconds(self) -> float:
        if self.lag_records() == 0 or self._oldest_unacked_ts_ns == 0:
            return 0.0
        return max(0.0, (self._clock.wall_ns() - self._oldest_unacked_ts_ns) / 1e9)

    def stats(self) -> dict[str, object]:
        """A JSON-ready summary for /stats and /health."""
        lag_seconds = self.lag_seconds()
        healthy = self.state in (OutboxState.RUNNING, OutboxState.STARTING) and lag_seconds < 30.0
        return {
            "enabled": True,
            "status": "ok"
            if healthy
            else ("failed" if self.state is OutboxState.FAILED else "degraded"),
            "state": self.state.value,
            "topic": self.settings.topic,
            "ackedSeq": self.acked_seq,
            "durableSeq": self.durable_seq(),
            "lagRecords": self.lag_records(),
            "lagSeconds": round(lag_seconds, 3),
            "inflight": self.inflight_records(),
            "published": self.events_published,
            "deliveryErrors": self.delivery_errors,
            "readErrors": self.read_errors,
            "offsetResets": self.offset_resets,
            "producerRestarts": self.producer_restarts,
            "backoffMs": self.backoff_current_ms,
            "lastError": self.last_error,
        }

    # --- the thread ----------------------------------------------------------------------

    _close_timeout_s = 10.0

    def _run(self) -> None:
        try:
            self._startup()
            while not self._stop.is_set():
                self._cycle()
            self._shutdown()
        except BaseException as error:
            self.state = OutboxState.FAILED
            self.last_error = f"{type(error).__name__}: {error}"
            log.exception("event=outbox_failed error=%s", self.last_error)
            if self._on_fatal is not None:
                self._on_fatal(error)

    def _startup(self) -> None:
        while not self._stop.is_set():
            found = wal_identity(self.wal_dir)
            if found is not None:
                self._wal_id = wal_id_of(found[0])
                break
            self._wakeup.wait(self.settings.poll_interval_ms / 1000)
            self._wakeup.clear()
        if self._stop.is_set():
            return
        position = self._load_position()
        self.acked_seq = position.seq if position else 0
        engine_id = position.engine_id if position else self._fallback_engine_id
        self._engines = EngineHistory(engine_id, since_seq=self.acked_seq)
        self._encoder = EnvelopeEncoder(source_name(engine_id, self._wal_id))
        self._stored_seq = self.acked_seq if position else -1
        self._open_tailer()
        self.state = OutboxState.RUNNING
        log.info(
            "event=outbox_started wal_id=%s start_seq=%d topic=%s",
            self._wal_id,
            self.acked_seq + 1,
            self.settings.topic,
        )

    def _load_position(self) -> OutboxPosition | None:
        result = self._offsets.load(now_ms=self._clock.wall_ns() // 1_000_000)
        for problem in result.problems:
            log.warning("event=outbox_offset_unusable problem=%r", problem)
        if result.outcome in (LoadOutcome.PREVIOUS, LoadOutcome.RESET):
            self.offset_resets += 1
        position = result.position
        if position is not None and position.wal_id != self._wal_id:
            log.warning(
                "event=outbox_offset_reset reason=other_wal offset_wal_id=%s wal_id=%s",
                position.wal_id,
                self._wal_id,
            )
            self.offset_resets += 1
            return None
        durable = self.durable_seq()
        if position is not None and position.seq > durable:
            log.warning(
                "event=outbox_offset_reset reason=ahead_of_wal seq=%d durable_seq=%d",
                position.seq,
                durable,
            )
            self.offset_resets += 1
            return None
        return position

    def _open_tailer(self) -> None:
        if self._tailer is not None:
            self._overruled_before += self._tailer.verify_overruled
            self._tailer.close()
        self._tailer = WALTailer(
            self.wal_dir, start_seq=self.acked_seq + 1, hmac_key=self._hmac_key
        )
        self.sent_seq = self.acked_seq
        # Records after the watermark are read again: forget engine changes we will re-read.
        self._engines.rewind(self.acked_seq)
        assert self._encoder is not None
        self._encoder.source = source_name(self._engines.current(), self._wal_id)
        self._messages = NativeEnvelopes(
            self._tailer, self._codec, self._encoder, self._session_started
        )

    def _session_started(self, seq: int, engine_id: str) -> None:
        # A gateway (re)started on this WAL: its records and the ones after carry its name.
        assert self._encoder is not None
        self._engines.seen(seq, engine_id)
        self._encoder.source = source_name(engine_id, self._wal_id)

    def _cycle(self) -> None:
        if self._failed:
            self._recover_from_failure()
            return
        producer = self._producer
        if producer is None:  # not `or`: an object with __len__ and no __bool__ is false when empty
            producer = self._new_producer()
        sent = 0
        if self._watermark_due():
            producer.flush(_DRAIN_WAIT_S)  # read nothing until the producer is empty
            self._advance(producer)
        else:
            room = self.settings.inflight_max - (self.sent_seq - self.acked_seq)
            sent = self._read_and_send(producer, min(room, self.settings.batch_records_max))
            if sent and self.settings.yield_between_batches:
                time.sleep(0)  # hand the interpreter lock to the event loop between batches
            producer.poll(0)
            self._advance(producer)
            if sent == 0 and not self._failed:
                self._idle(producer)
        self._maybe_store_offset(force=False)

    def _watermark_due(self) -> bool:
        """Records are out and the watermark must be proven now (see the module docstring)."""
        outstanding = self.sent_seq - self.acked_seq
        if outstanding == 0:
            return False
        if outstanding >= self.settings.inflight_max:
            return True
        interval_ms = max(self.settings.offset_flush_ms, _ACK_INTERVAL_MIN_MS)
        return self._clock.mono_ns() - self._unacked_since_ns >= interval_ms * 1_000_000

    def _idle(self, producer: Producer) -> None:
        self._wakeup.wait(self.settings.poll_interval_ms / 1000)
        self._wakeup.clear()
        if self.sent_seq > self.acked_seq:
            producer.poll(0)
            self._advance(producer)

    def _read_and_send(self, producer: Producer, max_records: int) -> int:
        messages = self._messages
        assert messages is not None
        assert max_records >= 1
        try:
            # One C call per WAL batch verifies and encodes (outbox/native.py).
            values, keys, stamps = messages.read(max_records)
        except (WALError, OSError) as error:
            self._stall(f"WAL read failed at seq {self.sent_seq + 1}: {error}")
            return 0
        except PayloadError as error:  # nothing of this read was sent; it is read again
            self._stall(str(error))
            return 0
        if not values:
            return 0
        # The hot loop of the outbox: locals bound once; no per-message delivery callback
        # (failures arrive through the producer's default one, success is proven by _advance).
        produce = producer.produce
        topic = self.settings.topic
        for value, key, timestamp_ms in zip(values, keys, stamps, strict=True):
            try:
                produce(topic, value, key, _PARTITIONER, None, None, timestamp_ms)
            except BufferError:
                self._produce_when_room(producer, value, key, timestamp_ms)
        sent = len(values)
        if self.sent_seq == self.acked_seq:  # the first record out since the last proof
            self._unacked_since_ns = self._clock.mono_ns()
            self._oldest_unacked_ts_ns = messages.first_ts_ns
        self.sent_seq += sent
        assert self.sent_seq == messages.next_seq - 1, (self.sent_seq, messages.next_seq)
        self.records_read += sent
        self.publish_queued += sent
        return sent

    def _produce_when_room(
        self, producer: Producer, value: bytes, key: bytes, timestamp_ms: int
    ) -> None:
        # librdkafka's queue is full (its bound is above ours, so only by bytes): serve it
        # until there is room. Never drop.
        while True:
            producer.poll(0.01)
            try:
                producer.produce(
                    self.settings.topic, value, key, _PARTITIONER, None, None, timestamp_ms
                )
                return
            except BufferError:
                continue

    def _delivery_failed(self, error: KafkaError | None, message: Message) -> None:
        # The producer's default delivery callback; with delivery.report.only.error it runs
        # (inside poll/flush, on this thread) for failed messages only.
        if error is None:
            return
        self.delivery_errors += 1
        self._delivery_failed_seen = True
        if self._failed:
            return
        value = message.value()
        seq = _SEQ_OF_ENVELOPE.decode(value).seq if isinstance(value, bytes) else -1
        self._failed = True
        self._failed_since_ns = self._clock.mono_ns()
        self.publish_errors += 1
        self.last_error = f"delivery of seq {seq} failed: {error.name()}: {error.str()}"
        log.warning("event=outbox_delivery_failed seq=%d error=%s", seq, error.name())

    def _advance(self, producer: Producer) -> None:
        """Acknowledge every record sent so far if the producer proves it (module docstring)."""
        advanced = self.sent_seq - self.acked_seq
        if advanced == 0 or self._delivery_failed_seen or len(producer) != 0:
            return
        # len() == 0: no message awaits the broker and no failure report awaits poll(); the
        # failures served so far would have set _delivery_failed_seen. So all were delivered.
        assert advanced > 0, (self.sent_seq, self.acked_seq)
        self.acked_seq = self.sent_seq
        self.events_published += advanced
        self.delivery_ok += advanced
        if not self._failed:
            self._backoff_ms = self.settings.backoff_base_ms
            self.backoff_current_ms = 0

    def _maybe_store_offset(self, *, force: bool) -> None:
        if self.acked_seq == self._stored_seq:
            return
        now = self._clock.mono_ns()
        if not force and now - self._stored_at_ns < self.settings.offset_flush_ms * 1_000_000:
            return
        engine_id = self._engines.at(self.acked_seq)
        self._engines.forget_before(self.acked_seq)
        started = time.perf_counter()
        self._offsets.store(OutboxPosition(self._wal_id, self.acked_seq, engine_id))
        self.offset_write_seconds += time.perf_counter() - started
        self.offset_writes += 1
        self._stored_seq = self.acked_seq
        self._stored_at_ns = now

    # --- failure and recovery --------------------------------------------------------------

    def _stall(self, reason: str) -> None:
        self.read_errors += 1
        self.last_error = reason
        self.state = OutboxState.STALLED
        log.error("event=outbox_stalled reason=%r", reason)
        self._failed = True
        self._failed_since_ns = self._clock.mono_ns()

    def _recover_from_failure(self) -> None:
        producer = self._producer
        timeout_ns = (self.settings.delivery_timeout_ms + _DELIVERY_GRACE_MS) * 1_000_000
        if producer is not None and self.sent_seq > self.acked_seq:
            outstanding = producer.flush(_DRAIN_WAIT_S)  # serves the failure reports
            self._advance(producer)  # after a WAL stall everything out may have been delivered
            self._maybe_store_offset(force=False)
            waiting = self._clock.mono_ns() - self._failed_since_ns < timeout_ns
            if outstanding and waiting and not self._stop.is_set():
                return
        self._maybe_store_offset(force=True)
        self._drop_producer()
        if self.state is not OutboxState.STALLED:
            self.state = OutboxState.BACKOFF
        self.backoff_current_ms = self._backoff_ms
        log.info("event=outbox_backoff delay_ms=%d acked_seq=%d", self._backoff_ms, self.acked_seq)
        self._stop.wait(self._backoff_ms / 1000)
        self._backoff_ms = min(self._backoff_ms * 2, self.settings.backoff_max_ms)
        self._open_tailer()
        self._failed = False
        self._delivery_failed_seen = False
        self.state = OutboxState.RUNNING

    def _drop_producer(self) -> None:
        producer = self._producer
        self._producer = None
        if producer is not None:
            producer.purge()
            producer.flush(0)
        self.sent_seq = self.acked_seq  # what was out and unproven is read and sent again

    def _new_producer(self) -> Producer:
        config: dict[str, Any] = {
            "bootstrap.servers": self.settings.bootstrap_servers,
            "client.id": self.settings.client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": self.settings.linger_ms,
            "message.timeout.ms": self.settings.delivery_timeout_ms,
            "compression.type": self.settings.compression,
            "queue.buffering.max.messages": self.settings.inflight_max
            + self.settings.batch_records_max,
            "error_cb": self._on_client_error,
            "delivery.report.only.error": True,
            "on_delivery": self._delivery_failed,
        }
        config.update(self._producer_extra)
        producer = self._make_producer(config)
        if self.producer_restarts or self.delivery_errors:
            log.info("event=outbox_producer_restarted")
        self.producer_restarts += 1
        self._producer = producer
        if not self._topic_checked:
            self._topic_checked = self._ensure_topic()
        self._warm_up(producer)
        return producer

    def _warm_up(self, producer: Producer) -> None:
        # Fetch the topic's metadata now: otherwise librdkafka learns it at the first produce
        # and holds that first batch for 0.5-1 s (measured against tansu, bench/outbox).
        try:
            producer.list_topics(self.settings.topic, timeout=2.0)
        except KafkaException as error:
            log.warning(
                "event=outbox_metadata_failed topic=%s error=%s", self.settings.topic, error
            )

    def _ensure_topic(self) -> bool:
        settings = self.settings
        return ensure_topic(settings.bootstrap_servers, settings.topic, settings.topic_partitions)

    def _on_client_error(self, error: KafkaError) -> None:
        # Connection-level problems (all brokers down, ...): delivery reports decide what to do.
        self.last_error = f"{error.name()}: {error.str()}"

    def _shutdown(self) -> None:
        if self._encoder is None:  # stopped before the WAL existed: nothing read, nothing to store
            self.state = OutboxState.STOPPED
            return
        producer = self._producer
        if producer is not None and not self._failed:
            producer.flush(self._close_timeout_s)
            self._advance(producer)
        self._maybe_store_offset(force=True)
        if producer is not None:
            self._drop_producer()
        if self._tailer is not None:
            self._tailer.close()
        self.state = OutboxState.STOPPED
        log.info("event=outbox_stopped acked_seq=%d", self.acked_seq)


def wal_identity(wal_dir: Path) -> tuple[bytes, int] | None:
    """(system id, durable seq) of the WAL in `wal_dir`, or None before its first batch."""
    path = wal_dir / WATERMARK_FILE
    for _ in range(8):  # the writer updates 16 bytes in place: re-read a torn value
        try:
            data = path.read_bytes()[:WATERMARK_SIZE]
        except FileNotFoundError:
            return None
        decoded = decode_watermark(data)
        if decoded is not None:
            return decoded
    return None


def _unhealthy_status(state: OutboxState) -> str:
    return "failed" if state is OutboxState.FAILED else "degraded"


def ensure_topic(bootstrap: str, topic: str, partitions: int) -> bool:
    """Create `topic` if it is missing; False when the broker could not be asked.

    The outbox and the back office both call it: a consumer that subscribes to a topic that
    does not exist yet would only notice it at its next metadata refresh.
    """
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap})
    wanted = NewTopic(topic, num_partitions=partitions, replication_factor=1)
    try:
        # No local keeps the future: it holds the exception it raises, whose traceback holds
        # this frame and the callers' (with the outbox's new producer); with the future in a
        # local that is a cycle, and the producer lived on until a full garbage collection.
        admin.create_topics([wanted], request_timeout=2.0)[topic].result(timeout=3.0)
        log.info("event=kafka_topic_created topic=%s partitions=%d", topic, partitions)
    except KafkaException as error:
        code = error.args[0].code() if error.args else None
        if code == KafkaError.TOPIC_ALREADY_EXISTS:
            return True
        log.warning("event=kafka_topic_check_failed topic=%s error=%s", topic, error)
        return False
    except Exception as error:  # noqa: BLE001 - edge: broker down at start is retried later
        log.warning("event=kafka_topic_check_failed topic=%s error=%s", topic, error)
        return False
    return True
