"""Outbox and back office benchmark: WAL -> Kafka throughput next to a bare producer, end-to-end
lag (WAL durable -> back office applied), and what the outbox thread costs the event loop.

Run: `make bench-outbox` (or `.venv/bin/python -m bench.outbox.run --help`). Starts its own
tansu broker on a free loopback port. Phases:

1. throughput: the same N envelopes (a seeded order flow, ~370 B each, with the WAL record's
   timestamp) are sent
   (a) by a bare confluent-kafka producer (pre-encoded bytes, produce + a poll per 512 +
   flush) and
   (b) by the Outbox from a real WAL written by the Journal (read, verify the chain, decode,
   encode, produce, prove the acknowledged watermark, store the offset file), with the
   settings of `python -m switchyard.outbox` (how production runs it) and
   (c) the same with the settings it has inside a gateway (it offers the GIL to the event
   loop after each batch). Same producer settings (idempotent, acks=all, linger, lz4,
   failures-only delivery reports), all warmed up the same way, fresh topic each, interleaved
   `--repeats` times; the medians are reported with their ratios (target >= 0.70 for (b)).
2. lag: a writer thread appends to the Journal at `--rate` records/s (group commit, fdatasync
   inline) and notifies the outbox; a back office apply loop (Kafka consumer group, SQLite)
   commits each batch; per event, lag = commit time - the time its WAL batch became durable.
   Also with the WAL source (no Kafka). p50/p90/p99/max in ms.
3. loop: an asyncio loop runs a 1 ms timer probe and a busy counter of small callbacks, first
   alone, then while the outbox thread publishes a backlog flat out (the worst case: both want
   the interpreter lock all the time), then while `python -m switchyard.outbox` does the same
   from its own process: lateness p50/p99 and callbacks/s.
4. apply: the back office's `Store.apply_batch` alone (no source, no other thread) on a fresh
   SQLite file and on each `--apply-db-url` (an empty database), `--apply-records` envelopes
   in batches of 500: events/s of the first and the second half.

The machine is shared and small (2 cores, tansu and the clients on it): numbers are noisy;
compare within one run. Results go to bench/results/outbox.json (or --out).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
from confluent_kafka import Producer
from sqlalchemy.engine import make_url
from tests.fixtures.backoffice import envelopes, order_flow
from tests.fixtures.kafka import TansuBroker, create_topic, start_broker

from switchyard.adapters.disk_os import OsDisk
from switchyard.backoffice.consumer import ApplyLoop
from switchyard.backoffice.db import open_database
from switchyard.backoffice.sources import Delivery, KafkaEventSource, WALEventSource
from switchyard.backoffice.store import BatchResult, Store
from switchyard.outbox import (
    EnvelopeEncoder,
    OffsetFile,
    Outbox,
    OutboxSettings,
    source_name,
)
from switchyard.outbox.publisher import SystemClock
from switchyard.wal import WALReader
from switchyard.wal.flushers import InlineFlusher
from switchyard.wal.journal import Journal
from switchyard.wal.payload import encode_payload
from switchyard.wal.settings import JournalSettings

PRODUCER = {  # what the outbox sets too (publisher.Outbox._new_producer)
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 2,
    "compression.type": "lz4",
    "delivery.report.only.error": True,
}
WARM_UP_TOPIC = "bench.warmup"
PHASES = ("throughput", "lag", "loop", "apply")


class _Seq(msgspec.Struct):
    seq: int


_SEQ = msgspec.json.Decoder(_Seq)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def flow(records: int, seed: int = 1) -> list[tuple[int, int, Any]]:
    items: list[tuple[int, int, Any]] = []
    orders = max(1, records // 5)
    while len(items) < records:
        items, _ = order_flow(seed=seed, orders=orders, accounts=50, symbols=("XYZ", "ABC", "DEF"))
        orders = int(orders * 1.3) + 1
    return items[:records]


class WALWriterThread:
    """Appends records to a real Journal (inline flusher: write + fdatasync per commit)."""

    def __init__(self, wal_dir: Path) -> None:
        self.durable_ns: dict[int, int] = {}
        self._last_durable = 0
        self.on_durable_hook: Any = None
        settings = JournalSettings(flusher="inline", max_batch=256, max_wait_us=0)
        self.journal = Journal.open(
            wal_dir,
            disk=OsDisk(),
            settings=settings,
            clock=SystemClock(),
            flusher=InlineFlusher(),
            on_durable=self._durable,
            on_fatal=self._fatal,
        )
        self.wal_id = self.journal.wal_id

    def _durable(self, seq: int) -> None:
        now = time.time_ns()
        for s in range(self._last_durable + 1, seq + 1):
            self.durable_ns[s] = now
        self._last_durable = seq
        if self.on_durable_hook is not None:
            self.on_durable_hook()

    def _fatal(self, error: BaseException) -> None:
        raise SystemExit(f"WAL failed: {error}")

    def write(self, items: list[tuple[int, int, Any]], *, batch: int = 256) -> None:
        for start in range(0, len(items), batch):
            self.append(items[start : start + batch])

    def append(self, chunk: list[tuple[int, int, Any]]) -> None:
        for seq, _, record in chunk:
            self.journal.append(
                seq, int(record.record_type), time.time_ns(), encode_payload(record)
            )
        self.journal.commit()

    def close(self) -> None:
        asyncio.run(self.journal.close())


def outbox_settings(bootstrap: str, topic: str, offset_path: Path) -> OutboxSettings:
    return OutboxSettings(
        bootstrap_servers=bootstrap,
        topic=topic,
        client_id="bench-outbox",
        topic_partitions=3,
        offset_path=offset_path,
        backoff_base_ms=100,
        backoff_max_ms=2000,
        delivery_timeout_ms=30_000,
        linger_ms=PRODUCER["linger.ms"],  # type: ignore[arg-type]
        inflight_max=50_000,
        offset_flush_ms=100,
        poll_interval_ms=2,
        compression="lz4",
    )


# --- phase 1: throughput ----------------------------------------------------------------------


def warm_up(producer: Producer, topic: str) -> None:
    """Fetch `topic`'s metadata and wait for one delivery to another topic.

    Both producers (bare and the outbox's) are warmed up the same way before the clock starts.
    Without the metadata librdkafka holds the first batch 0.5-1 s; without a first delivery an
    idempotent producer may still be waiting for its producer id, which it asks for again only
    every 500 ms: measured, 0.5 or 1.0 s before the first delivery in 5 of 8 fresh producers
    (against 2 ms after a warm-up delivery). One such stall in a run of 100,000 records is
    several times the run itself, and it hit the bare producer harder than the outbox (which
    overlaps it with its own CPU work), so it is kept out of both.
    """
    producer.list_topics(topic, timeout=5)
    errors: list[object] = []  # the outbox's producer reports failures only
    producer.produce(WARM_UP_TOPIC, b"warm-up", on_delivery=lambda e, _m: e and errors.append(e))
    remaining = producer.flush(10)
    assert remaining == 0, "warm-up message not delivered within 10 s"
    assert not errors, f"warm-up delivery failed: {errors}"


class WarmOutbox(Outbox):
    """The Outbox with its producer warmed up by `warm_up` before it reads its first record.

    `ready_at` / `ready_cpu`: perf_counter and process CPU time when the warm-up ended, i.e.
    just before the first record is read: the outbox's clock starts there, as the bare
    producer's starts just before its first produce. `finished` is set, and `finished_at` /
    `finished_cpu` taken, by the outbox's own thread once every seq up to `until_seq` is
    acknowledged: the benchmark's thread waits on it asleep, as the stand-alone process's main
    thread does. (It polled `acked_seq` every 0.5 ms before: 2,000 requests a second for the
    GIL that the bare producer never had to serve.)
    """

    ready_at = 0.0
    ready_cpu = 0.0
    finished_at = 0.0
    finished_cpu = 0.0
    until_seq = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.finished = threading.Event()

    def _warm_up(self, producer: Producer) -> None:
        super()._warm_up(producer)
        warm_up(producer, self.settings.topic)
        self.ready_cpu = time.process_time()
        self.ready_at = time.perf_counter()

    def _advance(self, producer: Producer) -> None:
        super()._advance(producer)
        if self.acked_seq >= self.until_seq and not self.finished.is_set():
            self.finished_at = time.perf_counter()
            self.finished_cpu = time.process_time()
            self.finished.set()


def bare_rate(bootstrap: str, messages: list[tuple[bytes, bytes, int]]) -> dict[str, float]:
    """Acknowledged messages per second, from the first produce to the last acknowledgement.

    The same producer settings as the outbox's (PRODUCER, failures-only delivery reports) and
    the same calls: produce() with positional arguments, a poll(0) per 512 messages (the
    outbox's batch), flush() at the end; flush() returning 0 with no failure reported means
    every message was acknowledged.
    """
    topic = f"bench.bare.{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, partitions=3)
    errors: list[object] = []
    producer = Producer(
        {"bootstrap.servers": bootstrap, **PRODUCER, "on_delivery": lambda e, _m: errors.append(e)}
    )
    warm_up(producer, topic)
    produce, poll = producer.produce, producer.poll
    cpu_before = time.process_time()
    started = time.perf_counter()
    for index, (key, value, timestamp_ms) in enumerate(messages):
        while True:
            try:
                produce(topic, value, key, -1, None, None, timestamp_ms)
                break
            except BufferError:
                poll(0.01)
        if index % 512 == 511:
            poll(0)
    remaining = producer.flush(60)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    assert remaining == 0, f"bare producer: {remaining} messages not delivered"
    assert not errors, f"bare producer: delivery failed: {errors[:3]}"
    return {
        "rate": len(messages) / elapsed,
        "processCpuSecondsPerRecordUs": cpu / len(messages) * 1e6,
    }


def outbox_rate(
    bootstrap: str, wal_dir: Path, records: int, work: Path, *, shares_event_loop: bool
) -> dict[str, float]:
    """Records per second from the outbox's first read to its proof that all were acknowledged.

    `shares_event_loop`: the settings of an outbox inside the gateway (it offers the GIL to the
    event loop after each batch) or of `python -m switchyard.outbox` (it does not).
    """
    topic = f"bench.outbox.{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, partitions=3)
    settings = dataclasses.replace(
        outbox_settings(bootstrap, topic, work / f"offset-{topic}"),
        yield_between_batches=shares_event_loop,
    )
    outbox = WarmOutbox(settings, wal_dir=wal_dir, hmac_key=None)
    outbox.until_seq = records
    outbox.start()
    finished = outbox.finished.wait(120)
    outbox.close_blocking(10)
    assert finished, f"outbox: {outbox.acked_seq} of {records} records acknowledged in 120 s"
    elapsed = outbox.finished_at - outbox.ready_at
    cpu = outbox.finished_cpu - outbox.ready_cpu
    return {"rate": records / elapsed, "processCpuSecondsPerRecordUs": cpu / records * 1e6}


def phase_throughput(broker: TansuBroker, records: int, repeats: int, work: Path) -> dict[str, Any]:
    items = flow(records)
    wal_dir = work / "wal-throughput"
    writer = WALWriterThread(wal_dir)
    writer.write(items)
    writer.close()
    encoder = EnvelopeEncoder(source_name("gw1", writer.wal_id))
    wal_ts_ns = [record.ts_ns for record in WALReader(wal_dir, hmac_key=None).iter_from(1)]
    messages = [  # what the outbox sends: key, envelope and the WAL record's time (ms)
        (*encoder.encode_keyed(record, seq=seq, ts_ns=ts_ns), ts_ns // 10**6)
        for (seq, _, record), ts_ns in zip(items, wal_ts_ns, strict=True)
    ]
    bare, own, shared, bare_cpu, own_cpu, shared_cpu = [], [], [], [], [], []
    for _ in range(repeats):  # interleaved, so a slow spell of the box hits all three
        plain = bare_rate(broker.bootstrap, messages)
        bare.append(plain["rate"])
        bare_cpu.append(plain["processCpuSecondsPerRecordUs"])
        result = outbox_rate(broker.bootstrap, wal_dir, records, work, shares_event_loop=False)
        own.append(result["rate"])
        own_cpu.append(result["processCpuSecondsPerRecordUs"])
        result = outbox_rate(broker.bootstrap, wal_dir, records, work, shares_event_loop=True)
        shared.append(result["rate"])
        shared_cpu.append(result["processCpuSecondsPerRecordUs"])
    bare_median = statistics.median(bare)
    return {
        "records": records,
        "meanEnvelopeBytes": round(sum(len(v) for _, v, _ in messages) / len(messages), 1),
        "bareProducerPerSec": [round(r) for r in bare],
        "outboxPerSec": [round(r) for r in own],
        "outboxInGatewayPerSec": [round(r) for r in shared],
        "bareMedianPerSec": round(bare_median),
        "outboxMedianPerSec": round(statistics.median(own)),
        "outboxInGatewayMedianPerSec": round(statistics.median(shared)),
        # the outbox as production runs it (python -m switchyard.outbox, docs/BACKOFFICE.md)
        "ratio": round(statistics.median(own) / bare_median, 3),
        # the same code inside a gateway: it offers the GIL to the event loop after each batch
        "ratioInGateway": round(statistics.median(shared) / bare_median, 3),
        "ratioPerRepeat": [round(o / b, 3) for o, b in zip(own, bare, strict=True)],
        "target": 0.70,
        "outboxProcessCpuUsPerRecord": round(statistics.median(own_cpu), 2),
        "outboxInGatewayProcessCpuUsPerRecord": round(statistics.median(shared_cpu), 2),
        "bareProcessCpuUsPerRecord": round(statistics.median(bare_cpu), 2),
    }


# --- phase 2: end-to-end lag ------------------------------------------------------------------


def run_lag(
    broker: TansuBroker | None, rate: int, seconds: float, work: Path, label: str
) -> dict[str, Any]:
    items = flow(int(rate * seconds), seed=7)
    wal_dir = work / f"wal-{label}"
    writer = WALWriterThread(wal_dir)
    lags_ms: list[float] = []
    durable = writer.durable_ns

    def committed(deliveries: list[Delivery], _result: BatchResult, committed_ns: int) -> None:
        for delivery in deliveries:
            seq = _SEQ.decode(delivery.raw).seq
            lags_ms.append((committed_ns - durable[seq]) / 1e6)

    engine = open_database(f"sqlite:///{work / f'bo-{label}.db'}")
    store = Store(engine, currency="JPY", fee_bps=0)
    outbox = None
    if broker is not None:
        topic = f"bench.lag.{uuid.uuid4().hex[:8]}"
        create_topic(broker.bootstrap, topic, partitions=3)
        outbox = Outbox(
            outbox_settings(broker.bootstrap, topic, work / f"offset-{label}"),
            wal_dir=wal_dir,
            hmac_key=None,
        )
        outbox.start()
        writer.on_durable_hook = outbox.notify

        def source() -> Any:
            return KafkaEventSource(
                bootstrap=broker.bootstrap,
                topic=topic,
                group_id=f"bench-{topic}",
                session_timeout_ms=6000,
            )
    else:

        def source() -> Any:
            return WALEventSource(wal_dir, hmac_key=None, cursor=None)

    loop = ApplyLoop(store, source, clock=SystemClock(), batch_max=500, on_committed=committed)
    loop.start()
    if broker is not None:  # let the group join (session.timeout.ms / 2 on tansu) before timing
        writer.write(items[:1])
        while len(lags_ms) < 1:
            time.sleep(0.01)
        lags_ms.clear()
        start_index = 1
    else:
        start_index = 0
    interval = 0.002
    per_tick = max(1, int(rate * interval))
    next_tick = time.perf_counter()
    index = start_index
    while index < len(items):
        writer.append(items[index : index + per_tick])
        index += per_tick
        next_tick += interval
        delay = next_tick - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    deadline = time.monotonic() + 60
    while len(lags_ms) < len(items) - start_index and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.stop()
    if outbox is not None:
        outbox.close_blocking(10)
    writer.close()
    engine.dispose()
    return {
        "source": label,
        "targetRatePerSec": rate,
        "events": len(lags_ms),
        "lagMs": {
            "p50": round(pct(lags_ms, 50), 2),
            "p90": round(pct(lags_ms, 90), 2),
            "p99": round(pct(lags_ms, 99), 2),
            "max": round(max(lags_ms, default=float("nan")), 2),
        },
    }


# --- phase 4: the back office's apply rate ---------------------------------------------------


def phase_apply(records: int, work: Path, db_urls: list[str], batch: int) -> list[dict[str, Any]]:
    """Events/s of `Store.apply_batch` alone (no source, no other thread), per database.

    The envelopes of a seeded order flow (about half of them fills) are applied in batches of
    `batch` (the back office's BACKOFFICE_BATCH_MAX) to a fresh database; the rate of the first
    and the second half are reported apart, since the second half runs against a fuller one.
    """
    raws = envelopes(flow(records, seed=7))
    results = []
    for url in db_urls:
        engine = open_database(url)
        store = Store(engine, currency="JPY", fee_bps=0)
        halves = []
        booked = 0  # events applied or recorded: none quarantined, parked or duplicate
        for low, high in ((0, records // 2), (records // 2, records)):
            started = time.perf_counter()
            for start in range(low, high, batch):
                chunk = raws[start : min(start + batch, high)]
                positions = [str(start + offset) for offset in range(len(chunk))]
                items = list(zip(chunk, positions, strict=True))
                counts = store.apply_batch(items, now_ns=time.time_ns()).counts
                booked += counts.applied + counts.recorded
            halves.append(round((high - low) / (time.perf_counter() - started)))
        engine.dispose()
        assert booked == records, f"{url}: {booked} of {records} events booked"
        results.append(
            {
                "database": make_url(url).get_backend_name(),
                "events": records,
                "batch": batch,
                "eventsPerSecFirstHalf": halves[0],
                "eventsPerSecSecondHalf": halves[1],
            }
        )
    return results


# --- phase 3: event-loop cost -----------------------------------------------------------------


async def _probe(seconds: float) -> dict[str, float]:
    lateness: list[float] = []
    counter = [0]
    loop = asyncio.get_running_loop()
    stop = loop.time() + seconds

    def busy() -> None:
        counter[0] += 1
        if loop.time() < stop:
            loop.call_soon(busy)

    loop.call_soon(busy)
    while loop.time() < stop:
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lateness.append((time.perf_counter() - before - 0.001) * 1e3)
    return {
        "timerLatenessP50Ms": round(pct(lateness, 50), 3),
        "timerLatenessP99Ms": round(pct(lateness, 99), 3),
        "callbacksPerSec": round(counter[0] / seconds),
    }


def phase_loop(broker: TansuBroker, records: int, work: Path, seconds: float) -> dict[str, Any]:
    alone = asyncio.run(_probe(seconds))
    items = flow(records, seed=3)
    wal_dir = work / "wal-loop"
    writer = WALWriterThread(wal_dir)
    writer.write(items)
    writer.close()
    topic = f"bench.loop.{uuid.uuid4().hex[:8]}"
    create_topic(broker.bootstrap, topic, partitions=3)
    outbox = Outbox(
        outbox_settings(broker.bootstrap, topic, work / "offset-loop"),
        wal_dir=wal_dir,
        hmac_key=None,
    )
    outbox.start()
    while outbox.records_read == 0:
        time.sleep(0.0002)
    busy = asyncio.run(_probe(seconds))
    published = outbox.acked_seq
    outbox.close_blocking(10)
    separate = _probe_with_outbox_process(broker, work, seconds)
    return {
        "alone": alone,
        "whileOutboxThreadPublishes": busy,
        "recordsPublishedDuringProbe": published,
        "callbacksRatio": round(busy["callbacksPerSec"] / alone["callbacksPerSec"], 3),
        "whileOutboxProcessPublishes": separate,
        "callbacksRatioProcess": round(separate["callbacksPerSec"] / alone["callbacksPerSec"], 3),
    }


def _probe_with_outbox_process(broker: TansuBroker, work: Path, seconds: float) -> dict[str, float]:
    """The same probe while `python -m switchyard.outbox` publishes the WAL from its own process."""
    topic = f"bench.loop.{uuid.uuid4().hex[:8]}"
    create_topic(broker.bootstrap, topic, partitions=3)
    data_dir = work / "loop-process"
    data_dir.mkdir()
    (data_dir / "wal").symlink_to(work / "wal-loop")
    environ = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        KAFKA_TOPIC=topic,
        OUTBOX_OFFSET_PATH=str(data_dir / "offset"),
        OUTBOX_LINGER_MS=str(PRODUCER["linger.ms"]),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "switchyard.outbox", "--data-dir", str(data_dir)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        offset = OffsetFile(data_dir / "offset")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # publishing has begun once an offset is stored
            result = offset.load(now_ms=0)
            if result.position is not None and result.position.seq > 0:
                break
            time.sleep(0.005)
        return asyncio.run(_probe(seconds))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rate", type=int, default=2_000, help="lag phase: records/s written")
    parser.add_argument("--seconds", type=float, default=10.0, help="lag phase duration")
    parser.add_argument("--loop-seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/outbox.json"))
    parser.add_argument(
        "--phases", default=",".join(PHASES), help="comma-separated subset of: " + ",".join(PHASES)
    )
    parser.add_argument(
        "--apply-db-url",
        action="append",
        default=[],
        help="apply phase: also a database of this URL, which must be empty "
        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/scratch); SQLite always",
    )
    parser.add_argument("--apply-records", type=int, default=30_000)
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    assert phases <= set(PHASES), f"unknown phase in {args.phases!r}"
    work = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    broker = start_broker(work)
    try:
        result: dict[str, Any] = {
            "benchmark": "outbox",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "loadavg": os.getloadavg(),
            },
            "producerConfig": PRODUCER,
        }
        create_topic(broker.bootstrap, WARM_UP_TOPIC, partitions=1)
        if "throughput" in phases:
            result["throughput"] = phase_throughput(broker, args.records, args.repeats, work)
            print(json.dumps(result["throughput"]), flush=True)
        if "lag" in phases:
            result["lag"] = [
                run_lag(broker, args.rate, args.seconds, work, "kafka"),
                run_lag(None, args.rate, args.seconds, work, "wal"),
            ]
            print(json.dumps(result["lag"]), flush=True)
        if "loop" in phases:
            result["loop"] = phase_loop(broker, args.records, work, args.loop_seconds)
            print(json.dumps(result["loop"]), flush=True)
        if "apply" in phases:
            urls = [f"sqlite:///{work / 'apply.db'}", *args.apply_db_url]
            result["apply"] = phase_apply(args.apply_records, work, urls, batch=500)
            print(json.dumps(result["apply"]), flush=True)
        result["machine"]["loadavgAfter"] = os.getloadavg()
    finally:
        broker.kill()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
