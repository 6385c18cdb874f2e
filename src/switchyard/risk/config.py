"""Risk settings: RISK_* environment variables (seed names) with per-account/per-symbol overrides.

Units: quantities in lots, prices in ticks, notionals in tick-lots (qty * price), rates in
orders per second. A limit of 0 (or empty) is off. Override syntax, as in the seed: entries
separated by `,`, key and value by the first `:`, list members by `|` or `;`; an
account-by-symbol key is `acct|SYMBOL`. Unlike the seed, a restriction that leaves nothing
allowed denies everything (it never silently means "no restriction").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from switchyard.core import env
from switchyard.core.enums import OrderType, Side


def _names(raw: str) -> frozenset[str]:
    return frozenset(
        item.strip() for item in raw.replace(";", "|").replace(",", "|").split("|") if item.strip()
    )


def _list_map(raw: str) -> dict[str, frozenset[str]]:
    """`key:A|B;C,key2:D` -> {key: {A,B,C}, key2: {D}}."""
    result: dict[str, frozenset[str]] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        key, sep, value = entry.partition(":")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"entry {entry!r} is not key:A|B")
        members = frozenset(v.strip() for v in value.replace(";", "|").split("|") if v.strip())
        if not members:
            raise ValueError(f"entry {entry!r} lists nothing")
        if key in result:
            raise ValueError(f"key {key!r} appears twice")
        result[key] = members
    return result


def _sides(raw: str) -> frozenset[str]:
    names = frozenset(name.upper() for name in _names(raw))
    unknown = names - {side.name for side in Side}
    if unknown:
        raise ValueError(f"unknown side(s) {sorted(unknown)}; use BUY, SELL")
    return names


def _types(raw: str) -> frozenset[str]:
    names = frozenset(name.upper() for name in _names(raw))
    unknown = names - {kind.name for kind in OrderType}
    if unknown:
        raise ValueError(f"unknown type(s) {sorted(unknown)}; use LIMIT, MARKET")
    return names


_S = "risk"
MAX_QTY = env.declare(
    "RISK_MAX_QTY", "100000", "Max order quantity in lots (0 = off)", env.integer(0), section=_S
)
MAX_QTY_BY_ACCOUNT = env.declare(
    "RISK_MAX_QTY_BY_ACCOUNT", "", "Per-account max qty `acct:n,...`", env.int_map, section=_S
)
MAX_QTY_BY_ACCOUNT_SYMBOL = env.declare(
    "RISK_MAX_QTY_BY_ACCOUNT_SYMBOL",
    "",
    "Per account and symbol max qty `acct|SYM:n,...`",
    env.int_map,
    section=_S,
)
MAX_NOTIONAL = env.declare(
    "RISK_MAX_NOTIONAL",
    "0",
    "Max notional (qty x price in tick-lots; 0 = off)",
    env.integer(0),
    section=_S,
)
MAX_NOTIONAL_BY_ACCOUNT = env.declare(
    "RISK_MAX_NOTIONAL_BY_ACCOUNT",
    "",
    "Per-account max notional `acct:n,...`",
    env.int_map,
    section=_S,
)
MAX_NOTIONAL_BY_ACCOUNT_SYMBOL = env.declare(
    "RISK_MAX_NOTIONAL_BY_ACCOUNT_SYMBOL",
    "",
    "Per account and symbol max notional `acct|SYM:n`",
    env.int_map,
    section=_S,
)
RATE_PER_SEC = env.declare(
    "RISK_RATE_PER_SEC",
    "0",
    "Per-account order rate, token bucket refill per second (0 = off)",
    env.integer(0, 10**7),
    section=_S,
)
RATE_BURST = env.declare(
    "RISK_RATE_BURST",
    "",
    "Token bucket capacity (default: the rate)",
    env.optional_integer(1, 10**7),
    section=_S,
)
ALLOWED_SYMBOLS = env.declare(
    "RISK_ALLOWED_SYMBOLS", "", "Symbols allowed to everyone (empty = all)", _names, section=_S
)
ALLOWED_SYMBOLS_BY_ACCOUNT = env.declare(
    "RISK_ALLOWED_SYMBOLS_BY_ACCOUNT",
    "",
    "Per-account symbol lists `acct:A|B,...` (replace the global list)",
    _list_map,
    section=_S,
)
ALLOWED_SIDES = env.declare(
    "RISK_ALLOWED_SIDES", "", "Sides allowed (empty = BUY,SELL)", _sides, section=_S
)
ALLOWED_SIDES_BY_ACCOUNT = env.declare(
    "RISK_ALLOWED_SIDES_BY_ACCOUNT",
    "",
    "Per-account sides `acct:BUY,...` (intersected)",
    _list_map,
    section=_S,
)
ALLOWED_SIDES_BY_SYMBOL = env.declare(
    "RISK_ALLOWED_SIDES_BY_SYMBOL",
    "",
    "Per-symbol sides `SYM:SELL,...` (intersected)",
    _list_map,
    section=_S,
)
ALLOWED_TYPES = env.declare(
    "RISK_ALLOWED_TYPES", "", "Order types allowed (empty = LIMIT,MARKET)", _types, section=_S
)
ALLOW_MARKET = env.declare(
    "RISK_ALLOW_MARKET", "1", "0 forbids MARKET orders", env.boolean, section=_S
)
ALLOWED_TYPES_BY_ACCOUNT = env.declare(
    "RISK_ALLOWED_TYPES_BY_ACCOUNT",
    "",
    "Per-account types `acct:LIMIT,...` (intersected)",
    _list_map,
    section=_S,
)
ALLOWED_TYPES_BY_SYMBOL = env.declare(
    "RISK_ALLOWED_TYPES_BY_SYMBOL",
    "",
    "Per-symbol types `SYM:LIMIT,...` (intersected)",
    _list_map,
    section=_S,
)
MIN_PRICE = env.declare(
    "RISK_MIN_PRICE", "0", "Min LIMIT price in ticks (0 = off)", env.integer(0), section=_S
)
MIN_PRICE_BY_SYMBOL = env.declare(
    "RISK_MIN_PRICE_BY_SYMBOL", "", "Per-symbol min price `SYM:n,...`", env.int_map, section=_S
)
MAX_PRICE = env.declare(
    "RISK_MAX_PRICE", "0", "Max LIMIT price in ticks (0 = off)", env.integer(0), section=_S
)
MAX_PRICE_BY_SYMBOL = env.declare(
    "RISK_MAX_PRICE_BY_SYMBOL", "", "Per-symbol max price `SYM:n,...`", env.int_map, section=_S
)
PRICE_BAND_PCT = env.declare(
    "RISK_PRICE_BAND_PCT",
    "0",
    "Fat-finger band: max % distance of a LIMIT price from the reference price (0 = off)",
    env.number(0, 1000),
    section=_S,
)
MAX_OPEN_ORDERS = env.declare(
    "RISK_MAX_OPEN_ORDERS", "0", "Max live orders per account (0 = off)", env.integer(0), section=_S
)
MAX_OPEN_ORDERS_BY_ACCOUNT = env.declare(
    "RISK_MAX_OPEN_ORDERS_BY_ACCOUNT",
    "",
    "Per-account max live orders `acct:n,...`",
    env.int_map,
    section=_S,
)


@dataclass(frozen=True, slots=True)
class RiskConfig:
    max_qty: int = 100_000
    max_qty_by_account: Mapping[str, int] = field(default_factory=dict)
    max_qty_by_account_symbol: Mapping[str, int] = field(default_factory=dict)
    max_notional: int = 0
    max_notional_by_account: Mapping[str, int] = field(default_factory=dict)
    max_notional_by_account_symbol: Mapping[str, int] = field(default_factory=dict)
    rate_per_sec: int = 0
    rate_burst: int = 0
    allowed_symbols: frozenset[str] = frozenset()
    allowed_symbols_by_account: Mapping[str, frozenset[str]] = field(default_factory=dict)
    allowed_sides: frozenset[str] = frozenset()
    allowed_sides_by_account: Mapping[str, frozenset[str]] = field(default_factory=dict)
    allowed_sides_by_symbol: Mapping[str, frozenset[str]] = field(default_factory=dict)
    allowed_types: frozenset[str] = frozenset()
    allow_market: bool = True
    allowed_types_by_account: Mapping[str, frozenset[str]] = field(default_factory=dict)
    allowed_types_by_symbol: Mapping[str, frozenset[str]] = field(default_factory=dict)
    min_price: int = 0
    min_price_by_symbol: Mapping[str, int] = field(default_factory=dict)
    max_price: int = 0
    max_price_by_symbol: Mapping[str, int] = field(default_factory=dict)
    price_band_pct: float = 0.0
    max_open_orders: int = 0
    max_open_orders_by_account: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RiskConfig:
        rate = RATE_PER_SEC.read(environ)
        burst = RATE_BURST.read(environ)
        for name, mapping in (
            (MAX_QTY_BY_ACCOUNT_SYMBOL.name, MAX_QTY_BY_ACCOUNT_SYMBOL.read(environ)),
            (MAX_NOTIONAL_BY_ACCOUNT_SYMBOL.name, MAX_NOTIONAL_BY_ACCOUNT_SYMBOL.read(environ)),
        ):
            for key in mapping:
                if "|" not in key:
                    raise env.ConfigError(f"{name}: key {key!r} must be acct|SYMBOL")
        for var in (ALLOWED_SIDES_BY_ACCOUNT, ALLOWED_SIDES_BY_SYMBOL):
            for key, sides in var.read(environ).items():
                _check_members(var.name, key, sides, {s.name for s in Side})
        for var in (ALLOWED_TYPES_BY_ACCOUNT, ALLOWED_TYPES_BY_SYMBOL):
            for key, kinds in var.read(environ).items():
                _check_members(var.name, key, kinds, {t.name for t in OrderType})
        return cls(
            max_qty=MAX_QTY.read(environ),
            max_qty_by_account=MAX_QTY_BY_ACCOUNT.read(environ),
            max_qty_by_account_symbol=MAX_QTY_BY_ACCOUNT_SYMBOL.read(environ),
            max_notional=MAX_NOTIONAL.read(environ),
            max_notional_by_account=MAX_NOTIONAL_BY_ACCOUNT.read(environ),
            max_notional_by_account_symbol=MAX_NOTIONAL_BY_ACCOUNT_SYMBOL.read(environ),
            rate_per_sec=rate,
            rate_burst=burst if burst is not None else rate,
            allowed_symbols=ALLOWED_SYMBOLS.read(environ),
            allowed_symbols_by_account=ALLOWED_SYMBOLS_BY_ACCOUNT.read(environ),
            allowed_sides=ALLOWED_SIDES.read(environ),
            allowed_sides_by_account=_upper(ALLOWED_SIDES_BY_ACCOUNT.read(environ)),
            allowed_sides_by_symbol=_upper(ALLOWED_SIDES_BY_SYMBOL.read(environ)),
            allowed_types=ALLOWED_TYPES.read(environ),
            allow_market=ALLOW_MARKET.read(environ),
            allowed_types_by_account=_upper(ALLOWED_TYPES_BY_ACCOUNT.read(environ)),
            allowed_types_by_symbol=_upper(ALLOWED_TYPES_BY_SYMBOL.read(environ)),
            min_price=MIN_PRICE.read(environ),
            min_price_by_symbol=MIN_PRICE_BY_SYMBOL.read(environ),
            max_price=MAX_PRICE.read(environ),
            max_price_by_symbol=MAX_PRICE_BY_SYMBOL.read(environ),
            price_band_pct=PRICE_BAND_PCT.read(environ),
            max_open_orders=MAX_OPEN_ORDERS.read(environ),
            max_open_orders_by_account=MAX_OPEN_ORDERS_BY_ACCOUNT.read(environ),
        )


def _upper(mapping: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    return {key: frozenset(v.upper() for v in values) for key, values in mapping.items()}


def _check_members(name: str, key: str, members: frozenset[str], allowed: set[str]) -> None:
    unknown = {member.upper() for member in members} - allowed
    if unknown:
        raise env.ConfigError(f"{name}: {key} lists unknown {sorted(unknown)}")
