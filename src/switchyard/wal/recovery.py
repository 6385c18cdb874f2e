"""Recovery: scan every segment, verify it, cut a torn tail, refuse mid-log corruption.

Runs once when the journal opens, before anything is appended, through the Disk port.
A bad frame is a *torn tail* only if it is in the last segment, its checksum (not its chain)
failed, and no valid batch frame exists after it: then it cannot have been acknowledged,
because the writer starts a write only after the previous one was fdatasynced, so a later
valid batch proves the bad one had been durable. Anything else is corruption and recovery
raises WALCorruption naming file and offset (DESIGN §4): it never guesses. The cut zeroes the
torn bytes (segments are preallocated, so "truncate" means back to zeros), then fdatasyncs the
segment, so every record recovery reports is durable before the journal resumes after it.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass

from switchyard.core.ports import Disk

from .errors import WALCorruption
from .format import (
    BATCH_HEADER_SIZE,
    SEGMENT_HEADER_SIZE,
    ChainHasher,
    FrameError,
    SegmentHeader,
    chain_genesis,
    decode_segment_header,
    parse_segment_name,
    wal_id_of,
)
from .scan import BadFrame, find_batch_after, last_nonzero_end, peek_batch, read_batch
from .watermark import WATERMARK_FILE, WATERMARK_SIZE, decode_watermark

TEMP_SUFFIX = ".tmp"
_ZERO_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class TailCut:
    """What recovery cut from the end of the log, for the log line and for tests."""

    file: str
    offset: int  # where the valid log ends (the torn frame started here)
    bytes_cut: int  # non-zero bytes that were zeroed
    reason: str


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    """The recovered log: where it ends and how to continue it."""

    system_id: bytes
    segments: tuple[str, ...]  # file names in seq order (empty for a new WAL)
    last_seq: int  # 0 for an empty log
    chain_head: bytes  # H(last_seq); the genesis hash for an empty log
    active_segment: str  # "" when no segment exists yet
    write_offset: int  # where the next batch frame goes in the active segment
    segment_size_bytes: int  # size of the active segment file
    keyed: bool
    key_id: str
    cut: TailCut | None

    @property
    def wal_id(self) -> str:
        return wal_id_of(self.system_id)


@dataclass(slots=True)
class _Scan:
    """Running state while walking the segments."""

    system_id: bytes | None = None
    keyed: bool = False
    key_id: str = ""
    next_seq: int = 1
    chain_head: bytes = b""


def recover(
    disk: Disk,
    wal_dir: str,
    *,
    hasher: ChainHasher,
    new_system_id: bytes,
    key_id: str,
    log: Callable[[str], None],
) -> RecoveryResult:
    """Verify the WAL in `wal_dir` and cut its torn tail; see the module docstring.

    `new_system_id` is used only if the directory holds no segment yet (a new WAL).
    """
    _remove_temporaries(disk, wal_dir, log)
    segments = _list_segments(disk, wal_dir)
    state = _Scan()
    if not segments:
        watermark = _read_watermark(disk, wal_dir)
        if watermark is not None and watermark[1] > 0:
            path = os.path.join(wal_dir, WATERMARK_FILE)
            raise WALCorruption(path, 0, f"durable watermark {watermark[1]} but no segments")
        genesis = chain_genesis(hasher, new_system_id)
        return RecoveryResult(new_system_id, (), 0, genesis, "", 0, 0, hasher.keyed, key_id, None)
    cut: TailCut | None = None
    write_offset = 0
    size = 0
    for index, name in enumerate(segments):
        last = index == len(segments) - 1
        write_offset, size, cut = _recover_segment(disk, wal_dir, name, state, hasher, last, log)
    assert state.system_id is not None
    _check_watermark(disk, wal_dir, state)
    return RecoveryResult(
        system_id=state.system_id,
        segments=tuple(segments),
        last_seq=state.next_seq - 1,
        chain_head=state.chain_head,
        active_segment=segments[-1],
        write_offset=write_offset,
        segment_size_bytes=size,
        keyed=state.keyed,
        key_id=state.key_id,
        cut=cut,
    )


def _remove_temporaries(disk: Disk, wal_dir: str, log: Callable[[str], None]) -> None:
    removed = False
    for name in disk.listdir(wal_dir):
        if name.endswith(TEMP_SUFFIX):
            disk.remove(os.path.join(wal_dir, name))
            log(f"wal recovery: removed leftover temporary file {name}")
            removed = True
    if removed:
        disk.fsync_dir(wal_dir)


def _list_segments(disk: Disk, wal_dir: str) -> list[str]:
    found = []
    for name in disk.listdir(wal_dir):
        first_seq = parse_segment_name(name)
        if first_seq is not None:
            found.append((first_seq, name))
    return [name for _, name in sorted(found)]


def _read_watermark(disk: Disk, wal_dir: str) -> tuple[bytes, int] | None:
    path = os.path.join(wal_dir, WATERMARK_FILE)
    if not disk.exists(path):
        return None
    handle = disk.open(path, create=False, write=False)
    try:
        return decode_watermark(disk.pread(handle, WATERMARK_SIZE, 0))
    finally:
        disk.close(handle)


def _check_watermark(disk: Disk, wal_dir: str, state: _Scan) -> None:
    found = _read_watermark(disk, wal_dir)
    if found is None or found[0] != state.system_id:
        return
    last_seq = state.next_seq - 1
    if found[1] > last_seq:
        path = os.path.join(wal_dir, WATERMARK_FILE)
        reason = f"durable watermark {found[1]} is beyond the log's end {last_seq}: records lost"
        raise WALCorruption(path, 0, reason)


def _check_header(path: str, name: str, header: SegmentHeader, state: _Scan) -> None:
    def fail(reason: str) -> WALCorruption:
        return WALCorruption(path, 0, reason)

    if parse_segment_name(name) != header.first_seq:
        raise fail(f"header says first seq {header.first_seq} but the name says otherwise")
    if state.system_id is None:
        state.system_id = header.system_id
        state.keyed = header.keyed
        state.key_id = header.key_id
        state.next_seq = header.first_seq
        state.chain_head = header.prev_hash
        if header.first_seq != 1:
            raise fail(f"the oldest segment starts at seq {header.first_seq}, not 1")
        return
    if header.system_id != state.system_id:
        raise fail("segment belongs to another WAL (system id differs)")
    if header.first_seq != state.next_seq:
        raise fail(f"segment starts at seq {header.first_seq}, expected {state.next_seq}")
    if header.prev_hash != state.chain_head:
        raise fail("previous chain hash does not match the end of the previous segment")


def _recover_segment(
    disk: Disk,
    wal_dir: str,
    name: str,
    state: _Scan,
    hasher: ChainHasher,
    last: bool,
    log: Callable[[str], None],
) -> tuple[int, int, TailCut | None]:
    path = os.path.join(wal_dir, name)
    handle = disk.open(path, create=False, write=last)
    try:
        size = disk.size(handle)
        try:
            header = decode_segment_header(disk.pread(handle, SEGMENT_HEADER_SIZE, 0))
        except FrameError as error:
            raise WALCorruption(path, 0, str(error)) from None
        first_segment = state.system_id is None
        _check_header(path, name, header, state)
        if first_segment:
            genesis = chain_genesis(hasher, header.system_id)
            if header.keyed != hasher.keyed:
                chained = "an HMAC key" if header.keyed else "no key"
                raise WALCorruption(path, 0, f"chained with {chained} (AUDIT_HMAC_KEY differs)")
            if header.prev_hash != genesis:
                raise WALCorruption(path, 0, "genesis hash mismatch (wrong AUDIT_HMAC_KEY?)")
        end, problem = _scan_batches(disk, handle, name, size, state, hasher)
        cut = None
        if problem is not None:
            cut = _judge_problem(disk, handle, path, size, problem, last)
        if last:
            cut = _zero_tail(disk, handle, path, end, size, cut, log)
            disk.fdatasync(handle)  # what we report as recovered must be durable
        return end, size, cut
    finally:
        disk.close(handle)


def _scan_batches(
    disk: Disk, handle: int, name: str, size: int, state: _Scan, hasher: ChainHasher
) -> tuple[int, tuple[int, BadFrame] | None]:
    """Walk the batches; return (end of the valid part, (bad batch offset, problem) or None)."""

    def read(offset: int, length: int) -> bytes:
        return disk.pread(handle, length, offset)

    offset = SEGMENT_HEADER_SIZE
    while True:
        try:
            header = peek_batch(read, offset, size)
            if header is None:
                return offset, None
            _, last_hash = read_batch(
                read,
                offset,
                header,
                segment=name,
                expected_seq=state.next_seq,
                prev_hash=state.chain_head,
                hasher=hasher,
            )
        except BadFrame as problem:
            return offset, (offset, problem)
        state.next_seq += header.count
        state.chain_head = last_hash
        offset += BATCH_HEADER_SIZE + header.length


def _judge_problem(
    disk: Disk, handle: int, path: str, size: int, problem: tuple[int, BadFrame], last: bool
) -> TailCut:
    batch_offset, error = problem
    if not last:
        raise WALCorruption(path, error.offset, error.reason + " (segments follow it)")
    if error.intact:
        raise WALCorruption(path, error.offset, error.reason + " (checksums hold: rewritten?)")

    def read(offset: int, length: int) -> bytes:
        return disk.pread(handle, length, offset)

    after = find_batch_after(read, batch_offset + 1, size)
    if after is not None:
        reason = f"{error.reason}; a valid batch follows at offset {after}"
        raise WALCorruption(path, error.offset, reason)
    return TailCut(path, batch_offset, 0, error.reason)


def _zero_tail(
    disk: Disk,
    handle: int,
    path: str,
    end: int,
    size: int,
    cut: TailCut | None,
    log: Callable[[str], None],
) -> TailCut | None:
    """Zero every non-zero byte after the valid end, so no stale frame can ever reappear."""

    def read(offset: int, length: int) -> bytes:
        return disk.pread(handle, length, offset)

    dirty_end = last_nonzero_end(read, end, size)
    if dirty_end == end:
        return cut
    position = end
    while position < dirty_end:
        step = min(_ZERO_CHUNK_BYTES, dirty_end - position)
        disk.pwrite(handle, bytes(step), position)
        position += step
    reason = cut.reason if cut is not None else "stray bytes after the last batch"
    log(
        f"wal recovery: cut torn tail of {path} at offset {end}: "
        f"{dirty_end - end} bytes zeroed ({reason})"
    )
    return TailCut(path, end, dirty_end - end, reason)
