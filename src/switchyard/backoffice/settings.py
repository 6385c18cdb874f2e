"""Settings of the back office service (`switchyard backoffice`).

Kafka names (`KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_TOPIC`) are declared by the outbox and read
here; the WAL chain key (`AUDIT_HMAC_KEY`) by the WAL; JWT settings by adapters.auth.
`SWITCHYARD_DATA_DIR` belongs to the gateway and is read through `read_shared`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from switchyard.core import env
from switchyard.outbox.settings import (
    KAFKA_BOOTSTRAP_SERVERS,
    KAFKA_TOPIC,
    KAFKA_TOPIC_PARTITIONS,
    read_shared,
)
from switchyard.wal.settings import HMAC_KEY

_SECTION = "back office"

BACKOFFICE_PORT = env.declare(
    "BACKOFFICE_PORT",
    "8082",
    "HTTP port of the back office.",
    env.integer(0, 65535),
    section=_SECTION,
)
BACKOFFICE_HOST = env.declare(
    "BACKOFFICE_HOST",
    "127.0.0.1",
    "Address the back office listens on.",
    env.text,
    section=_SECTION,
)
APP_DB_URL = env.declare(
    "APP_DB_URL",
    "",
    "SQLAlchemy URL of the back office (and strategy config) database, e.g. "
    "postgresql+psycopg://user@host/db. Empty: SQLite files under SWITCHYARD_DATA_DIR.",
    env.text,
    section=_SECTION,
)
KAFKA_GROUP_ID = env.declare(
    "KAFKA_GROUP_ID", "backoffice", "Consumer group of the back office.", env.text, section=_SECTION
)
KAFKA_SESSION_TIMEOUT_MS = env.declare(
    "KAFKA_SESSION_TIMEOUT_MS",
    "6000",
    "Consumer session.timeout.ms (tansu joins a group after half of it; Kafka's minimum is 6000).",
    env.integer(1000, 300_000),
    section=_SECTION,
)
GATEWAY_URL = env.declare(
    "GATEWAY_URL",
    "http://127.0.0.1:8080",
    "Where the back office finds the gateway for /reconcile.",
    env.text,
    section=_SECTION,
)
BACKOFFICE_WAL_DIR = env.declare(
    "BACKOFFICE_WAL_DIR",
    "",
    "The gateway WAL to tail when no Kafka is configured. Empty: $SWITCHYARD_DATA_DIR/wal.",
    env.text,
    section=_SECTION,
)
BACKOFFICE_QUOTE_CCY = env.declare(
    "BACKOFFICE_QUOTE_CCY",
    "JPY",
    "Currency of cash amounts (one cash unit = one price tick times one lot).",
    env.text,
    section=_SECTION,
)
BACKOFFICE_FEE_BPS = env.declare(
    "BACKOFFICE_FEE_BPS",
    "0",
    "Fee per fill in basis points of its notional, rounded up to a whole cash unit.",
    env.integer(0, 10_000),
    section=_SECTION,
)
BACKOFFICE_BATCH_MAX = env.declare(
    "BACKOFFICE_BATCH_MAX",
    "500",
    "Events applied per database transaction (at most).",
    env.integer(1, 10_000),
    section=_SECTION,
)
BACKOFFICE_RECONCILE_WAIT_MS = env.declare(
    "BACKOFFICE_RECONCILE_WAIT_MS",
    "5000",
    "How long /reconcile waits for the back office to apply everything the gateway has.",
    env.integer(0, 120_000),
    section=_SECTION,
)


@dataclass(frozen=True, slots=True)
class BackofficeSettings:
    host: str
    port: int
    db_url: str
    kafka_bootstrap: str
    topic: str
    topic_partitions: int
    group_id: str
    session_timeout_ms: int
    wal_dir: Path
    hmac_key: bytes | None
    gateway_url: str
    currency: str
    fee_bps: int
    batch_max: int
    reconcile_wait_ms: int
    data_dir: Path

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, data_dir: Path | None = None
    ) -> BackofficeSettings:
        data = data_dir or Path(read_shared("SWITCHYARD_DATA_DIR", "./var", environ) or "./var")
        wal_dir = BACKOFFICE_WAL_DIR.read(environ)
        currency = BACKOFFICE_QUOTE_CCY.read(environ)
        if not currency or not currency.isalnum() or len(currency) > 8:
            raise env.ConfigError(f"BACKOFFICE_QUOTE_CCY={currency!r}: 1-8 letters or digits")
        return cls(
            host=BACKOFFICE_HOST.read(environ),
            port=BACKOFFICE_PORT.read(environ),
            db_url=APP_DB_URL.read(environ) or default_db_url(data),
            kafka_bootstrap=KAFKA_BOOTSTRAP_SERVERS.read(environ),
            topic=KAFKA_TOPIC.read(environ),
            topic_partitions=KAFKA_TOPIC_PARTITIONS.read(environ),
            group_id=KAFKA_GROUP_ID.read(environ),
            session_timeout_ms=KAFKA_SESSION_TIMEOUT_MS.read(environ),
            wal_dir=Path(wal_dir) if wal_dir else data / "wal",
            hmac_key=HMAC_KEY.read(environ),
            gateway_url=GATEWAY_URL.read(environ).rstrip("/"),
            currency=currency,
            fee_bps=BACKOFFICE_FEE_BPS.read(environ),
            batch_max=BACKOFFICE_BATCH_MAX.read(environ),
            reconcile_wait_ms=BACKOFFICE_RECONCILE_WAIT_MS.read(environ),
            data_dir=data,
        )


def default_db_url(data_dir: Path) -> str:
    """SQLite at <data dir>/backoffice.db (the data directory layout of switchyard.datadir)."""
    return f"sqlite:///{(data_dir / 'backoffice.db').resolve()}"
