"""The gateway's own settings (the ones no single component owns), read once at start.

Component settings live with their components (risk/config.py, wal/settings.py,
venue/settings.py, ...); all are declared in core.env and listed in the README.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from switchyard.core import env
from switchyard.core import limits as L

_S = "gateway"
GATEWAY_HOST = env.declare(
    "GATEWAY_HOST",
    "0.0.0.0",  # noqa: S104 - a server; containers need it; the dev secret is per install
    "Address the gateway listens on",
    env.text,
    section=_S,
)
GATEWAY_PORT = env.declare(
    "GATEWAY_PORT", "8080", "HTTP port of the gateway", env.integer(0, 65535), section=_S
)
ENGINE_ID = env.declare(
    "ENGINE_ID",
    "e1",
    "This engine's id: prefix of order ids, event ids and its etcd registration",
    env.text,
    section=_S,
)
IDEMPOTENCY_TTL_SEC = env.declare(
    "IDEMPOTENCY_TTL_SEC",
    "86400",
    "How long an idempotency key is remembered (0 = until evicted by GATEWAY_IDEMPOTENCY_MAX)",
    env.integer(0, 30 * 86400),
    section=_S,
)
IDEMPOTENCY_MAX = env.declare(
    "GATEWAY_IDEMPOTENCY_MAX",
    str(L.IDEMPOTENCY_ENTRIES_MAX),
    "Idempotency keys kept in memory; beyond it the oldest are forgotten (counted)",
    env.integer(1000, 100_000_000),
    section=_S,
)
ORDERS_RETAINED_MAX = env.declare(
    "GATEWAY_ORDERS_RETAINED_MAX",
    str(L.ORDERS_RETAINED_MAX),
    "Terminal orders kept in memory for GET /orders; older ones are in the WAL only",
    env.integer(100, 100_000_000),
    section=_S,
)
ORDERS_OPEN_MAX = env.declare(
    "GATEWAY_ORDERS_OPEN_MAX",
    str(L.ORDERS_OPEN_MAX),
    "Live orders the gateway holds; beyond it new orders get 503 CAPACITY_EXCEEDED",
    env.integer(1, 100_000_000),
    section=_S,
)
MAX_CONNECTIONS = env.declare(
    "GATEWAY_MAX_CONNECTIONS",
    str(L.HTTP_CONNECTIONS_MAX),
    "Open HTTP connections; beyond it new ones get 503 and are closed",
    env.integer(1, 1_000_000),
    section=_S,
)
BODY_MAX_BYTES = env.declare(
    "GATEWAY_BODY_MAX_BYTES",
    str(L.HTTP_BODY_SIZE_MAX_BYTES),
    "Largest request body (413 above, refused before it is read)",
    env.integer(1024, 16 * 1024 * 1024),
    section=_S,
)
HEADER_TIMEOUT_MS = env.declare(
    "GATEWAY_HEADER_TIMEOUT_MS",
    str(int(L.HTTP_HEADER_TIMEOUT_S * 1000)),
    "A request head must arrive within this (408 after)",
    env.integer(100, 600_000),
    section=_S,
)
BODY_TIMEOUT_MS = env.declare(
    "GATEWAY_BODY_TIMEOUT_MS",
    str(int(L.HTTP_BODY_TIMEOUT_S * 1000)),
    "A request body must arrive within this after its head (408 after)",
    env.integer(100, 600_000),
    section=_S,
)
KEEPALIVE_IDLE_MS = env.declare(
    "GATEWAY_KEEPALIVE_IDLE_MS",
    str(int(L.HTTP_KEEPALIVE_IDLE_S * 1000)),
    "Idle keep-alive connections are closed after this",
    env.integer(100, 3_600_000),
    section=_S,
)
SHUTDOWN_GRACE_SEC = env.declare(
    "GATEWAY_SHUTDOWN_GRACE_SEC",
    "5",
    "On SIGTERM: how long in-flight requests may take to finish",
    env.number(0, 300),
    section=_S,
)
MALLOC_MMAP_THRESHOLD_BYTES = env.declare(
    "GATEWAY_MALLOC_MMAP_THRESHOLD_BYTES",
    "131072",
    "Allocations this large and larger get their own mmap, returned to the OS when freed; a"
    " fixed value stops glibc from raising it after a large free, which let RSS creep under"
    " overload (0 = leave glibc's adaptive threshold)",
    env.integer(0, 32 * 1024 * 1024),
    section=_S,
)
LOG_LEVEL = env.declare(
    "LOG_LEVEL",
    "INFO",
    "Log level (DEBUG, INFO, WARNING, ERROR)",
    env.choice("DEBUG", "INFO", "WARNING", "ERROR"),
    section="general",
)


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    host: str
    port: int
    engine_id: str
    idempotency_ttl_s: int
    idempotency_max: int
    orders_retained_max: int
    orders_open_max: int
    max_connections: int
    body_max_bytes: int
    header_timeout_ms: int
    body_timeout_ms: int
    keepalive_idle_ms: int
    shutdown_grace_s: float
    malloc_mmap_threshold_bytes: int
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GatewaySettings:
        engine_id = ENGINE_ID.read(environ)
        if not engine_id or not engine_id.replace("_", "").replace(".", "").isalnum():
            raise env.ConfigError(f"ENGINE_ID={engine_id!r}: use letters, digits, '.' or '_'")
        if len(engine_id) > 32:
            raise env.ConfigError(f"ENGINE_ID={engine_id!r}: at most 32 characters")
        settings = cls(
            host=GATEWAY_HOST.read(environ),
            port=GATEWAY_PORT.read(environ),
            engine_id=engine_id,
            idempotency_ttl_s=IDEMPOTENCY_TTL_SEC.read(environ),
            idempotency_max=IDEMPOTENCY_MAX.read(environ),
            orders_retained_max=ORDERS_RETAINED_MAX.read(environ),
            orders_open_max=ORDERS_OPEN_MAX.read(environ),
            max_connections=MAX_CONNECTIONS.read(environ),
            body_max_bytes=BODY_MAX_BYTES.read(environ),
            header_timeout_ms=HEADER_TIMEOUT_MS.read(environ),
            body_timeout_ms=BODY_TIMEOUT_MS.read(environ),
            keepalive_idle_ms=KEEPALIVE_IDLE_MS.read(environ),
            shutdown_grace_s=SHUTDOWN_GRACE_SEC.read(environ),
            malloc_mmap_threshold_bytes=MALLOC_MMAP_THRESHOLD_BYTES.read(environ),
            log_level=LOG_LEVEL.read(environ),
        )
        if settings.orders_open_max > settings.orders_retained_max:
            raise env.ConfigError(
                f"GATEWAY_ORDERS_OPEN_MAX={settings.orders_open_max}: must not exceed "
                f"GATEWAY_ORDERS_RETAINED_MAX={settings.orders_retained_max}"
            )
        return settings
