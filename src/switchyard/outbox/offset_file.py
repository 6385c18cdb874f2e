"""The outbox's position: the last WAL seq whose record (and all before it) Kafka acknowledged.

One line of JSON with a CRC32 over its content, written atomically: temp file, fsync,
rename the current file to `<name>.prev`, rename the temp file into place, fsync the
directory. So at any crash point one of the two files holds a complete, earlier-or-equal
position. Reading trusts nothing: a file that fails to parse or to verify is moved aside to
`<name>.bad.<epoch ms>` and the previous good copy is used, else the start of the WAL. Either
way publishing restarts at or before the true position: duplicates are possible, gaps never.
This module owns the file format and nothing else (no Kafka, no WAL).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import orjson

FORMAT_VERSION = 1
FILE_SIZE_MAX_BYTES = 4096  # the line is ~100 B; anything larger is not ours


class LoadOutcome(Enum):
    MISSING = "missing"  # no file: start from the beginning of the WAL
    OK = "ok"
    PREVIOUS = "previous"  # the current file was unusable; the previous good one was used
    RESET = "reset"  # neither file was usable: start from the beginning of the WAL


@dataclass(frozen=True, slots=True)
class OutboxPosition:
    """Every record of WAL `wal_id` with seq <= `seq` was acknowledged by Kafka."""

    wal_id: str
    seq: int
    engine_id: str  # the source engine id in effect at `seq` (from SessionStarted records)

    def __post_init__(self) -> None:
        assert self.seq >= 0, self.seq


@dataclass(frozen=True, slots=True)
class LoadResult:
    position: OutboxPosition | None
    outcome: LoadOutcome
    moved_aside: tuple[Path, ...]  # files renamed to .bad.<ms>
    problems: tuple[str, ...] = ()  # why each was moved aside, for the log line


class OffsetFileError(ValueError):
    """The file exists but does not hold a valid position."""


def encode_position(position: OutboxPosition) -> bytes:
    body = {
        "version": FORMAT_VERSION,
        "walId": position.wal_id,
        "engineId": position.engine_id,
        "seq": position.seq,
    }
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    body["crc32"] = zlib.crc32(canonical)
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS) + b"\n"


def decode_position(raw: bytes) -> OutboxPosition:
    """Parse and verify one file's content; any defect raises OffsetFileError."""
    if len(raw) > FILE_SIZE_MAX_BYTES:
        raise OffsetFileError(f"file is {len(raw)} bytes, more than {FILE_SIZE_MAX_BYTES}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise OffsetFileError(f"not JSON: {error}") from None
    if not isinstance(body, dict):
        raise OffsetFileError("not a JSON object")
    crc = body.pop("crc32", None)
    if crc != zlib.crc32(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)):
        raise OffsetFileError(f"checksum mismatch (stored {crc!r})")
    if body.get("version") != FORMAT_VERSION:
        raise OffsetFileError(f"unknown version {body.get('version')!r}")
    seq, wal_id, engine_id = body.get("seq"), body.get("walId"), body.get("engineId")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise OffsetFileError(f"seq {seq!r} is not an integer >= 0")
    if not isinstance(wal_id, str) or not isinstance(engine_id, str):
        raise OffsetFileError("walId and engineId must be strings")
    return OutboxPosition(wal_id=wal_id, seq=seq, engine_id=engine_id)


class OffsetFile:
    """Reads and atomically replaces the position file at `path` (and its `.prev` copy)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.previous_path = path.with_name(path.name + ".prev")
        self._temp_path = path.with_name(path.name + ".tmp")

    def load(self, *, now_ms: int) -> LoadResult:
        """The stored position; unusable files are moved aside, never deleted."""
        moved: list[Path] = []
        problems: list[str] = []
        current = self._read(self.path, now_ms, moved, problems)
        if current is not None:
            return LoadResult(current, LoadOutcome.OK, tuple(moved), tuple(problems))
        previous = self._read(self.previous_path, now_ms, moved, problems)
        if previous is not None:
            # A crash between the two renames leaves only `.prev`: that is not corruption.
            outcome = LoadOutcome.PREVIOUS if moved else LoadOutcome.OK
            return LoadResult(previous, outcome, tuple(moved), tuple(problems))
        if moved:
            return LoadResult(None, LoadOutcome.RESET, tuple(moved), tuple(problems))
        return LoadResult(None, LoadOutcome.MISSING, ())

    def store(self, position: OutboxPosition) -> None:
        """Write `position` durably; the old file becomes `.prev`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = encode_position(position)
        fd = os.open(self._temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            written = os.write(fd, data)
            assert written == len(data), "short write of a 100-byte file"
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.path.exists():
            os.replace(self.path, self.previous_path)
        os.replace(self._temp_path, self.path)
        _fsync_directory(self.path.parent)

    def _read(
        self, path: Path, now_ms: int, moved: list[Path], problems: list[str]
    ) -> OutboxPosition | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return decode_position(raw)
        except OffsetFileError as error:
            bad = path.with_name(f"{path.name}.bad.{now_ms}")
            os.replace(path, bad)
            moved.append(bad)
            problems.append(f"{path}: {error}")
            return None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
