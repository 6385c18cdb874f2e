"""The write-ahead log: hash-chained, group-committed, recoverable (DESIGN §4, docs/WAL.md).

Public surface: readers for any process (`WALReader`, `WALTailer`, `durable_watermark`),
the payload codec, the gateway's single writer (`Journal`), recovery, anchors and `verify`.
"""

from .errors import JournalError, JournalFatal, WALCorruption, WALError, WALLocked
from .payload import PayloadError, decode_payload, encode_payload
from .reader import WALReader, WALRecord, WALTailer, durable_watermark

__all__ = [
    "JournalError",
    "JournalFatal",
    "PayloadError",
    "WALCorruption",
    "WALError",
    "WALLocked",
    "WALReader",
    "WALRecord",
    "WALTailer",
    "decode_payload",
    "durable_watermark",
    "encode_payload",
]
