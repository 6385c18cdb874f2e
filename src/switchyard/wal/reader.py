"""Read the WAL from any process: WALReader (a range), WALTailer (follow a live log).

Read-only, never takes the writer's lock, never yields a torn or unverified record: every
record's checksum, seq and chain link are checked before it is returned. By default both stop
at the durable watermark (DURABLE, published by the writer after each fdatasync), so what they
return is exactly what the gateway may already have shown to the outside world. A record that
the watermark says is durable but that fails a check raises `WALCorruption` (file, offset).
Files are read with pread through a small read-only disk (plain `os` by default, or any Disk,
e.g. the fake one in a deterministic simulation).
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import msgspec

from .errors import WALCorruption, WALError
from .format import (
    BATCH_HEADER_SIZE,
    CHAIN_SIZE,
    SEGMENT_HEADER_SIZE,
    BatchHeader,
    ChainHasher,
    FrameError,
    SegmentHeader,
    chain_genesis,
    decode_segment_header,
    parse_segment_name,
    segment_name,
)
from .scan import BadFrame, WALRecord, peek_batch, read_batch
from .watermark import WATERMARK_FILE, WATERMARK_SIZE, decode_watermark

__all__ = [
    "BatchVerifier",
    "RawBatch",
    "ReadableDisk",
    "WALReader",
    "WALRecord",
    "WALTailer",
    "durable_watermark",
]

_WATERMARK_RETRIES = 8

# verify(body, count, first_seq, prev_hash) -> True if every record of the batch body passes
# every check of scan.read_batch (a faster implementation of it: the outbox's native codec).
BatchVerifier = Callable[[bytes, int, int, bytes], bool]


class RawBatch(msgspec.Struct, frozen=True, gc=False):
    """One verified batch frame as bytes: `count` records from `first_seq`, the first `skip`
    of them before the tailer's position (only in the first batch after it located itself)."""

    body: bytes
    first_seq: int
    count: int
    skip: int


class ReadableDisk(Protocol):
    """The read-only part of the Disk port (core.ports.Disk satisfies it)."""

    def open(self, path: str, *, create: bool, write: bool) -> int: ...
    def close(self, handle: int) -> None: ...
    def pread(self, handle: int, size: int, offset: int) -> bytes: ...
    def size(self, handle: int) -> int: ...
    def exists(self, path: str) -> bool: ...
    def listdir(self, path: str) -> list[str]: ...


class _OsReadDisk:
    """Plain read-only files: what readers in other processes use by default."""

    def open(self, path: str, *, create: bool, write: bool) -> int:
        assert not create
        assert not write
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def close(self, handle: int) -> None:
        os.close(handle)

    def pread(self, handle: int, size: int, offset: int) -> bytes:
        return os.pread(handle, size, offset)

    def size(self, handle: int) -> int:
        return os.fstat(handle).st_size

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)


def read_watermark(disk: ReadableDisk, wal_dir: str) -> tuple[bytes, int] | None:
    """(system id, durable seq) from the DURABLE file, or None if absent or unreadable."""
    path = os.path.join(wal_dir, WATERMARK_FILE)
    try:
        handle = disk.open(path, create=False, write=False)
    except FileNotFoundError:
        return None
    try:
        for _ in range(_WATERMARK_RETRIES):
            decoded = decode_watermark(disk.pread(handle, WATERMARK_SIZE, 0))
            if decoded is not None:
                return decoded
        return None
    finally:
        disk.close(handle)


def durable_watermark(wal_dir: Path, *, disk: ReadableDisk | None = None) -> int:
    """The writer's last fsynced seq (0 when nothing is durable yet or the file is missing)."""
    found = read_watermark(disk or _OsReadDisk(), str(wal_dir))
    return 0 if found is None else found[1]


def list_segments(disk: ReadableDisk, wal_dir: str) -> list[tuple[int, str]]:
    """(first seq, file name) of every segment, in seq order."""
    found = []
    for name in disk.listdir(wal_dir):
        first_seq = parse_segment_name(name)
        if first_seq is not None:
            found.append((first_seq, name))
    found.sort()
    return found


