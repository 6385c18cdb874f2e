"""The journal on the fake disk (inline flusher) and on real files (thread/process flushers)."""

import asyncio
import errno
import os
from pathlib import Path

import pytest
from tests.fixtures.wal import (
    FAKE_WAL_DIR,
    WAL_KEY,
    ManualClock,
    Outcome,
    SystemClock,
    append_many,
    close,
    open_journal,
    payload_for,
    settings,
)

from switchyard.adapters.disk_os import OsDisk
from switchyard.testing.fake_disk import FakeDisk
from switchyard.wal import JournalFatal, WALLocked, WALReader, durable_watermark
from switchyard.wal.flushers import ProcessFlusher, ThreadFlusher
from switchyard.wal.journal import Journal


def test_journal_new_wal_has_one_segment_and_a_watermark(fake_disk):
    journal, _ = open_journal(fake_disk)
    names = fake_disk.listdir(FAKE_WAL_DIR)
    assert "00000000000000000001.wal" in names
    assert "DURABLE" in names
    assert journal.wal_id == "000102"
    assert journal.durable_seq == journal.appended_seq == 0


def test_journal_commit_makes_records_durable_and_readable(fake_disk):
    journal, outcome = open_journal(fake_disk)
    append_many(journal, 1, 10, commit_every=3)
    assert outcome.durable == [3, 6, 9, 10]
    assert journal.durable_seq == 10
    reader = WALReader(Path(FAKE_WAL_DIR), hmac_key=WAL_KEY, disk=fake_disk)
    records = list(reader.iter_from(1))
    assert [r.seq for r in records] == list(range(1, 11))
    assert records[4].payload == payload_for(5)
    assert records[4].ts_ns == 1_005


def test_journal_append_without_commit_is_not_durable(fake_disk):
    journal, outcome = open_journal(fake_disk)
    journal.append(1, 40, 1, b"x")
    assert outcome.durable == []
    assert journal.pending_bytes > 0
    assert durable_watermark(Path(FAKE_WAL_DIR), disk=fake_disk) == 0


def test_journal_tracks_pending_bytes_and_oldest_pending_time(fake_disk):
    clock = ManualClock()
    journal, _ = open_journal(fake_disk, clock=clock)
    assert journal.oldest_pending_ns == 0
    journal.append(1, 40, 1, b"x")
    first = clock.mono
    clock.advance(500)
    journal.append(2, 40, 2, b"y")
    assert journal.oldest_pending_ns == first
    journal.commit()
    assert journal.pending_bytes == 0
    assert journal.oldest_pending_ns == 0


def test_journal_refuses_a_seq_gap(fake_disk):
    journal, _ = open_journal(fake_disk)
    journal.append(1, 40, 1, b"x")
    with pytest.raises(AssertionError):
        journal.append(3, 40, 3, b"x")


def test_journal_rolls_segments_and_readers_cross_them(fake_disk):
    journal, _ = open_journal(fake_disk, segment_size_bytes=64 * 1024)
    append_many(journal, 1, 2_000, commit_every=50)
    segments = [n for n in fake_disk.listdir(FAKE_WAL_DIR) if n.endswith(".wal")]
    assert len(segments) >= 3
    reader = WALReader(Path(FAKE_WAL_DIR), hmac_key=WAL_KEY, disk=fake_disk)
    assert [r.seq for r in reader.iter_from(1_500, 1_510)] == list(range(1_500, 1_511))
    assert sum(1 for _ in reader.iter_from(1)) == 2_000


def test_journal_reopen_continues_the_log_and_the_chain(fake_disk):
    journal, _ = open_journal(fake_disk)
    append_many(journal, 1, 100, commit_every=7)
    close(journal)
    again, outcome = open_journal(fake_disk)
    assert again.recovery.last_seq == 100
    assert [r.seq for r in again.replay(95)] == [95, 96, 97, 98, 99, 100]
    append_many(again, 101, 5)
    assert outcome.durable_seq == 105
    reader = WALReader(Path(FAKE_WAL_DIR), hmac_key=WAL_KEY, disk=fake_disk)
    assert sum(1 for _ in reader.iter_from(1)) == 105


def test_journal_fsync_error_is_fatal_and_nothing_more_is_acknowledged(fake_disk):
    journal, outcome = open_journal(fake_disk)
    append_many(journal, 1, 5)
    fake_disk.fail("fdatasync", errno.EIO)
    journal.append(6, 40, 6, b"x")
    journal.commit()
    assert outcome.durable_seq == 5
    assert len(outcome.fatal) == 1
    assert isinstance(outcome.fatal[0], JournalFatal)
    assert journal.durable_seq == 5
    with pytest.raises(JournalFatal):
        journal.append(7, 40, 7, b"x")
    fake_disk.clear_faults()
    journal.commit()
    assert outcome.durable_seq == 5  # never retried


