"""The strategy configuration: its fields, their bounds, validation and the API's JSON shape.

Owns `StrategyConfig` (one stored version of the config), the rules every field obeys and
the translation between the API's camelCase JSON and the config: `parse_update()` checks a
PUT body field by field and returns every problem at once; `api_fields()` is what GET shows.
Pure: no I/O, no clocks. Must not know where the config is stored or how it is used.

Fields in a PUT body are of three kinds: editable ones (all required: PUT replaces the
config), `version` (required: the version the client read, the optimistic-concurrency
check), and read-only ones GET shows (ignored whatever their value, so a PUT of exactly what
GET returned is valid). Anything else is an error, so a misspelt field is never ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from switchyard.core.limits import ORDER_QTY_MAX, SYMBOL_LEN_MAX

from .signal import SignalParams

SYMBOLS_MAX: Final = 50  # symbols one strategy trades (the seed's limit; bounds the tick's work)
TICK_MS_MIN: Final = 100
TICK_MS_MAX: Final = 60_000
ORDERS_PER_MIN_MAX: Final = 10_000
COOLDOWN_MS_MAX: Final = 600_000
# Samples in the long window (SMA 200 is the classic long one) and RSI changes: with
# SYMBOLS_MAX they bound a tick's work (measured in docs/STRATEGY.md) and the history kept.
WINDOW_MAX: Final = 200
RSI_PERIOD_MAX: Final = 100
HISTORY_LIMIT_MAX: Final = 1_000  # config versions one history request returns
_SYMBOL_RE: Final = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """One version of the config. `version` 0 means "never stored" (env defaults only)."""

    enabled: bool
    symbols: tuple[str, ...]
    tick_ms: int
    max_orders_per_min: int  # 0 = unlimited
    cooldown_ms: int  # per symbol, since the last order submitted for it
    short_window: int  # samples (one per tick)
    long_window: int
    rsi_period: int
    rsi_overbought: int  # percent
    rsi_oversold: int
    order_qty: int  # lots per order
    max_position: int  # |filled position + open orders| per symbol, in lots
    version: int = 0
    updated_at_ms: int = 0
    updated_by: str = ""

    def __post_init__(self) -> None:
        assert self.version >= 0, self.version
        assert self.symbols, "a config trades at least one symbol"
        assert self.order_qty > 0, self.order_qty

    @property
    def signal_params(self) -> SignalParams:
        return SignalParams(
            short_window=self.short_window,
            long_window=self.long_window,
            rsi_period=self.rsi_period,
            rsi_overbought=self.rsi_overbought,
            rsi_oversold=self.rsi_oversold,
        )

    def values(self) -> dict[str, Any]:
        """The editable fields, camelCase (what history stores and PUT replaces)."""
        return {name: _to_json(getattr(self, attr)) for name, attr in EDITABLE.items()}

    def same_values(self, other: StrategyConfig) -> bool:
        return self.values() == other.values()


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str | None  # None: the body as a whole
    message: str

    def to_json(self) -> dict[str, str | None]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True, slots=True)
class Venue:
    """What validation knows about the venue: traded symbols (empty: unknown) and lot sizes."""

    symbols: frozenset[str] = frozenset()
    lot_sizes: Mapping[str, int] | None = None


# camelCase name -> StrategyConfig attribute, in the order GET shows them
EDITABLE: Final = {
    "enabled": "enabled",
    "symbols": "symbols",
    "tickMs": "tick_ms",
    "maxOrdersPerMin": "max_orders_per_min",
    "cooldownMs": "cooldown_ms",
    "shortWindow": "short_window",
    "longWindow": "long_window",
    "rsiPeriod": "rsi_period",
    "rsiOverbought": "rsi_overbought",
    "rsiOversold": "rsi_oversold",
    "orderQty": "order_qty",
    "maxPosition": "max_position",
}
# integer fields: name -> (minimum, maximum); cross-field rules are in _check_relations
_INT_BOUNDS: Final = {
    "tickMs": (TICK_MS_MIN, TICK_MS_MAX),
    "maxOrdersPerMin": (0, ORDERS_PER_MIN_MAX),
    "cooldownMs": (0, COOLDOWN_MS_MAX),
    "shortWindow": (1, WINDOW_MAX - 1),
    "longWindow": (2, WINDOW_MAX),
    "rsiPeriod": (2, RSI_PERIOD_MAX),
    "rsiOverbought": (1, 100),
    "rsiOversold": (0, 99),
    "orderQty": (1, ORDER_QTY_MAX),
    "maxPosition": (1, ORDER_QTY_MAX),
}
# shown by GET, ignored in a PUT
READ_ONLY: Final = frozenset(
    {
        "accountId",
        "updatedAtMs",
        "updatedBy",
        "storage",
        "storageHealthy",
        "storageMessage",
        "storageErrorAtMs",
        "status",
    }
)
assert set(_INT_BOUNDS) | {"enabled", "symbols"} == set(EDITABLE)
assert set(EDITABLE.values()) <= {f.name for f in fields(StrategyConfig)}

# Price history the trader keeps per symbol: enough for the largest windows allowed.
HISTORY_SAMPLES_MAX: Final = max(WINDOW_MAX, RSI_PERIOD_MAX + 1)


def api_fields(config: StrategyConfig) -> dict[str, Any]:
    """`version` and the editable fields, camelCase (the first part of GET /api/strategy)."""
    return {"version": config.version, **config.values()}


def parse_update(body: object, venue: Venue) -> tuple[int, dict[str, Any]] | list[FieldError]:
    """(version the client read, new values by attribute), or every problem found."""
    if not isinstance(body, dict):
        return [FieldError(None, "the body must be a JSON object with the config's fields")]
    errors: list[FieldError] = []
    version: Any = body.get("version")
    if "version" not in body:
        errors.append(FieldError("version", "version is required: send the version you read"))
    elif not _is_int(version) or version < 0:
        errors.append(FieldError("version", "version must be a non-negative integer"))
    errors.extend(
        FieldError(name, f"{name} is not a strategy config field")
        for name in sorted(body)
        if name != "version" and name not in EDITABLE and name not in READ_ONLY
    )
    values: dict[str, Any] = {}
    for name, attr in EDITABLE.items():
        if name not in body:
            errors.append(FieldError(name, f"{name} is required"))
            continue
        value, problem = _parse_field(name, body[name], venue)
        if problem is not None:
            errors.append(FieldError(name, problem))
        else:
            values[attr] = value
    if len(values) == len(EDITABLE):
        errors.extend(check_relations(values, venue))
    if errors:
        return errors
    assert isinstance(version, int)
    return version, values


def check_relations(values: Mapping[str, Any], venue: Venue) -> list[FieldError]:
    """Rules between fields (each field alone is already valid)."""
    errors: list[FieldError] = []
    if values["long_window"] <= values["short_window"]:
        errors.append(FieldError("longWindow", "longWindow must be greater than shortWindow"))
    if values["rsi_oversold"] >= values["rsi_overbought"]:
        errors.append(FieldError("rsiOversold", "rsiOversold must be lower than rsiOverbought"))
    if values["max_position"] < values["order_qty"]:
        errors.append(FieldError("maxPosition", "maxPosition must be at least orderQty"))
    lots = venue.lot_sizes or {}
    for symbol in values["symbols"]:
        lot = lots.get(symbol, 1)
        if values["order_qty"] % lot:
            errors.append(
                FieldError(
                    "orderQty",
                    f"orderQty must be a multiple of {symbol}'s lot size {lot}",
                )
            )
            break
    return errors


def updated(config: StrategyConfig, values: Mapping[str, Any]) -> StrategyConfig:
    """`config` with new editable values (version and audit fields unchanged)."""
    return replace(config, **values)


def lcm_of_lots(symbols: Iterable[str], venue: Venue) -> int:
    """The smallest quantity valid for every symbol (the default orderQty)."""
    lots = venue.lot_sizes or {}
    result = 1
    for symbol in symbols:
        result = math.lcm(result, lots.get(symbol, 1))
    return result


def json_schema() -> dict[str, Any]:
    """JSON Schema of a PUT body (for API descriptions): each field alone; rules between
    fields, venue symbols and lot sizes are checked by `parse_update` only."""
    properties: dict[str, Any] = {
        "version": {"type": "integer", "minimum": 0, "description": "the version you read"},
        "enabled": {"type": "boolean"},
        "symbols": {
            "type": "array",
            "minItems": 1,
            "maxItems": SYMBOLS_MAX,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": _SYMBOL_RE.pattern, "maxLength": SYMBOL_LEN_MAX},
        },
    }
    for name, (low, high) in _INT_BOUNDS.items():
        properties[name] = {"type": "integer", "minimum": low, "maximum": high}
    properties.update({name: {"description": "read-only: ignored"} for name in sorted(READ_ONLY)})
    return {
        "type": "object",
        "required": ["version", *EDITABLE],
        "properties": properties,
        "additionalProperties": False,
    }


def _parse_field(name: str, value: object, venue: Venue) -> tuple[Any, str | None]:
    if name == "enabled":
        return (value, None) if isinstance(value, bool) else (None, "enabled must be true or false")
    if name == "symbols":
        return _parse_symbols(value, venue)
    low, high = _INT_BOUNDS[name]
    if not _is_int(value):
        return None, f"{name} must be an integer"
    assert isinstance(value, int)
    if not low <= value <= high:
        return None, f"{name} must be between {low} and {high}"
    return value, None


def _parse_symbols(value: object, venue: Venue) -> tuple[Any, str | None]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None, "symbols must be a list of strings"
    symbols = tuple(item.strip() for item in value if item.strip())
    if not symbols:
        return None, "symbols must not be empty"
    if len(symbols) > SYMBOLS_MAX:
        return None, f"symbols must be <= {SYMBOLS_MAX}"
    for symbol in symbols:
        if len(symbol) > SYMBOL_LEN_MAX or not _SYMBOL_RE.match(symbol):
            return None, (
                f"symbol {symbol[:40]!r} must be 1..{SYMBOL_LEN_MAX} characters "
                "of A-Z, a-z, 0-9, '.', '_', '-'"
            )
    if len(set(symbols)) != len(symbols):
        return None, "symbols must not repeat"
    unknown = [symbol for symbol in symbols if venue.symbols and symbol not in venue.symbols]
    if unknown:
        traded = ", ".join(sorted(venue.symbols))
        return None, f"the venue does not trade {', '.join(unknown)} (it trades {traded})"
    return symbols, None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _to_json(value: object) -> Any:
    return list(value) if isinstance(value, tuple) else value
