"""The UI's routes on the gateway: the page, its assets, and the few endpoints only it needs.

    GET  /                              the single page (no-cache, CSP)
    GET  /ui/{build}/{name}             an asset of this build (immutable)
    GET  /ui/api/info                   what the sign-in page needs to know (no token)
    POST /ui/api/dev-sign-in            mint a token; only while the development secret is in use
    POST /ui/api/stream-ticket          a one-time ticket for an EventSource (bearer token)
    GET  /ui/api/dashboard/stream       the dashboard feed (SSE; bearer token or ticket)
    GET  /ui/api/backoffice/{view}      positions / pnl / balances from the back office

Everything else the UI shows comes from the public API (DESIGN §3). Owns routing and
authentication of these endpoints; the work is done by the objects it is given.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from switchyard.adapters.api_common import (
    GatewayContext,
    authenticate,
    authenticate_stream,
    decode_body,
    unauthorized,
)
from switchyard.adapters.auth import AuthFailure, mint_token
from switchyard.adapters.http import (
    HandlerResult,
    Request,
    Response,
    Router,
    error_response,
    json_response,
)

from .assets import StaticAssets
from .backoffice_proxy import BackofficeProxy
from .dashboard import DashboardFeed
from .tickets import StreamTickets

DEV_TOKEN_TTL_S: Final = 8 * 3600  # a working day
_ACCOUNT_RE: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class DevSignInRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    account_id: Annotated[str, Meta(min_length=1, max_length=64, pattern=_ACCOUNT_RE.pattern)]
    role: Literal["", "ops"] = ""


_DEV_SIGN_IN_DECODER: Final = msgspec.json.Decoder(DevSignInRequest)


@dataclass
class OperationsUI:
    """The UI's parts, built by the `ui` extension; `register` puts its routes on a router."""

    ctx: GatewayContext
    assets: StaticAssets
    tickets: StreamTickets
    feed: DashboardFeed
    backoffice: BackofficeProxy
    dev_sign_in: bool  # the development JWT secret is in use (never in production)

    def register(self, router: Router) -> None:
        router.get("/", lambda r: self.assets.page_response(), name="ui_page")
        router.get(
            "/ui/{build}/{name}",
            lambda r: self.assets.asset_response(r.params["build"], r.params["name"]),
            name="ui_asset",
        )
        router.get("/ui/api/info", self.info, name="ui_info")
        router.post("/ui/api/dev-sign-in", self.dev_sign_in_handler, json_body=True)
        router.post("/ui/api/stream-ticket", self.stream_ticket, name="ui_stream_ticket")
        router.get("/ui/api/dashboard/stream", self.dashboard_stream, name="ui_dashboard")
        router.get("/ui/api/backoffice/{view}", self.backoffice_view, name="ui_backoffice")

    def info(self, request: Request) -> Response:
        return json_response(
            200,
            {
                "engineId": self.ctx.engine_id,
                "build": self.assets.build,
                "devSignIn": self.dev_sign_in,
                "backofficeUrl": self.backoffice.url,
            },
            headers=((b"cache-control", b"no-store"),),
        )

    def dev_sign_in_handler(self, request: Request) -> Response:
        """A token for any account, but only with the development secret (404 otherwise)."""
        if not self.dev_sign_in:
            return error_response(
                404,
                "DEV_SIGN_IN_OFF",
                "dev sign-in exists only while the development JWT secret is in use; "
                "paste a token instead",
            )
        body = decode_body(_DEV_SIGN_IN_DECODER, request.body)
        if isinstance(body, Response):
            return body
        now_s = int(time.time())
        token = mint_token(
            self.ctx.auth.settings.secret,
            body.account_id,
            role=body.role,
            ttl_s=DEV_TOKEN_TTL_S,
            now_s=now_s,
        )
        return json_response(
            200,
            {
                "token": token,
                "accountId": body.account_id,
                "role": body.role,
                "expiresAt": (now_s + DEV_TOKEN_TTL_S) * 1000,
            },
            headers=((b"cache-control", b"no-store"),),
        )

    def stream_ticket(self, request: Request) -> Response:
        principal = authenticate(self.ctx, request)
        if isinstance(principal, Response):
            return principal
        now_s = time.time()
        if principal.expires_at_s <= now_s:  # accepted within the clock skew, but no ticket
            return unauthorized(AuthFailure("TOKEN_EXPIRED", "the token has expired"))
        issued = self.tickets.issue(principal, wall_now_s=now_s)
        if issued is None:
            return error_response(
                503,
                "TOO_MANY_TICKETS",
                "too many stream tickets outstanding; retry shortly",
                headers=((b"retry-after", b"1"),),
            )
        ticket, ttl_s = issued
        return json_response(
            200,
            {"ticket": ticket, "expiresInMs": int(ttl_s * 1000)},
            headers=((b"cache-control", b"no-store"),),
        )

    def dashboard_stream(self, request: Request) -> HandlerResult:
        principal = authenticate_stream(self.ctx, request)
        if isinstance(principal, Response):
            return principal
        return self.feed.subscribe()

    def backoffice_view(self, request: Request) -> HandlerResult:
        principal = authenticate(self.ctx, request)
        if isinstance(principal, Response):
            return principal
        return self.backoffice.relay(request, request.params["view"])
