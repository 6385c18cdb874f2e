"""The outbox: durable WAL records to Kafka, at least once (DESIGN §6).

`Outbox.from_env(environ, wal_dir, hmac_key)` returns None when Kafka is not configured;
otherwise `start()`, `notify()` after each durable batch, `stats()`, `await close()`.
"""

from .envelope import SCHEMA_VERSION, EnvelopeEncoder, event_id, kafka_key, source_name
from .metrics import OutboxCollector
from .offset_file import OffsetFile, OutboxPosition
from .publisher import Outbox, OutboxState, wal_identity
from .settings import OutboxSettings

__all__ = [
    "SCHEMA_VERSION",
    "EnvelopeEncoder",
    "OffsetFile",
    "Outbox",
    "OutboxCollector",
    "OutboxPosition",
    "OutboxSettings",
    "OutboxState",
    "event_id",
    "kafka_key",
    "source_name",
    "wal_identity",
]
