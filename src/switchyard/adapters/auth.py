"""Bearer HS256 JWT authentication with a verified-token cache (DESIGN §3).

PyJWT verifies a token the first time it is seen (~36 us); after that a dict lookup keyed by
the raw token returns the principal (~0.2 us) and `exp` is checked again on every use, so a
cached token expires on time. Only HS256 is accepted (no `none`, no algorithm confusion);
PyJWT compares signatures in constant time. Account id: claim `accountId`, else `sub`; the
account never comes from a request body. Claim `role: "ops"` marks an operator.

Also owns the development secret: with no JWT_HS256_SECRET, a random secret is created once
under $SWITCHYARD_DATA_DIR/secrets/jwt-hs256.key (mode 0600) and shared by `switchyard run`
and `switchyard token`; in production (SWITCHYARD_ENV=production) a missing secret is an error.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jwt

from switchyard.core import env
from switchyard.core.env import ConfigError

JWT_HS256_SECRET = env.declare(
    "JWT_HS256_SECRET",
    "",
    "HS256 secret (raw UTF-8). Unset: a development secret is created under "
    "$SWITCHYARD_DATA_DIR/secrets/ (refused when SWITCHYARD_ENV=production).",
    env.text,
    section="auth",
)
JWT_ISSUER = env.declare(
    "JWT_ISSUER", "", "If set, tokens must carry exactly this `iss`.", env.text, section="auth"
)
JWT_AUDIENCE = env.declare(
    "JWT_AUDIENCE", "", "If set, tokens must list this `aud`.", env.text, section="auth"
)
JWT_CLOCK_SKEW_SEC = env.declare(
    "JWT_CLOCK_SKEW_SEC",
    "30",
    "Leeway in seconds for `exp` and `nbf`.",
    env.integer(0, 3600),
    section="auth",
)
SWITCHYARD_ENV = env.declare(
    "SWITCHYARD_ENV",
    "development",
    "`development` or `production` (production refuses the development JWT secret).",
    env.choice("development", "production"),
    section="general",
)

DEV_SECRET_RELATIVE_PATH: Final = Path("secrets") / "jwt-hs256.key"
TOKEN_CACHE_MAX: Final = 100_000  # verified tokens kept; beyond it the oldest are forgotten
TOKEN_LENGTH_MAX: Final = 8 * 1024  # longer Authorization values are refused unparsed
_BEARER: Final = b"Bearer "


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the account from the token, whether an operator, and until when."""

    account_id: str
    role: str
    expires_at_s: int
    not_before_s: int

    @property
    def is_ops(self) -> bool:
        return self.role == "ops"


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a token was refused: `code` (seed names) and a message safe to show the client."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class AuthSettings:
    secret: bytes
    issuer: str
    audience: str
    skew_s: int
    dev_secret_path: Path | None  # set when the development secret is in use

    @classmethod
    def from_env(cls, environ: Mapping[str, str], data_dir: Path) -> AuthSettings:
        secret = JWT_HS256_SECRET.read(environ)
        dev_path: Path | None = None
        if not secret:
            if SWITCHYARD_ENV.read(environ) == "production":
                raise ConfigError("JWT_HS256_SECRET='': required when SWITCHYARD_ENV=production")
            dev_path = data_dir / DEV_SECRET_RELATIVE_PATH
            secret = load_or_create_dev_secret(dev_path)
        return cls(
            secret=secret.encode(),
            issuer=JWT_ISSUER.read(environ),
            audience=JWT_AUDIENCE.read(environ),
            skew_s=JWT_CLOCK_SKEW_SEC.read(environ),
            dev_secret_path=dev_path,
        )


