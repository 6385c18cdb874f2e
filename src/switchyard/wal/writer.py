"""The writer side of the journal: batch frames into segments, fdatasync, roll, watermark.

One `SegmentWriter` runs wherever the flusher puts it (the loop thread for InlineFlusher, a
writer thread, or a writer process) and is the only code that writes segments. Per flush it
issues one pwrite of a batch frame and one fdatasync, then publishes the durable watermark.
Segments are preallocated with zeros (measured: fdatasync p50 117-126 us against 185-192 us
for fallocate and 188-247 us for appending, docs/WAL.md); a spare is prepared ahead of time
(by a helper thread, or on demand) so a roll costs one header write, one fdatasync, a rename
and a directory fsync. Running out of space while preparing the spare is not fatal: the batch
waits unwritten and unacknowledged until space returns. Any error on a segment write, a sync,
a rename or a directory fsync is fatal and propagates as OSError; nothing is ever retried.
"""

import errno
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from switchyard.core.ports import Disk

from .anchor import Anchor, write_anchor
from .format import (
    BATCH_HEADER_SIZE,
    CHAIN_SIZE,
    SEGMENT_HEADER_SIZE,
    SegmentHeader,
    encode_batch_header,
    encode_segment_header,
    segment_name,
    wal_id_of,
)
from .recovery import TEMP_SUFFIX
from .watermark import (
    VALUE_OFFSET,
    WATERMARK_FILE,
    encode_watermark_head,
    encode_watermark_value,
)

SPARE_PREFIX: Final = "spare-"
# Zero-fill in page-sized writes. The page cache keeps a file in folios as large as the
# writes that filled it (kernel 6.x); with 1 MiB fills, every later small pwrite dirtied a
# 1 MiB folio and each fdatasync wrote ~1 MiB to the device for ~20 KiB of records (measured:
# 1,042 KiB vs 22.6 KiB written per sync, /proc/self/io write_bytes; docs/WAL.md). 4 KiB
# fills cost more syscalls once per segment (in the spare thread) and keep syncs small.
_ZERO_CHUNK_BYTES: Final = 4096
_SPARE_RETRY_S: Final = 0.5
_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})

Chunk = tuple[bytes, int, int, int]  # (records, first seq, last seq, last record's ts_ns)


