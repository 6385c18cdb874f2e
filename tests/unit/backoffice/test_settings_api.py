"""Settings parsing and the API's request helpers (scope, paging)."""

from pathlib import Path

import orjson
import pytest

from switchyard.adapters.auth import Principal
from switchyard.adapters.http import Response
from switchyard.backoffice.api import account_scope, page_params
from switchyard.backoffice.settings import BackofficeSettings
from switchyard.core.env import ConfigError


def _principal(account: str, role: str = "") -> Principal:
    return Principal(account_id=account, role=role, expires_at_s=2**40, not_before_s=0)


def test_settings_defaults_sqlite_under_data_dir_and_wal_source(tmp_path: Path) -> None:
    settings = BackofficeSettings.from_env({}, data_dir=tmp_path)
    assert settings.db_url == f"sqlite:///{(tmp_path / 'backoffice.db').resolve()}"
    assert settings.wal_dir == tmp_path / "wal"
    assert settings.kafka_bootstrap == ""
    assert settings.port == 8082


def test_settings_bad_currency_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BACKOFFICE_QUOTE_CCY"):
        BackofficeSettings.from_env({"BACKOFFICE_QUOTE_CCY": "J P Y"}, data_dir=tmp_path)


def test_settings_bad_fee_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BACKOFFICE_FEE_BPS"):
        BackofficeSettings.from_env({"BACKOFFICE_FEE_BPS": "-1"}, data_dir=tmp_path)


def test_account_scope_own_account_only() -> None:
    assert account_scope(_principal("a1"), {}) == "a1"
    assert account_scope(_principal("a1"), {"accountId": "a1"}) == "a1"
    refused = account_scope(_principal("a1"), {"accountId": "a2"})
    assert isinstance(refused, Response)
    assert refused.status == 404
    assert orjson.loads(refused.body)["error"] == "NOT_FOUND"


def test_account_scope_ops_sees_all_or_filters() -> None:
    assert account_scope(_principal("ops", "ops"), {}) is None
    assert account_scope(_principal("ops", "ops"), {"accountId": "a2"}) == "a2"


@pytest.mark.parametrize(("raw", "expected"), [("5", 5), ("0", 1), ("99999", 1000)])
def test_page_params_clamps_limit(raw: str, expected: int) -> None:
    assert page_params({"limit": raw}, "afterId") == (0, expected)


def test_page_params_refuses_non_integers() -> None:
    limit = page_params({"limit": "x"}, "afterId")
    after = page_params({"afterId": "-3"}, "afterId")
    assert isinstance(limit, Response)
    assert orjson.loads(limit.body)["error"] == "INVALID_LIMIT"
    assert isinstance(after, Response)
    assert after.status == 400
