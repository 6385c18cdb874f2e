"""Contract test: every WAL record type encodes to an envelope that the v1 schema accepts."""

import json
import os
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path

import jsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fixtures.backoffice import SOURCE, TS0_NS, sample_records

from switchyard.core.enums import LiquiditySide, OrderStatus, Side
from switchyard.core.events import RECORD_CLASSES, OrderFilled, RecordType
from switchyard.outbox.envelope import EnvelopeEncoder, camel, kafka_key, source_name

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "contracts" / "event.v1.schema.json").read_text())
FIXTURES = ROOT / "contracts" / "fixtures" / "event.v1"
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _encode(record_type: RecordType) -> dict[str, object]:
    record = sample_records()[record_type]
    value = EnvelopeEncoder(SOURCE).encode(
        record, seq=100 + record_type, ts_ns=TS0_NS + 123_456_789
    )
    decoded: dict[str, object] = orjson.loads(value)
    return decoded


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("record_type", list(RecordType), ids=lambda t: t.name)
def test_envelope_every_record_type_matches_schema(record_type: RecordType) -> None:
    VALIDATOR.validate(_encode(record_type))


@pytest.mark.parametrize("record_type", list(RecordType), ids=lambda t: t.name)
def test_envelope_every_record_type_matches_checked_in_fixture(record_type: RecordType) -> None:
    envelope = _encode(record_type)
    path = FIXTURES / f"{envelope['eventType']}.json"
    text = json.dumps(envelope, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.read_text() == text


def test_fixtures_all_validate_and_cover_every_type() -> None:
    names = {path.stem for path in FIXTURES.glob("*.json")}
    assert names == {cls.__name__ for cls in RECORD_CLASSES.values()}
    for path in FIXTURES.glob("*.json"):
        VALIDATOR.validate(json.loads(path.read_text()))


def test_schema_data_definitions_list_exactly_the_record_fields() -> None:
    import msgspec

    for cls in RECORD_CLASSES.values():
        fields = {camel(f.name) for f in msgspec.structs.fields(cls)} - {"accountId", "orderId"}
        assert set(SCHEMA["$defs"][cls.__name__]["properties"]) == fields, cls.__name__


def test_envelope_fill_fields_and_ids() -> None:
    envelope = _encode(RecordType.ORDER_FILLED)
    assert envelope["eventId"] == f"{SOURCE}:{100 + RecordType.ORDER_FILLED}"
    assert envelope["accountId"] == "acct-1"
    assert envelope["occurredAt"] == "2026-01-01T00:00:00.123456Z"
    assert envelope["occurredAtNs"] == TS0_NS + 123_456_789
    data = envelope["data"]
    assert isinstance(data, dict)
    assert data["side"] == "BUY"
    assert data["status"] == "PARTIALLY_FILLED"
    assert data["liquidity"] == "TAKER"
    assert data["cumNotional"] == 3996


def test_envelope_schema_refuses_missing_event_id() -> None:
    envelope = _encode(RecordType.ORDER_SENT)
    del envelope["eventId"]
    assert not VALIDATOR.is_valid(envelope)


def test_envelope_schema_refuses_unknown_enum_name() -> None:
    envelope = _encode(RecordType.ORDER_FILLED)
    envelope["data"]["side"] = "HOLD"  # type: ignore[index]
    assert not VALIDATOR.is_valid(envelope)


def test_envelope_schema_refuses_order_event_without_order_id() -> None:
    envelope = _encode(RecordType.ORDER_CANCELED)
    envelope["orderId"] = None
    assert not VALIDATOR.is_valid(envelope)


def test_kafka_key_account_else_event_key() -> None:
    samples = sample_records()
    assert kafka_key(samples[RecordType.ORDER_FILLED]) == "acct-1"
    assert kafka_key(samples[RecordType.MARKET_EVENT]) == "XYZ"
    assert kafka_key(samples[RecordType.KILL_SWITCH_SET]) == "*"
    assert kafka_key(samples[RecordType.SESSION_STARTED]) == "eng1"


def test_source_name_refuses_colon_in_engine_id() -> None:
    with pytest.raises(AssertionError):
        source_name("a:b", "abcdef")


@given(
    filled=st.integers(1, 10**9),  # qty * price must fit in 64 bits (msgpack in the WAL too)
    price=st.integers(0, 10**9),
    seq=st.integers(1, 2**62),
    ts_ns=st.integers(0, 2**62),
)
def test_envelope_fill_any_values_match_schema(
    filled: int, price: int, seq: int, ts_ns: int
) -> None:
    record = OrderFilled(
        order_id="e-abcdef-1",
        account_id="a",
        status=OrderStatus.FILLED,
        filled_qty=filled,
        symbol="S",
        side=Side.SELL,
        last_qty=filled,
        last_price=price,
        leaves_qty=0,
        cum_notional=filled * price,
        liquidity=LiquiditySide.MAKER,
        exec_id="x",
        venue_seq=1,
    )
    envelope = orjson.loads(EnvelopeEncoder("e:abcdef").encode(record, seq=seq, ts_ns=ts_ns))
    VALIDATOR.validate(envelope)
    assert envelope["seq"] == seq


_KEY_FIELDS = {"MarketEvent": "key", "KillSwitchSet": "scope", "SessionStarted": "engine_id"}
_KEY_FIELDS["OwnershipChanged"] = "engine_id"


def _reference_encoding(
    record: object, *, source: str, seq: int, ts_ns: int
) -> tuple[bytes, bytes]:
    """The envelope built the plain way (a dict in schema order, orjson): what the encoder's
    generated builders must reproduce byte for byte (the back office's WAL source and the
    outbox both use the encoder, and consumers dedupe and compare by these bytes)."""
    import msgspec

    data: dict[str, object] = {}
    for info in msgspec.structs.fields(record):  # type: ignore[arg-type]
        value = getattr(record, info.name)
        if info.name not in ("account_id", "order_id"):
            data[camel(info.name)] = value.name if isinstance(value, IntEnum) else value
    second, remainder_ns = divmod(ts_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    envelope = {
        "schemaVersion": 1,
        "eventId": f"{source}:{seq}",
        "eventType": type(record).__name__,
        "seq": seq,
        "occurredAt": f"{moment}.{remainder_ns // 1000:06d}Z",
        "occurredAtNs": ts_ns,
        "source": source,
        "accountId": getattr(record, "account_id", None) or None,
        "orderId": getattr(record, "order_id", None),
        "data": data,
    }
    key = getattr(record, _KEY_FIELDS.get(type(record).__name__, "account_id"))
    return key.encode(), orjson.dumps(envelope)


@pytest.mark.parametrize("record_type", list(RecordType), ids=lambda t: t.name)
@pytest.mark.parametrize("ts_ns", [0, 999, 1_000, TS0_NS + 123_456_789, TS0_NS + 999_999_999])
def test_envelope_bytes_equal_the_reference_encoding(record_type: RecordType, ts_ns: int) -> None:
    record = sample_records()[record_type]
    encoder = EnvelopeEncoder(SOURCE)
    encoded = encoder.encode_keyed(record, seq=7, ts_ns=ts_ns)
    assert encoded == _reference_encoding(record, source=SOURCE, seq=7, ts_ns=ts_ns)
    assert kafka_key(record).encode() == encoded[0]


@given(
    account=st.text(max_size=12),
    order=st.text(max_size=12),
    symbol=st.text(min_size=1, max_size=8),
    seq=st.integers(1, 2**62),
    ts_ns=st.integers(0, 2**62),
)
def test_envelope_fill_any_strings_equal_the_reference_encoding(
    account: str, order: str, symbol: str, seq: int, ts_ns: int
) -> None:
    record = OrderFilled(
        order_id=order,
        account_id=account,
        status=OrderStatus.PARTIALLY_FILLED,
        filled_qty=3,
        symbol=symbol,
        side=Side.BUY,
        last_qty=1,
        last_price=5,
        leaves_qty=2,
        cum_notional=15,
        liquidity=LiquiditySide.TAKER,
        exec_id="x",
        venue_seq=1,
    )
    encoder = EnvelopeEncoder("e:abcdef")
    encoded = encoder.encode_keyed(record, seq=seq, ts_ns=ts_ns)
    assert encoded == _reference_encoding(record, source="e:abcdef", seq=seq, ts_ns=ts_ns)
