"""Journal: the gateway's single WAL writer, used on the event loop (DESIGN §4).

`Journal.open` takes the WAL lock, recovers (verify, cut a torn tail, refuse corruption) and
starts a flusher. On the loop, `append` frames a record into a reused buffer: header, payload,
chain hash and checksum, in place, with no syscall; `commit` hands everything appended since
the last commit to the flusher as one chunk; `on_durable(seq)` comes back later on the loop
when that chunk is fdatasynced. A failed write or sync calls `on_fatal(error)` once; nothing
after the last durable seq is ever reported durable and every later append raises
JournalFatal (the process is expected to stop; recovery decides on restart).
"""

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from zlib import crc32

from switchyard.core.limits import (
    WAL_LOCK_WAIT_MAX_S,
    WAL_PENDING_MAX_BYTES,
    WAL_RECORD_PAYLOAD_MAX_BYTES,
)
from switchyard.core.ports import Clock, Disk

from .anchor import Anchor, write_anchor
from .errors import JournalError, JournalFatal, WALLocked
from .flushers import Flusher
from .format import (
    CHAIN_SIZE,
    CRC,
    FORMAT_VERSION,
    RECORD_HEADER,
    RECORD_HEADER_SIZE,
    RECORD_MAGIC,
    RECORD_OVERHEAD,
    SEGMENT_HEADER_SIZE,
    ChainHasher,
    SegmentHeader,
)
from .reader import WALReader, WALRecord
from .recovery import RecoveryResult, recover
from .settings import JournalSettings
from .writer import SpareSegment, SpareUnavailable, WriterPlan, init_watermark, install_segment

LOCK_FILE = "LOCK"
_CRC_PACK = CRC.pack_into


