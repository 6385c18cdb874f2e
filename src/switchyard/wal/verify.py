"""Verify the WAL's hash chain offline or live: what `GET /audit/verify` and the CLI run.

Reads segments (never writes), recomputes every record's checksum and chain hash from
`from_seq` on (the hash before it is taken from the stored record, like the seed's verifier),
checks the newest anchor when its seq is in the checked range, and reports the first problem
with its file and offset. On a live WAL (its lock is held) it stops at the durable watermark,
so a batch being written is never mistaken for damage; on a stopped WAL a torn tail (only
invalid bytes after the last valid batch, which recovery will cut) is reported as `tail`
while `ok` stays true, because no durable record is affected.
"""

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from .anchor import Anchor, read_latest_anchor
from .errors import WALCorruption, WALError
from .format import SEQ_MAX, ChainHasher
from .reader import ReadableDisk, _Cursor, _OsReadDisk, list_segments, read_watermark
from .scan import WALRecord, find_batch_after

LOCK_FILE = "LOCK"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int  # records whose checksum and chain hash were recomputed
    last_seq: int  # the last record checked (0 if none)
    error: str | None = None
    file: str | None = None
    offset: int | None = None
    anchor_seq: int | None = None  # the anchor that was compared, if any
    tail: str | None = None  # a torn tail recovery will cut (stopped WAL only)

    def to_json(self) -> dict[str, object]:
        """The seed's shape {ok, checked, lastSeq, error} plus file, offset, anchorSeq, tail."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "lastSeq": self.last_seq,
            "error": self.error,
            "file": self.file,
            "offset": self.offset,
            "anchorSeq": self.anchor_seq,
            "tail": self.tail,
        }


def wal_is_live(wal_dir: Path) -> bool:
    """True while a writer holds the WAL lock (a running gateway or its writer process)."""
    path = os.path.join(wal_dir, LOCK_FILE)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)
    return False


def verify(
    wal_dir: Path,
    hmac_key: bytes | None,
    from_seq: int = 1,
    limit: int | None = None,
    *,
    disk: ReadableDisk | None = None,
    live: bool | None = None,
) -> VerifyResult:
    """Check up to `limit` records from `from_seq`; see the module docstring."""
    assert from_seq >= 1
    assert limit is None or limit >= 1
    source: ReadableDisk = disk or _OsReadDisk()
    directory = str(wal_dir)
    if live is None:
        live = disk is None and wal_is_live(wal_dir)
    bound = SEQ_MAX
    if live:
        found = read_watermark(source, directory)
        bound = 0 if found is None else found[1]
    anchor = read_latest_anchor(wal_dir) if disk is None else None
    progress = _Progress(from_seq, bound, limit, anchor)
    cursor = _Cursor(source, directory, ChainHasher(hmac_key))
    try:
        if cursor.locate(from_seq):
            progress.run(cursor)
    except WALCorruption as error:
        if not live and _is_torn_tail(source, directory, error):
            return progress.result(tail=str(error))
        return progress.result(error=error.reason, file=error.file, offset=error.offset)
    except WALError as error:
        return progress.result(error=str(error))
    finally:
        cursor.close()
    if progress.mismatch is not None:
        return progress.mismatch
    if live and cursor.next_seq <= bound and not progress.full():
        reason = f"log ends at seq {cursor.next_seq - 1} below the durable watermark {bound}"
        return progress.result(error=reason)
    return progress.result()


class _Progress:
    """What verification has checked so far."""

    def __init__(self, from_seq: int, bound: int, limit: int | None, anchor: Anchor | None) -> None:
        self.from_seq = from_seq
        self.bound = bound
        self.limit = limit
        self.anchor = anchor
        self.checked = 0
        self.last_seq = 0
        self.anchor_seq: int | None = None
        self.mismatch: VerifyResult | None = None

    def full(self) -> bool:
        return self.limit is not None and self.checked >= self.limit

    def run(self, cursor: _Cursor) -> None:
        while cursor.next_seq <= self.bound and not self.full():
            records = cursor.next_batch()
            if records is None:
                return
            for record in records:
                if self.from_seq <= record.seq <= self.bound and not self.full():
                    self.checked += 1
                    self.last_seq = record.seq
                    if not self._anchor_holds(record):
                        return

    def _anchor_holds(self, record: WALRecord) -> bool:
        anchor = self.anchor
        if anchor is None or anchor.seq != record.seq:
            return True
        self.anchor_seq = anchor.seq
        if anchor.hash == record.chain_hash:
            return True
        reason = f"chain hash at seq {record.seq} differs from its anchor"
        self.mismatch = self.result(error=reason, file=record.segment, offset=record.offset)
        return False

    def result(
        self,
        *,
        error: str | None = None,
        file: str | None = None,
        offset: int | None = None,
        tail: str | None = None,
    ) -> VerifyResult:
        return VerifyResult(
            ok=error is None,
            checked=self.checked,
            last_seq=self.last_seq,
            error=error,
            file=file,
            offset=offset,
            anchor_seq=self.anchor_seq,
            tail=tail,
        )


def _is_torn_tail(disk: ReadableDisk, wal_dir: str, error: WALCorruption) -> bool:
    """The same rule as recovery: last segment, checksum failure, nothing valid after it."""
    if error.intact:
        return False
    segments = list_segments(disk, wal_dir)
    if not segments or os.path.join(wal_dir, segments[-1][1]) != error.file or error.offset == 0:
        return False
    handle = disk.open(error.file, create=False, write=False)
    try:
        size = disk.size(handle)

        def read(offset: int, length: int) -> bytes:
            return disk.pread(handle, length, offset)

        return find_batch_after(read, error.offset + 1, size) is None
    finally:
        disk.close(handle)
