"""HTTP handlers of the strategy: GET/PUT /api/strategy, its decisions and its history.

Owns the request rules: who may write (the STRATEGY_ADMIN_TOKEN bearer: 401 when missing,
403 when wrong; checked before the body is read), the answers' shapes (DESIGN §3: the
config with its version; 400 INVALID_CONFIG with every field error; 409 VERSION_CONFLICT on
a stale version; 503 STRATEGY_DB_UNAVAILABLE while the database is down), and "who" in the
history (`admin` or `anonymous`, an optional `X-Actor` name, and the peer address).
Database work is handed to the ConfigService (its own thread): those answers are deferred,
the event loop never waits. Reads need no token (as in the seed). Must not touch trading
state.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Coroutine
from typing import Any, Final

import orjson

from switchyard.adapters.http import (
    DEFERRED,
    HandlerResult,
    Request,
    Response,
    Router,
    error_response,
    json_response,
)

from .config import HISTORY_LIMIT_MAX, FieldError, Venue, api_fields, parse_update
from .decisions import DecisionLog
from .runner import StrategyRunner
from .service import ConfigService, Storage, Stored, Unavailable, VersionConflict

DECISIONS_LIMIT_DEFAULT: Final = 50
HISTORY_LIMIT_DEFAULT: Final = 50
_RETRY: Final = ((b"retry-after", b"1"),)
_ACTOR_RE: Final = re.compile(r"^[A-Za-z0-9._:@+-]{1,64}$")
_CHALLENGE: Final = ((b"www-authenticate", b'Bearer realm="switchyard-strategy"'),)


class StrategyAPI:
    """See the module docstring."""

    def __init__(
        self,
        *,
        service: ConfigService,
        runner: StrategyRunner,
        account_id: str,
        admin_token: str,
        venue: Callable[[], Venue],
    ) -> None:
        self.service = service
        self.runner = runner
        self.account_id = account_id
        self._admin_token = admin_token.encode()
        self._venue = venue
        self.counters = {"unauthorized": 0, "forbidden": 0}

    def register(self, router: Router) -> None:
        router.get("/api/strategy", self.get_config, name="strategy_get")
        router.put("/api/strategy", self.put_config, json_body=True, name="strategy_put")
        router.get("/api/strategy/decisions", self.get_decisions, name="strategy_decisions")
        router.get("/api/strategy/history", self.get_history, name="strategy_history")

    # --- GET /api/strategy ---------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        """The config with its version, then read-only facts (storage, the runner)."""
        service = self.service
        config = service.config
        status = service.status
        return {
            **api_fields(config),
            "accountId": self.account_id,
            "updatedAtMs": config.updated_at_ms or None,
            "updatedBy": config.updated_by or None,
            "storage": status.state.value,
            "storageHealthy": status.state is Storage.DB,
            "storageMessage": status.message,
            "storageErrorAtMs": status.error_at_ms,
            "status": self.runner.status(),
        }

    def get_config(self, request: Request) -> HandlerResult:
        if self.service.started:
            return json_response(200, self.view())
        return self._defer(request, self._view_when_started())

    async def _view_when_started(self) -> Response:
        await self.service.wait_started()
        return json_response(200, self.view())

    # --- PUT /api/strategy ---------------------------------------------------------------------

    def put_config(self, request: Request) -> HandlerResult:
        refused = self._check_admin(request.headers.get(b"authorization"))
        if refused is not None:
            return refused
        try:
            body = orjson.loads(request.body) if request.body else None
        except orjson.JSONDecodeError as error:
            return self._invalid([FieldError(None, f"malformed JSON: {error}")])
        if body is None:
            return self._invalid([FieldError(None, "a JSON body with the config is required")])
        parsed = parse_update(body, self._venue())
        if isinstance(parsed, list):
            return self._invalid(parsed)
        version, values = parsed
        return self._defer(request, self._store(version, values, self._actor(request)))

    async def _store(self, version: int, values: dict[str, Any], actor: str) -> Response:
        result = await self.service.update(expected_version=version, values=values, actor=actor)
        if isinstance(result, Stored):
            return json_response(200, self.view())
        if isinstance(result, VersionConflict):
            current = result.current_version
            return error_response(
                409,
                "VERSION_CONFLICT",
                f"the config is at version {current}, you sent version {version}: "
                "read it again and re-apply your change",
                currentVersion=current,
                yourVersion=version,
            )
        return self._unavailable(result)

    def _check_admin(self, header: bytes | None) -> Response | None:
        token = self._admin_token
        if not token:
            return None
        scheme, _, value = (header or b"").strip().partition(b" ")
        presented = value.strip()
        if scheme.lower() != b"bearer" or not presented:
            self.counters["unauthorized"] += 1
            return error_response(
                401,
                "ADMIN_TOKEN_REQUIRED",
                "changing the strategy config needs Authorization: Bearer <STRATEGY_ADMIN_TOKEN>",
                headers=_CHALLENGE,
            )
        if not hmac.compare_digest(presented, token):
            self.counters["forbidden"] += 1
            return error_response(403, "ADMIN_TOKEN_INVALID", "the strategy admin token is wrong")
        return None

    def _actor(self, request: Request) -> str:
        name = "admin" if self._admin_token else "anonymous"
        given = (request.headers.get(b"x-actor") or b"").decode("latin-1").strip()
        if given and _ACTOR_RE.match(given):
            name = f"{given} ({name})"
        peer = _peer(request)
        return f"{name}@{peer}" if peer else name

    def _invalid(self, errors: list[FieldError]) -> Response:
        self.service.note_validation_failed()
        count = len(errors)
        return error_response(
            400,
            "INVALID_CONFIG",
            f"{count} field{'s' if count > 1 else ''} to fix: "
            + "; ".join(error.message for error in errors[:5]),
            errors=[error.to_json() for error in errors],
        )

    # --- decisions and history -------------------------------------------------------------------

    def get_decisions(self, request: Request) -> HandlerResult:
        log: DecisionLog = self.runner.trader.log
        params = request.query_params()
        limit = _limit(params.get("limit"), DECISIONS_LIMIT_DEFAULT, log.capacity)
        if isinstance(limit, Response):
            return limit
        symbol = params.get("symbol") or None
        return json_response(
            200,
            {
                "decisions": [decision.to_json() for decision in log.newest(limit, symbol)],
                "kept": len(log),
                "capacity": log.capacity,
                "dropped": log.dropped,
            },
        )

    def get_history(self, request: Request) -> HandlerResult:
        limit = _limit(
            request.query_params().get("limit"), HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX
        )
        if isinstance(limit, Response):
            return limit
        return self._defer(request, self._history(limit))

    async def _history(self, limit: int) -> Response:
        result = await self.service.history(limit)
        if isinstance(result, Unavailable):
            return self._unavailable(result)
        return json_response(
            200,
            {
                "accountId": self.account_id,
                "history": [entry.to_json() for entry in result.entries],
            },
        )

    # --- helpers -------------------------------------------------------------------------------

    def _unavailable(self, result: Unavailable) -> Response:
        if result.busy:
            return error_response(
                503, "STRATEGY_DB_BUSY", result.message, retryAfterMs=1000, headers=_RETRY
            )
        return error_response(
            503,
            "STRATEGY_DB_UNAVAILABLE",
            f"the strategy config database is unavailable ({result.message}); the strategy "
            f"keeps config version {self.service.config.version}",
            retryAfterMs=1000,
            headers=_RETRY,
        )

    def _defer(self, request: Request, answer: Coroutine[Any, Any, Response]) -> HandlerResult:
        """Answer later from a task the service owns (cancelled at shutdown)."""

        async def respond() -> None:
            try:
                response = await answer
            except Exception:
                request.respond(error_response(500, "INTERNAL_ERROR", "see the gateway log"))
                raise
            request.respond(response)

        self.service.spawn(respond())
        return DEFERRED


def _limit(raw: str | None, default: int, maximum: int) -> int | Response:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:  # not "²"
        return error_response(
            400,
            "INVALID_REQUEST",
            f"limit must be an integer between 1 and {maximum}",
            field="limit",
        )
    return int(raw)


def _peer(request: Request) -> str:
    protocol = request.protocol
    transport = protocol.transport if protocol is not None else None
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""
