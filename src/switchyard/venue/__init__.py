"""L3 venue: simulated liquidity, the venue service, the TCP protocol, server and transports.

The gateway picks a transport with `transport_from_env(environ, clock=...)`
(`EXCHANGE_TRANSPORT=sim|tcp`); both implement `core.ports.VenueTransport`.
"""

from __future__ import annotations

from collections.abc import Mapping

from switchyard.core.ports import Clock, VenueTransport

from .service import VenueService
from .settings import VenueSettings
from .transport_sim import SimVenueTransport
from .transport_tcp import TcpVenueTransport


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


def transport_from_env(environ: Mapping[str, str], *, clock: Clock) -> VenueTransport:
    """Read the venue settings (ConfigError names a bad variable) and build the transport."""
    return transport_from_settings(VenueSettings.from_env(environ), clock=clock)


__all__ = [
    "SimVenueTransport",
    "TcpVenueTransport",
    "VenueService",
    "VenueSettings",
    "transport_from_env",
    "transport_from_settings",
]