class _Cursor:
    """A position in the log: segment, byte offset, next seq and the chain hash before it."""

    def __init__(self, disk: ReadableDisk, wal_dir: str, hasher: ChainHasher | None) -> None:
        self.disk = disk
        self.wal_dir = wal_dir
        self.hasher = hasher
        self.system_id: bytes | None = None
        self.segment = ""
        self.handle = -1
        self.limit = 0
        self.offset = 0
        self.next_seq = 0
        self.prev_hash: bytes | None = None
        self.prev_batch_end = 0
        self.verify_overruled = 0  # batches a caller's verifier refused and the reference accepted

    def close(self) -> None:
        if self.handle >= 0:
            self.disk.close(self.handle)
            self.handle = -1

    def _read(self, offset: int, size: int) -> bytes:
        return self.disk.pread(self.handle, size, offset)

    def open_segment(self, name: str, *, expected_seq: int | None) -> SegmentHeader:
        path = os.path.join(self.wal_dir, name)
        handle = self.disk.open(path, create=False, write=False)
        try:
            header = decode_segment_header(self.disk.pread(handle, SEGMENT_HEADER_SIZE, 0))
        except FrameError as error:
            self.disk.close(handle)
            raise WALCorruption(path, 0, str(error)) from None
        problem = self._segment_problem(name, header, expected_seq)
        if problem:
            self.disk.close(handle)
            raise WALCorruption(path, 0, problem)
        self.close()
        self.system_id = header.system_id
        self.segment = name
        self.handle = handle
        self.limit = self.disk.size(handle)
        self.offset = SEGMENT_HEADER_SIZE
        self.next_seq = header.first_seq
        self.prev_hash = header.prev_hash
        self.prev_batch_end = 0
        return header

    def _segment_problem(self, name: str, header: SegmentHeader, expected: int | None) -> str:
        if parse_segment_name(name) != header.first_seq:
            return f"segment header says first seq {header.first_seq}, its name says otherwise"
        if self.system_id is not None and header.system_id != self.system_id:
            return "segment belongs to another WAL (system id differs)"
        if expected is not None and header.first_seq != expected:
            return f"segment starts at seq {header.first_seq}, expected {expected}"
        if self.hasher is not None and header.keyed != self.hasher.keyed:
            chained = "an HMAC key" if header.keyed else "no key"
            return f"segment was chained with {chained} (AUDIT_HMAC_KEY differs)"
        hasher = self.hasher
        genesis = header.first_seq == 1 and hasher is not None
        if genesis and hasher and header.prev_hash != chain_genesis(hasher, header.system_id):
            return "genesis hash mismatch (wrong AUDIT_HMAC_KEY?)"
        linked = expected is not None and self.prev_hash is not None
        if linked and header.prev_hash != self.prev_hash:
            return "segment's previous chain hash does not match the previous segment"
        return ""

    def locate(self, from_seq: int) -> bool:
        """Move to the batch holding `from_seq` (or the log's end); False if there is no log."""
        segments = list_segments(self.disk, self.wal_dir)
        if not segments:
            return False
        chosen = segments[0][1]
        for first_seq, name in segments:
            if first_seq <= from_seq:
                chosen = name
        self.open_segment(chosen, expected_seq=None)
        if from_seq < self.next_seq:
            raise WALError(f"seq {from_seq} is older than the oldest segment ({self.next_seq})")
        while True:
            header = self._peek()
            if header is None or header.first_seq + header.count > from_seq:
                return True
            self.prev_batch_end = self.offset + BATCH_HEADER_SIZE + header.length
            self.offset = self.prev_batch_end
            self.next_seq = header.first_seq + header.count
            self.prev_hash = None  # read lazily from the skipped batch's last record

    def _peek(self) -> BatchHeader | None:
        try:
            return peek_batch(self._read, self.offset, self.limit)
        except BadFrame as error:
            raise self.corruption(error) from None

    def corruption(self, error: BadFrame) -> WALCorruption:
        path = os.path.join(self.wal_dir, self.segment)
        return WALCorruption(path, error.offset, error.reason, intact=error.intact)

    def _next_header(self) -> tuple[BatchHeader, bytes] | None:
        """The next batch's header and the chain hash before it, moving on to the next segment
        at the end of one; None if nothing is written there (yet)."""
        header = self._peek()
        if header is None:
            if not self._switch_segment():
                return None
            header = self._peek()
            if header is None:
                return None
        if self.prev_hash is None:
            self.prev_hash = self._read(self.prev_batch_end - 4 - CHAIN_SIZE, CHAIN_SIZE)
        return header, self.prev_hash

    def next_batch(self) -> list[WALRecord] | None:
        """The next batch's verified records; None if nothing is written there (yet).

        Raises WALCorruption if the frame there is invalid; callers only read frames that
        must be complete (at or below the durable watermark) or catch it (lenient readers).
        """
        found = self._next_header()
        if found is None:
            return None
        header, prev_hash = found
        try:
            records, last_hash = read_batch(
                self._read,
                self.offset,
                header,
                segment=self.segment,
                expected_seq=self.next_seq,
                prev_hash=prev_hash,
                hasher=self.hasher,
            )
        except BadFrame as error:
            raise self.corruption(error) from None
        self._pass(header, last_hash)
        return records

    def _pass(self, header: BatchHeader, last_hash: bytes) -> None:
        """Move past the batch `header` frames, whose last record's chain hash is `last_hash`."""
        self.offset += BATCH_HEADER_SIZE + header.length
        self.prev_batch_end = self.offset
        self.next_seq += header.count
        self.prev_hash = last_hash

    def next_raw_batch(self, verify: BatchVerifier) -> RawBatch | None:
        """`next_batch` with the records left as bytes, checked by `verify`.

        When `verify` refuses the batch, the reference parser (scan.read_batch) reads it again:
        it raises the WALCorruption that names the problem; should it accept the batch, its
        verdict stands (the batch is used), so `verify` can only be stricter, never laxer.
        """
        found = self._next_header()
        if found is None:
            return None
        header, prev_hash = found
        body = self._read(self.offset + BATCH_HEADER_SIZE, header.length)
        expected = self.next_seq
        verified = (
            header.first_seq == expected
            and len(body) == header.length
            and verify(body, header.count, expected, prev_hash)
        )
        if verified:
            self._pass(header, body[-4 - CHAIN_SIZE : -4])
        else:
            self.next_batch()  # raises WALCorruption, or accepts the batch and moves past it
            self.verify_overruled += 1  # the verifier is wrong (stricter); the batch is good
        return RawBatch(body, expected, header.count, 0)

    def _switch_segment(self) -> bool:
        name = segment_name(self.next_seq)
        if not self.disk.exists(os.path.join(self.wal_dir, name)):
            return False
        if self.prev_hash is None:
            self.prev_hash = self._read(self.prev_batch_end - 4 - CHAIN_SIZE, CHAIN_SIZE)
        self.open_segment(name, expected_seq=self.next_seq)
        return True


