"""Property tests of the WAL: codecs round-trip, any tail damage is cut, mid-log damage stops.

Logs are built on the FakeDisk by the real journal; damage is applied to the segment bytes
and recovery is run by reopening the journal.
"""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fixtures.wal import FAKE_WAL_DIR, SYSTEM_ID, append_many, close, open_journal

from switchyard.core.enums import OrderType, Side, TimeInForce
from switchyard.core.events import OrderAccepted, RecordType
from switchyard.testing.fake_disk import FakeDisk
from switchyard.wal import WALCorruption
from switchyard.wal.format import (
    SEGMENT_HEADER_SIZE,
    ChainHasher,
    check_record,
    encode_record,
)
from switchyard.wal.payload import decode_payload, encode_payload
from switchyard.wal.watermark import encode_watermark_head, encode_watermark_value

SEGMENT = FAKE_WAL_DIR + "/00000000000000000001.wal"
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(max_size=40)


@PROPERTY
@given(
    seq=st.integers(1, 2**63 - 1),
    record_type=st.integers(0, 255),
    ts_ns=st.integers(-(2**63), 2**63 - 1),
    payload=st.binary(max_size=600),
    key=st.one_of(st.none(), st.binary(min_size=1, max_size=80)),
)
def test_record_codec_round_trips(seq, record_type, ts_ns, payload, key):
    data, chain = encode_record(
        seq=seq,
        record_type=record_type,
        ts_ns=ts_ns,
        payload=payload,
        prev_hash=bytes(32),
        hasher=ChainHasher(key),
    )
    header = check_record(data, 0, len(data))
    assert (header.seq, header.record_type, header.ts_ns) == (seq, record_type, ts_ns)
    assert data[24 : 24 + len(payload)] == payload
    assert data[-36:-4] == chain


@PROPERTY
@given(
    order_id=text,
    account=text,
    client=text,
    key=text,
    symbol=text,
    side=st.sampled_from(Side),
    order_type=st.sampled_from(OrderType),
    qty=st.integers(1, 10**12),
    price=st.integers(0, 10**15),
    tif=st.sampled_from(TimeInForce),
    expire=st.integers(0, 2**62),
    post_only=st.booleans(),
)
def test_payload_codec_round_trips(
    order_id, account, client, key, symbol, side, order_type, qty, price, tif, expire, post_only
):
    record = OrderAccepted(
        order_id=order_id,
        account_id=account,
        client_order_id=client,
        idempotency_key=key,
        symbol=symbol,
        side=side,
        order_type=order_type,
        qty=qty,
        price=price,
        time_in_force=tif,
        expire_at_ms=expire,
        post_only=post_only,
    )
    assert decode_payload(RecordType.ORDER_ACCEPTED, encode_payload(record)) == record


def _build_log(batches: list[int]) -> tuple[FakeDisk, bytes, list[int]]:
    """A closed log with the given batch sizes; returns the segment bytes and batch ends."""
    disk = FakeDisk(seed=1)
    disk.makedirs("/data")
    journal, _ = open_journal(disk)
    seq = 0
    for size in batches:
        append_many(journal, seq + 1, size, commit_every=size)
        seq += size
    close(journal)
    data = disk.file_bytes(SEGMENT)
    ends, position = [], SEGMENT_HEADER_SIZE
    while data[position : position + 4] == b"SWYB":
        position += 24 + int.from_bytes(data[position + 4 : position + 8], "little")
        ends.append(position)
    return disk, data, ends


def _set_watermark(disk: FakeDisk, seq: int) -> None:
    head = encode_watermark_head(SYSTEM_ID)
    disk.set_file_bytes(FAKE_WAL_DIR + "/DURABLE", head + encode_watermark_value(seq))


batches_strategy = st.lists(st.integers(1, 6), min_size=2, max_size=6)


@PROPERTY
@given(batches=batches_strategy, where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_bit_flip_in_the_last_batch_is_cut(batches, where, bit):
    disk, data, ends = _build_log(batches)
    start, end = ends[-2], ends[-1]
    offset = start + int(where * (end - start))
    damaged = bytearray(data)
    damaged[offset] ^= 1 << bit
    disk.set_file_bytes(SEGMENT, bytes(damaged))
    _set_watermark(disk, sum(batches[:-1]))  # the last batch was never acknowledged
    journal, _ = open_journal(disk)
    assert journal.recovery.last_seq == sum(batches[:-1])
    assert journal.recovery.cut is not None
    assert journal.recovery.cut.offset == start


@PROPERTY
@given(batches=batches_strategy, where=st.floats(0, 1, exclude_max=True))
def test_any_truncation_in_the_last_batch_is_cut(batches, where):
    disk, data, ends = _build_log(batches)
    start, end = ends[-2], ends[-1]
    cut_at = start + int(where * (end - start))
    truncated = data[:cut_at] + bytes(len(data) - cut_at)
    disk.set_file_bytes(SEGMENT, truncated)
    _set_watermark(disk, sum(batches[:-1]))
    journal, _ = open_journal(disk)
    assert journal.recovery.last_seq == sum(batches[:-1])
    assert [r.seq for r in journal.replay()] == list(range(1, sum(batches[:-1]) + 1))


@PROPERTY
@given(
    batches=batches_strategy,
    pick=st.integers(0, 10**6),
    where=st.floats(0, 1, exclude_max=True),
    bit=st.integers(0, 7),
)
def test_any_bit_flip_before_the_last_batch_fails_stop_with_file_and_offset(
    batches, pick, where, bit
):
    disk, data, ends = _build_log(batches)
    starts = [SEGMENT_HEADER_SIZE, *ends[:-1]]
    index = pick % (len(batches) - 1)
    start, end = starts[index], ends[index]
    offset = start + int(where * (end - start))
    damaged = bytearray(data)
    damaged[offset] ^= 1 << bit
    disk.set_file_bytes(SEGMENT, bytes(damaged))
    with pytest.raises(WALCorruption) as raised:
        open_journal(disk)
    assert raised.value.file == SEGMENT
    assert start <= raised.value.offset < end


@PROPERTY
@given(batches=batches_strategy, pick=st.integers(0, 10**6), seed=st.integers(0, 2**32))
def test_a_rewritten_record_with_a_recomputed_checksum_is_detected(batches, pick, seed):
    """An attacker without the key rewrites a record and fixes its CRC: the chain catches it."""
    import zlib

    disk, data, ends = _build_log(batches)
    record_offsets = []
    position = SEGMENT_HEADER_SIZE
    for end in ends:
        position += 24
        while position < end:
            record_offsets.append(position)
            position += 60 + int.from_bytes(data[position + 4 : position + 8], "little")
    at = record_offsets[pick % len(record_offsets)]
    length = int.from_bytes(data[at + 4 : at + 8], "little")
    forged = bytearray(data)
    payload = bytearray(forged[at + 24 : at + 24 + length])
    payload[random.Random(seed).randrange(length)] ^= 0x20
    forged[at + 24 : at + 24 + length] = payload
    crc_at = at + 24 + length + 32
    forged[crc_at : crc_at + 4] = zlib.crc32(forged[at:crc_at]).to_bytes(4, "little")
    disk.set_file_bytes(SEGMENT, bytes(forged))
    with pytest.raises(WALCorruption) as raised:
        open_journal(disk)
    assert raised.value.offset == at
    assert "chain hash mismatch" in raised.value.reason
