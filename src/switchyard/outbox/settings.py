"""Settings of the outbox and the Kafka clients (read by the outbox and by the back office).

`KAFKA_BOOTSTRAP_SERVERS` enables the outbox in the gateway and Kafka consumption in the back
office; empty means "no Kafka" (the back office then tails the gateway's WAL). Names follow
the seed (`KAFKA_*`, `OUTBOX_OFFSET_PATH`, `OUTBOX_BACKOFF_BASE_MS` / `_MAX_MS`). Variables that
belong to other components (`SWITCHYARD_DATA_DIR`, `ENGINE_ID`) are read with `read_shared`,
never declared here, so the owner's declaration stays the only one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from switchyard.core import env

_SECTION = "Kafka and outbox"

KAFKA_BOOTSTRAP_SERVERS = env.declare(
    "KAFKA_BOOTSTRAP_SERVERS",
    "",
    "Kafka brokers (host:port,...). Set: the gateway runs the outbox and the back office "
    "consumes the topic. Empty: no Kafka; the back office tails the gateway's WAL.",
    env.text,
    section=_SECTION,
)
KAFKA_TOPIC = env.declare(
    "KAFKA_TOPIC", "switchyard.events", "Topic of the event envelopes.", env.text, section=_SECTION
)
KAFKA_CLIENT_ID = env.declare(
    "KAFKA_CLIENT_ID",
    "switchyard-outbox",
    "client.id of the outbox producer.",
    env.text,
    section=_SECTION,
)
KAFKA_TOPIC_PARTITIONS = env.declare(
    "KAFKA_TOPIC_PARTITIONS",
    "3",
    "Partitions when the outbox or the back office creates the topic (only if missing).",
    env.integer(1, 10_000),
    section=_SECTION,
)
OUTBOX_OFFSET_PATH = env.declare(
    "OUTBOX_OFFSET_PATH",
    "",
    "The outbox position file (fsynced). Empty: <data dir>/outbox/offset.",
    env.text,
    section=_SECTION,
)
OUTBOX_BACKOFF_BASE_MS = env.declare(
    "OUTBOX_BACKOFF_BASE_MS",
    "200",
    "First retry delay after a Kafka failure; doubles per failure up to OUTBOX_BACKOFF_MAX_MS.",
    env.integer(1, 600_000),
    section=_SECTION,
)
OUTBOX_BACKOFF_MAX_MS = env.declare(
    "OUTBOX_BACKOFF_MAX_MS",
    "5000",
    "Longest retry delay while Kafka is down.",
    env.integer(1, 3_600_000),
    section=_SECTION,
)
OUTBOX_DELIVERY_TIMEOUT_MS = env.declare(
    "OUTBOX_DELIVERY_TIMEOUT_MS",
    "10000",
    "How long the producer tries one message before reporting failure (message.timeout.ms).",
    env.integer(1000, 600_000),
    section=_SECTION,
)
OUTBOX_LINGER_MS = env.declare(
    "OUTBOX_LINGER_MS",
    "2",
    "Producer batching delay (linger.ms): latency traded for throughput.",
    env.integer(0, 1000),
    section=_SECTION,
)
OUTBOX_INFLIGHT_MAX = env.declare(
    "OUTBOX_INFLIGHT_MAX",
    "50000",
    "Records handed to the producer and not yet acknowledged; the outbox stops reading beyond.",
    env.integer(1, 1_000_000),
    section=_SECTION,
)
OUTBOX_OFFSET_FLUSH_MS = env.declare(
    "OUTBOX_OFFSET_FLUSH_MS",
    "100",
    "Least interval between two offset file writes (each is a write + fsync + rename); under "
    "continuous load also how often the outbox pauses to flush and prove its acknowledged "
    "watermark (at least 10 ms). It bounds how much is re-sent after a crash, never what is lost.",
    env.integer(0, 60_000),
    section=_SECTION,
)
OUTBOX_POLL_INTERVAL_MS = env.declare(
    "OUTBOX_POLL_INTERVAL_MS",
    "2",
    "How often an idle outbox looks for new durable records (the gateway also wakes it).",
    env.integer(1, 10_000),
    section=_SECTION,
)
OUTBOX_COMPRESSION = env.declare(
    "OUTBOX_COMPRESSION",
    "lz4",
    "Producer compression.type.",
    env.choice("none", "gzip", "snappy", "lz4", "zstd"),
    section=_SECTION,
)

DEFAULT_ENGINE_ID = "gw1"  # only when neither the WAL (SessionStarted) nor the caller names one


def read_shared(name: str, default: str, environ: Mapping[str, str]) -> str:
    """A variable declared by another component, read through its declaration if loaded."""
    declared = env.REGISTRY.get(name)
    if declared is not None:
        return str(declared.read(environ))
    return environ.get(name, default).strip()


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    bootstrap_servers: str
    topic: str
    client_id: str
    topic_partitions: int
    offset_path: Path
    backoff_base_ms: int
    backoff_max_ms: int
    delivery_timeout_ms: int
    linger_ms: int
    inflight_max: int
    offset_flush_ms: int
    poll_interval_ms: int
    compression: str
    batch_records_max: int = 512  # records read from the WAL per cycle
    # sleep(0) after each batch, so an event loop in the same process gets the GIL within a
    # batch's time rather than the interpreter's switch interval (5 ms). It costs: measured,
    # 23-33 ms of a 0.17 s run of 100,000 records (bench/outbox). The stand-alone process
    # (python -m switchyard.outbox) has no loop to yield to and turns it off.
    yield_between_batches: bool = True

    def __post_init__(self) -> None:
        assert self.backoff_base_ms <= self.backoff_max_ms, "backoff base above its maximum"
        assert self.batch_records_max >= 1

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, data_dir: Path, shares_event_loop: bool = True
    ) -> OutboxSettings:
        """`shares_event_loop`: the outbox runs beside a gateway's event loop (in its process)."""
        base = OUTBOX_BACKOFF_BASE_MS.read(environ)
        maximum = OUTBOX_BACKOFF_MAX_MS.read(environ)
        if base > maximum:
            raise env.ConfigError(
                f"OUTBOX_BACKOFF_BASE_MS={base} is above OUTBOX_BACKOFF_MAX_MS={maximum}"
            )
        offset_path = OUTBOX_OFFSET_PATH.read(environ)
        return cls(
            bootstrap_servers=KAFKA_BOOTSTRAP_SERVERS.read(environ),
            topic=KAFKA_TOPIC.read(environ),
            client_id=KAFKA_CLIENT_ID.read(environ),
            topic_partitions=KAFKA_TOPIC_PARTITIONS.read(environ),
            offset_path=Path(offset_path) if offset_path else data_dir / "outbox" / "offset",
            backoff_base_ms=base,
            backoff_max_ms=maximum,
            delivery_timeout_ms=OUTBOX_DELIVERY_TIMEOUT_MS.read(environ),
            linger_ms=OUTBOX_LINGER_MS.read(environ),
            inflight_max=OUTBOX_INFLIGHT_MAX.read(environ),
            offset_flush_ms=OUTBOX_OFFSET_FLUSH_MS.read(environ),
            poll_interval_ms=OUTBOX_POLL_INTERVAL_MS.read(environ),
            compression=OUTBOX_COMPRESSION.read(environ),
            yield_between_batches=shares_event_loop,
        )
