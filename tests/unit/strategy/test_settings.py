"""STRATEGY_* settings: the seed config they make, and bad values stopping startup by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.core.env import REGISTRY, ConfigError
from switchyard.strategy.config import Venue
from switchyard.strategy.settings import StrategySettings

VENUE = Venue(
    symbols=frozenset({"BTC", "ETH", "7203", "6758", "9984"}),
    lot_sizes={"BTC": 1, "ETH": 1, "7203": 100, "6758": 100, "9984": 100},
)


def read(tmp_path: Path, **environ: str) -> StrategySettings:
    return StrategySettings.from_env(environ, data_dir=tmp_path, venue=VENUE)


def test_defaults_seed_a_disabled_config_with_the_seeds_values(tmp_path: Path) -> None:
    settings = read(tmp_path)
    seed = settings.seed
    assert seed.enabled is False
    assert seed.symbols == ("7203", "6758", "9984")
    assert (seed.tick_ms, seed.max_orders_per_min, seed.cooldown_ms) == (1000, 0, 0)
    assert (seed.short_window, seed.long_window, seed.rsi_period) == (20, 50, 14)
    assert (seed.rsi_overbought, seed.rsi_oversold) == (70, 30)
    assert (seed.order_qty, seed.max_position) == (100, 1000)  # the TSE lot of 100 shares
    assert seed.version == 0
    assert settings.auto_enable is True
    assert settings.account_id == "strategy"
    assert settings.db_url == f"sqlite:///{(tmp_path / 'strategy.db').resolve()}"


def test_env_values_seed_the_config(tmp_path: Path) -> None:
    settings = read(
        tmp_path,
        STRATEGY_SYMBOLS="BTC,ETH",
        STRATEGY_TICK_MS="250",
        STRATEGY_MAX_ORDERS_PER_MIN="12",
        STRATEGY_COOLDOWN_MS="3000",
        STRATEGY_AUTO_ENABLE="0",
        STRATEGY_ACCOUNT_ID="algo-1",
        APP_DB_URL="postgresql+psycopg://u@db:5432/app",
    )
    seed = settings.seed
    assert seed.symbols == ("BTC", "ETH")
    assert (seed.tick_ms, seed.max_orders_per_min, seed.cooldown_ms) == (250, 12, 3000)
    assert (seed.order_qty, seed.max_position) == (1, 10)
    assert settings.auto_enable is False
    assert settings.account_id == "algo-1"
    assert settings.db_url == "postgresql+psycopg://u@db:5432/app"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STRATEGY_TICK_MS", "99"),
        ("STRATEGY_TICK_MS", "fast"),
        ("STRATEGY_MAX_ORDERS_PER_MIN", "-1"),
        ("STRATEGY_COOLDOWN_MS", "600001"),
        ("STRATEGY_SYMBOLS", "DOGE"),
        ("STRATEGY_SYMBOLS", ""),
        ("STRATEGY_SYMBOLS", "BTC,BTC"),
        ("STRATEGY_AUTO_ENABLE", "maybe"),
        ("STRATEGY_CONFIG_REFRESH_MS", "10"),
        ("STRATEGY_ACCOUNT_ID", "has space"),
        ("STRATEGY_DB_TIMEOUT_MS", "0"),
        ("APP_DB_URL", "jdbc:postgresql://localhost:5432/backoffice"),
        ("APP_DB_URL", "postgresql://u@h/db"),
        ("APP_DB_URL", "mysql://u@h/db"),
    ],
)
def test_a_bad_value_stops_startup_naming_the_variable(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        read(tmp_path, **{name: value})


def test_app_db_url_is_the_back_offices_declaration_not_a_second_one() -> None:
    assert REGISTRY["APP_DB_URL"].section == "back office"
    strategy_names = {name for name, var in REGISTRY.items() if var.section == "strategy"}
    assert "APP_DB_URL" not in strategy_names
    assert {
        "STRATEGY_AUTO_ENABLE",
        "STRATEGY_SYMBOLS",
        "STRATEGY_TICK_MS",
        "STRATEGY_MAX_ORDERS_PER_MIN",
        "STRATEGY_COOLDOWN_MS",
        "STRATEGY_ADMIN_TOKEN",
        "STRATEGY_CONFIG_REFRESH_MS",
        "STRATEGY_ACCOUNT_ID",
    } <= strategy_names
