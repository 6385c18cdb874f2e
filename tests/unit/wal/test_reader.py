"""WALReader and WALTailer: verified records only, bounded by the durable watermark."""

import os
from pathlib import Path

import pytest
from tests.fixtures.wal import (
    WAL_KEY,
    append_many,
    close,
    corrupt_byte,
    open_journal,
    segment_paths,
)

from switchyard.wal import WALCorruption, WALReader, WALTailer, durable_watermark
from switchyard.wal.watermark import VALUE_OFFSET, WATERMARK_FILE, encode_watermark_value


def test_reader_returns_a_range(
    real_wal_dir,
):
    journal, _ = open_journal(_os_disk(), real_wal_dir)
    append_many(journal, 1, 50, commit_every=7)
    close(journal)
    reader = WALReader(Path(real_wal_dir), hmac_key=WAL_KEY)
    assert [r.seq for r in reader.iter_from(10, 14)] == [10, 11, 12, 13, 14]
    assert [r.seq for r in reader.iter_from(48)] == [48, 49, 50]
    assert list(reader.iter_from(51)) == []


def test_reader_stops_at_the_durable_watermark(real_wal_dir):
    journal, _ = open_journal(_os_disk(), real_wal_dir)
    append_many(journal, 1, 5)
    journal.append(6, 40, 6, b"appended only")
    assert durable_watermark(Path(real_wal_dir)) == 5
    assert [r.seq for r in WALReader(Path(real_wal_dir), hmac_key=WAL_KEY).iter_from(1)][-1] == 5


def test_reader_raises_on_damage_below_the_watermark(real_wal_dir):
    journal, _ = open_journal(_os_disk(), real_wal_dir)
    append_many(journal, 1, 20, commit_every=5)
    close(journal)
    corrupt_byte(segment_paths(real_wal_dir)[0], 400)
    with pytest.raises(WALCorruption) as raised:
        list(WALReader(Path(real_wal_dir), hmac_key=WAL_KEY).iter_from(1))
    assert raised.value.file == segment_paths(real_wal_dir)[0]


def test_lenient_reader_stops_at_a_torn_tail_and_says_where(real_wal_dir):
    journal, _ = open_journal(_os_disk(), real_wal_dir)
    append_many(journal, 1, 20, commit_every=5)
    close(journal)
    size = os.path.getsize(segment_paths(real_wal_dir)[0])
    with open(segment_paths(real_wal_dir)[0], "rb") as handle:
        end = len(handle.read(size).rstrip(b"\x00"))
    corrupt_byte(segment_paths(real_wal_dir)[0], end - 10)
    reader = WALReader(Path(real_wal_dir), hmac_key=WAL_KEY, durable_only=False)
    assert [r.seq for r in reader.iter_from(1)][-1] == 15
    assert reader.stopped_at is not None


def test_tailer_follows_new_durable_records_across_segments(real_wal_dir):
    journal, _ = open_journal(_os_disk(), real_wal_dir)
    tailer = WALTailer(Path(real_wal_dir), start_seq=1, hmac_key=WAL_KEY)
    assert tailer.poll(10) == []
    append_many(journal, 1, 5)
    assert [r.seq for r in tailer.poll(3)] == [1, 2, 3]
    assert [r.seq for r in tailer.poll(10)] == [4, 5]
    append_many(journal, 6, 1_500, commit_every=40)
    seen = []
    while batch := tailer.poll(100):
        seen.extend(r.seq for r in batch)
    assert seen == list(range(6, 1_506))
    assert len(segment_paths(real_wal_dir)) > 1
    tailer.close()


def test_tailer_starting_mid_log_skips_older_records(real_wal_dir):
    journal, _ = open_journal(_os_disk(), real_wal_dir)
    append_many(journal, 1, 30, commit_every=4)
    tailer = WALTailer(Path(real_wal_dir), start_seq=22, hmac_key=WAL_KEY)
    assert [r.seq for r in tailer.poll(100)] == list(range(22, 31))


def _batch_seqs(batch) -> list[int]:
    return list(range(batch.first_seq + batch.skip, batch.first_seq + batch.count))


@pytest.mark.parametrize("says", [True, False], ids=["verifier-accepts", "verifier-refuses"])
def test_tailer_poll_batch_hands_out_whole_durable_batches_across_segments(real_wal_dir, says):
    journal, _ = open_journal(_os_disk(), real_wal_dir)
    append_many(journal, 1, 1_200, commit_every=40)
    journal.append(1_201, 40, 1, b"appended only")
    asked = []

    def verify(body, count, first_seq, prev_hash):
        asked.append(first_seq)
        return says  # a refusal is judged again by the reference parser, which accepts these

    tailer = WALTailer(Path(real_wal_dir), start_seq=7, hmac_key=WAL_KEY)
    seen = []
    while batch := tailer.poll_batch(verify):
        seen.extend(_batch_seqs(batch))
    assert seen == list(range(7, 1_201))
    assert tailer.next_seq == 1_201
    assert tailer.verify_overruled == (0 if says else len(asked))  # every refusal overruled
    assert asked[0] == 1  # the batch holding seq 7, whose first 6 records are skipped
    assert len(segment_paths(real_wal_dir)) > 1


@pytest.mark.parametrize("method", ["poll", "poll_batch"])
def test_tailer_raises_when_the_log_ends_below_the_durable_watermark(real_wal_dir, method):
    journal, _ = open_journal(_os_disk(), real_wal_dir)
    append_many(journal, 1, 20, commit_every=5)
    close(journal)
    marker = Path(real_wal_dir) / WATERMARK_FILE  # claims 25 durable records; 20 are written
    with open(marker, "r+b") as handle:
        handle.seek(VALUE_OFFSET)
        handle.write(encode_watermark_value(25))
    tailer = WALTailer(Path(real_wal_dir), start_seq=1, hmac_key=WAL_KEY)

    def read_all() -> None:
        if method == "poll":
            tailer.poll(100)
        while method == "poll_batch" and tailer.poll_batch(lambda *_: True):
            pass

    with pytest.raises(WALCorruption, match="log ends at seq 20 below the watermark 25"):
        read_all()


def test_tailer_poll_batch_damage_raises_what_the_reference_parser_says(real_wal_dir):
    journal, _ = open_journal(_os_disk(), real_wal_dir)
    append_many(journal, 1, 20, commit_every=5)
    close(journal)
    corrupt_byte(segment_paths(real_wal_dir)[0], 400)  # in the first batch
    with pytest.raises(WALCorruption) as expected:
        WALTailer(Path(real_wal_dir), start_seq=1, hmac_key=WAL_KEY).poll(100)
    tailer = WALTailer(Path(real_wal_dir), start_seq=1, hmac_key=WAL_KEY)
    with pytest.raises(WALCorruption) as raised:
        tailer.poll_batch(lambda *_: False)
    assert str(raised.value) == str(expected.value)


def _os_disk():
    from switchyard.adapters.disk_os import OsDisk

    return OsDisk()
