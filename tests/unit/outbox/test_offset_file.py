from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.outbox.offset_file import (
    LoadOutcome,
    OffsetFile,
    OffsetFileError,
    OutboxPosition,
    decode_position,
    encode_position,
)

POSITION = OutboxPosition(wal_id="a1b2c3", seq=42, engine_id="eng1")


def test_offset_file_missing_starts_from_beginning(tmp_path: Path) -> None:
    result = OffsetFile(tmp_path / "offset").load(now_ms=1)
    assert result.position is None
    assert result.outcome is LoadOutcome.MISSING


def test_offset_file_store_then_load_round_trips(tmp_path: Path) -> None:
    offsets = OffsetFile(tmp_path / "outbox" / "offset")
    offsets.store(POSITION)
    result = offsets.load(now_ms=1)
    assert result.position == POSITION
    assert result.outcome is LoadOutcome.OK


def test_offset_file_store_keeps_previous_copy(tmp_path: Path) -> None:
    offsets = OffsetFile(tmp_path / "offset")
    offsets.store(POSITION)
    offsets.store(OutboxPosition(wal_id="a1b2c3", seq=50, engine_id="eng1"))
    assert decode_position(offsets.previous_path.read_bytes()) == POSITION
    assert not (tmp_path / "offset.tmp").exists()


def test_offset_file_corrupt_moves_aside_and_uses_previous(tmp_path: Path) -> None:
    offsets = OffsetFile(tmp_path / "offset")
    offsets.store(POSITION)
    offsets.store(OutboxPosition(wal_id="a1b2c3", seq=50, engine_id="eng1"))
    offsets.path.write_bytes(b"garbage\x00")
    result = offsets.load(now_ms=1234)
    assert result.outcome is LoadOutcome.PREVIOUS
    assert result.position == POSITION
    assert result.moved_aside == (tmp_path / "offset.bad.1234",)
    assert (tmp_path / "offset.bad.1234").read_bytes() == b"garbage\x00"
    assert "not JSON" in result.problems[0]


def test_offset_file_both_corrupt_resets_to_beginning(tmp_path: Path) -> None:
    offsets = OffsetFile(tmp_path / "offset")
    offsets.path.write_bytes(b"{}")
    offsets.previous_path.write_bytes(b"{}")
    result = offsets.load(now_ms=7)
    assert result.position is None
    assert result.outcome is LoadOutcome.RESET
    assert len(result.moved_aside) == 2


def test_offset_file_crash_between_renames_uses_previous_without_complaint(tmp_path: Path) -> None:
    offsets = OffsetFile(tmp_path / "offset")
    offsets.previous_path.write_bytes(encode_position(POSITION))
    result = offsets.load(now_ms=1)
    assert result.position == POSITION
    assert result.outcome is LoadOutcome.OK
    assert result.moved_aside == ()


def test_decode_position_detects_edited_seq() -> None:
    raw = encode_position(POSITION).replace(b'"seq":42', b'"seq":99')
    with pytest.raises(OffsetFileError, match="checksum"):
        decode_position(raw)


def test_decode_position_refuses_oversized_file() -> None:
    with pytest.raises(OffsetFileError, match="bytes"):
        decode_position(b" " * 5000)


@given(st.integers(0, len(encode_position(POSITION)) - 2), st.integers(1, 255))
def test_decode_position_any_single_byte_change_is_refused_or_identical(
    index: int, flip: int
) -> None:
    raw = bytearray(encode_position(POSITION))
    raw[index] ^= flip
    try:
        decoded = decode_position(bytes(raw))
    except OffsetFileError:
        return
    assert decoded == POSITION  # e.g. whitespace-insensitive JSON: same content


@given(st.binary(max_size=200))
def test_decode_position_never_crashes_on_garbage(raw: bytes) -> None:
    try:
        decode_position(raw)
    except OffsetFileError:
        pass
