"""Parse batch frames out of a segment, verifying checksums, seq continuity and the chain.

Pure (L2): bytes come from a `read(offset, size)` callable, so the same parser serves the
journal's recovery (through the Disk port), readers in other processes (plain files) and the
offline tools. A frame is either valid as a whole or reported as a `BadFrame` with the offset
of the first failed check; deciding whether that is a torn tail or corruption is recovery's job.
"""

from collections.abc import Callable
from typing import Final
from zlib import crc32

import msgspec

from .format import (
    BATCH_HEADER_SIZE,
    BATCH_MAGIC,
    CHAIN_SIZE,
    CRC,
    FORMAT_VERSION,
    RECORD_HEADER,
    RECORD_HEADER_SIZE,
    RECORD_MAGIC,
    RECORD_OVERHEAD,
    BatchHeader,
    ChainHasher,
    FrameError,
    decode_batch_header,
)

ReadFn = Callable[[int, int], bytes]  # read(offset, size) -> up to `size` bytes

_ZERO_BATCH_HEADER: Final = bytes(BATCH_HEADER_SIZE)
_SEARCH_WINDOW_BYTES: Final = 1 << 20


class WALRecord(msgspec.Struct, frozen=True, gc=False):
    """One verified record as readers yield it.

    A msgspec Struct rather than a frozen dataclass: readers build one per record, and
    construction costs 0.1 us against 1.5 us (the measured exception of ARCHITECTURE.md).
    """

    seq: int
    record_type: int
    ts_ns: int
    payload: bytes
    chain_hash: bytes
    segment: str  # file name of the segment holding it
    offset: int  # byte offset of the record in that segment


class BadFrame(Exception):
    """A frame failed a check at `offset`.

    `intact` marks frames whose checksums hold but whose content is wrong (seq out of order,
    chain hash mismatch): no torn write can produce those, only a rewrite or a bug.
    """

    def __init__(self, offset: int, reason: str, *, intact: bool = False) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason
        self.intact = intact


def peek_batch(read: ReadFn, offset: int, limit: int) -> BatchHeader | None:
    """The batch header at `offset`, None if the space there is unwritten (zeros or the end)."""
    if offset + BATCH_HEADER_SIZE > limit:
        tail = read(offset, limit - offset) if offset < limit else b""
        if tail.count(0) == len(tail):
            return None
        raise BadFrame(offset, "partial batch header at the end of the segment")
    head = read(offset, BATCH_HEADER_SIZE)
    if head == _ZERO_BATCH_HEADER:
        return None
    if len(head) < BATCH_HEADER_SIZE:
        if head.count(0) == len(head):
            return None
        raise BadFrame(offset, "batch header truncated by the end of the file")
    try:
        header = decode_batch_header(head)
    except FrameError as error:
        raise BadFrame(offset, str(error)) from None
    if offset + BATCH_HEADER_SIZE + header.length > limit:
        raise BadFrame(offset, f"batch of {header.length} bytes runs past the segment end")
    return header


def read_batch(
    read: ReadFn,
    offset: int,
    header: BatchHeader,
    *,
    segment: str,
    expected_seq: int,
    prev_hash: bytes,
    hasher: ChainHasher | None,
) -> tuple[list[WALRecord], bytes]:
    """Parse and verify the records of the batch at `offset`; return them and the last hash.

    With `hasher` None the chain is not recomputed (the stored hashes are still linked by the
    checksums); callers that promise verified records pass the WAL's hasher.
    """
    if header.first_seq != expected_seq:
        reason = f"batch starts at seq {header.first_seq}, expected {expected_seq}"
        raise BadFrame(offset, reason, intact=True)
    body_offset = offset + BATCH_HEADER_SIZE
    body = read(body_offset, header.length)
    if len(body) != header.length:
        raise BadFrame(offset, f"batch truncated: {len(body)} of {header.length} bytes")
    return _parse_records(
        body,
        body_offset,
        header.count,
        segment=segment,
        expected_seq=expected_seq,
        prev_hash=prev_hash,
        hasher=hasher,
    )


