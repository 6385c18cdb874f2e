"""The back office HTTP API: JSON views of the books, /reconcile, /health, /metrics.

Auth like the gateway (adapters.auth): HS256 bearer token; an account sees only its own
data (`?accountId=` of another account answers 404, existence hidden); a token with
`role: "ops"` sees every account and may filter with `?accountId=`. /health and /metrics
need no token. Every view is a plain function `(principal, params) -> Response` that reads
the database (tests call them directly); the router runs them on a small bounded thread pool
and answers when they finish, so the event loop never waits on the database. Beyond
`API_INFLIGHT_MAX` requests in progress the answer is a fast 503.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from switchyard.adapters.auth import Authenticator, AuthFailure, Principal, mint_token
from switchyard.adapters.http import (
    DEFERRED,
    HandlerResult,
    Request,
    Response,
    Router,
    error_response,
    json_response,
)
from switchyard.core.ports import Clock

from . import queries, reconcile
from .consumer import ConsumerStats

log = logging.getLogger("switchyard.backoffice.api")

API_THREADS = 4
API_INFLIGHT_MAX = 64  # requests waiting for or using a database thread; beyond: 503
# RFC 9110 15.5.2: a 401 names the scheme to use (the gateway's answers do the same).
_CHALLENGE = ((b"www-authenticate", b'Bearer realm="switchyard-backoffice"'),)
LIMIT_DEFAULT = 100
LIMIT_MAX = 1000
AFTER_MAX = 2**63 - 1  # paging cursors are int64 columns; a larger one failed in the driver
PARKED_DEGRADED_S = 60  # parked longer than this means something is missing upstream
STALL_DEGRADED_S = 30  # events waiting but nothing applied for this long
GATEWAY_TOKEN_TTL_S = 300

Params = dict[str, str]
View = Callable[[Principal | None, Params], Response]


@dataclass
class APIContext:
    engine: Engine
    authenticator: Authenticator
    stats: Callable[[], ConsumerStats]
    clock: Clock
    registry: CollectorRegistry
    gateway_url: str
    gateway_secret: bytes
    gateway_claims: dict[str, object]  # iss / aud the gateway requires (JWT_ISSUER, JWT_AUDIENCE)
    currency: str
    reconcile_wait_s: float
    source_name: str
    openapi: bytes | None = None  # GET /openapi.json serves it when given (the cli passes it)


class BackofficeAPI:
    """Builds the router; owns the database thread pool."""

    def __init__(self, context: APIContext) -> None:
        self.context = context
        self._executor = ThreadPoolExecutor(API_THREADS, thread_name_prefix="backoffice-api")
        self._inflight = 0
        self._lock = threading.Lock()
        self._reconcile_lock = threading.Lock()
        self.refused = 0
        self.failures = 0

    def router(self) -> Router:
        router = Router()
        router.get("/health", self._public(self.health), name="health")
        router.get("/metrics", self._public(self.metrics), name="metrics")
        router.get("/positions", self._private(self.positions), name="positions")
        router.get("/balances", self._private(self.balances), name="balances")
        router.get("/fills", self._private(self.fills), name="fills")
        router.get("/pnl", self._private(self.pnl), name="pnl")
        router.get("/ledger", self._private(self.ledger), name="ledger")
        router.get("/reconcile", self._private(self.reconcile), name="reconcile")
        router.get("/stats", self._private(self.stats), name="stats")
        document = self.context.openapi
        if document is not None:
            headers = ((b"cache-control", b"no-cache"),)
            router.get(
                "/openapi.json",
                lambda request: Response(200, document, headers=headers),
                name="openapi",
            )
        return router

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    # --- the views ------------------------------------------------------------------------

    def positions(self, principal: Principal | None, params: Params) -> Response:
        scope = account_scope(principal, params)
        if isinstance(scope, Response):
            return scope
        with self.context.engine.connect() as connection:
            return json_response(200, {"positions": queries.positions(connection, scope)})

    def balances(self, principal: Principal | None, params: Params) -> Response:
        scope = account_scope(principal, params)
        if isinstance(scope, Response):
            return scope
        with self.context.engine.connect() as connection:
            return json_response(200, {"balances": queries.balances(connection, scope)})

    def pnl(self, principal: Principal | None, params: Params) -> Response:
        scope = account_scope(principal, params)
        if isinstance(scope, Response):
            return scope
        with self.context.engine.connect() as connection:
            rows = queries.pnl(connection, scope, self.context.currency)
        return json_response(200, {"pnl": rows})

    def fills(self, principal: Principal | None, params: Params) -> Response:
        scope = account_scope(principal, params)
        if isinstance(scope, Response):
            return scope
        paging = page_params(params, "afterId")
        if isinstance(paging, Response):
            return paging
        after, limit = paging
        with self.context.engine.connect() as connection:
            rows = queries.fills(
                connection, scope, order_id=params.get("orderId"), after_id=after, limit=limit
            )
        following = rows[-1]["fillId"] if len(rows) == limit else None
        return json_response(200, {"fills": rows, "nextAfterId": following})

    def ledger(self, principal: Principal | None, params: Params) -> Response:
        scope = account_scope(principal, params)
        if isinstance(scope, Response):
            return scope
        paging = page_params(params, "afterIndex")
        if isinstance(paging, Response):
            return paging
        after, limit = paging
        with self.context.engine.connect() as connection:
            rows = queries.ledger(
                connection, scope, order_id=params.get("orderId"), after_index=after, limit=limit
            )
        following = rows[-1]["ledgerIndex"] if len(rows) == limit else None
        return json_response(
            200, {"accountId": scope, "entries": rows, "nextAfterIndex": following}
        )

    def reconcile(self, principal: Principal | None, params: Params) -> Response:
        scope = account_scope(principal, params)
        if isinstance(scope, Response):
            return scope
        if not self._reconcile_lock.acquire(blocking=False):
            # One at a time: each reads every order of the gateway (an ops-scale scan).
            return error_response(
                429,
                "RECONCILE_IN_PROGRESS",
                "another /reconcile is running; retry shortly",
                headers=((b"retry-after", b"1"),),
                retryAfterMs=1000,
            )
        try:
            return self._reconcile(scope)
        finally:
            self._reconcile_lock.release()

    def _reconcile(self, scope: str | None) -> Response:
        context = self.context
        token = mint_token(
            context.gateway_secret,
            "backoffice",
            role="ops",
            ttl_s=GATEWAY_TOKEN_TTL_S,
            extra=context.gateway_claims,
        )
        try:
            view = reconcile.fetch_gateway_view(context.gateway_url, token)
        except reconcile.GatewayUnavailable as error:
            return error_response(
                503, "GATEWAY_UNAVAILABLE", str(error), gatewayUrl=context.gateway_url
            )
        body = reconcile.reconcile(
            context.engine, view, account_id=scope, wait_s=context.reconcile_wait_s
        )
        body["accountId"] = scope
        return json_response(200, body)

    def stats(self, principal: Principal | None, params: Params) -> Response:
        if principal is None or not principal.is_ops:
            return error_response(403, "FORBIDDEN", "/stats needs an operator token (role ops)")
        return json_response(200, self._status_body())

    def health(self, _principal: Principal | None, _params: Params) -> Response:
        body = self._status_body()
        return json_response(503 if body["status"] == "unhealthy" else 200, body)

    def metrics(self, _principal: Principal | None, _params: Params) -> Response:
        return Response(
            200,
            generate_latest(self.context.registry),
            content_type=b"text/plain; version=0.0.4; charset=utf-8",
        )

    def _status_body(self) -> dict[str, Any]:
        context = self.context
        stats = context.stats()
        now = context.clock.wall_ns()
        problems: list[str] = []
        try:
            with context.engine.connect() as connection:
                backlog = queries.backlog(connection)
                sources = queries.source_watermarks(connection)
        except sa_exc.SQLAlchemyError as error:
            return {"status": "unhealthy", "problems": [f"database: {type(error).__name__}"]}
        if stats.failed or not stats.running:
            problems.append(f"apply loop not running: {stats.last_error or 'stopped'}")
        status = "unhealthy" if problems else "healthy"
        oldest = backlog["oldestParkedAtNs"]
        if oldest is not None and now - oldest > PARKED_DEGRADED_S * 1_000_000_000:
            problems.append("events parked for more than a minute (missing upstream events)")
        if backlog["quarantined"]:
            problems.append(f"{backlog['quarantined']} quarantined events")
        stalled = stats.lag_records > 0 and now - stats.last_batch_at_ns > STALL_DEGRADED_S * 1e9
        if stalled:
            problems.append(f"{stats.lag_records} events waiting, nothing applied for 30 s")
        if status == "healthy" and problems:
            status = "degraded"
        lag_s = (now - stats.last_occurred_at_ns) / 1e9 if stats.lag_records else 0.0
        return {
            "status": status,
            "problems": problems,
            "source": context.source_name,
            "lagRecords": stats.lag_records,
            "lagSeconds": round(lag_s, 3),
            "applied": stats.applied,
            "events": stats.events,
            "duplicates": stats.duplicates,
            "dbErrors": stats.db_errors,
            "lastError": stats.last_error,
            "backlog": backlog,
            "sources": sources,
        }

    # --- plumbing -------------------------------------------------------------------------

    def _public(self, view: View) -> Callable[[Request], HandlerResult]:
        def handler(request: Request) -> HandlerResult:
            return self._defer(request, view, None)

        return handler

    def _private(self, view: View) -> Callable[[Request], HandlerResult]:
        authenticator = self.context.authenticator

        def handler(request: Request) -> HandlerResult:
            result = authenticator.authenticate(request.header(b"authorization"))
            if isinstance(result, AuthFailure):
                return error_response(401, result.code, result.message, headers=_CHALLENGE)
            return self._defer(request, view, result)

        return handler

    def _defer(self, request: Request, view: View, principal: Principal | None) -> HandlerResult:
        with self._lock:
            if self._inflight >= API_INFLIGHT_MAX:
                self.refused += 1
                return error_response(
                    503,
                    "CAPACITY_EXCEEDED",
                    "too many requests in progress",
                    limit=API_INFLIGHT_MAX,
                )
            self._inflight += 1
        params = request.query_params()
        future = self._executor.submit(view, principal, params)
        loop = asyncio.get_running_loop()
        future.add_done_callback(
            lambda done: loop.call_soon_threadsafe(self._finish, request, done)
        )
        return DEFERRED

    def _finish(self, request: Request, done: Future[Response]) -> None:
        with self._lock:
            self._inflight -= 1
        error = done.exception()
        if error is None:
            request.respond(done.result())
            return
        self.failures += 1
        log.error("event=backoffice_api_error path=%s error=%r", request.path, error)
        request.respond(error_response(500, "INTERNAL_ERROR", "the request failed; see the log"))


def account_scope(principal: Principal | None, params: Params) -> str | Response | None:
    """The account a request may see: its own; an operator's choice (None = all)."""
    requested = params.get("accountId") or None
    if principal is None:
        return requested
    if principal.is_ops:
        return requested
    if requested is not None and requested != principal.account_id:
        return error_response(404, "NOT_FOUND", "no such account")
    return principal.account_id


def page_params(params: Params, after_name: str) -> tuple[int, int] | Response:
    raw_limit = params.get("limit", str(LIMIT_DEFAULT))
    if not _is_number(raw_limit, AFTER_MAX):
        return error_response(
            400, "INVALID_LIMIT", f"limit must be 1..{LIMIT_MAX}", received=raw_limit[:40]
        )
    raw_after = params.get(after_name, "0")
    if not _is_number(raw_after, AFTER_MAX):
        return error_response(
            400,
            "INVALID_REQUEST",
            f"{after_name} must be an integer from 0 to {AFTER_MAX}",
            received=raw_after[:40],
        )
    return int(raw_after), max(1, min(int(raw_limit), LIMIT_MAX))


def _is_number(raw: str, maximum: int) -> bool:
    """ASCII digits ("²".isdigit() is True and int() refuses it) within the database's int64."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= maximum