def test_journal_disk_full_while_rolling_holds_the_batch_until_space_returns():
    disk = FakeDisk(seed=1, capacity_bytes=200 * 1024)
    disk.makedirs("/data")
    journal, outcome = open_journal(disk, segment_size_bytes=64 * 1024)
    appended = 0
    while not journal.disk_full:
        append_many(journal, appended + 1, 50)
        appended += 50
        assert appended < 5_000
    assert outcome.fatal == []
    assert journal.durable_seq < journal.appended_seq  # held, not acknowledged
    disk.capacity_bytes = None  # space returns
    append_many(journal, appended + 1, 1)
    assert journal.durable_seq == appended + 1
    assert not journal.disk_full


def test_journal_second_writer_is_locked_out(fake_disk):
    open_journal(fake_disk)
    with pytest.raises(WALLocked):
        open_journal(fake_disk)


def test_journal_anchor_is_the_durable_head(fake_disk):
    journal, _ = open_journal(fake_disk)
    append_many(journal, 1, 3)
    journal.append(4, 40, 4, b"not yet durable")
    anchor = journal.anchor()
    records = list(WALReader(Path(FAKE_WAL_DIR), hmac_key=WAL_KEY, disk=fake_disk).iter_from(3))
    assert anchor.seq == 3
    assert anchor.hash == records[-1].chain_hash
    path = journal.write_anchor_now()
    assert path.endswith("anchor-00000000000000000003.json")


def test_journal_close_exports_a_final_anchor(fake_disk):
    journal, _ = open_journal(fake_disk)
    append_many(journal, 1, 3)
    close(journal)
    assert fake_disk.listdir(FAKE_WAL_DIR + "/anchors") == ["anchor-00000000000000000003.json"]


async def _run_real(wal_dir: str, flusher_kind: str, count: int) -> Outcome:
    loop = asyncio.get_running_loop()
    if flusher_kind == "thread":
        flusher = ThreadFlusher(loop.call_soon_threadsafe, max_batch=16, max_wait_us=100)
    else:
        flusher = ProcessFlusher(
            loop, disk_factory="switchyard.adapters.disk_os:OsDisk", max_batch=16, max_wait_us=100
        )
    outcome = Outcome()
    journal = Journal.open(
        Path(wal_dir),
        disk=OsDisk(),
        settings=settings(segment_size_bytes=256 * 1024),
        clock=SystemClock(),
        flusher=flusher,
        on_durable=outcome.durable.append,
        on_fatal=outcome.fatal.append,
        lock_wait_s=5.0,
    )
    for seq in range(1, count + 1):
        journal.append(seq, 40, seq, payload_for(seq))
        if seq % 10 == 0:
            journal.commit()
            await asyncio.sleep(0)
    await journal.close()
    return outcome


@pytest.mark.parametrize("flusher_kind", ["thread", "process"])
def test_journal_real_flushers_make_everything_durable_in_order(real_wal_dir, flusher_kind):
    outcome = asyncio.run(_run_real(real_wal_dir, flusher_kind, 5_000))
    assert outcome.fatal == []
    assert outcome.durable == sorted(outcome.durable)
    assert outcome.durable[-1] == 5_000
    assert durable_watermark(Path(real_wal_dir)) == 5_000
    records = list(WALReader(Path(real_wal_dir), hmac_key=WAL_KEY).iter_from(1))
    assert [r.seq for r in records] == list(range(1, 5_001))
    assert not [n for n in os.listdir(real_wal_dir) if n.endswith(".tmp")]


async def _process_fsync_error(wal_dir: str, control: str) -> Outcome:
    from switchyard.testing.faulty_disk import FaultyDisk, write_control

    loop = asyncio.get_running_loop()
    flusher = ProcessFlusher(
        loop,
        disk_factory="switchyard.testing.faulty_disk:FaultyDisk.from_control_file",
        disk_args=(control,),
        max_batch=16,
        max_wait_us=100,
    )
    outcome = Outcome()
    journal = Journal.open(
        Path(wal_dir),
        disk=FaultyDisk(control),
        settings=settings(),
        clock=SystemClock(),
        flusher=flusher,
        on_durable=outcome.durable.append,
        on_fatal=outcome.fatal.append,
        lock_wait_s=5.0,
    )
    journal.append(1, 40, 1, b"durable")
    journal.commit()
    for _ in range(500):
        if outcome.durable:
            break
        await asyncio.sleep(0.01)
    write_control(control, eio=["fdatasync"])
    journal.append(2, 40, 2, b"never acknowledged")
    journal.commit()
    for _ in range(500):
        if outcome.fatal:
            break
        await asyncio.sleep(0.01)
    await journal.close()
    return outcome


def test_journal_process_writer_fsync_error_is_fatal_and_unacknowledged(real_wal_dir, tmp_path):
    outcome = asyncio.run(_process_fsync_error(real_wal_dir, str(tmp_path / "faults.json")))
    assert outcome.durable == [1]
    assert len(outcome.fatal) == 1
    assert "Input/output error" in str(outcome.fatal[0])
