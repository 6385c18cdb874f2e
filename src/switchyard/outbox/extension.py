"""Wiring of the outbox into the gateway process (an `extensions` install function).

`install(gateway, environ)` does nothing unless KAFKA_BOOTSTRAP_SERVERS is set. Otherwise it
creates the Outbox on the gateway's WAL (after the journal opened and recovered it), adds its
Prometheus collector, a `/health` check ("outbox": degraded while Kafka is failing or the lag
exceeds 30 s, unhealthy if the thread died), its `/stats` section, starts it, and registers
`close()` as a stop hook (it runs before the journal closes, after the last records were made
durable, and stores the final offset). The gateway's extension package only has to re-export
`ORDER` and `install` from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from .metrics import OutboxCollector
from .publisher import Outbox, OutboxState

ORDER = 60  # after admission control and the features that append records
log = logging.getLogger("switchyard.outbox")


class _Context(Protocol):
    """What the outbox needs of the gateway's context (switchyard.adapters.GatewayContext)."""

    @property
    def wal_dir(self) -> Path: ...
    @property
    def hmac_key(self) -> bytes | None: ...
    @property
    def engine_id(self) -> str: ...
    @property
    def extras(self) -> dict[str, Any]: ...


class _Gateway(Protocol):
    """What the outbox needs of a built gateway (switchyard.app.Gateway; the app is a layer up)."""

    @property
    def ctx(self) -> _Context: ...
    @property
    def on_stop(self) -> list[Callable[[], Any]]: ...


def install(gateway: _Gateway, environ: Mapping[str, str]) -> Outbox | None:
    ctx = gateway.ctx
    outbox = Outbox.from_env(
        environ, ctx.wal_dir, ctx.hmac_key, engine_id=ctx.engine_id, on_fatal=_fatal
    )
    if outbox is None:
        return None
    extras: dict[str, Any] = ctx.extras
    extras["registry"].register(OutboxCollector(outbox))
    extras["health_checks"]["outbox"] = lambda: health(outbox)
    extras["stats_sources"].append(lambda: {"outbox": outbox.stats()})
    outbox.start()
    gateway.on_stop.append(outbox.close)
    return outbox


def health(outbox: Outbox) -> tuple[str, dict[str, object]]:
    """(level, detail) in the gateway's /health vocabulary."""
    stats = outbox.stats()
    detail = {
        "lagRecords": stats["lagRecords"],
        "lagSeconds": stats["lagSeconds"],
        "state": stats["state"],
    }
    if outbox.state is OutboxState.FAILED or not outbox.is_alive():
        return "unhealthy", {**detail, "error": stats["lastError"]}
    if stats["status"] != "ok":
        return "degraded", {**detail, "error": stats["lastError"]}
    return "healthy", detail


def _fatal(error: BaseException) -> None:
    # The outbox never loses data by stopping (the WAL keeps everything; the offset file says
    # where to resume), so a dead outbox degrades /health instead of stopping trading.
    log.error("event=outbox_thread_died error=%r: publishing stopped; restart the gateway", error)
