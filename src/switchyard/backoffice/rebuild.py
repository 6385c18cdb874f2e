"""`switchyard backoffice rebuild`: recompute the books from the beginning and compare.

1. Take one consistent snapshot of the live database: its state rows and the set of event
   ids it has seen.
2. Read the source from its beginning (every partition of the topic from offset 0 up to the
   high watermarks seen at start, without joining the group or committing anything; or the
   WAL from seq 1 to its durable watermark), and apply, into a scratch database, exactly the
   events the live snapshot had seen, through the same Store and Bookkeeper.
3. Compare the two states table by table. Because the books are a function of the set of
   events (bookkeeper.py), any difference is a real defect: an effect lost or doubled, a
   corrupted row, or an event the source no longer holds (reported separately).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from sqlalchemy import Engine, select

from . import queries
from . import schema as t
from .db import open_database
from .settings import BackofficeSettings
from .sources import WALEventSource
from .store import Store

READ_BATCH = 1000
KAFKA_IDLE_TIMEOUT_S = 10.0  # no message for this long before the high watermark: give up
SAMPLE_ROWS = 5


class _EventId(msgspec.Struct):
    eventId: str


_EVENT_ID = msgspec.json.Decoder(_EventId)


@dataclass
class RebuildReport:
    equal: bool
    events_read: int
    events_applied: int
    missing_from_source: int
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    scratch_url: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "eventsRead": self.events_read,
            "eventsApplied": self.events_applied,
            "missingFromSource": self.missing_from_source,
            "tables": self.tables,
            "scratchUrl": self.scratch_url,
            "seconds": round(self.seconds, 3),
        }


def live_snapshot(engine: Engine) -> tuple[set[str], dict[str, list[tuple[Any, ...]]]]:
    with queries.snapshot(engine) as connection:
        seen = set(connection.scalars(select(t.applied_events.c.event_id)))
        state = {name: queries.state_rows(connection, name) for name in queries.DIGEST_COLUMNS}
    return seen, state


def rebuild(settings: BackofficeSettings, *, scratch_url: str | None = None) -> RebuildReport:
    """Rebuild into `scratch_url` (default: a new SQLite file) and compare with the live books."""
    started = time.perf_counter()
    live = open_database(settings.db_url)
    try:
        seen, live_state = live_snapshot(live)
    finally:
        live.dispose()
    url = scratch_url or _scratch_sqlite_url()
    scratch = open_database(url)
    try:
        store = Store(scratch, currency=settings.currency, fee_bps=settings.fee_bps)
        read = applied = 0
        found: set[str] = set()
        batch: list[tuple[bytes, str]] = []
        for raw, position in _read_source(settings):
            read += 1
            event_id = _event_id(raw, position)
            if event_id not in seen or event_id in found:
                continue  # arrived after the snapshot, or a duplicate delivery
            found.add(event_id)
            batch.append((raw, position))
            if len(batch) >= READ_BATCH:
                applied += _apply(store, batch)
        applied += _apply(store, batch)
        _, rebuilt_state = live_snapshot(scratch)
    finally:
        scratch.dispose()
    tables = compare_states(live_state, rebuilt_state)
    missing = len(seen - found)
    equal = not tables and missing == 0
    if equal and scratch_url is None:
        shutil.rmtree(
            Path(url.removeprefix("sqlite:///")).parent
        )  # kept only to inspect a difference
        url = ""
    return RebuildReport(
        equal=equal,
        events_read=read,
        events_applied=applied,
        missing_from_source=missing,
        tables=tables,
        scratch_url=url,
        seconds=time.perf_counter() - started,
    )


def compare_states(
    live: dict[str, list[tuple[Any, ...]]], rebuilt: dict[str, list[tuple[Any, ...]]]
) -> dict[str, dict[str, Any]]:
    """Per table that differs: row counts and a few rows found on one side only."""
    differences: dict[str, dict[str, Any]] = {}
    for name in sorted(set(live) | set(rebuilt)):
        ours, theirs = live.get(name, []), rebuilt.get(name, [])
        if ours == theirs:
            continue
        only_live = sorted(set(ours) - set(theirs), key=repr)
        only_rebuilt = sorted(set(theirs) - set(ours), key=repr)
        differences[name] = {
            "liveRows": len(ours),
            "rebuiltRows": len(theirs),
            "onlyLive": [list(row) for row in only_live[:SAMPLE_ROWS]],
            "onlyRebuilt": [list(row) for row in only_rebuilt[:SAMPLE_ROWS]],
        }
    return differences


def _apply(store: Store, batch: list[tuple[bytes, str]]) -> int:
    if not batch:
        return 0
    count = len(batch)
    store.apply_batch(list(batch), now_ns=0)
    batch.clear()
    return count


def _event_id(raw: bytes, position: str) -> str:
    try:
        return _EVENT_ID.decode(raw).eventId
    except msgspec.DecodeError:
        return f"undecodable:{position}"


def _scratch_sqlite_url() -> str:
    directory = Path(tempfile.mkdtemp(prefix="backoffice-rebuild-"))
    return f"sqlite:///{directory / 'rebuild.db'}"


def _read_source(settings: BackofficeSettings) -> Iterator[tuple[bytes, str]]:
    if settings.kafka_bootstrap:
        yield from _read_topic(settings)
    else:
        yield from _read_wal(settings)


def _read_wal(settings: BackofficeSettings) -> Iterator[tuple[bytes, str]]:
    source = WALEventSource(settings.wal_dir, hmac_key=settings.hmac_key, cursor=None)
    try:
        while True:
            deliveries = source.poll(READ_BATCH, 0.0)
            if not deliveries:
                return
            source.commit()
            for delivery in deliveries:
                yield delivery.raw, delivery.position
    finally:
        source.close()


def _read_topic(settings: BackofficeSettings) -> Iterator[tuple[bytes, str]]:
    # Read each partition until the consumer reports its end (partition EOF) once. Every event
    # of the live snapshot was in the topic before we started, so it is read. (High
    # watermarks are not used: tansu reports them below the real end of the log.)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"backoffice-rebuild-{uuid.uuid4().hex[:8]}",  # never joined or committed
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        topic = settings.topic
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        pending = set(partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        idle_since = time.monotonic()
        while pending:
            if time.monotonic() - idle_since > KAFKA_IDLE_TIMEOUT_S:
                raise TimeoutError(
                    f"topic {topic}: partitions {sorted(pending)} never reached their end"
                )
            for message in consumer.consume(READ_BATCH, 0.5):
                idle_since = time.monotonic()
                partition = message.partition()
                assert partition is not None
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(partition)
                    continue
                if partition not in pending:
                    continue  # past the end we saw: arrived after the snapshot
                yield message.value() or b"", f"{topic}:{partition}:{message.offset()}"
    finally:
        consumer.close()