class WALReader:
    """Read a range of verified records (offline tools, audit trails, SSE resume from disk)."""

    def __init__(
        self,
        wal_dir: Path,
        *,
        hmac_key: bytes | None,
        durable_only: bool = True,
        disk: ReadableDisk | None = None,
    ) -> None:
        self.wal_dir = str(wal_dir)
        self.hasher = ChainHasher(hmac_key)
        self.durable_only = durable_only
        self.disk: ReadableDisk = disk or _OsReadDisk()
        self.stopped_at: WALCorruption | None = None  # lenient mode: why reading stopped early

    def iter_from(self, from_seq: int, to_seq: int | None = None) -> Iterator[WALRecord]:
        """Records from `from_seq` to `to_seq` (inclusive; default: the end) in seq order.

        With `durable_only` (the default) the end is the durable watermark, and any problem
        before it raises WALCorruption. Otherwise reading stops at the first frame that is not
        valid (a torn tail, or a batch being written) and `stopped_at` says where and why.
        """
        assert from_seq >= 1
        self.stopped_at = None
        bound = to_seq if to_seq is not None else 2**63 - 1
        cursor = _Cursor(self.disk, self.wal_dir, self.hasher)
        try:
            if self.durable_only:
                bound = min(bound, self._durable_bound())
            if from_seq > bound or not cursor.locate(from_seq):
                return
            yield from self._iterate(cursor, from_seq, bound)
        finally:
            cursor.close()

    def _durable_bound(self) -> int:
        found = read_watermark(self.disk, self.wal_dir)
        return 0 if found is None else found[1]

    def _iterate(self, cursor: _Cursor, from_seq: int, bound: int) -> Iterator[WALRecord]:
        while cursor.next_seq <= bound:
            try:
                records = cursor.next_batch()
            except WALCorruption as error:
                if self.durable_only:
                    raise
                self.stopped_at = error
                return
            if records is None:
                if self.durable_only:
                    raise WALCorruption(
                        os.path.join(self.wal_dir, cursor.segment),
                        cursor.offset,
                        f"log ends at seq {cursor.next_seq - 1} below the durable watermark "
                        f"{bound}",
                    )
                return
            for record in records:
                if from_seq <= record.seq <= bound:
                    yield record


