"""The durable watermark file: the writer's last fsynced seq, for readers in any process.

`<wal>/DURABLE` holds a magic, the WAL's system id and the seq twice (as is and inverted), so
a reader that races the writer's 16-byte update sees a mismatch and reads again instead of a
torn value. It is never fsynced: it is only ever written after the records it names were
fdatasynced, so whatever survives a crash is <= what is durable (docs/WAL.md).
Pure layout (L2); the journal writes it through the Disk port, readers with pread.
"""

import struct
from typing import Final

from .format import SYSTEM_ID_SIZE

WATERMARK_FILE: Final = "DURABLE"
WATERMARK_MAGIC: Final = b"SWYDMARK"
_HEAD = struct.Struct("<8s16s")
_VALUE = struct.Struct("<QQ")
VALUE_OFFSET: Final = _HEAD.size  # 24
WATERMARK_SIZE: Final = _HEAD.size + _VALUE.size  # 40
_MASK: Final = 2**64 - 1


def encode_watermark_head(system_id: bytes) -> bytes:
    assert len(system_id) == SYSTEM_ID_SIZE
    return _HEAD.pack(WATERMARK_MAGIC, system_id)


def encode_watermark_value(seq: int) -> bytes:
    """The 16 bytes the writer overwrites at VALUE_OFFSET after each durable batch."""
    assert seq >= 0
    return _VALUE.pack(seq, seq ^ _MASK)


def decode_watermark(data: bytes) -> tuple[bytes, int] | None:
    """(system id, seq), or None when the bytes are missing, foreign or caught mid-update."""
    if len(data) < WATERMARK_SIZE:
        return None
    magic, system_id = _HEAD.unpack_from(data, 0)
    if magic != WATERMARK_MAGIC:
        return None
    seq, inverted = _VALUE.unpack_from(data, VALUE_OFFSET)
    if seq ^ _MASK != inverted:
        return None
    return bytes(system_id), seq
