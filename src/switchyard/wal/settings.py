"""The WAL's settings: environment variables (seed names where the seed had them) and defaults.

Declared here because the WAL reads them; the composition root builds `JournalSettings` with
`from_env()` and passes it to `Journal.open`.
"""

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from switchyard.core import env
from switchyard.core.limits import (
    WAL_BATCH_RECORDS_MAX,
    WAL_BATCH_WAIT_US_MAX,
    WAL_CHUNK_MAX_BYTES,
    WAL_SEGMENT_SIZE_BYTES,
)

from .format import KEY_ID_SIZE, SEGMENT_HEADER_SIZE

FLUSHERS = ("process", "thread", "inline")
PREALLOCATIONS = ("zero", "fallocate")
SEGMENT_SIZE_MIN_BYTES = 64 * 1024


def _hmac_key(raw: str) -> bytes | None:
    """Raw UTF-8, or `base64:<b64>` like the seed's AUDIT_HMAC_KEYS entries; empty = no key."""
    text = raw.strip()
    if not text:
        return None
    if text.startswith("base64:"):
        try:
            key = base64.b64decode(text[len("base64:") :], validate=True)
        except binascii.Error:
            raise ValueError("base64: prefix but the rest is not base64") from None
        if not key:
            raise ValueError("empty key")
        return key
    return text.encode()


def _key_id(raw: str) -> str:
    text = raw.strip()
    if len(text.encode()) > KEY_ID_SIZE or not text.isascii():
        raise ValueError(f"at most {KEY_ID_SIZE} ASCII characters")
    return text


HMAC_KEY = env.declare(
    "AUDIT_HMAC_KEY",
    "",
    "Key of the WAL hash chain (HMAC-SHA256); `base64:...` for binary keys; empty: plain SHA-256",
    _hmac_key,
    section="wal",
)
KEY_ID = env.declare(
    "AUDIT_KEY_ID",
    "",
    "Key id written in segment headers and anchors (default `key-1` with a key, `none` without)",
    _key_id,
    section="wal",
)
MAX_BATCH = env.declare(
    "AUDIT_FDATASYNC_MAX_BATCH",
    "64",
    "Group commit: a batch closes at this many records",
    env.integer(1, WAL_BATCH_RECORDS_MAX),
    section="wal",
)
MAX_WAIT_US = env.declare(
    "AUDIT_FDATASYNC_MAX_WAIT_US",
    "200",
    "Group commit: a batch closes this long after its first record (microseconds)",
    env.integer(0, WAL_BATCH_WAIT_US_MAX),
    section="wal",
)
ANCHOR_INTERVAL_SEC = env.declare(
    "AUDIT_ANCHOR_INTERVAL_SEC",
    "60",
    "Export the chain head to wal/anchors every this many seconds of records (0: only at close)",
    env.number(0),
    section="wal",
)
FLUSHER = env.declare(
    "WAL_FLUSHER",
    "process",
    "WAL writer: `process` (separate writer process), `thread` (writer thread) or `inline`",
    env.choice(*FLUSHERS),
    section="wal",
)
SEGMENT_SIZE = env.declare(
    "WAL_SEGMENT_SIZE_BYTES",
    str(WAL_SEGMENT_SIZE_BYTES),
    "WAL segment size; segments are preallocated and rolled when full",
    env.integer(SEGMENT_SIZE_MIN_BYTES, 2**40),
    section="wal",
)
PREALLOCATE = env.declare(
    "WAL_PREALLOCATE",
    "zero",
    "How segments are preallocated: `zero` (written zeros, fastest fdatasync) or `fallocate`",
    env.choice(*PREALLOCATIONS),
    section="wal",
)


@dataclass(frozen=True, slots=True)
class JournalSettings:
    hmac_key: bytes | None = None
    key_id: str = ""
    max_batch: int = 64
    max_wait_us: int = 200
    anchor_interval_s: float = 60.0
    flusher: str = "process"
    segment_size_bytes: int = WAL_SEGMENT_SIZE_BYTES
    preallocate: str = "zero"

    def __post_init__(self) -> None:
        assert self.flusher in FLUSHERS, self.flusher
        assert self.preallocate in PREALLOCATIONS, self.preallocate
        assert 1 <= self.max_batch <= WAL_BATCH_RECORDS_MAX
        assert 0 <= self.max_wait_us <= WAL_BATCH_WAIT_US_MAX
        assert self.segment_size_bytes > SEGMENT_HEADER_SIZE

    @property
    def effective_key_id(self) -> str:
        if self.key_id:
            return self.key_id
        return "key-1" if self.hmac_key else "none"

    @property
    def chunk_max_bytes(self) -> int:
        """The largest commit() hand-off: it must fit in an empty segment as one frame."""
        room = self.segment_size_bytes - SEGMENT_HEADER_SIZE - 64
        return min(WAL_CHUNK_MAX_BYTES, room)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "JournalSettings":
        return cls(
            hmac_key=HMAC_KEY.read(environ),
            key_id=KEY_ID.read(environ),
            max_batch=MAX_BATCH.read(environ),
            max_wait_us=MAX_WAIT_US.read(environ),
            anchor_interval_s=ANCHOR_INTERVAL_SEC.read(environ),
            flusher=FLUSHER.read(environ),
            segment_size_bytes=SEGMENT_SIZE.read(environ),
            preallocate=PREALLOCATE.read(environ),
        )