class SpareUnavailable(Exception):
    """The next segment could not be prepared (disk full, ...); nothing was written."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(f"cannot prepare the next WAL segment: {cause}")
        self.cause = cause


@dataclass(frozen=True, slots=True)
class WriterPlan:
    """Everything a writer needs to continue the recovered log (JSON for a writer process)."""

    wal_dir: str
    system_id: bytes
    keyed: bool
    key_id: str
    segment_size_bytes: int
    preallocate: str
    active_segment: str
    write_offset: int
    last_seq: int
    last_hash: bytes
    anchor_interval_ns: int

    def to_json(self) -> dict[str, object]:
        return {
            "wal_dir": self.wal_dir,
            "system_id": self.system_id.hex(),
            "keyed": self.keyed,
            "key_id": self.key_id,
            "segment_size_bytes": self.segment_size_bytes,
            "preallocate": self.preallocate,
            "active_segment": self.active_segment,
            "write_offset": self.write_offset,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash.hex(),
            "anchor_interval_ns": self.anchor_interval_ns,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "WriterPlan":
        def text(name: str) -> str:
            value = data[name]
            assert isinstance(value, str), name
            return value

        def number(name: str) -> int:
            value = data[name]
            assert isinstance(value, int), name
            return value

        return cls(
            wal_dir=text("wal_dir"),
            system_id=bytes.fromhex(text("system_id")),
            keyed=bool(data["keyed"]),
            key_id=text("key_id"),
            segment_size_bytes=number("segment_size_bytes"),
            preallocate=text("preallocate"),
            active_segment=text("active_segment"),
            write_offset=number("write_offset"),
            last_seq=number("last_seq"),
            last_hash=bytes.fromhex(text("last_hash")),
            anchor_interval_ns=number("anchor_interval_ns"),
        )


def prepare_segment_file(disk: Disk, path: str, size: int, preallocate: str) -> int:
    """Create `path` as `size` bytes of zeros, fdatasynced; return its open handle."""
    if disk.exists(path):
        disk.remove(path)
    handle = disk.open(path, create=True, write=True)
    try:
        disk.truncate(handle, 0)
        if preallocate == "zero":
            zeros = bytes(min(_ZERO_CHUNK_BYTES, size))
            for offset in range(0, size, len(zeros)):
                disk.pwrite(handle, zeros[: size - offset], offset)
        else:
            disk.fallocate(handle, 0, size)
        disk.fdatasync(handle)
    except OSError:
        disk.close(handle)
        if disk.exists(path):
            disk.remove(path)
        raise
    return handle


def install_segment(
    disk: Disk, wal_dir: str, spare: tuple[int, str], header: SegmentHeader
) -> tuple[str, int]:
    """Give the prepared spare its header and its final name, durably; return (name, size)."""
    spare_handle, spare_path = spare
    disk.pwrite(spare_handle, encode_segment_header(header), 0)
    disk.fdatasync(spare_handle)
    name = segment_name(header.first_seq)
    disk.rename(spare_path, os.path.join(wal_dir, name))
    disk.fsync_dir(wal_dir)
    return name, disk.size(spare_handle)


def init_watermark(disk: Disk, wal_dir: str, system_id: bytes, seq: int) -> None:
    """Create DURABLE for this WAL (atomically) or set it to the recovered seq."""
    path = os.path.join(wal_dir, WATERMARK_FILE)
    head = encode_watermark_head(system_id)
    if disk.exists(path):
        handle = disk.open(path, create=False, write=True)
        try:
            if disk.pread(handle, len(head), 0) == head:
                disk.pwrite(handle, encode_watermark_value(seq), VALUE_OFFSET)
                return
        finally:
            disk.close(handle)
    temporary = path + TEMP_SUFFIX
    handle = disk.open(temporary, create=True, write=True)
    try:
        disk.truncate(handle, 0)
        disk.pwrite(handle, head + encode_watermark_value(seq), 0)
        disk.fdatasync(handle)
    finally:
        disk.close(handle)
    disk.rename(temporary, path)
    disk.fsync_dir(wal_dir)


class SpareSegment:
    """Keeps one zero-filled segment file ready for the next roll.

    Threaded: a daemon thread prepares it in the background and retries after an error
    (`disk_full` tells the loop while it cannot). Not threaded: prepared on demand in `take`.
    """

    def __init__(
        self,
        disk: Disk,
        wal_dir: str,
        *,
        size: int,
        preallocate: str,
        threaded: bool,
        on_disk_full: Callable[[bool], object] | None = None,
    ) -> None:
        self.disk = disk
        self.wal_dir = wal_dir
        self.size = size
        self.preallocate = preallocate
        self.threaded = threaded
        self.on_disk_full = on_disk_full
        self.disk_full = False
        self.last_error: OSError | None = None
        self._ready: tuple[int, str] | None = None
        self._made = 0
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="wal-spare", daemon=True)
            self._thread.start()

    def _set_full(self, full: bool, error: OSError | None) -> None:
        self.last_error = error
        if full != self.disk_full:
            self.disk_full = full
            if self.on_disk_full is not None:
                self.on_disk_full(full)

    def _prepare(self) -> tuple[int, str]:
        # A fresh name each time: the writer renames a taken spare while the next is made.
        self._made += 1
        path = os.path.join(self.wal_dir, f"{SPARE_PREFIX}{self._made}{TEMP_SUFFIX}")
        try:
            handle = prepare_segment_file(self.disk, path, self.size, self.preallocate)
        except OSError as error:
            self._set_full(error.errno in _FULL_ERRNOS, error)
            raise
        self._set_full(False, None)
        return handle, path

    def _run(self) -> None:
        with self._cond:
            while not self._stopping:
                if self._ready is not None:
                    self._cond.wait()
                    continue
                try:
                    self._ready = self._prepare()
                    self._cond.notify_all()
                except OSError:
                    self._cond.wait(_SPARE_RETRY_S)

    def take(self) -> tuple[int, str]:
        """A prepared spare's handle (waits for it when threaded); SpareUnavailable if not."""
        if not self.threaded:
            try:
                return self._prepare()
            except OSError as error:
                raise SpareUnavailable(error) from None
        with self._cond:
            while self._ready is None and not self._stopping:
                self._cond.wait()
            if self._ready is None:
                assert self.last_error is not None or self._stopping
                raise SpareUnavailable(self.last_error or OSError(errno.ECANCELED, "closing"))
            handle, self._ready = self._ready, None
            self._cond.notify_all()
            return handle

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        if self._ready is not None:
            handle, path = self._ready
            self._ready = None
            self.disk.close(handle)
            self.disk.remove(path)  # recovery would remove it anyway; leave the dir tidy