def load_or_create_dev_secret(path: Path) -> str:
    """Read the development secret, creating it (0600, 256 random bits) on first use."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(32)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return value


class Authenticator:
    """Turns an Authorization header into a Principal or an AuthFailure."""

    __slots__ = ("_cache", "_now_s", "_options", "refused_total", "settings", "verified_total")

    def __init__(self, settings: AuthSettings, now_s: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._now_s = now_s
        self._cache: dict[bytes, Principal] = {}
        self._options = {"require": ["exp"], "verify_signature": True}
        self.verified_total = 0  # PyJWT verifications (cache misses that succeeded)
        self.refused_total = 0

    def authenticate(self, authorization: bytes | None) -> Principal | AuthFailure:
        if authorization is None or not authorization.startswith(_BEARER):
            self.refused_total += 1
            return AuthFailure("MISSING_BEARER_TOKEN", "send Authorization: Bearer <token>")
        token = authorization[7:].strip()
        principal = self._cache.get(token)
        if principal is not None:
            now = self._now_s()
            if now <= principal.expires_at_s + self.settings.skew_s:
                return principal
            del self._cache[token]
            self.refused_total += 1
            return AuthFailure("TOKEN_EXPIRED", "the token has expired")
        result = self._verify(token)
        if isinstance(result, Principal):
            cache = self._cache
            if len(cache) >= TOKEN_CACHE_MAX:
                del cache[next(iter(cache))]  # forget the oldest; it is re-verified if it returns
            cache[token] = result
            self.verified_total += 1
        else:
            self.refused_total += 1
        return result

    def _verify(self, token: bytes) -> Principal | AuthFailure:
        if not token:
            return AuthFailure("MISSING_BEARER_TOKEN", "the bearer token is empty")
        if len(token) > TOKEN_LENGTH_MAX:
            return AuthFailure("INVALID_JWT_FORMAT", f"token longer than {TOKEN_LENGTH_MAX} bytes")
        if token.count(b".") != 2:
            return AuthFailure("INVALID_JWT_FORMAT", "a JWT has three dot-separated parts")
        header = _decode_header(token)
        if header is None:
            return AuthFailure("INVALID_JWT_HEADER", "the token header is not base64url JSON")
        alg = header.get("alg")
        if alg is None:
            return AuthFailure("MISSING_ALG", "the token header has no alg")
        if alg != "HS256":
            return AuthFailure(
                "UNSUPPORTED_ALG", f"alg {str(alg)[:16]!r} is not accepted; use HS256"
            )
        settings = self.settings
        try:
            claims = jwt.decode(
                token,
                settings.secret,
                algorithms=["HS256"],
                options=self._options,  # type: ignore[arg-type]
                leeway=settings.skew_s,
                issuer=settings.issuer or None,
                audience=settings.audience or None,
            )
        except jwt.exceptions.MissingRequiredClaimError as error:
            if error.claim == "exp":
                return AuthFailure("MISSING_EXP", "the token has no exp claim")
            return AuthFailure("INVALID_JWT_PAYLOAD", f"the token lacks claim {error.claim}")
        except jwt.exceptions.InvalidTokenError as error:
            return _failure_for(error)
        return _principal_from_claims(claims)


# Most specific first: InvalidSignatureError is a DecodeError, every one an InvalidTokenError.
_FAILURES: Final[tuple[tuple[type[Exception], str, str], ...]] = (
    (
        jwt.exceptions.InvalidSignatureError,
        "INVALID_JWT_SIGNATURE",
        "the signature does not verify",
    ),
    (jwt.exceptions.ExpiredSignatureError, "TOKEN_EXPIRED", "the token has expired"),
    (
        jwt.exceptions.ImmatureSignatureError,
        "TOKEN_NOT_YET_VALID",
        "the token is not valid yet (nbf)",
    ),
    (jwt.exceptions.InvalidIssuerError, "INVALID_ISSUER", "the token issuer is not accepted"),
    (jwt.exceptions.InvalidAudienceError, "INVALID_AUDIENCE", "the token audience is not accepted"),
    (jwt.exceptions.DecodeError, "INVALID_JWT_PAYLOAD", "the token payload is not valid"),
)


def _decode_header(token: bytes) -> dict[str, object] | None:
    segment = token.split(b".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
        header = json.loads(raw)
    except (ValueError, binascii.Error):
        return None
    return header if isinstance(header, dict) else None


def _failure_for(error: Exception) -> AuthFailure:
    for kind, code, message in _FAILURES:
        if isinstance(error, kind):
            return AuthFailure(code, message)
    return AuthFailure("INVALID_JWT_PAYLOAD", f"the token is not valid: {type(error).__name__}")


def _principal_from_claims(claims: dict[str, object]) -> Principal | AuthFailure:
    account = claims.get("accountId")
    if not isinstance(account, str) or not account.strip():
        account = claims.get("sub")
    if not isinstance(account, str) or not account.strip():
        return AuthFailure("MISSING_ACCOUNT_ID", "the token has no accountId or sub claim")
    if len(account) > 64:
        return AuthFailure("MISSING_ACCOUNT_ID", "the account id is longer than 64 characters")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return AuthFailure("MISSING_EXP", "exp must be a number")
    nbf = claims.get("nbf", 0)
    role = claims.get("role")
    return Principal(
        account_id=account.strip(),
        role=role if isinstance(role, str) else "",
        expires_at_s=int(exp),
        not_before_s=int(nbf) if isinstance(nbf, int | float) else 0,
    )


def mint_token(
    secret: bytes,
    account_id: str,
    *,
    ttl_s: int = 3600,
    role: str = "",
    now_s: float | None = None,
    extra: Mapping[str, object] | None = None,
) -> str:
    """Create an HS256 token for an account (dev and ops tooling, tests)."""
    issued = int(time.time() if now_s is None else now_s)
    claims: dict[str, object] = {"sub": account_id, "accountId": account_id, "iat": issued}
    claims["exp"] = issued + ttl_s
    if role:
        claims["role"] = role
    if extra:
        claims.update(extra)
    return jwt.encode(claims, secret, algorithm="HS256")
