"""HS256 JWTs for load generation: one token per account, minted once before a run.

The secret comes from JWT_HS256_SECRET, else the gateway's development secret file
($SWITCHYARD_DATA_DIR/secrets/jwt-hs256.key, raw bytes, mode 0600). Tokens carry `sub` and
`accountId` (DESIGN.md §3) and expire a margin after the run ends. Never logs a secret.
"""

import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jwt

from switchyard.sre import settings

TOKEN_TTL_MARGIN_S = 300  # tokens outlive the run by this much (drain, slow shutdown)
SECRET_BYTES_MIN = 16  # below this an HS256 secret is guessable; refuse it


class SecretError(ValueError):
    """No usable JWT secret; the message says where we looked."""


@dataclass(frozen=True, slots=True)
class JWTSecret:
    value: bytes
    source: str  # "env:JWT_HS256_SECRET" or the file path, recorded in results (never the value)


def resolve_secret(
    environ: Mapping[str, str], data_dir: Path, explicit_file: Path | None = None
) -> JWTSecret:
    """Find the HS256 secret the gateway uses."""
    if explicit_file is not None:
        return JWTSecret(_read_secret_file(explicit_file), str(explicit_file))
    from_env = settings.read_shared("JWT_HS256_SECRET", "", environ)
    if from_env:
        return JWTSecret(from_env.encode(), "env:JWT_HS256_SECRET")
    path = data_dir / settings.JWT_SECRET_FILE
    if path.exists():
        return JWTSecret(_read_secret_file(path), str(path))
    raise SecretError(
        f"no JWT secret: JWT_HS256_SECRET is unset and {path} does not exist "
        "(start the gateway once with this data dir, or pass --jwt-secret-file)"
    )


def _read_secret_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        value = path.read_bytes()
    except OSError as error:
        raise SecretError(f"{path}: cannot read JWT secret: {error}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"{path}: JWT secret file is readable by others (mode {mode:o})")
    value = value.strip()
    if len(value) < SECRET_BYTES_MIN:
        raise SecretError(f"{path}: JWT secret shorter than {SECRET_BYTES_MIN} bytes")
    return value


def account_ids(count: int, prefix: str = "bench") -> list[str]:
    """Stable account names: bench-0001 ... so reruns hit the same accounts."""
    assert count >= 1
    return [f"{prefix}-{index:04d}" for index in range(1, count + 1)]


def mint_token(secret: JWTSecret, account_id: str, now_s: int, ttl_s: int) -> str:
    """An HS256 token for one account, valid from now for ttl_s seconds."""
    assert ttl_s > 0
    claims = {"sub": account_id, "accountId": account_id, "iat": now_s, "exp": now_s + ttl_s}
    token: str = jwt.encode(claims, secret.value, algorithm="HS256")
    return token


def mint_tokens(
    secret: JWTSecret, accounts: list[str], now_s: int, run_duration_s: float
) -> dict[str, str]:
    """One token per account, valid for the run plus a margin."""
    ttl_s = int(run_duration_s) + TOKEN_TTL_MARGIN_S
    return {account: mint_token(secret, account, now_s, ttl_s) for account in accounts}
