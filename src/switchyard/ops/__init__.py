"""The operations and trading web UI served by the gateway (issue 7; docs/UI.md).

Static ES modules under `static/` (no build step, no CDN), the handlers that serve them, the
dashboard feed (SSE snapshots of the gateway's figures), one-time stream tickets for the
browser's EventSource, and a bounded proxy to the back office. Wired by `extensions/ui.py`.
"""

from .assets import StaticAssets
from .backoffice_proxy import BackofficeProxy
from .dashboard import DashboardFeed, WindowedLatency
from .handlers import OperationsUI
from .tickets import StreamTickets

__all__ = [
    "BackofficeProxy",
    "DashboardFeed",
    "OperationsUI",
    "StaticAssets",
    "StreamTickets",
    "WindowedLatency",
]
