"""Torn final records, exhaustively: every byte of the unacknowledged tail, every bit of it.

The WAL engineer's property tests (tests/property/test_wal_codec.py) sample random offsets;
here every offset is tried. A log is built by the real journal on the FakeDisk; its last
batch was never acknowledged (DURABLE names the seq before it). For each truncation point
(everything after it back to zeros, as in a preallocated segment whose write stopped there)
and each bit flip inside that batch, recovery must keep exactly the acknowledged prefix, cut
at the batch start, and the cut log must take new records. When DURABLE says the damaged
batch *was* acknowledged, recovery must refuse instead of dropping it.
The default suite tries every byte once (truncation and one flip per byte, the bit rotating),
on a log whose last batch opens a new segment and on one where it does not;
`-m crash_full` flips all 8 bits of every byte of the last two batches.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.fixtures.wal import (
    FAKE_WAL_DIR,
    SYSTEM_ID,
    WAL_KEY,
    append_many,
    close,
    open_journal,
    payload_for,
)

from switchyard.testing.fake_disk import FakeDisk
from switchyard.wal import WALCorruption, WALReader
from switchyard.wal.format import SEGMENT_HEADER_SIZE
from switchyard.wal.watermark import encode_watermark_head, encode_watermark_value


@dataclass
class BuiltLog:
    disk: FakeDisk  # closed log; copy before damaging
    segment: str  # the last segment's path
    data: bytes  # its bytes
    batch_starts: list[int]  # frame offsets of its batches
    batch_ends: list[int]
    batch_last_seqs: list[int]  # last seq of each of its batches
    first_seq: int  # first seq of the last segment


def build_log(batches: list[int], *, segment_size_bytes: int = 64 * 1024) -> BuiltLog:
    """A closed log of these batch sizes, and where the batches of its last segment lie."""
    disk = FakeDisk(seed=3)
    disk.makedirs("/data")
    journal, _ = open_journal(disk, segment_size_bytes=segment_size_bytes)
    seq = 0
    for size in batches:
        append_many(journal, seq + 1, size, commit_every=size)
        seq += size
    close(journal)
    segment = sorted(n for n in disk.listdir(FAKE_WAL_DIR) if n.endswith(".wal"))[-1]
    path = f"{FAKE_WAL_DIR}/{segment}"
    data = disk.file_bytes(path)
    starts, ends, lasts = [], [], []
    position = SEGMENT_HEADER_SIZE
    first_seq = int(segment.split(".")[0])
    while data[position : position + 4] == b"SWYB":
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        count = int.from_bytes(data[position + 16 : position + 20], "little")
        frame_first = int.from_bytes(data[position + 8 : position + 16], "little")
        starts.append(position)
        position += 24 + length
        ends.append(position)
        lasts.append(frame_first + count - 1)
    return BuiltLog(disk, path, data, starts, ends, lasts, first_seq)


def set_watermark(disk: FakeDisk, seq: int) -> None:
    head = encode_watermark_head(SYSTEM_ID)
    disk.set_file_bytes(FAKE_WAL_DIR + "/DURABLE", head + encode_watermark_value(seq))


def damaged_copy(log: BuiltLog, data: bytes, *, durable_seq: int) -> FakeDisk:
    disk = copy.deepcopy(log.disk)
    disk.set_file_bytes(log.segment, data)
    set_watermark(disk, durable_seq)
    return disk


def expect_cut(log: BuiltLog, data: bytes, batch: int, *, append: bool) -> None:
    """Recovery keeps everything before `batch` of the last segment, and only that."""
    kept = log.batch_last_seqs[batch - 1] if batch else log.first_seq - 1
    disk = damaged_copy(log, data, durable_seq=kept)
    journal, _ = open_journal(disk)
    assert journal.recovery.last_seq == kept
    records = list(journal.replay(1))
    assert [r.seq for r in records] == list(range(1, kept + 1))
    assert all(r.payload == payload_for(r.seq) for r in records)
    if journal.recovery.cut is not None:
        assert journal.recovery.cut.file.endswith(log.segment.rsplit("/", 1)[1])
        assert journal.recovery.cut.offset == log.batch_starts[batch]
    if append:  # the cut log takes new records, and they survive the next recovery
        append_many(journal, kept + 1, 3, commit_every=3)
        close(journal)
        reader = WALReader(Path(FAKE_WAL_DIR), hmac_key=WAL_KEY, disk=disk, durable_only=False)
        assert [r.seq for r in reader.iter_from(1)] == list(range(1, kept + 4))
        assert reader.stopped_at is None
    else:
        close(journal)


LOGS = {
    "same-segment": lambda: build_log([3, 1, 4, 2, 3]),
    # 10 x 6,024 + 5,124 bytes fill the first 64 KiB segment to 44 bytes of its end, so the
    # last batch is the only one in the second segment
    "new-segment": lambda: build_log([40] * 10 + [34, 3]),
}


@pytest.fixture(scope="module", params=sorted(LOGS))
def log(request: pytest.FixtureRequest) -> BuiltLog:
    return LOGS[request.param]()


def test_truncation_at_every_byte_of_the_last_batch_keeps_the_acknowledged_prefix(log):
    start, end = log.batch_starts[-1], log.batch_ends[-1]
    batch = len(log.batch_starts) - 1
    for cut_at in range(start, end):
        data = log.data[:cut_at] + bytes(len(log.data) - cut_at)
        try:
            expect_cut(log, data, batch, append=cut_at % 16 == 0)
        except AssertionError as error:
            raise AssertionError(f"truncated at byte {cut_at} ({start}..{end}): {error}") from None


def test_a_flip_at_every_byte_of_the_last_batch_is_cut(log):
    start, end = log.batch_starts[-1], log.batch_ends[-1]
    batch = len(log.batch_starts) - 1
    for offset in range(start, end):
        data = bytearray(log.data)
        data[offset] ^= 1 << (offset % 8)
        try:
            expect_cut(log, bytes(data), batch, append=offset % 16 == 0)
        except AssertionError as error:
            raise AssertionError(f"bit {offset % 8} of byte {offset}: {error}") from None


def test_damage_to_an_acknowledged_last_batch_is_refused_not_dropped(log):
    """DURABLE says the batch was acknowledged: cutting it would lose it silently."""
    start, end = log.batch_starts[-1], log.batch_ends[-1]
    for offset in range(start, end, 7):
        data = bytearray(log.data)
        data[offset] ^= 0x10
        disk = damaged_copy(log, bytes(data), durable_seq=log.batch_last_seqs[-1])
        with pytest.raises(WALCorruption) as raised:
            open_journal(disk)
        # named: the damaged segment, or DURABLE, whose seq the log no longer reaches
        assert raised.value.file.rsplit("/", 1)[1] in (log.segment.rsplit("/", 1)[1], "DURABLE")


@pytest.mark.crash_full
@pytest.mark.parametrize("back", [1, 2])
def test_every_bit_of_the_last_two_batches_full(log, back):
    """Flip every bit of batch -back; batches after it are truncated (never acknowledged)."""
    batch = len(log.batch_starts) - back
    if batch < 0:
        pytest.skip("the last segment holds one batch: damage before it is corruption")
    start, end = log.batch_starts[batch], log.batch_ends[batch]
    for offset in range(start, end):
        for bit in range(8):
            data = bytearray(log.data[:end] + bytes(len(log.data) - end))
            data[offset] ^= 1 << bit
            try:
                expect_cut(log, bytes(data), batch, append=False)
            except AssertionError as error:
                raise AssertionError(f"bit {bit} of byte {offset}: {error}") from None
