"""Each pre-trade rule, its override, and its order of evaluation."""

from __future__ import annotations

import pytest

from switchyard.core.codes import Reason
from switchyard.core.enums import OrderType, Side
from switchyard.core.env import ConfigError
from switchyard.risk.config import RiskConfig
from switchyard.risk.engine import RiskEngine

NOW = 1_000_000_000_000


def check(engine: RiskEngine, **overrides: object) -> Reason:
    order: dict[str, object] = {
        "account_id": "acct",
        "symbol": "BTC",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "qty": 10,
        "price": 1000,
        "open_orders": 0,
        "killed": False,
        "now_ns": NOW,
    }
    order.update(overrides)
    return engine.check(**order)[0]  # type: ignore[arg-type]


def test_defaults_pass_a_plain_order() -> None:
    assert check(RiskEngine(RiskConfig())) == Reason.NONE


def test_kill_switch_comes_first() -> None:
    engine = RiskEngine(RiskConfig(max_qty=1))
    assert check(engine, killed=True, qty=100) == Reason.KILL_SWITCH


def test_max_qty_with_account_and_account_symbol_overrides() -> None:
    config = RiskConfig(
        max_qty=100, max_qty_by_account={"vip": 1000}, max_qty_by_account_symbol={"vip|BTC": 50}
    )
    engine = RiskEngine(config)
    assert check(engine, qty=101) == Reason.QTY_LIMIT_EXCEEDED
    assert check(engine, account_id="vip", qty=500, symbol="ETH") == Reason.NONE
    assert check(engine, account_id="vip", qty=51) == Reason.QTY_LIMIT_EXCEEDED


def test_symbol_lists_per_account_replace_the_global_list() -> None:
    config = RiskConfig(
        allowed_symbols=frozenset({"BTC"}), allowed_symbols_by_account={"eq": frozenset({"7203"})}
    )
    engine = RiskEngine(config)
    assert check(engine, symbol="ETH") == Reason.SYMBOL_NOT_ALLOWED
    assert check(engine, account_id="eq", symbol="7203") == Reason.NONE
    assert check(engine, account_id="eq", symbol="BTC") == Reason.SYMBOL_NOT_ALLOWED


def test_side_restrictions_intersect_and_an_empty_intersection_denies() -> None:
    config = RiskConfig(
        allowed_sides_by_account={"seller": frozenset({"SELL"})},
        allowed_sides_by_symbol={"BTC": frozenset({"BUY"})},
    )
    engine = RiskEngine(config)
    assert (
        check(engine, account_id="seller", side=Side.BUY, symbol="ETH") == Reason.SIDE_NOT_ALLOWED
    )
    assert check(engine, account_id="seller", side=Side.SELL, symbol="ETH") == Reason.NONE
    # SELL-only account on a BUY-only symbol: nothing allowed, so everything is denied
    assert check(engine, account_id="seller", side=Side.SELL) == Reason.SIDE_NOT_ALLOWED


def test_market_orders_can_be_forbidden() -> None:
    engine = RiskEngine(RiskConfig(allow_market=False))
    assert check(engine, order_type=OrderType.MARKET, price=0) == Reason.TYPE_NOT_ALLOWED
    assert check(engine) == Reason.NONE


def test_price_floor_and_ceiling() -> None:
    engine = RiskEngine(RiskConfig(min_price=10, max_price=2000, max_price_by_symbol={"ETH": 500}))
    assert check(engine, price=9) == Reason.PRICE_TOO_LOW
    assert check(engine, price=2001) == Reason.PRICE_TOO_HIGH
    assert check(engine, symbol="ETH", price=501) == Reason.PRICE_TOO_HIGH


def test_notional_limit_values_market_orders_at_the_reference() -> None:
    engine = RiskEngine(RiskConfig(max_notional=10_000))
    assert check(engine, qty=10, price=1000) == Reason.NONE
    assert check(engine, qty=11, price=1000) == Reason.NOTIONAL_LIMIT_EXCEEDED
    assert check(engine, order_type=OrderType.MARKET, price=0) == Reason.NO_REFERENCE_PRICE
    engine.reference_prices["BTC"] = 2000
    assert (
        check(engine, order_type=OrderType.MARKET, price=0, qty=6) == Reason.NOTIONAL_LIMIT_EXCEEDED
    )


def test_price_band_around_the_reference() -> None:
    engine = RiskEngine(RiskConfig(price_band_pct=5))
    assert check(engine) == Reason.NO_REFERENCE_PRICE
    engine.reference_prices["BTC"] = 1000
    assert check(engine, price=1050) == Reason.NONE
    assert check(engine, price=1051) == Reason.PRICE_BAND_EXCEEDED
    assert check(engine, price=949) == Reason.PRICE_BAND_EXCEEDED


def test_max_open_orders_per_account() -> None:
    engine = RiskEngine(RiskConfig(max_open_orders=2, max_open_orders_by_account={"big": 5}))
    assert check(engine, open_orders=1) == Reason.NONE
    assert check(engine, open_orders=2) == Reason.MAX_OPEN_ORDERS
    assert check(engine, account_id="big", open_orders=4) == Reason.NONE


def test_rate_limit_refills_over_time() -> None:
    engine = RiskEngine(RiskConfig(rate_per_sec=2, rate_burst=2))
    assert check(engine) == Reason.NONE
    engine.consume_token("acct", NOW)
    engine.consume_token("acct", NOW)
    assert check(engine) == Reason.RATE_LIMITED
    assert check(engine, now_ns=NOW + 499_000_000) == Reason.RATE_LIMITED
    assert check(engine, now_ns=NOW + 500_000_000) == Reason.NONE  # one token per 0.5 s
    assert check(engine, account_id="other") == Reason.NONE


def test_checking_never_changes_the_buckets() -> None:
    engine = RiskEngine(RiskConfig(rate_per_sec=1, rate_burst=1))
    engine.consume_token("acct", NOW)
    before = engine.bucket_state()
    for step in range(5):
        check(engine, now_ns=NOW + step * 100_000_000)
    assert engine.bucket_state() == before


def test_config_from_env_parses_seed_syntax() -> None:
    config = RiskConfig.from_env(
        {
            "RISK_MAX_QTY": "500",
            "RISK_MAX_QTY_BY_ACCOUNT": "a1:10,a2:20",
            "RISK_MAX_QTY_BY_ACCOUNT_SYMBOL": "a1|BTC:5",
            "RISK_ALLOWED_SYMBOLS": "BTC,ETH",
            "RISK_ALLOWED_SIDES_BY_SYMBOL": "BTC:buy",
            "RISK_RATE_PER_SEC": "100",
        }
    )
    assert config.max_qty == 500
    assert config.max_qty_by_account == {"a1": 10, "a2": 20}
    assert config.allowed_symbols == frozenset({"BTC", "ETH"})
    assert config.allowed_sides_by_symbol == {"BTC": frozenset({"BUY"})}
    assert config.rate_burst == 100


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("RISK_MAX_QTY", "-1", "RISK_MAX_QTY='-1'"),
        ("RISK_MAX_QTY_BY_ACCOUNT_SYMBOL", "a1:5", "acct|SYMBOL"),
        ("RISK_ALLOWED_SIDES", "BUY,HOLD", "unknown side"),
        ("RISK_ALLOWED_TYPES_BY_SYMBOL", "BTC:STOP", "unknown"),
        ("RISK_PRICE_BAND_PCT", "abc", "RISK_PRICE_BAND_PCT"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        RiskConfig.from_env({name: value})
