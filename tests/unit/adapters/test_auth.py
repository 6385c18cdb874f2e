"""JWT authentication: every refusal has its code; cached tokens still expire on time."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest

from switchyard.adapters.auth import (
    Authenticator,
    AuthFailure,
    AuthSettings,
    Principal,
    load_or_create_dev_secret,
    mint_token,
)
from switchyard.core.env import ConfigError

SECRET = b"test-secret-0123456789abcdef0123"


def now_s() -> float:
    """The real time, read per test: PyJWT checks iat/exp against the real clock."""
    return float(int(time.time()))


class Clock:
    def __init__(self, now: float | None = None) -> None:
        self.now = now_s() if now is None else now

    def __call__(self) -> float:
        return self.now


def make_auth(clock: Clock | None = None, **overrides: object) -> Authenticator:
    settings = AuthSettings(secret=SECRET, issuer="", audience="", skew_s=30, dev_secret_path=None)
    for key, value in overrides.items():
        object.__setattr__(settings, key, value)
    return Authenticator(settings, now_s=clock or Clock())


def bearer(token: str) -> bytes:
    return b"Bearer " + token.encode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, object], claims: dict[str, object], signature: str = "") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), signature])


def code_of(result: Principal | AuthFailure) -> str:
    assert isinstance(result, AuthFailure), result
    return result.code


def test_valid_token_gives_the_account_from_accountid() -> None:
    token = mint_token(SECRET, "acct-1", now_s=now_s())
    result = make_auth().authenticate(bearer(token))
    assert isinstance(result, Principal)
    assert result.account_id == "acct-1"
    assert not result.is_ops


def test_sub_is_used_when_accountid_is_absent() -> None:
    token = jwt.encode({"sub": "acct-sub", "exp": int(now_s()) + 60}, SECRET, algorithm="HS256")
    result = make_auth().authenticate(bearer(token))
    assert isinstance(result, Principal)
    assert result.account_id == "acct-sub"


def test_ops_role_is_recognised() -> None:
    token = mint_token(SECRET, "operator", role="ops", now_s=now_s())
    result = make_auth().authenticate(bearer(token))
    assert isinstance(result, Principal)
    assert result.is_ops


@pytest.mark.parametrize("header", [None, b"", b"Basic abc", b"bearer x.y.z", b"Bearer "])
def test_missing_or_malformed_bearer_is_refused(header: bytes | None) -> None:
    assert code_of(make_auth().authenticate(header)) == "MISSING_BEARER_TOKEN"


def test_alg_none_is_refused() -> None:
    token = unsigned({"alg": "none", "typ": "JWT"}, {"sub": "a", "exp": int(now_s()) + 60})
    assert code_of(make_auth().authenticate(bearer(token))) == "UNSUPPORTED_ALG"


def test_algorithm_confusion_with_rs256_header_is_refused() -> None:
    # An attacker signs with HMAC using the "public key" but claims RS256.
    claims = {"sub": "a", "exp": int(now_s()) + 60}
    body = unsigned({"alg": "RS256", "typ": "JWT"}, claims)
    import hashlib
    import hmac

    signature = b64(hmac.new(SECRET, body[:-1].encode(), hashlib.sha256).digest())
    assert code_of(make_auth().authenticate(bearer(body + signature))) == "UNSUPPORTED_ALG"


def test_missing_alg_is_refused() -> None:
    token = unsigned({"typ": "JWT"}, {"sub": "a", "exp": int(now_s()) + 60}, "sig")
    assert code_of(make_auth().authenticate(bearer(token))) == "MISSING_ALG"


def test_bad_signature_is_refused() -> None:
    token = mint_token(b"another-secret-another-secret-00", "acct-1", now_s=now_s())
    assert code_of(make_auth().authenticate(bearer(token))) == "INVALID_JWT_SIGNATURE"


def test_tampered_payload_is_refused() -> None:
    token = mint_token(SECRET, "acct-1", now_s=now_s())
    header, _, signature = token.split(".")
    forged = b64(json.dumps({"sub": "victim", "exp": int(now_s()) + 60}).encode())
    result = make_auth().authenticate(bearer(f"{header}.{forged}.{signature}"))
    assert code_of(result) == "INVALID_JWT_SIGNATURE"


def test_expired_token_is_refused() -> None:
    now = time.time()
    token = mint_token(SECRET, "acct-1", ttl_s=10, now_s=now - 100)
    assert code_of(make_auth().authenticate(bearer(token))) == "TOKEN_EXPIRED"


def test_expiry_within_skew_is_accepted() -> None:
    now = time.time()  # PyJWT reads the real clock: take "now" here, not at import
    token = mint_token(SECRET, "acct-1", ttl_s=10, now_s=now - 20)  # expired 10 s ago, skew 30
    assert isinstance(make_auth(Clock(now)).authenticate(bearer(token)), Principal)


def test_cached_token_expires_on_time() -> None:
    clock = Clock()
    auth = make_auth(clock)
    token = mint_token(SECRET, "acct-1", ttl_s=60, now_s=clock.now)
    assert isinstance(auth.authenticate(bearer(token)), Principal)
    assert auth.verified_total == 1
    assert isinstance(auth.authenticate(bearer(token)), Principal)
    assert auth.verified_total == 1  # the second use came from the cache
    clock.now = clock.now + 60 + 31
    assert code_of(auth.authenticate(bearer(token))) == "TOKEN_EXPIRED"


def test_future_nbf_is_refused() -> None:
    claims = {"sub": "a", "exp": int(time.time()) + 600, "nbf": int(time.time()) + 300}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    assert code_of(make_auth().authenticate(bearer(token))) == "TOKEN_NOT_YET_VALID"


def test_missing_exp_is_refused() -> None:
    token = jwt.encode({"sub": "a"}, SECRET, algorithm="HS256")
    assert code_of(make_auth().authenticate(bearer(token))) == "MISSING_EXP"


def test_missing_account_is_refused() -> None:
    token = jwt.encode({"exp": 4_000_000_000, "accountId": "  "}, SECRET, algorithm="HS256")
    assert code_of(make_auth().authenticate(bearer(token))) == "MISSING_ACCOUNT_ID"


def test_wrong_issuer_and_audience_are_refused() -> None:
    auth = make_auth(issuer="switchyard", audience="gateway")
    good = mint_token(SECRET, "a", extra={"iss": "switchyard", "aud": "gateway"})
    assert isinstance(auth.authenticate(bearer(good)), Principal)
    bad_iss = mint_token(SECRET, "a", extra={"iss": "evil", "aud": "gateway"})
    assert code_of(auth.authenticate(bearer(bad_iss))) == "INVALID_ISSUER"
    bad_aud = mint_token(SECRET, "a", extra={"iss": "switchyard", "aud": "other"})
    assert code_of(auth.authenticate(bearer(bad_aud))) == "INVALID_AUDIENCE"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("abc", "INVALID_JWT_FORMAT"),
        ("a.b", "INVALID_JWT_FORMAT"),
        ("a.b.c.d", "INVALID_JWT_FORMAT"),
        ("!!!.###.$$$", "INVALID_JWT_HEADER"),
        (b64(b"[1,2]") + ".e30.sig", "INVALID_JWT_HEADER"),
        ("x" * 9000 + ".a.b", "INVALID_JWT_FORMAT"),
    ],
)
def test_garbage_tokens_are_refused(token: str, code: str) -> None:
    assert code_of(make_auth().authenticate(bearer(token))) == code


def test_truncated_token_is_refused() -> None:
    token = mint_token(SECRET, "acct-1", now_s=now_s())
    result = make_auth().authenticate(bearer(token[:-5]))
    assert code_of(result) in {"INVALID_JWT_SIGNATURE", "INVALID_JWT_PAYLOAD"}


def test_refused_tokens_are_never_cached() -> None:
    auth = make_auth()
    token = mint_token(b"wrong-secret-wrong-secret-wrong!", "acct-1", now_s=now_s())
    for _ in range(3):
        assert code_of(auth.authenticate(bearer(token))) == "INVALID_JWT_SIGNATURE"
    assert auth.verified_total == 0


def test_dev_secret_is_created_once_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "jwt-hs256.key"
    first = load_or_create_dev_secret(path)
    second = load_or_create_dev_secret(path)
    assert first == second
    assert len(first) == 64
    assert path.stat().st_mode & 0o777 == 0o600


def test_production_refuses_a_missing_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JWT_HS256_SECRET"):
        AuthSettings.from_env({"SWITCHYARD_ENV": "production"}, tmp_path)


def test_development_uses_the_dev_secret(tmp_path: Path) -> None:
    settings = AuthSettings.from_env({}, tmp_path)
    assert settings.dev_secret_path == tmp_path / "secrets" / "jwt-hs256.key"
    assert settings.secret == load_or_create_dev_secret(settings.dev_secret_path).encode()
