"""Config validation: every rule, the error list, and GET's shape accepted back by PUT."""

from __future__ import annotations

from typing import Any

import pytest
from tests.fixtures.strategy import INVALID, valid_body

from switchyard.strategy.config import (
    READ_ONLY,
    FieldError,
    StrategyConfig,
    Venue,
    api_fields,
    json_schema,
    lcm_of_lots,
    parse_update,
    updated,
)

VENUE = Venue(
    symbols=frozenset({"BTC", "ETH", "7203", "6758", "9984"}),
    lot_sizes={"BTC": 1, "ETH": 1, "7203": 100, "6758": 100, "9984": 100},
)


@pytest.mark.parametrize(("changes", "field", "message"), INVALID)
def test_parse_update_names_the_field_and_the_rule(
    changes: dict[str, Any], field: str, message: str
) -> None:
    errors = parse_update(valid_body(**changes), VENUE)
    assert isinstance(errors, list)
    assert [e.field for e in errors] == [field], errors
    assert message in errors[0].message


@pytest.mark.parametrize("missing", ["version", "enabled", "symbols", "tickMs", "maxPosition"])
def test_parse_update_requires_every_field(missing: str) -> None:
    body = valid_body()
    del body[missing]
    errors = parse_update(body, VENUE)
    assert isinstance(errors, list)
    assert [e.field for e in errors] == [missing]
    assert "required" in errors[0].message


def test_parse_update_reports_every_problem_at_once() -> None:
    errors = parse_update(valid_body(tickMs=5, symbols=[], cooldownMs=-3, extra=1), VENUE)
    assert isinstance(errors, list)
    assert sorted(e.field or "" for e in errors) == ["cooldownMs", "extra", "symbols", "tickMs"]


@pytest.mark.parametrize("body", [[], "config", 42, None])
def test_parse_update_refuses_a_body_that_is_not_an_object(body: object) -> None:
    assert parse_update(body, VENUE) == [
        FieldError(None, "the body must be a JSON object with the config's fields")
    ]


def test_parse_update_trims_symbols_and_returns_values_by_attribute() -> None:
    parsed = parse_update(valid_body(version=7, symbols=[" 7203 ", "BTC"]), VENUE)
    assert not isinstance(parsed, list)
    version, values = parsed
    assert version == 7
    assert values["symbols"] == ("7203", "BTC")
    assert values["tick_ms"] == 1000


def test_parse_update_without_venue_knowledge_skips_symbol_and_lot_checks() -> None:
    parsed = parse_update(valid_body(symbols=["ANY"], orderQty=7, maxPosition=70), Venue())
    assert not isinstance(parsed, list)


def test_what_get_shows_is_a_valid_put() -> None:
    """A PUT of exactly what GET returned is valid: read-only fields are ignored."""
    config = StrategyConfig(
        enabled=True,
        symbols=("BTC",),
        tick_ms=500,
        max_orders_per_min=10,
        cooldown_ms=0,
        short_window=3,
        long_window=9,
        rsi_period=4,
        rsi_overbought=70,
        rsi_oversold=30,
        order_qty=5,
        max_position=50,
        version=12,
    )
    shown: dict[str, Any] = {**api_fields(config)}
    shown.update(dict.fromkeys(READ_ONLY, "anything at all"))
    parsed = parse_update(shown, VENUE)
    assert not isinstance(parsed, list)
    version, values = parsed
    assert version == 12
    assert updated(config, values) == config


def test_lcm_of_lots_is_valid_for_every_symbol() -> None:
    assert lcm_of_lots(["BTC", "7203"], VENUE) == 100
    assert lcm_of_lots(["BTC", "ETH"], VENUE) == 1


def test_the_json_schema_describes_the_same_body() -> None:
    import jsonschema

    schema = json_schema()
    jsonschema.validate(valid_body(), schema)
    for changes in ({"tickMs": 99}, {"symbols": []}, {"extra": 1}, {"enabled": "yes"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**valid_body(), **changes}, schema)
    body = valid_body()
    del body["orderQty"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, schema)
