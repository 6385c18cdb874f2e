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
class _FieldPlan:
    attribute: str
    name: str  # camelCase
    as_enum_name: bool


@dataclass(frozen=True, slots=True)
class _TypePlan:
    event_type: str
    fields: tuple[_FieldPlan, ...]
    has_account: bool
    has_order: bool


def camel(name: str) -> str:
    """`time_in_force` -> `timeInForce`."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _plan(cls: type[Record]) -> _TypePlan:
    plans = []
    names = set()
    for info in msgspec.structs.fields(cls):
        names.add(info.name)
        if info.name in _LIFTED:
            continue
        kind = info.type
        is_enum = isinstance(kind, type) and issubclass(kind, IntEnum)
        plans.append(_FieldPlan(info.name, camel(info.name), is_enum))
    return _TypePlan(cls.__name__, tuple(plans), "account_id" in names, "order_id" in names)


_PLANS: Final[dict[type[Record], _TypePlan]] = {cls: _plan(cls) for cls in RECORD_CLASSES.values()}


def event_id(source: str, seq: int) -> str:
    return f"{source}:{seq}"


def source_name(engine_id: str, wal_id: str) -> str:
    """The producer of a WAL's events: `<ENGINE_ID>:<walId>` (never reused, DESIGN §6)."""
    assert engine_id, "engine id must not be empty"
    assert ":" not in engine_id, f"engine id may not contain ':', got {engine_id!r}"
    return f"{engine_id}:{wal_id}"


def kafka_key(record: Record) -> str:
    """The partitioning key: the account, so one account's events stay in order."""
    if isinstance(record, MarketEvent):
        return record.key
    if isinstance(record, KillSwitchSet):
        return record.scope
    if isinstance(record, SessionStarted | OwnershipChanged):
        return record.engine_id
    account_id: str = record.account_id
    return account_id


class EnvelopeEncoder:
    """Encodes records of one source. Keeps a one-second timestamp cache; not thread-safe."""

    __slots__ = ("_second", "_second_text", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._second = -1
        self._second_text = ""

    def build(self, record: Record, *, seq: int, ts_ns: int) -> dict[str, object]:
        """The envelope as a dict (what `encode` serializes)."""
        assert seq > 0, seq
        plan = _PLANS[type(record)]
        data: dict[str, object] = {}
        for field in plan.fields:
            value = getattr(record, field.attribute)
            data[field.name] = value.name if field.as_enum_name else value
        return {
            "schemaVersion": SCHEMA_VERSION,
            "eventId": f"{self.source}:{seq}",
            "eventType": plan.event_type,
            "seq": seq,
            "occurredAt": self._timestamp(ts_ns),
            "occurredAtNs": ts_ns,
            "source": self.source,
            "accountId": (record.account_id or None) if plan.has_account else None,  # type: ignore[union-attr]
            "orderId": record.order_id if plan.has_order else None,  # type: ignore[union-attr]
            "data": data,
        }

    def encode(self, record: Record, *, seq: int, ts_ns: int) -> bytes:
        """The envelope as compact UTF-8 JSON."""
        return orjson.dumps(self.build(record, seq=seq, ts_ns=ts_ns))

    def _timestamp(self, ts_ns: int) -> str:
        second, remainder_ns = divmod(ts_ns, 1_000_000_000)
        if second != self._second:
            moment = datetime.fromtimestamp(second, tz=UTC)
            self._second_text = moment.strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{remainder_ns // 1000:06d}Z"
