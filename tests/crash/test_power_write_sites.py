"""ENOSPC and EIO at every call of every disk operation the WAL makes, then crash or power cut.

The WAL engineer's suite fails pwrite, truncate and fallocate with ENOSPC, and fdatasync with
EIO once. This one fails each call of every operation the journal uses (open, pwrite,
fdatasync, fsync_dir, truncate, fallocate, rename, remove, makedirs), with each errno, in a
run that creates the WAL, appends, rolls segments and closes (anchors). Whatever failed, the
journal either carried on or stopped (a fatal error, nothing after it acknowledged); after a
process crash or a power cut, recovery yields a verified prefix that holds every record whose
durable notification was delivered, with the same bytes, and takes new appends.
The default suite tries the first 12 calls of each operation and every 10th after;
`-m crash_full` tries every call.
"""

from __future__ import annotations

import asyncio
import errno
import random
from pathlib import Path

import pytest
from tests.fixtures.wal import FAKE_WAL_DIR, WAL_KEY, Outcome, open_journal

from switchyard.testing.fake_disk import FakeDisk
from switchyard.wal import WALReader
from switchyard.wal.errors import WALError
from switchyard.wal.journal import Journal

OPS = (
    "open",
    "pwrite",
    "fdatasync",
    "fsync_dir",
    "truncate",
    "fallocate",
    "rename",
    "remove",
    "makedirs",
)
ERRNOS = {"ENOSPC": errno.ENOSPC, "EIO": errno.EIO}


def workload(disk: FakeDisk, outcome: Outcome, expected: dict[int, bytes]) -> None:
    """Create the WAL, append across segment rolls, die; recover, append, close (anchor)."""
    rng = random.Random(17)
    for life in range(2):
        try:
            journal, _ = open_journal(
                disk,
                outcome=outcome,
                segment_size_bytes=64 * 1024,
                preallocate=("zero", "fallocate")[life],
                anchor_interval_s=0.0,
            )
        except (OSError, WALError):
            return  # the WAL could not be created or recovered: nothing more to do
        append(journal, rng, expected, batches=40)
        failed = journal.failed is not None
        if life == 0 and not failed:
            disk.crash()  # a process death; recovery runs again in the second life
            continue
        try:
            asyncio.run(journal.close())
        except (OSError, WALError):
            return  # a failed final flush is fatal: nothing more is acknowledged
        if failed:
            return


def append(journal: Journal, rng: random.Random, expected: dict[int, bytes], batches: int) -> None:
    seq = journal.appended_seq
    for _ in range(batches):
        if journal.failed is not None:
            return
        for _ in range(rng.randint(1, 20)):
            seq += 1
            expected[seq] = f"{seq}:".encode() + rng.randbytes(rng.randint(0, 400))
            try:
                journal.append(seq, 40, seq, expected[seq])
            except WALError:
                return
        journal.commit()


def check_recovery(disk: FakeDisk, outcome: Outcome, expected: dict[int, bytes]) -> None:
    journal, _ = open_journal(disk, segment_size_bytes=64 * 1024)
    last = journal.recovery.last_seq
    assert last >= outcome.durable_seq, f"acknowledged {outcome.durable_seq}, recovered {last}"
    records = list(journal.replay(1))
    assert [r.seq for r in records] == list(range(1, last + 1))
    assert all(r.payload == expected[r.seq] for r in records)
    for seq in range(last + 1, last + 4):
        expected[seq] = b"after-%d" % seq
        journal.append(seq, 40, seq, expected[seq])
    journal.commit()
    asyncio.run(journal.close())
    reader = WALReader(Path(FAKE_WAL_DIR), hmac_key=WAL_KEY, disk=disk, durable_only=False)
    assert [r.seq for r in reader.iter_from(1)] == list(range(1, last + 4))


def fresh_disk() -> FakeDisk:
    """An empty WAL directory holding a leftover temporary file (recovery removes it)."""
    disk = FakeDisk(seed=23)
    disk.makedirs(FAKE_WAL_DIR)
    leftover = disk.open(f"{FAKE_WAL_DIR}/DURABLE.tmp", create=True, write=True)
    disk.pwrite(leftover, b"half", 0)
    disk.close(leftover)
    disk.calls.clear()
    return disk


def count_calls(op: str) -> int:
    disk = fresh_disk()
    workload(disk, Outcome(), {})
    return disk.calls[op]


def fail_once(op: str, code: int, index: int, cut: str) -> None:
    disk = fresh_disk()
    disk.fail(op, code, after=index, count=1, path_contains="/data/wal")
    outcome = Outcome()
    expected: dict[int, bytes] = {}
    workload(disk, outcome, expected)
    disk.clear_faults()
    if outcome.fatal:  # stopped: the durable notifications stopped with it
        assert all(seq <= outcome.durable_seq for seq in outcome.durable)
    if cut == "power":
        disk.power_cut(mode="sectors" if index % 2 else "prefix")
    else:
        disk.crash()
    check_recovery(disk, outcome, expected)


def indices(calls: int, *, full: bool) -> list[int]:
    if full:
        return list(range(calls))
    return sorted(set(range(min(calls, 12))) | set(range(12, calls, 10)))


@pytest.mark.parametrize("name", sorted(ERRNOS))
@pytest.mark.parametrize("op", OPS)
def test_a_failed_call_at_every_site_keeps_every_acknowledged_record(op, name):
    calls = count_calls(op)
    assert calls > 0, f"the workload never calls {op}"
    for index in indices(calls, full=False):
        for cut in ("crash", "power"):
            try:
                fail_once(op, ERRNOS[name], index, cut)
            except AssertionError as error:
                raise AssertionError(f"{name} on {op} call {index}, then {cut}: {error}") from None


@pytest.mark.crash_full
@pytest.mark.parametrize("name", sorted(ERRNOS))
@pytest.mark.parametrize("op", OPS)
def test_every_call_full(op, name):
    for index in indices(count_calls(op), full=True):
        for cut in ("crash", "power"):
            try:
                fail_once(op, ERRNOS[name], index, cut)
            except AssertionError as error:
                raise AssertionError(f"{name} on {op} call {index}, then {cut}: {error}") from None