class Journal:
    """See the module docstring. Not thread-safe: every call happens on the loop."""

    __slots__ = (
        "_buffer",
        "_capacity",
        "_chunk_first_mono_ns",
        "_chunk_first_seq",
        "_clock",
        "_committed",
        "_committed_bytes",
        "_disk",
        "_fatal",
        "_flusher",
        "_head",
        "_last_ts_ns",
        "_lock",
        "_next_hash",
        "_on_durable",
        "_on_fatal",
        "_used",
        "_view",
        "appended_seq",
        "bytes_committed_total",
        "disk_full",
        "durable_hash",
        "durable_seq",
        "durable_ts_ns",
        "recovery",
        "settings",
        "sync_listener",
        "wal_dir",
    )

    def __init__(
        self,
        *,
        wal_dir: Path,
        disk: Disk,
        settings: JournalSettings,
        clock: Clock,
        flusher: Flusher,
        recovery: RecoveryResult,
        lock: int,
        on_durable: Callable[[int], None],
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        # config
        self.wal_dir = wal_dir
        self.settings = settings
        self.recovery = recovery
        self._disk = disk
        self._clock = clock
        self._flusher = flusher
        self._lock = lock
        self._on_durable = on_durable
        self._on_fatal = on_fatal
        self._next_hash = ChainHasher(settings.hmac_key).next
        # the open chunk (appended, not yet committed)
        self._capacity = settings.chunk_max_bytes
        self._buffer = bytearray(self._capacity)
        self._view = memoryview(self._buffer)
        self._used = 0
        self._chunk_first_seq = 0
        self._chunk_first_mono_ns = 0
        # the log
        self._head = recovery.chain_head
        self._last_ts_ns = 0
        self.appended_seq = recovery.last_seq
        self.durable_seq = recovery.last_seq
        self.durable_hash = recovery.chain_head
        self.durable_ts_ns = 0
        # committed, not yet durable: (last seq, bytes, first append mono ns, hash, ts)
        self._committed: deque[tuple[int, int, int, bytes, int]] = deque()
        self._committed_bytes = 0
        self.bytes_committed_total = 0  # framed record bytes handed to the writer since start
        self._fatal: BaseException | None = None
        self.disk_full = False
        # Called with (records, fdatasync ns) per writer batch, for latency and batch metrics.
        self.sync_listener: Callable[[int, int], None] | None = None

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        wal_dir: Path,
        *,
        disk: Disk,
        settings: JournalSettings,
        clock: Clock,
        flusher: Flusher,
        on_durable: Callable[[int], None],
        on_fatal: Callable[[BaseException], None],
        log: Callable[[str], None] = lambda line: None,
        system_id: bytes | None = None,
        lock_wait_s: float = WAL_LOCK_WAIT_MAX_S,
    ) -> "Journal":
        """Lock, recover and start writing the WAL in `wal_dir` (created if missing).

        Raises WALLocked if another writer keeps the lock for `lock_wait_s`, WALCorruption if
        recovery refuses. `system_id` (16 bytes) is for new WALs only; random by default.
        """
        path = str(wal_dir)
        disk.makedirs(path)
        lock = _acquire_lock(disk, os.path.join(path, LOCK_FILE), clock, lock_wait_s)
        try:
            recovery = recover(
                disk,
                path,
                hasher=ChainHasher(settings.hmac_key),
                new_system_id=system_id or os.urandom(16),
                key_id=settings.effective_key_id,
                log=log,
            )
            if not recovery.segments:
                recovery = _create_first_segment(disk, path, recovery, settings, clock)
            init_watermark(disk, path, recovery.system_id, recovery.last_seq)
            journal = cls(
                wal_dir=wal_dir,
                disk=disk,
                settings=settings,
                clock=clock,
                flusher=flusher,
                recovery=recovery,
                lock=lock,
                on_durable=on_durable,
                on_fatal=on_fatal,
            )
            flusher.start(_plan(path, recovery, settings), disk, lock, journal)
        except BaseException:
            disk.unlock(lock)
            raise
        return journal

    # --- the hot path --------------------------------------------------------------------------

    def append(self, seq: int, record_type: int, ts_ns: int, payload: bytes) -> None:
        """Frame one record into the open chunk (no I/O). `seq` must be appended_seq + 1."""
        if self._fatal is not None:
            raise JournalFatal(f"journal stopped, seq {seq} refused: {self._fatal}")
        assert seq == self.appended_seq + 1, (seq, self.appended_seq)
        length = len(payload)
        assert length <= WAL_RECORD_PAYLOAD_MAX_BYTES, (seq, length)
        used = self._used
        if used + RECORD_OVERHEAD + length > self._capacity:
            self.commit()
            used = 0
        if used == 0:
            self._chunk_first_seq = seq
            self._chunk_first_mono_ns = self._clock.mono_ns()
        buffer = self._buffer
        RECORD_HEADER.pack_into(
            buffer, used, RECORD_MAGIC, FORMAT_VERSION, record_type, length, seq, ts_ns
        )
        body_end = used + RECORD_HEADER_SIZE + length
        buffer[used + RECORD_HEADER_SIZE : body_end] = payload
        view = self._view
        chain = self._next_hash(self._head, view[used:body_end])
        crc_at = body_end + CHAIN_SIZE
        buffer[body_end:crc_at] = chain
        _CRC_PACK(buffer, crc_at, crc32(view[used:crc_at]))
        self._used = crc_at + 4
        self._head = chain
        self._last_ts_ns = ts_ns
        self.appended_seq = seq

    def commit(self) -> None:
        """Hand every record appended since the last commit to the writer (one chunk)."""
        used = self._used
        if used == 0 or self._fatal is not None:
            return
        data = self._view[:used].tobytes()
        self._used = 0
        last_seq = self.appended_seq
        self._committed.append(
            (last_seq, used, self._chunk_first_mono_ns, self._head, self._last_ts_ns)
        )
        self._committed_bytes += used
        self.bytes_committed_total += used
        assert self._committed_bytes <= WAL_PENDING_MAX_BYTES, self._committed_bytes
        self._flusher.submit((data, self._chunk_first_seq, last_seq, self._last_ts_ns))

    # --- flusher callbacks (on the loop) --------------------------------------------------------

    def on_flushed(self, seq: int) -> None:
        if self._fatal is not None or seq <= self.durable_seq:
            return
        assert seq <= self.appended_seq, (seq, self.appended_seq)
        committed = self._committed
        while committed and committed[0][0] <= seq:
            last_seq, size, _, chain, ts_ns = committed.popleft()
            self._committed_bytes -= size
            self.durable_hash = chain
            self.durable_ts_ns = ts_ns
            assert last_seq <= seq
        self.durable_seq = seq
        self._on_durable(seq)

    def on_fatal(self, error: BaseException) -> None:
        if self._fatal is not None:
            return
        self._fatal = error
        self._on_fatal(error)

    def on_disk_full(self, full: bool) -> None:
        self.disk_full = full

    def on_synced(self, records: int, sync_ns: int) -> None:
        listener = self.sync_listener
        if listener is not None:
            listener(records, sync_ns)

    # --- state for backpressure, metrics and audit ----------------------------------------------

    @property
    def pending_bytes(self) -> int:
        """Bytes appended and not yet durable."""
        return self._committed_bytes + self._used

    @property
    def oldest_pending_ns(self) -> int:
        """Monotonic ns when the oldest non-durable record was appended (0 if none)."""
        if self._committed:
            return self._committed[0][2]
        return self._chunk_first_mono_ns if self._used else 0

    @property
    def wal_id(self) -> str:
        return self.recovery.wal_id

    @property
    def failed(self) -> BaseException | None:
        return self._fatal

    def free_space_pct(self) -> float | None:
        """Free space of the WAL's filesystem (a statvfs call: poll it on a timer)."""
        return self._disk.free_space_pct(str(self.wal_dir))

    def anchor(self) -> Anchor:
        """The durable chain head, as an anchor (not written anywhere)."""
        return Anchor(
            seq=self.durable_seq,
            hash=self.durable_hash,
            key_id=self.settings.effective_key_id,
            at_ns=self.durable_ts_ns,
            wal_id=self.wal_id,
            keyed=bool(self.settings.hmac_key),
        )

    def write_anchor_now(self) -> str:
        """Export the durable head as an anchor file (blocking: call it from a thread)."""
        return write_anchor(self._disk, str(self.wal_dir), self.anchor())

    def replay(self, from_seq: int = 1) -> Iterator[WALRecord]:
        """The recovered records from `from_seq`, verified again as they are read."""
        reader = WALReader(self.wal_dir, hmac_key=self.settings.hmac_key, disk=self._disk)
        return reader.iter_from(from_seq, self.recovery.last_seq)

    async def close(self) -> None:
        """Commit, flush and fsync everything, export the final anchor, release the lock."""
        try:
            self.commit()
            await self._flusher.close()
        finally:
            self._disk.unlock(self._lock)
        if self._fatal is None and self.durable_seq != self.appended_seq:
            raise JournalError(f"closed with seqs up to {self.appended_seq} not durable")


