"""Record, batch and segment framing; the hash chain."""

import hashlib
import hmac

import pytest

from switchyard.wal.format import (
    RECORD_OVERHEAD,
    ChainHasher,
    FrameError,
    SegmentHeader,
    chain_genesis,
    check_record,
    decode_batch_header,
    decode_header,
    decode_segment_header,
    encode_batch_header,
    encode_record,
    encode_segment_header,
    parse_segment_name,
    segment_name,
    wal_id_of,
)

PREV = bytes(range(32))


def test_chain_hasher_with_key_is_hmac_sha256():
    hasher = ChainHasher(b"key")
    assert hasher.next(PREV, b"body") == hmac.new(b"key", PREV + b"body", "sha256").digest()


def test_chain_hasher_with_a_long_key_is_hmac_sha256():
    key = b"k" * 100
    expected = hmac.new(key, PREV + b"body", "sha256").digest()
    assert ChainHasher(key).next(PREV, b"body") == expected


def test_chain_hasher_without_key_is_plain_sha256():
    assert ChainHasher(None).next(PREV, b"body") == hashlib.sha256(PREV + b"body").digest()


def test_record_round_trips_and_covers_header_and_payload_in_the_chain():
    hasher = ChainHasher(b"key")
    data, chain = encode_record(
        seq=7, record_type=10, ts_ns=-5, payload=b"payload", prev_hash=PREV, hasher=hasher
    )
    assert len(data) == RECORD_OVERHEAD + 7
    header = check_record(data, 0, len(data))
    assert (header.seq, header.record_type, header.ts_ns, header.payload_length) == (7, 10, -5, 7)
    assert chain == hasher.next(PREV, data[: 24 + 7])
    assert data[-36:-4] == chain


def test_record_checksum_catches_a_flipped_bit():
    data, _ = encode_record(
        seq=1, record_type=10, ts_ns=0, payload=b"abc", prev_hash=PREV, hasher=ChainHasher(None)
    )
    flipped = bytearray(data)
    flipped[26] ^= 0x10
    with pytest.raises(FrameError, match="checksum"):
        check_record(bytes(flipped), 0, len(flipped))


def test_record_header_refuses_bad_magic_and_version():
    data, _ = encode_record(
        seq=1, record_type=10, ts_ns=0, payload=b"", prev_hash=PREV, hasher=ChainHasher(None)
    )
    with pytest.raises(FrameError, match="magic"):
        decode_header(b"XX" + data[2:])
    with pytest.raises(FrameError, match="version"):
        decode_header(data[:2] + b"\x09" + data[3:])


def test_batch_header_round_trips_and_detects_damage():
    encoded = encode_batch_header(first_seq=5, count=2, length=200)
    header = decode_batch_header(encoded)
    assert (header.first_seq, header.count, header.length) == (5, 2, 200)
    with pytest.raises(FrameError, match="checksum"):
        decode_batch_header(encoded[:9] + b"\xff" + encoded[10:])


def test_segment_header_round_trips():
    header = SegmentHeader(bytes(16), 42, 123, PREV, True, "key-1")
    decoded = decode_segment_header(encode_segment_header(header))
    assert decoded == header
    assert decoded.wal_id == "000000"


def test_segment_header_detects_damage():
    encoded = bytearray(encode_segment_header(SegmentHeader(bytes(16), 1, 0, PREV, False, "")))
    encoded[30] ^= 1
    with pytest.raises(FrameError, match="checksum"):
        decode_segment_header(bytes(encoded))


def test_segment_names_sort_by_seq_and_parse_back():
    names = [segment_name(seq) for seq in (1, 9, 10, 123456)]
    assert names == sorted(names)
    assert [parse_segment_name(name) for name in names] == [1, 9, 10, 123456]
    assert parse_segment_name("DURABLE") is None
    assert parse_segment_name("spare-1.tmp") is None
    assert parse_segment_name("0" * 20 + ".wal") is None


def test_genesis_depends_on_system_id_and_key():
    one = chain_genesis(ChainHasher(b"k"), bytes(16))
    assert one != chain_genesis(ChainHasher(b"k"), b"\x01" * 16)
    assert one != chain_genesis(ChainHasher(b"other"), bytes(16))


def test_wal_id_is_six_hex_characters():
    assert wal_id_of(bytes.fromhex("abcdef") + bytes(13)) == "abcdef"
