"""Recovery: torn tails are cut and logged, corruption in the middle refuses to start."""

import os

import pytest
from tests.fixtures.wal import FAKE_WAL_DIR, append_many, close, open_journal

from switchyard.wal import WALCorruption
from switchyard.wal.format import SEGMENT_HEADER_SIZE

SEGMENT = FAKE_WAL_DIR + "/00000000000000000001.wal"


def _log_with_batches(disk, batches=4, per_batch=5):
    journal, _ = open_journal(disk)
    append_many(journal, 1, batches * per_batch, commit_every=per_batch)
    close(journal)
    return disk.file_bytes(SEGMENT)


def _batch_offsets(data: bytes) -> list[int]:
    offsets, position = [], SEGMENT_HEADER_SIZE
    while data[position : position + 4] == b"SWYB":
        offsets.append(position)
        position += 24 + int.from_bytes(data[position + 4 : position + 8], "little")
    return offsets + [position]


def _set_watermark(disk, seq: int) -> None:
    from tests.fixtures.wal import SYSTEM_ID

    from switchyard.wal.watermark import encode_watermark_head, encode_watermark_value

    path = FAKE_WAL_DIR + "/DURABLE"
    disk.set_file_bytes(path, encode_watermark_head(SYSTEM_ID) + encode_watermark_value(seq))


def test_recovery_cuts_a_torn_last_batch_and_logs_it(fake_disk):
    data = _log_with_batches(fake_disk)
    offsets = _batch_offsets(data)
    torn = bytearray(data)
    torn[offsets[-2] + 40] ^= 0xFF
    fake_disk.set_file_bytes(SEGMENT, bytes(torn))
    _set_watermark(fake_disk, 15)  # the torn batch was never acknowledged
    lines = []
    journal, _ = open_journal(fake_disk, log=lines.append)
    assert journal.recovery.last_seq == 15
    assert journal.recovery.cut is not None
    assert journal.recovery.cut.offset == offsets[-2]
    assert any("cut torn tail" in line for line in lines)
    assert fake_disk.file_bytes(SEGMENT)[offsets[-2] :].count(0) == len(data) - offsets[-2]


def test_recovery_refuses_corruption_followed_by_valid_batches(fake_disk):
    data = _log_with_batches(fake_disk)
    offsets = _batch_offsets(data)
    bad = bytearray(data)
    bad[offsets[1] + 50] ^= 0x01
    fake_disk.set_file_bytes(SEGMENT, bytes(bad))
    with pytest.raises(WALCorruption) as raised:
        open_journal(fake_disk)
    assert raised.value.file == SEGMENT
    assert offsets[1] <= raised.value.offset < offsets[2]
    assert "valid batch follows" in raised.value.reason


def test_recovery_refuses_a_rewritten_last_record_with_valid_checksums(fake_disk):
    from switchyard.wal.format import ChainHasher, encode_record

    data = _log_with_batches(fake_disk, batches=1, per_batch=2)
    first_len = 60 + 90
    second_at = SEGMENT_HEADER_SIZE + 24 + first_len
    prev = data[second_at - 36 : second_at - 4]
    forged, _ = encode_record(
        seq=2,
        record_type=40,
        ts_ns=1,
        payload=b"F" * 90,
        prev_hash=prev,
        hasher=ChainHasher(b"attacker-key"),
    )
    rewritten = data[:second_at] + forged + data[second_at + len(forged) :]
    fake_disk.set_file_bytes(SEGMENT, rewritten)
    with pytest.raises(WALCorruption, match="chain hash mismatch"):
        open_journal(fake_disk)


def test_recovery_refuses_a_missing_middle_segment(fake_disk):
    journal, _ = open_journal(fake_disk)
    append_many(journal, 1, 2_000, commit_every=50)
    close(journal)
    segments = sorted(n for n in fake_disk.listdir(FAKE_WAL_DIR) if n.endswith(".wal"))
    fake_disk.remove(os.path.join(FAKE_WAL_DIR, segments[1]))
    with pytest.raises(WALCorruption, match="expected"):
        open_journal(fake_disk)


def test_recovery_refuses_when_the_watermark_is_beyond_the_log(fake_disk):
    journal, _ = open_journal(fake_disk)
    append_many(journal, 1, 2_000, commit_every=50)
    close(journal)
    segments = sorted(n for n in fake_disk.listdir(FAKE_WAL_DIR) if n.endswith(".wal"))
    fake_disk.remove(os.path.join(FAKE_WAL_DIR, segments[-1]))
    with pytest.raises(WALCorruption, match="beyond the log"):
        open_journal(fake_disk)


def test_recovery_refuses_the_wrong_key(fake_disk):
    _log_with_batches(fake_disk)
    with pytest.raises(WALCorruption, match="AUDIT_HMAC_KEY"):
        open_journal(fake_disk, hmac_key=b"another key")
    with pytest.raises(WALCorruption, match="AUDIT_HMAC_KEY"):
        open_journal(fake_disk, hmac_key=None)


def test_recovery_removes_leftover_temporary_files(fake_disk):
    _log_with_batches(fake_disk)
    handle = fake_disk.open(FAKE_WAL_DIR + "/spare-3.tmp", create=True, write=True)
    fake_disk.close(handle)
    open_journal(fake_disk)
    assert "spare-3.tmp" not in fake_disk.listdir(FAKE_WAL_DIR)


def test_recovery_zeroes_stray_bytes_after_the_last_batch(fake_disk):
    data = _log_with_batches(fake_disk)
    end = _batch_offsets(data)[-1]
    stray = bytearray(data)
    stray[end + 1000] = 7
    fake_disk.set_file_bytes(SEGMENT, bytes(stray))
    journal, _ = open_journal(fake_disk)
    assert journal.recovery.last_seq == 20
    assert journal.recovery.cut is not None
    assert fake_disk.file_bytes(SEGMENT)[end + 1000] == 0