def _acquire_lock(disk: Disk, path: str, clock: Clock, wait_s: float) -> int:
    deadline = clock.mono_ns() + int(wait_s * 1e9)
    while True:
        handle = disk.try_lock(path)
        if handle is not None:
            return handle
        if clock.mono_ns() >= deadline:
            raise WALLocked(f"{path} is held by another WAL writer (waited {wait_s:.0f} s)")
        time.sleep(0.01)  # an exiting writer process is finishing its last batch


def _create_first_segment(
    disk: Disk, wal_dir: str, recovery: RecoveryResult, settings: JournalSettings, clock: Clock
) -> RecoveryResult:
    spare = SpareSegment(
        disk,
        wal_dir,
        size=settings.segment_size_bytes,
        preallocate=settings.preallocate,
        threaded=False,
    )
    try:
        taken = spare.take()
    except SpareUnavailable as error:
        raise error.cause from None
    header = SegmentHeader(
        system_id=recovery.system_id,
        first_seq=1,
        created_ns=clock.wall_ns(),
        prev_hash=recovery.chain_head,
        keyed=bool(settings.hmac_key),
        key_id=settings.effective_key_id,
    )
    try:
        name, size = install_segment(disk, wal_dir, taken, header)
    finally:
        disk.close(taken[0])
    return RecoveryResult(
        system_id=recovery.system_id,
        segments=(name,),
        last_seq=0,
        chain_head=recovery.chain_head,
        active_segment=name,
        write_offset=SEGMENT_HEADER_SIZE,
        segment_size_bytes=size,
        keyed=header.keyed,
        key_id=header.key_id,
        cut=None,
    )


def _plan(wal_dir: str, recovery: RecoveryResult, settings: JournalSettings) -> WriterPlan:
    return WriterPlan(
        wal_dir=wal_dir,
        system_id=recovery.system_id,
        keyed=recovery.keyed,
        key_id=recovery.key_id,
        segment_size_bytes=settings.segment_size_bytes,
        preallocate=settings.preallocate,
        active_segment=recovery.active_segment,
        write_offset=recovery.write_offset,
        last_seq=recovery.last_seq,
        last_hash=recovery.chain_head,
        anchor_interval_ns=int(settings.anchor_interval_s * 1e9),
    )
