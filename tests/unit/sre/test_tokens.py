"""JWT secret resolution and minting."""

import time

import jwt
import pytest

from switchyard.sre import tokens


def test_secret_from_env_wins_over_the_file(tmp_path):
    secret = tokens.resolve_secret({"JWT_HS256_SECRET": "s" * 20}, tmp_path)
    assert secret.value == b"s" * 20
    assert secret.source == "env:JWT_HS256_SECRET"


def test_secret_from_the_gateway_dev_file(tmp_path):
    path = tmp_path / "secrets" / "jwt-hs256.key"
    path.parent.mkdir()
    path.write_bytes(b"0123456789abcdef0123\n")
    path.chmod(0o600)
    secret = tokens.resolve_secret({}, tmp_path)
    assert secret.value == b"0123456789abcdef0123"
    assert "jwt-hs256.key" in secret.source


def test_group_readable_secret_file_is_refused(tmp_path):
    path = tmp_path / "key"
    path.write_bytes(b"x" * 32)
    path.chmod(0o640)
    with pytest.raises(tokens.SecretError, match="readable by others"):
        tokens.resolve_secret({}, tmp_path, path)


def test_short_secret_is_refused(tmp_path):
    path = tmp_path / "key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(tokens.SecretError, match="shorter"):
        tokens.resolve_secret({}, tmp_path, path)


def test_no_secret_anywhere_says_where_it_looked(tmp_path):
    with pytest.raises(tokens.SecretError, match="JWT_HS256_SECRET is unset"):
        tokens.resolve_secret({}, tmp_path)


def test_minted_tokens_carry_account_and_expiry():
    secret = tokens.JWTSecret(b"k" * 32, "test")
    now = int(time.time())
    minted = tokens.mint_tokens(secret, tokens.account_ids(3), now, 10.5)
    assert list(minted) == ["bench-0001", "bench-0002", "bench-0003"]
    claims = jwt.decode(minted["bench-0002"], b"k" * 32, algorithms=["HS256"])
    assert claims["accountId"] == "bench-0002"
    assert claims["exp"] == now + 10 + tokens.TOKEN_TTL_MARGIN_S
