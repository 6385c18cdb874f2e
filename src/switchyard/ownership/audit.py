"""Check from engines' WALs that no two engines accepted writes for one key at the same time.

Each engine's WAL says when it started serving which keys (OwnershipChanged: the whole served
set after the change), when a new process took the WAL over (SessionStarted: it serves
nothing until it says so), and every write it accepted (MarketEvent, OrderAccepted and
OrderDenied: a denied order passed the ownership check before risk refused it). From that:

- every write lies inside its own engine's serving interval for that key ("unowned write");
- no write lies inside another engine's serving interval for that key ("concurrent write");
- serving intervals of different engines for one key do not overlap ("overlap"); an overlap
  without writes in it is still reported: it means both engines would have accepted.

A session that ends without a record saying so (SIGKILL) is taken to end at its last record:
a dead process accepts nothing. Times are the records' wall-clock stamps, so engines on
different machines need synchronised clocks (`tolerance_ns` absorbs the rest). The revision
argument of the protocol (ack before gain) is what makes this hold; this checks the outcome.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from switchyard.core.events import (
    MarketEvent,
    OrderAccepted,
    OrderDenied,
    OwnershipChanged,
    RecordType,
    SessionStarted,
)
from switchyard.wal import WALReader, decode_payload

ALL_KEYS: Final = "*"  # an OwnershipChanged key meaning "every key"
_KINDS: Final = frozenset(
    {
        RecordType.SESSION_STARTED,
        RecordType.OWNERSHIP_CHANGED,
        RecordType.MARKET_EVENT,
        RecordType.ORDER_ACCEPTED,
        RecordType.ORDER_DENIED,
    }
)


@dataclass(frozen=True, slots=True)
class Fact:
    """One WAL record that matters here."""

    seq: int
    ts_ns: int
    kind: Literal["session", "ownership", "write"]
    keys: tuple[str, ...]  # the served set (ownership), the key written (write), () (session)
    revision: int = 0


@dataclass(frozen=True, slots=True)
class Interval:
    engine: str
    key: str
    start_ns: int
    end_ns: int  # exclusive


@dataclass(slots=True)
class AuditReport:
    writes: int = 0
    intervals: list[Interval] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unowned and concurrent writes
    overlaps: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.overlaps


def read_facts(wal_dir: Path, *, hmac_key: bytes | None = None) -> Iterator[Fact]:
    """The facts of one engine's WAL, in seq order (durable records only)."""
    for record in WALReader(wal_dir, hmac_key=hmac_key).iter_from(1):
        if record.record_type not in _KINDS:
            continue
        payload = decode_payload(record.record_type, record.payload)
        if isinstance(payload, SessionStarted):
            yield Fact(record.seq, record.ts_ns, "session", ())
        elif isinstance(payload, OwnershipChanged):
            yield Fact(record.seq, record.ts_ns, "ownership", payload.keys, payload.revision)
        elif isinstance(payload, MarketEvent):
            yield Fact(record.seq, record.ts_ns, "write", (payload.key,))
        elif isinstance(payload, OrderAccepted | OrderDenied):
            yield Fact(record.seq, record.ts_ns, "write", (payload.symbol,))


def audit(engines: Mapping[str, Iterable[Fact]], *, tolerance_ns: int = 0) -> AuditReport:
    """Check the facts of several engines (name -> its facts in seq order)."""
    report = AuditReport()
    writes: list[tuple[str, str, int, int]] = []  # engine, key, ts, seq
    for name, facts in engines.items():
        _intervals_of(name, facts, report, writes)
    by_key: dict[str, list[Interval]] = {}
    for interval in report.intervals:
        by_key.setdefault(interval.key, []).append(interval)
    for intervals in by_key.values():
        intervals.sort(key=lambda item: item.start_ns)
    report.writes = len(writes)
    for engine, key, ts_ns, seq in writes:
        _check_write(engine, key, ts_ns, seq, by_key, report, tolerance_ns)
    for key, intervals in by_key.items():
        if key != ALL_KEYS:
            _check_overlaps(intervals + by_key.get(ALL_KEYS, []), report, tolerance_ns)
    return report


def _intervals_of(
    name: str,
    facts: Iterable[Fact],
    report: AuditReport,
    writes: list[tuple[str, str, int, int]],
) -> None:
    serving: dict[str, int] = {}  # key -> start ts
    last_ts = 0

    def close(keys: Iterable[str], end_ns: int) -> None:
        for key in list(keys):
            report.intervals.append(Interval(name, key, serving.pop(key), end_ns))

    for fact in facts:
        if fact.kind == "session":
            close(serving, last_ts)
        elif fact.kind == "ownership":
            new = set(fact.keys)
            close([key for key in serving if key not in new], fact.ts_ns)
            for key in new:
                serving.setdefault(key, fact.ts_ns)
        else:
            key = fact.keys[0]
            if key not in serving and ALL_KEYS not in serving:
                report.problems.append(
                    f"unowned write: {name} seq {fact.seq} key {key} at {fact.ts_ns} "
                    "(not in its served set)"
                )
            writes.append((name, key, fact.ts_ns, fact.seq))
        last_ts = fact.ts_ns
    close(serving, last_ts + 1)


def _check_write(
    engine: str,
    key: str,
    ts_ns: int,
    seq: int,
    by_key: dict[str, list[Interval]],
    report: AuditReport,
    tolerance_ns: int,
) -> None:
    for candidates in (by_key.get(key, []), by_key.get(ALL_KEYS, [])):
        starts = [interval.start_ns for interval in candidates]
        for interval in candidates[: bisect.bisect_right(starts, ts_ns + tolerance_ns)]:
            if interval.engine == engine:
                continue
            if interval.start_ns - tolerance_ns <= ts_ns < interval.end_ns + tolerance_ns:
                report.problems.append(
                    f"concurrent write: {engine} seq {seq} key {key} at {ts_ns} while "
                    f"{interval.engine} served it [{interval.start_ns}, {interval.end_ns})"
                )


def _check_overlaps(intervals: list[Interval], report: AuditReport, tolerance_ns: int) -> None:
    ordered = sorted(intervals, key=lambda item: item.start_ns)
    active: list[Interval] = []
    for interval in ordered:
        active = [other for other in active if other.end_ns - tolerance_ns > interval.start_ns]
        for other in active:
            if other.engine != interval.engine:
                report.overlaps.append(
                    f"overlap: key {interval.key}: {other.engine} "
                    f"[{other.start_ns}, {other.end_ns}) and {interval.engine} "
                    f"[{interval.start_ns}, {interval.end_ns})"
                )
        active.append(interval)
