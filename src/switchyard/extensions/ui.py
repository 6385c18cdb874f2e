"""The ops and trading UI at `/` (issue 7): static page, dashboard feed, stream tickets, a
proxy to the back office, and the dev sign-in while the development JWT secret is in use.

Installed last (high ORDER) so the figures of every other extension are registered before the
dashboard reads them. Also registers `ctx.extras["stream_tickets"]`, which the SSE endpoints
accept as `?ticket=` (adapters.api_common.authenticate_stream).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from switchyard.backoffice.settings import BACKOFFICE_HOST, BACKOFFICE_PORT
from switchyard.ops import (
    BackofficeProxy,
    DashboardFeed,
    OperationsUI,
    StaticAssets,
    StreamTickets,
)

if TYPE_CHECKING:
    from switchyard.app import Gateway

ORDER = 900


def install(gateway: Gateway, environ: Mapping[str, str]) -> None:
    """Serve the UI from this gateway."""
    ctx = gateway.ctx
    host = BACKOFFICE_HOST.read(environ)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a listen address; connect on loopback
        host = "127.0.0.1"
    ui = OperationsUI(
        ctx=ctx,
        assets=StaticAssets.from_package(),
        tickets=StreamTickets(),
        feed=DashboardFeed(ctx, gateway.http.state, ctx.extras.get("registry")),
        backoffice=BackofficeProxy(host, BACKOFFICE_PORT.read(environ)),
        dev_sign_in=ctx.auth.settings.dev_secret_path is not None,
    )
    ui.register(gateway.http.state.router)
    ctx.extras["stream_tickets"] = ui.tickets.redeem
    ctx.extras["ui"] = ui
    gateway.on_stop.append(ui.feed.close)
    gateway.on_stop.append(ui.backoffice.close)
