"""Incident replay: rebuild the gateway exactly as it was around an incident, somewhere safe.

`switchyard replay --data-dir SRC --at TIME --window-min N --out DIR`:
1. finds the records whose timestamps fall within +-N minutes of TIME (the incident window);
2. writes the replay set into DIR: a fresh gateway data directory whose WAL holds every record
   up to the end of the window (the prefix is what the state at that instant depends on) under
   the same WAL id, so order ids and chain hashes are identical, plus `window.jsonl` (the
   window's records, decoded) and `manifest.json`;
3. rebuilds the state twice — from the source WAL and from DIR's WAL, as a gateway's recovery
   would — and reports whether the two state hashes match (they must: same records, same
   deterministic apply).
`switchyard run --data-dir DIR` then serves that state for inspection (its venue starts empty,
so reconciliation will report the resting orders as lost; inspect before sending anything).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from switchyard.adapters.clock_system import SystemClock
from switchyard.adapters.disk_os import OsDisk
from switchyard.adapters.views import record_view
from switchyard.config import GatewaySettings
from switchyard.pipeline.apply import apply_record
from switchyard.pipeline.state import GatewayState, StateLimits, state_hash
from switchyard.risk.config import RiskConfig
from switchyard.risk.engine import RiskEngine
from switchyard.wal.flushers import InlineFlusher
from switchyard.wal.format import SEGMENT_HEADER_SIZE, decode_segment_header
from switchyard.wal.journal import Journal
from switchyard.wal.payload import decode_payload
from switchyard.wal.reader import WALReader, WALRecord
from switchyard.wal.settings import JournalSettings

_NS_PER_MIN = 60 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class ReplayReport:
    source: str
    out: str
    window_from_seq: int
    window_to_seq: int
    window_records: int
    prefix_records: int
    source_hash: str
    replay_hash: str

    @property
    def match(self) -> bool:
        return self.source_hash == self.replay_hash

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "out": self.out,
            "window": {
                "fromSeq": self.window_from_seq,
                "toSeq": self.window_to_seq,
                "records": self.window_records,
            },
            "prefixRecords": self.prefix_records,
            "sourceStateHash": self.source_hash,
            "replayStateHash": self.replay_hash,
            "match": self.match,
        }


def parse_time(text: str) -> int:
    """Epoch ns from an ISO-8601 time (UTC if no zone), epoch seconds or epoch milliseconds."""
    value = text.strip()
    if value.isdigit():
        number = int(value)
        return number * 1_000_000_000 if len(value) <= 10 else number * 1_000_000
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000_000)


def read_system_id(wal_dir: Path) -> bytes:
    """The WAL's system id, from the header of its first segment."""
    segments = sorted(p for p in wal_dir.glob("*.wal") if p.stem.isdigit())
    if not segments:
        raise ValueError(f"{wal_dir}: no WAL segments")
    with segments[0].open("rb") as handle:
        return decode_segment_header(handle.read(SEGMENT_HEADER_SIZE)).system_id


def _state_for(environ: dict[str, str], wal_id: str) -> tuple[GatewayState, RiskEngine]:
    settings = GatewaySettings.from_env(environ)
    state = GatewayState(
        engine_id=settings.engine_id,
        wal_id=wal_id,
        limits=StateLimits(
            orders_retained_max=settings.orders_retained_max,
            orders_open_max=settings.orders_open_max,
            idempotency_max=settings.idempotency_max,
            idempotency_ttl_s=settings.idempotency_ttl_s,
        ),
    )
    return state, RiskEngine(RiskConfig.from_env(environ))


def _hash_of(records: list[WALRecord], environ: dict[str, str], wal_id: str) -> str:
    state, risk = _state_for(environ, wal_id)
    for record in records:
        apply_record(
            state,
            risk,
            record.seq,
            record.ts_ns,
            decode_payload(record.record_type, record.payload),
        )
    return state_hash(state, risk.bucket_state())


def replay(
    source_dir: Path, out_dir: Path, at_ns: int, window_min: float, environ: dict[str, str]
) -> ReplayReport:
    """Build the replay set in `out_dir` and compare the state hashes (see the module doc)."""
    source_wal = source_dir / "wal"
    settings = JournalSettings.from_env(environ)
    reader = WALReader(source_wal, hmac_key=settings.hmac_key)
    low, high = at_ns - int(window_min * _NS_PER_MIN), at_ns + int(window_min * _NS_PER_MIN)
    prefix: list[WALRecord] = []
    window: list[WALRecord] = []
    for record in reader.iter_from(1):
        if record.ts_ns > high:
            break
        prefix.append(record)
        if record.ts_ns >= low:
            window.append(record)
    if not window:
        raise ValueError("no records in the window: check --at and --window-min")
    system_id = read_system_id(source_wal)
    wal_id = system_id[:3].hex()
    if (out_dir / "wal").exists():
        raise ValueError(f"{out_dir}/wal exists: replay into an empty directory")
    _write_wal(out_dir / "wal", prefix, system_id, settings)
    with (out_dir / "window.jsonl").open("w") as handle:
        for record in window:
            payload = decode_payload(record.record_type, record.payload)
            handle.write(json.dumps(record_view(record.seq, record.ts_ns, payload)) + "\n")
    replayed = list(WALReader(out_dir / "wal", hmac_key=settings.hmac_key).iter_from(1))
    report = ReplayReport(
        source=str(source_dir),
        out=str(out_dir),
        window_from_seq=window[0].seq,
        window_to_seq=window[-1].seq,
        window_records=len(window),
        prefix_records=len(prefix),
        source_hash=_hash_of(prefix, environ, wal_id),
        replay_hash=_hash_of(replayed, environ, wal_id),
    )
    (out_dir / "manifest.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return report


def _write_wal(
    wal_dir: Path, records: list[WALRecord], system_id: bytes, settings: JournalSettings
) -> None:
    """A new WAL with the same system id (so ids and hashes match), written through a Journal."""

    async def write() -> None:
        failures: list[BaseException] = []
        journal = Journal.open(
            wal_dir,
            disk=OsDisk(),
            settings=JournalSettings(
                hmac_key=settings.hmac_key,
                key_id=settings.key_id,
                flusher="inline",
                segment_size_bytes=settings.segment_size_bytes,
            ),
            clock=SystemClock(),
            flusher=InlineFlusher(),
            on_durable=lambda seq: None,
            on_fatal=failures.append,
            system_id=system_id,
        )
        for record in records:
            journal.append(record.seq, record.record_type, record.ts_ns, bytes(record.payload))
            if record.seq % 512 == 0:
                journal.commit()
        journal.commit()
        await journal.close()
        if failures:
            raise failures[0]

    asyncio.run(write())
