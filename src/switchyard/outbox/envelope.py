"""The event envelope (contracts/event.v1.schema.json): one WAL record as versioned JSON.

    {"schemaVersion": 1, "eventId": "<source>:<seq>", "eventType": "OrderFilled",
     "seq": 42, "occurredAt": "2025-01-01T00:00:00.123456Z", "occurredAtNs": 17..., "source":
     "<ENGINE_ID>:<walId>", "accountId": "a1" | null, "orderId": "..." | null, "data": {...}}

`data` holds every other field of the record, camelCase, enums as their names (`"BUY"`,
`"FILLED"`, `"IOC_REMAINDER"`). The Kafka key is the account id; for records without one it is
the event key (MarketEvent), the kill-switch scope, or the engine id. This module owns the
mapping record -> (key, JSON bytes) and nothing else; the outbox and the back office's WAL
source both use it, so Kafka and WAL consumers see byte-identical events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Final

import msgspec
import orjson

from switchyard.core.events import (
    RECORD_CLASSES,
    KillSwitchSet,
    MarketEvent,
    OwnershipChanged,
    Record,
    RecordType,
    SessionStarted,
)

SCHEMA_VERSION: Final = 1
EVENT_TYPES: Final[dict[RecordType, str]] = {
    record_type: cls.__name__ for record_type, cls in RECORD_CLASSES.items()
}
_LIFTED: Final = frozenset({"account_id", "order_id"})


@dataclass(frozen=True, slots=True)
class _TypePlan:
    """How to turn one record type into (key, envelope) with as little work per record as can be.

    `astuple(record)` gives the field values in declaration order; `data_indexes` picks the
    ones that go into `data` (named `data_names`), `enum_names` maps the positions of enum
    fields (within `data`) to a {member: name} table (member `.name` goes through a slow
    property), and the account, order and key fields are read by index. `data_type` is a
    Struct with the camelCase names, so the envelope is encoded by msgspec in one call
    (1.8 us for a fill against 3.5 us through a dict and orjson, measured).
    """

    event_type: str
    data_names: tuple[str, ...]
    data_indexes: tuple[int, ...]
    enum_names: tuple[tuple[int, dict[int, str]], ...]  # (position in data, member -> name)
    account_index: int  # -1: no account id
    order_index: int  # -1: no order id
    key_index: int
    data_type: type[msgspec.Struct]  # `data` as a Struct: msgspec encodes it in one C call


def camel(name: str) -> str:
    """`time_in_force` -> `timeInForce`."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_KEY_FIELD: Final[dict[type[Record], str]] = {
    MarketEvent: "key",
    KillSwitchSet: "scope",
    SessionStarted: "engine_id",
    OwnershipChanged: "engine_id",
}


def _plan(cls: type[Record]) -> _TypePlan:
    names: list[str] = []
    indexes: list[int] = []
    enums: list[tuple[int, dict[int, str]]] = []
    fields: list[tuple[str, object]] = []
    positions: dict[str, int] = {}
    for index, info in enumerate(msgspec.structs.fields(cls)):
        positions[info.name] = index
        if info.name in _LIFTED:
            continue
        kind = info.type
        if isinstance(kind, type) and issubclass(kind, IntEnum):
            enums.append((len(names), {int(member): member.name for member in kind}))
            kind = str
        names.append(camel(info.name))
        indexes.append(index)
        fields.append((camel(info.name), kind))
    key_field = _KEY_FIELD.get(cls, "account_id")
    return _TypePlan(
        event_type=cls.__name__,
        data_names=tuple(names),
        data_indexes=tuple(indexes),
        enum_names=tuple(enums),
        account_index=positions.get("account_id", -1),
        order_index=positions.get("order_id", -1),
        key_index=positions[key_field],
        data_type=msgspec.defstruct(f"{cls.__name__}Data", fields, gc=False),
    )


_PLANS: Final[dict[type[Record], _TypePlan]] = {cls: _plan(cls) for cls in RECORD_CLASSES.values()}
_astuple = msgspec.structs.astuple
_ENCODER = msgspec.json.Encoder()


class _Envelope(msgspec.Struct, rename="camel", gc=False):
    schema_version: int
    event_id: str
    event_type: str
    seq: int
    occurred_at: str
    occurred_at_ns: int
    source: str
    account_id: str | None
    order_id: str | None
    data: msgspec.Struct


def event_id(source: str, seq: int) -> str:
    return f"{source}:{seq}"


def source_name(engine_id: str, wal_id: str) -> str:
    """The producer of a WAL's events: `<ENGINE_ID>:<walId>` (never reused, DESIGN §6)."""
    assert engine_id, "engine id must not be empty"
    assert ":" not in engine_id, f"engine id may not contain ':', got {engine_id!r}"
    return f"{engine_id}:{wal_id}"


def kafka_key(record: Record) -> str:
    """The partitioning key: the account, so one account's events stay in order."""
    key: str = _astuple(record)[_PLANS[type(record)].key_index]
    return key


class EnvelopeEncoder:
    """Encodes records of one source. Keeps a one-second timestamp cache; not thread-safe."""

    __slots__ = ("_second", "_second_text", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._second = -1
        self._second_text = ""

    def build(self, record: Record, *, seq: int, ts_ns: int) -> dict[str, object]:
        """The envelope as a dict (tools and tests; the outbox uses `encode_keyed`)."""
        decoded: dict[str, object] = orjson.loads(self.encode(record, seq=seq, ts_ns=ts_ns))
        return decoded

    def encode(self, record: Record, *, seq: int, ts_ns: int) -> bytes:
        """The envelope as compact UTF-8 JSON."""
        return self.encode_keyed(record, seq=seq, ts_ns=ts_ns)[1]

    def encode_keyed(self, record: Record, *, seq: int, ts_ns: int) -> tuple[bytes, bytes]:
        """(Kafka key, envelope JSON): what the outbox sends, in one pass over the record."""
        assert seq > 0, seq
        plan = _PLANS[type(record)]
        values = _astuple(record)
        data = [values[i] for i in plan.data_indexes]
        for position, names in plan.enum_names:
            data[position] = names[data[position]]
        account = values[plan.account_index] if plan.account_index >= 0 else None
        source = self.source
        envelope = _Envelope(
            SCHEMA_VERSION,
            f"{source}:{seq}",
            plan.event_type,
            seq,
            self._timestamp(ts_ns),
            ts_ns,
            source,
            account or None,
            values[plan.order_index] if plan.order_index >= 0 else None,
            plan.data_type(*data),
        )
        key: str = values[plan.key_index]
        return key.encode(), _ENCODER.encode(envelope)

    def _timestamp(self, ts_ns: int) -> str:
        second, remainder_ns = divmod(ts_ns, 1_000_000_000)
        if second != self._second:
            moment = datetime.fromtimestamp(second, tz=UTC)
            self._second_text = moment.strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{remainder_ns // 1000:06d}Z"
