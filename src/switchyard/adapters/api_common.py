"""What every gateway handler shares: the context object, auth, body decoding, error shapes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec

from switchyard.runtime.node import GatewayNode

from .auth import Authenticator, AuthFailure, Principal
from .http import Request, Response, error_response
from .sse import SSEHub

T = TypeVar("T")

# Ids clients choose (clientOrderId, Idempotency-Key) use a conservative alphabet, so they can
# go into JSON, logs and URLs without escaping.
ID_PATTERN: Final = r"^[A-Za-z0-9._:@/+=#~-]+$"
_ID_RE: Final = re.compile(ID_PATTERN)
_FIELD_RE: Final = re.compile(r"at `\$\.?([A-Za-z0-9_.\[\]]*)`")


@dataclass(slots=True)
class GatewayContext:
    """Everything handlers need; built once by the composition root."""

    node: GatewayNode
    auth: Authenticator
    sse: SSEHub
    wal_dir: Path
    hmac_key: bytes | None
    engine_id: str
    started_wall_ns: int
    settings_view: dict[str, Any] = field(default_factory=dict)  # /api/admin (no secrets)
    extras: dict[str, Any] = field(default_factory=dict)  # outbox, strategy, ownership...


def authenticate(ctx: GatewayContext, request: Request) -> Principal | Response:
    """The caller, or the 401 answer to send."""
    return authenticate_headers(ctx, request.headers)


def authenticate_headers(ctx: GatewayContext, headers: dict[bytes, bytes]) -> Principal | Response:
    """`authenticate` from the headers alone (the HTTP layer's early checks have no Request)."""
    result = ctx.auth.authenticate(headers.get(b"authorization"))
    if isinstance(result, AuthFailure):
        return unauthorized(result)
    return result


def authenticate_stream(ctx: GatewayContext, request: Request) -> Principal | Response:
    """Auth for GET streams: the Authorization header, else a one-time `?ticket=`.

    Browsers' EventSource cannot send headers, so the ops UI trades its bearer token for a
    single-use ticket valid for seconds (`ctx.extras["stream_tickets"]`, a callable the UI
    extension registers: ticket -> Principal or None). Only stream handlers call this; every
    other endpoint still needs the header. Without the extension a ticket is refused.
    """
    if b"authorization" not in request.headers:
        ticket = request.query_params().get("ticket")
        if ticket is not None:
            redeem = ctx.extras.get("stream_tickets")
            principal = redeem(ticket) if redeem is not None else None
            if principal is None:
                return unauthorized(
                    AuthFailure("INVALID_STREAM_TICKET", "the stream ticket is unknown or used")
                )
            assert isinstance(principal, Principal)
            return principal
    return authenticate(ctx, request)


def unauthorized(failure: AuthFailure) -> Response:
    return error_response(
        401,
        failure.code,
        failure.message,
        headers=((b"www-authenticate", b'Bearer realm="switchyard"'),),
    )


def require_ops(principal: Principal) -> Response | None:
    if principal.is_ops:
        return None
    return error_response(403, "FORBIDDEN", "an operator token (role=ops) is required")


def decode_body(decoder: msgspec.json.Decoder[T], body: bytes) -> T | Response:
    """Decode and validate a JSON body; a 400 naming the field on any problem."""
    if not body:
        return invalid("a JSON body is required", None)
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as error:
        text = str(error)
        match = _FIELD_RE.search(text)
        return invalid(text, match.group(1) if match else None)
    except msgspec.DecodeError as error:
        return invalid(f"malformed JSON: {error}", None)
    except UnicodeDecodeError as error:  # msgspec checks UTF-8 lazily, inside strings
        return invalid(f"the body is not valid UTF-8 (byte {error.start})", None)


def invalid(message: str, field_name: str | None) -> Response:
    return error_response(400, "INVALID_REQUEST", message, field=field_name)


def not_found(what: str) -> Response:
    return error_response(404, "NOT_FOUND", f"{what} not found")


def valid_client_id(value: str) -> bool:
    return _ID_RE.match(value) is not None


def int_param(
    request: Request, name: str, default: int, minimum: int, maximum: int
) -> int | Response:
    raw = request.query_params().get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):  # "²".isdigit() is True, int("²") raises
        return invalid(f"{name} must be a non-negative integer", name)
    value = int(raw)
    if not minimum <= value <= maximum:
        return invalid(f"{name} must be between {minimum} and {maximum}", name)
    return value


Handler = Callable[[Request], Any]