class WALTailer:
    """Follow a live WAL from `start_seq`, returning only records at or below the watermark."""

    def __init__(
        self,
        wal_dir: Path,
        *,
        start_seq: int,
        hmac_key: bytes | None,
        disk: ReadableDisk | None = None,
    ) -> None:
        assert start_seq >= 1
        self.wal_dir = str(wal_dir)
        self.disk: ReadableDisk = disk or _OsReadDisk()
        self.next_seq = start_seq  # the next seq poll() will return
        self._cursor = _Cursor(self.disk, self.wal_dir, ChainHasher(hmac_key))
        self._located = False
        # Records of the last batch read that poll() has not returned yet: `_pending` from
        # `_pending_index` on. Handed out by slices, not one by one (a batch is up to thousands).
        self._pending: list[WALRecord] = []
        self._pending_index = 0
        self._bound = 0  # the durable watermark last read (poll_batch reads it when passed)

    @property
    def verify_overruled(self) -> int:
        """Batches `poll_batch`'s verifier refused that the reference parser accepted (0 unless
        the verifier has a bug: it may only be stricter, and the batch was still used)."""
        return self._cursor.verify_overruled

    def durable_seq(self) -> int:
        found = read_watermark(self.disk, self.wal_dir)
        return 0 if found is None else found[1]

    def poll(self, max_records: int) -> list[WALRecord]:
        """Up to `max_records` new durable records in seq order (empty if none yet)."""
        assert max_records >= 1
        out: list[WALRecord] = []
        self._take_pending(out, max_records)
        if len(out) == max_records:
            return out
        bound = self.durable_seq()
        if bound < self.next_seq + len(self._pending) - self._pending_index:
            return out
        if not self._locate():
            return out
        cursor = self._cursor
        while len(out) < max_records and cursor.next_seq <= bound:
            records = cursor.next_batch()
            if records is None:
                raise self._ends_below(bound)
            # A batch's seqs are consecutive (read_batch checked them); only the first batch
            # after locate() may start before next_seq.
            skip = self.next_seq - records[0].seq
            assert 0 <= skip < len(records), f"batch from {records[0].seq}, want {self.next_seq}"
            self._pending = records
            self._pending_index = skip
            self._take_pending(out, max_records)
        return out

    def poll_batch(self, verify: BatchVerifier) -> RawBatch | None:
        """The next durable batch, verified by `verify` (see `_Cursor.next_raw_batch`), or None.

        For a reader that parses records itself (the outbox's native codec): the whole batch
        is taken; `skip` says how many of its records come before `next_seq`. Do not mix with
        `poll` on one tailer.
        """
        assert self._pending_index == len(self._pending), "poll_batch after a partial poll"
        if self.next_seq > self._bound:
            self._bound = self.durable_seq()
            if self.next_seq > self._bound:
                return None
        if not self._locate():
            return None
        batch = self._cursor.next_raw_batch(verify)
        if batch is None:
            raise self._ends_below(self._bound)
        skip = self.next_seq - batch.first_seq
        assert 0 <= skip < batch.count, f"batch from {batch.first_seq}, want {self.next_seq}"
        self.next_seq = batch.first_seq + batch.count
        if skip == 0:
            return batch
        return RawBatch(batch.body, batch.first_seq, batch.count, skip)

    def _locate(self) -> bool:
        """Put the cursor on the batch holding `next_seq` (once); False if not written yet."""
        if not self._located:
            if not self._cursor.locate(self.next_seq):
                return False
            self._located = True
        return True

    def _ends_below(self, bound: int) -> WALCorruption:
        """The error for a log that ends before the durable watermark `bound`."""
        cursor = self._cursor
        path = os.path.join(self.wal_dir, cursor.segment)
        reason = f"log ends at seq {cursor.next_seq - 1} below the watermark {bound}"
        return WALCorruption(path, cursor.offset, reason)

    def _take_pending(self, out: list[WALRecord], max_records: int) -> None:
        pending, index = self._pending, self._pending_index
        count = min(len(pending) - index, max_records - len(out))
        if count <= 0:
            return
        out += pending[index : index + count]
        self._pending_index = index + count
        self.next_seq = out[-1].seq + 1

    def close(self) -> None:
        self._cursor.close()