class SegmentWriter:
    """Writes batch frames for one WAL; see the module docstring. Not thread-safe."""

    def __init__(
        self,
        disk: Disk,
        plan: WriterPlan,
        *,
        threaded_spare: bool,
        on_disk_full: Callable[[bool], object] | None = None,
    ) -> None:
        self.disk = disk
        self.plan = plan
        self.wal_dir = plan.wal_dir
        self.last_seq = plan.last_seq
        self.last_hash = plan.last_hash
        self.last_ts_ns = 0
        self.segment = plan.active_segment
        self.handle = disk.open(os.path.join(self.wal_dir, self.segment), create=False, write=True)
        self.capacity = disk.size(self.handle)
        self.offset = plan.write_offset
        self._watermark = disk.open(
            os.path.join(self.wal_dir, WATERMARK_FILE), create=False, write=True
        )
        self.anchored_seq = 0
        self.anchored_ts_ns = 0
        self.anchor_errors = 0
        self.spare = SpareSegment(
            disk,
            self.wal_dir,
            size=plan.segment_size_bytes,
            preallocate=plan.preallocate,
            threaded=threaded_spare,
            on_disk_full=on_disk_full,
        )
        assert SEGMENT_HEADER_SIZE <= self.offset <= self.capacity

    def write(self, chunks: Sequence[Chunk]) -> int:
        """Make `chunks` durable (one frame per segment touched); return the last seq.

        Raises SpareUnavailable (nothing of these chunks written; retry later) or OSError
        (fatal: the caller stops the journal).
        """
        assert chunks
        assert chunks[0][1] == self.last_seq + 1, (chunks[0][1], self.last_seq)
        self.write_sync_ns = 0  # fdatasync time spent by this call (for latency metrics)
        frame: list[bytes] = []
        frame_first = frame_bytes = 0
        for data, first_seq, _last_seq, _ts in chunks:
            if frame and self.offset + BATCH_HEADER_SIZE + frame_bytes + len(data) > self.capacity:
                self._write_frame(frame, frame_first, first_seq - frame_first, frame_bytes)
                frame, frame_bytes = [], 0
            if not frame:
                if self.offset + BATCH_HEADER_SIZE + len(data) > self.capacity:
                    self._roll(first_seq, int.from_bytes(data[16:24], "little", signed=True))
                frame_first = first_seq
            frame.append(data)
            frame_bytes += len(data)
        last_seq = chunks[-1][2]
        self._write_frame(frame, frame_first, last_seq - frame_first + 1, frame_bytes)
        self.disk.pwrite(self._watermark, encode_watermark_value(last_seq), VALUE_OFFSET)
        self.last_ts_ns = chunks[-1][3]
        interval = self.plan.anchor_interval_ns
        if interval > 0 and self.last_ts_ns - self.anchored_ts_ns >= interval:
            self.export_anchor()
        return last_seq

    def _write_frame(self, frame: list[bytes], first_seq: int, count: int, length: int) -> None:
        assert self.offset + BATCH_HEADER_SIZE + length <= self.capacity
        header = encode_batch_header(first_seq=first_seq, count=count, length=length)
        data = b"".join([header, *frame])
        self.disk.pwrite(self.handle, data, self.offset)
        started = time.perf_counter_ns()
        self.disk.fdatasync(self.handle)
        self.write_sync_ns += time.perf_counter_ns() - started
        self.offset += len(data)
        self.last_seq = first_seq + count - 1
        self.last_hash = data[-4 - CHAIN_SIZE : -4]

    def _roll(self, first_seq: int, created_ns: int) -> None:
        spare = self.spare.take()
        header = SegmentHeader(
            system_id=self.plan.system_id,
            first_seq=first_seq,
            created_ns=created_ns,
            prev_hash=self.last_hash,
            keyed=self.plan.keyed,
            key_id=self.plan.key_id,
        )
        try:
            name, capacity = install_segment(self.disk, self.wal_dir, spare, header)
        except BaseException:
            self.disk.close(spare[0])
            raise
        self.disk.close(self.handle)
        self.handle, self.segment, self.capacity = spare[0], name, capacity
        self.offset = SEGMENT_HEADER_SIZE

    def anchor(self) -> Anchor:
        return Anchor(
            seq=self.last_seq,
            hash=self.last_hash,
            key_id=self.plan.key_id,
            at_ns=self.last_ts_ns,
            wal_id=wal_id_of(self.plan.system_id),
            keyed=self.plan.keyed,
        )

    def export_anchor(self) -> None:
        """Write the durable chain head as an anchor; an error is counted, never fatal."""
        if self.last_seq == 0 or self.last_seq == self.anchored_seq:
            return
        try:
            write_anchor(self.disk, self.wal_dir, self.anchor())
        except OSError:
            self.anchor_errors += 1
            return
        self.anchored_seq = self.last_seq
        self.anchored_ts_ns = self.last_ts_ns

    def close(self) -> None:
        """Final anchor, stop the spare preparer, close files (the log stays as written)."""
        self.export_anchor()
        self.spare.close()
        self.disk.close(self._watermark)
        self.disk.close(self.handle)
