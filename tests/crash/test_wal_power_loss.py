"""Simulated power loss, I/O errors and full disks against the real journal on the FakeDisk.

Each run appends random batches, then loses power at a random system call (the call fails,
as if the machine died inside it, and everything not made durable is thrown away: unsynced
writes, torn at any byte or kept sector by sector, and unsynced directory entries). Recovery
must then yield exactly a verified prefix of what was appended that holds every record whose
durable notification was delivered, and the log must accept appends again.
A few hundred cuts run in the default suite; `-m crash_full` runs 10,000+.
"""

import errno
import random
from pathlib import Path

import pytest
from tests.fixtures.wal import FAKE_WAL_DIR, WAL_KEY, Outcome, close, open_journal

from switchyard.testing.fake_disk import FakeDisk
from switchyard.wal import WALReader
from switchyard.wal.journal import Journal

CRASH_OPS = ("pwrite", "fdatasync", "fsync_dir", "rename", "truncate", "remove")
DEFAULT_CUTS = 300
FULL_CUTS = 10_200


def _payload(rng: random.Random, seq: int) -> bytes:
    return f"{seq}:".encode() + rng.randbytes(rng.randint(0, 300))


def _append_batches(journal: Journal, rng: random.Random, expected: dict[int, bytes]) -> None:
    """Append and commit random batches until the journal fails (or the budget ends)."""
    seq = journal.appended_seq
    for _ in range(rng.randint(1, 80)):
        if journal.failed is not None:
            return
        for _ in range(rng.randint(1, 25)):
            seq += 1
            expected[seq] = _payload(rng, seq)
            journal.append(seq, 40, seq, expected[seq])
        journal.commit()


def _check_recovered(disk: FakeDisk, outcome: Outcome, expected: dict[int, bytes]) -> Journal:
    journal, _ = open_journal(disk)
    last = journal.recovery.last_seq
    assert last >= outcome.durable_seq, "an acknowledged record was lost"
    records = list(journal.replay(1))
    assert [r.seq for r in records] == list(range(1, last + 1))
    for record in records:
        assert record.payload == expected[record.seq]
    return journal


def run_power_cut(seed: int, mode: str) -> None:
    rng = random.Random(seed)
    disk = FakeDisk(seed=seed)
    disk.makedirs("/data")
    op = rng.choice(CRASH_OPS)
    disk.fail(op, errno.EIO, after=rng.randint(0, 60), path_contains="/data/wal")
    outcome = Outcome()
    expected: dict[int, bytes] = {}
    try:
        journal, _ = open_journal(disk, outcome=outcome, segment_size_bytes=64 * 1024)
    except OSError:
        journal = None  # power lost while creating the WAL
    if journal is not None:
        _append_batches(journal, rng, expected)
    disk.clear_faults()
    disk.power_cut(mode=mode)
    journal = _check_recovered(disk, outcome, expected)
    # the recovered log takes new records and keeps its chain
    seq = journal.appended_seq
    for offset in range(1, 4):
        expected[seq + offset] = _payload(rng, seq + offset)
        journal.append(seq + offset, 40, seq + offset, expected[seq + offset])
    journal.commit()
    close(journal)
    disk.power_cut(mode=mode)
    # the watermark file is never fsynced, so a lenient read sees what survived
    reader = WALReader(Path(FAKE_WAL_DIR), hmac_key=WAL_KEY, disk=disk, durable_only=False)
    assert [r.seq for r in reader.iter_from(1)] == list(range(1, seq + 4))
    assert reader.stopped_at is None


@pytest.mark.parametrize("mode", ["prefix", "sectors"])
@pytest.mark.parametrize("block", range(6))
def test_power_cut_recovers_a_prefix_with_every_acknowledged_record(mode, block):
    per_block = DEFAULT_CUTS // 12
    for seed in range(block * per_block, (block + 1) * per_block):
        try:
            run_power_cut(seed, mode)
        except AssertionError as error:
            raise AssertionError(f"seed {seed} mode {mode}: {error}") from error


@pytest.mark.crash_full
@pytest.mark.parametrize("mode", ["prefix", "sectors"])
@pytest.mark.parametrize("block", range(20))
def test_power_cut_full(mode, block):
    per_block = FULL_CUTS // 40
    start = 1_000_000 + block * per_block
    for seed in range(start, start + per_block):
        try:
            run_power_cut(seed, mode)
        except AssertionError as error:
            raise AssertionError(f"seed {seed} mode {mode}: {error}") from error


def test_fsync_eio_stops_without_acknowledging_the_batch(fake_disk):
    journal, outcome = open_journal(fake_disk)
    for seq in range(1, 4):
        journal.append(seq, 40, seq, b"ok")
    journal.commit()
    fake_disk.fail("fdatasync", errno.EIO)
    for seq in range(4, 9):
        journal.append(seq, 40, seq, b"lost?")
    journal.commit()
    assert outcome.durable == [3]
    assert len(outcome.fatal) == 1
    fake_disk.power_cut(mode="prefix")
    again, _ = open_journal(fake_disk)
    assert again.recovery.last_seq in (3, 8)  # the batch is all there or all gone


def _prealloc(op: str) -> str:
    return "fallocate" if op == "fallocate" else "zero"


def _count_calls(op: str) -> int:
    disk = FakeDisk(seed=11)
    disk.makedirs("/data")
    journal, _ = open_journal(disk, segment_size_bytes=64 * 1024, preallocate=_prealloc(op))
    _append_batches(journal, random.Random(5), {})
    return disk.calls[op]


@pytest.mark.parametrize("op", ["pwrite", "truncate", "fallocate"])
def test_enospc_at_every_write_site_leaves_a_valid_wal(op):
    calls = _count_calls(op)
    assert calls > 0
    for index in range(calls):
        disk = FakeDisk(seed=11)
        disk.makedirs("/data")
        disk.fail(op, errno.ENOSPC, after=index, count=1)
        outcome = Outcome()
        expected: dict[int, bytes] = {}
        try:
            journal, _ = open_journal(
                disk, outcome=outcome, segment_size_bytes=64 * 1024, preallocate=_prealloc(op)
            )
        except OSError:
            continue  # the WAL could not even be created: nothing to check
        _append_batches(journal, random.Random(5), expected)
        assert disk.calls[op] > index  # the fault really fired
        disk.clear_faults()
        for cut in ("crash", "power"):
            if cut == "power":
                disk.power_cut(mode="prefix")
            else:
                disk.crash()
            recovered = _check_recovered(disk, outcome, expected)
            disk.crash()
            del recovered
