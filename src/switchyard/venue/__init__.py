"""L3 venue: simulated liquidity, the venue service, the TCP protocol, server and transports.

The gateway builds its transport with `transports.transport_from_env(environ, loop)`
(`EXCHANGE_TRANSPORT=sim|tcp`); both implement `core.ports.VenueTransport`.
"""

from .service import VenueService
from .settings import VenueSettings
from .transport_sim import SimVenueTransport
from .transport_tcp import TcpVenueTransport
from .transports import transport_from_env, transport_from_settings

__all__ = [
    "SimVenueTransport",
    "TcpVenueTransport",
    "VenueService",
    "VenueSettings",
    "transport_from_env",
    "transport_from_settings",
]
