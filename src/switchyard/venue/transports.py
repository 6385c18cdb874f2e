"""Choose and build the gateway's venue transport from settings (`EXCHANGE_TRANSPORT`).

Owns only the choice: `sim` builds a `VenueService` behind a `SimVenueTransport`, `tcp` a
`TcpVenueTransport` to `EXCHANGE_TCP_HOST:EXCHANGE_TCP_PORT`. The composition root
(app.py) calls `transport_from_env(environ, loop)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from switchyard.core.ports import Clock, VenueTransport

from .service import VenueService
from .settings import VenueSettings
from .transport_sim import SimVenueTransport
from .transport_tcp import TcpVenueTransport


class _WallClock:
    """The system clock (venue/ may not import adapters/, a higher layer)."""

    __slots__ = ()

    def wall_ns(self) -> int:
        return time.time_ns()

    def mono_ns(self) -> int:
        return time.monotonic_ns()


def transport_from_settings(settings: VenueSettings, *, clock: Clock) -> VenueTransport:
    """The in-process venue (sim) or a client of `switchyard venue` (tcp)."""
    if settings.transport == "tcp":
        return TcpVenueTransport(settings.tcp_host, settings.tcp_port, session=settings.tcp_session)
    return SimVenueTransport(
        VenueService.from_settings(settings),
        clock=clock,
        delay_ms=settings.sim_delay_ms,
        tick_ms=settings.tick_ms,
    )


def transport_from_env(
    environ: Mapping[str, str], loop: asyncio.AbstractEventLoop | None = None
) -> VenueTransport:
    """Read the venue settings (a bad value raises ConfigError naming it), build the transport.

    `loop` is accepted for the composition root's factory signature; transports bind to the
    running loop in `start()`.
    """
    return transport_from_settings(VenueSettings.from_env(environ), clock=_WallClock())
