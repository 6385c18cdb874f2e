"""The `switchyard backoffice` process: database, apply loop, HTTP API, metrics, shutdown.

Composition only: it picks the event source (Kafka when KAFKA_BOOTSTRAP_SERVERS is set,
else the gateway's WAL), opens and migrates the database, starts the apply loop thread and
the HTTP server, and on SIGINT/SIGTERM (or a fatal error in the apply loop) stops in order:
stop accepting, stop the loop after its current batch, close the database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from switchyard.adapters.auth import Authenticator, AuthSettings
from switchyard.adapters.http import HTTPServer
from switchyard.outbox.publisher import SystemClock

from .api import APIContext, BackofficeAPI
from .consumer import ApplyLoop
from .db import open_database
from .metrics import BackofficeCollector
from .settings import BackofficeSettings
from .sources import EventSource, KafkaEventSource, WALEventSource
from .store import Store

log = logging.getLogger("switchyard.backoffice")


def source_factory(settings: BackofficeSettings, store: Store) -> Callable[[], EventSource]:
    """Kafka when configured, else the gateway's WAL (the cursor comes from the database)."""
    if settings.kafka_bootstrap:

        def kafka() -> EventSource:
            return KafkaEventSource(
                bootstrap=settings.kafka_bootstrap,
                topic=settings.topic,
                group_id=settings.group_id,
                session_timeout_ms=settings.session_timeout_ms,
                topic_partitions=settings.topic_partitions,
            )

        return kafka

    def wal() -> EventSource:
        return WALEventSource(
            settings.wal_dir, hmac_key=settings.hmac_key, cursor=store.wal_cursor()
        )

    return wal


def _gateway_claims(auth: AuthSettings) -> dict[str, object]:
    claims: dict[str, object] = {}
    if auth.issuer:
        claims["iss"] = auth.issuer
    if auth.audience:
        claims["aud"] = auth.audience
    return claims


@dataclass
class RunningBackoffice:
    server: HTTPServer
    loop: ApplyLoop
    api: BackofficeAPI
    store: Store

    @property
    def port(self) -> int:
        return self.server.port

    async def close(self) -> None:
        await self.server.shutdown(grace_s=2.0)
        await asyncio.to_thread(self.loop.stop, 10.0)
        self.api.close()
        self.store.engine.dispose()


async def start(
    settings: BackofficeSettings,
    environ: Mapping[str, str],
    *,
    on_fatal: Callable[[BaseException], None] | None = None,
    openapi: bytes | None = None,
) -> RunningBackoffice:
    """Open everything and start serving; `close()` the result to stop."""
    clock = SystemClock()
    engine = await asyncio.to_thread(open_database, settings.db_url)
    store = Store(engine, currency=settings.currency, fee_bps=settings.fee_bps)
    loop = ApplyLoop(
        store,
        source_factory(settings, store),
        clock=clock,
        batch_max=settings.batch_max,
        on_fatal=on_fatal,
    )
    auth = AuthSettings.from_env(environ, settings.data_dir)
    registry = CollectorRegistry()
    registry.register(BackofficeCollector(lambda: loop.stats, engine, clock))
    api = BackofficeAPI(
        APIContext(
            engine=engine,
            authenticator=Authenticator(auth),
            stats=lambda: loop.stats,
            clock=clock,
            registry=registry,
            gateway_url=settings.gateway_url,
            gateway_secret=auth.secret,
            gateway_claims=_gateway_claims(auth),
            currency=settings.currency,
            reconcile_wait_s=settings.reconcile_wait_ms / 1000,
            source_name="kafka" if settings.kafka_bootstrap else "wal",
            openapi=openapi,
        )
    )
    server = HTTPServer(api.router())
    await server.start(settings.host, settings.port)
    loop.start()
    log.info(
        "event=backoffice_started port=%d source=%s database=%s",
        server.port,
        "kafka" if settings.kafka_bootstrap else f"wal:{settings.wal_dir}",
        engine.url.render_as_string(hide_password=True),
    )
    return RunningBackoffice(server=server, loop=loop, api=api, store=store)


async def serve(
    settings: BackofficeSettings, environ: Mapping[str, str], *, openapi: bytes | None = None
) -> int:
    """Run until SIGINT/SIGTERM; exit status 1 if the apply loop failed."""
    stopping = asyncio.Event()
    failure: list[BaseException] = []
    loop = asyncio.get_running_loop()

    def fatal(error: BaseException) -> None:
        failure.append(error)
        loop.call_soon_threadsafe(stopping.set)

    running = await start(settings, environ, on_fatal=fatal, openapi=openapi)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await running.close()
    if failure:
        log.error("event=backoffice_stopped reason=apply_loop_failed error=%r", failure[0])
        return 1
    log.info("event=backoffice_stopped reason=signal")
    return 0