def _parse_records(
    body: bytes,
    body_offset: int,
    count: int,
    *,
    segment: str,
    expected_seq: int,
    prev_hash: bytes,
    hasher: ChainHasher | None,
) -> tuple[list[WALRecord], bytes]:
    # Every reader of the log runs this loop once per record (the outbox at 100k+ records/s),
    # so it keeps to one pass with the checks' callables bound to locals and builds the
    # WALRecord positionally; the checks and their order are those of the format (docs/WAL.md).
    view = memoryview(body)
    unpack = RECORD_HEADER.unpack_from
    unpack_crc = CRC.unpack_from
    chain_next = hasher.next if hasher is not None else None
    records: list[WALRecord] = []
    append = records.append
    length = len(body)
    pos = 0
    prev = prev_hash
    seq_expected = expected_seq
    for index in range(count):
        if length - pos < RECORD_OVERHEAD:
            raise BadFrame(body_offset + pos, f"batch ends inside record {index + 1} of {count}")
        magic, version, record_type, payload_length, seq, ts_ns = unpack(body, pos)
        if magic != RECORD_MAGIC or version != FORMAT_VERSION:
            reason = f"bad record magic or version ({bytes(magic)!r}, {version})"
            raise BadFrame(body_offset + pos, reason)
        end = pos + RECORD_OVERHEAD + payload_length
        if end > length:
            reason = f"record of {payload_length} payload bytes runs past its batch"
            raise BadFrame(body_offset + pos, reason)
        crc_at = end - 4
        if crc32(view[pos:crc_at]) != unpack_crc(body, crc_at)[0]:
            reason = f"record checksum mismatch (seq {seq} by its header)"
            raise BadFrame(body_offset + pos, reason)
        if seq != seq_expected:
            reason = f"record seq {seq}, expected {seq_expected}"
            raise BadFrame(body_offset + pos, reason, intact=True)
        body_end = crc_at - CHAIN_SIZE
        chain = body[body_end:crc_at]
        if chain_next is not None and chain_next(prev, view[pos:body_end]) != chain:
            raise BadFrame(body_offset + pos, f"chain hash mismatch at seq {seq}", intact=True)
        payload = body[pos + RECORD_HEADER_SIZE : body_end]
        append(WALRecord(seq, record_type, ts_ns, payload, chain, segment, body_offset + pos))
        prev = chain
        pos = end
        seq_expected += 1
    if pos != length:
        stray = f"{length - pos} stray bytes after the batch's records"
        raise BadFrame(body_offset + pos, stray, intact=True)
    return records, prev


def find_batch_after(read: ReadFn, start: int, limit: int) -> int | None:
    """Offset of the first valid batch header in [start, limit), or None.

    Recovery uses it to decide whether a bad frame is a torn tail (nothing valid after it) or
    corruption in the middle of the log (a later write exists, so the bad one was durable).
    """
    overlap = len(BATCH_MAGIC) - 1
    position = start
    while position < limit:
        size = min(_SEARCH_WINDOW_BYTES, limit - position)
        window = read(position, size)
        if not window:
            return None
        found = window.find(BATCH_MAGIC)
        while found != -1:
            candidate = position + found
            head = read(candidate, BATCH_HEADER_SIZE)
            try:
                header = decode_batch_header(head)
            except FrameError:
                pass
            else:
                if candidate + BATCH_HEADER_SIZE + header.length <= limit:
                    return candidate
            found = window.find(BATCH_MAGIC, found + 1)
        if len(window) < size:
            return None
        position += max(1, size - overlap)
    return None


def last_nonzero_end(read: ReadFn, start: int, limit: int) -> int:
    """End offset of the last non-zero byte in [start, limit), or `start` if all are zero."""
    end = start
    position = start
    while position < limit:
        window = read(position, min(_SEARCH_WINDOW_BYTES, limit - position))
        if not window:
            break
        stripped = window.rstrip(b"\x00")
        if stripped:
            end = position + len(stripped)
        position += len(window)
    return end
