"""Settings of the strategy auto-trader: the STRATEGY_* variables and the config they seed.

Owns the declarations (the seed's names: STRATEGY_AUTO_ENABLE, STRATEGY_SYMBOLS,
STRATEGY_TICK_MS, STRATEGY_MAX_ORDERS_PER_MIN, STRATEGY_COOLDOWN_MS, STRATEGY_ADMIN_TOKEN,
STRATEGY_CONFIG_REFRESH_MS; new: STRATEGY_ACCOUNT_ID, STRATEGY_DB_TIMEOUT_MS) and
`StrategySettings.from_env`, which checks them all (a bad value raises ConfigError naming
the variable). `APP_DB_URL` is the back office's declaration, read here, never declared twice.
Reads only the mapping passed in; opens nothing.

The env values seed the first stored config row, always disabled (the seed's rule: nothing
trades until an operator enables it through the API). The signal parameters have no
variables (the seed hard-coded them): SMA 20/50, RSI 14 with 70/30, and the smallest order
quantity every configured symbol accepts (its lot size), with a cap of ten orders' worth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from switchyard.backoffice.settings import APP_DB_URL
from switchyard.core import env
from switchyard.core.limits import ACCOUNT_ID_LEN_MAX

from .config import (
    COOLDOWN_MS_MAX,
    ORDERS_PER_MIN_MAX,
    TICK_MS_MAX,
    TICK_MS_MIN,
    StrategyConfig,
    Venue,
    lcm_of_lots,
    parse_update,
)

_S = "strategy"
_ACCOUNT_RE: Final = re.compile(r"^[A-Za-z0-9._:@-]+$")

STRATEGY_AUTO_ENABLE = env.declare(
    "STRATEGY_AUTO_ENABLE",
    "1",
    "Run the strategy auto-trader in the gateway (it trades only once its config is enabled)",
    env.boolean,
    section=_S,
)
STRATEGY_SYMBOLS = env.declare(
    "STRATEGY_SYMBOLS",
    "7203,6758,9984",
    "Symbols of the first stored strategy config (comma-separated, traded by the venue)",
    env.csv,
    section=_S,
)
STRATEGY_TICK_MS = env.declare(
    "STRATEGY_TICK_MS",
    "1000",
    "Tick period of the first stored strategy config, in milliseconds",
    env.integer(TICK_MS_MIN, TICK_MS_MAX),
    section=_S,
)
STRATEGY_MAX_ORDERS_PER_MIN = env.declare(
    "STRATEGY_MAX_ORDERS_PER_MIN",
    "0",
    "Orders per minute the first stored strategy config allows (0 = unlimited)",
    env.integer(0, ORDERS_PER_MIN_MAX),
    section=_S,
)
STRATEGY_COOLDOWN_MS = env.declare(
    "STRATEGY_COOLDOWN_MS",
    "0",
    "Per-symbol pause after each strategy order in the first stored config, in milliseconds",
    env.integer(0, COOLDOWN_MS_MAX),
    section=_S,
)
STRATEGY_ADMIN_TOKEN = env.declare(
    "STRATEGY_ADMIN_TOKEN",
    "",
    "Bearer token PUT /api/strategy requires (unset: no check, a warning at start)",
    env.text,
    section=_S,
)
STRATEGY_CONFIG_REFRESH_MS = env.declare(
    "STRATEGY_CONFIG_REFRESH_MS",
    "5000",
    "How often the strategy config is re-read from the database, in milliseconds",
    env.integer(100, 3_600_000),
    section=_S,
)
STRATEGY_ACCOUNT_ID = env.declare(
    "STRATEGY_ACCOUNT_ID",
    "strategy",
    "Account the auto-trader's orders belong to (and key of its stored config)",
    env.text,
    section=_S,
)
STRATEGY_DB_TIMEOUT_MS = env.declare(
    "STRATEGY_DB_TIMEOUT_MS",
    "3000",
    "Connect, lock and statement timeout of strategy config database calls, in milliseconds",
    env.integer(100, 60_000),
    section=_S,
)

DEFAULT_SHORT_WINDOW: Final = 20
DEFAULT_LONG_WINDOW: Final = 50
DEFAULT_RSI_PERIOD: Final = 14
DEFAULT_RSI_OVERBOUGHT: Final = 70
DEFAULT_RSI_OVERSOLD: Final = 30
DEFAULT_POSITION_ORDERS: Final = 10  # maxPosition = this many orders of orderQty


@dataclass(frozen=True, slots=True)
class StrategySettings:
    auto_enable: bool
    account_id: str
    admin_token: str
    refresh_ms: int
    db_url: str
    db_timeout_ms: int
    seed: StrategyConfig  # version 0: what the first stored row gets

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, data_dir: Path, venue: Venue
    ) -> StrategySettings:
        """Every strategy setting, checked; a bad value raises ConfigError naming it."""
        account_id = STRATEGY_ACCOUNT_ID.read(environ)
        if not 0 < len(account_id) <= ACCOUNT_ID_LEN_MAX or not _ACCOUNT_RE.match(account_id):
            raise env.ConfigError(
                f"STRATEGY_ACCOUNT_ID={account_id!r}: 1..{ACCOUNT_ID_LEN_MAX} characters of "
                "A-Z, a-z, 0-9, '.', '_', ':', '@', '-'"
            )
        return cls(
            auto_enable=STRATEGY_AUTO_ENABLE.read(environ),
            account_id=account_id,
            admin_token=STRATEGY_ADMIN_TOKEN.read(environ),
            refresh_ms=STRATEGY_CONFIG_REFRESH_MS.read(environ),
            db_url=database_url(environ, data_dir),
            db_timeout_ms=STRATEGY_DB_TIMEOUT_MS.read(environ),
            seed=seed_config(environ, venue),
        )


def seed_config(environ: Mapping[str, str], venue: Venue) -> StrategyConfig:
    """The config the env describes (disabled), checked by the API's own rules."""
    symbols = STRATEGY_SYMBOLS.read(environ)
    order_qty = lcm_of_lots(symbols, venue)
    body = {
        "version": 0,
        "enabled": False,
        "symbols": list(symbols),
        "tickMs": STRATEGY_TICK_MS.read(environ),
        "maxOrdersPerMin": STRATEGY_MAX_ORDERS_PER_MIN.read(environ),
        "cooldownMs": STRATEGY_COOLDOWN_MS.read(environ),
        "shortWindow": DEFAULT_SHORT_WINDOW,
        "longWindow": DEFAULT_LONG_WINDOW,
        "rsiPeriod": DEFAULT_RSI_PERIOD,
        "rsiOverbought": DEFAULT_RSI_OVERBOUGHT,
        "rsiOversold": DEFAULT_RSI_OVERSOLD,
        "orderQty": order_qty,
        "maxPosition": order_qty * DEFAULT_POSITION_ORDERS,
    }
    parsed = parse_update(body, venue)
    if isinstance(parsed, list):
        # Only symbols can be wrong here: every other value passed its variable's parser.
        problems = "; ".join(error.message for error in parsed)
        raw = environ.get("STRATEGY_SYMBOLS", STRATEGY_SYMBOLS.default)
        raise env.ConfigError(f"STRATEGY_SYMBOLS={raw!r}: {problems}")
    _, values = parsed
    return StrategyConfig(**values, updated_by="env")


def database_url(environ: Mapping[str, str], data_dir: Path) -> str:
    """APP_DB_URL (SQLite or PostgreSQL through psycopg 3), else SQLite in the data dir."""
    raw = APP_DB_URL.read(environ)
    if not raw:
        return f"sqlite:///{(data_dir / 'strategy.db').resolve()}"
    # The scheme alone decides (SQLAlchemy is imported later, off the event loop).
    scheme, separator, _ = raw.partition("://")
    if separator and scheme in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        return raw
    raise env.ConfigError(
        f"APP_DB_URL: scheme {scheme if separator else raw[:30]!r} is not supported; use "
        "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB (psycopg 3)"
    )
