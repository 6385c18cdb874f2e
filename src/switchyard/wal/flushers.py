"""Flushers: who runs the SegmentWriter, and how durable seqs come back to the event loop.

All three take the journal's committed chunks in order and report back, in order, through
callbacks scheduled on the loop: `on_flushed(last_durable_seq)`, `on_fatal(error)` (once; no
flush is reported after it) and `on_disk_full(flag)`.
- InlineFlusher: writes synchronously inside `submit` (deterministic simulation, tools).
- ThreadFlusher: one writer thread; results via `notify` (e.g. loop.call_soon_threadsafe).
- ProcessFlusher: a writer process fed over a pipe (wal/_writer_process.py); results over a
  second pipe read with loop.add_reader. Keeps the writer off the loop's GIL (docs/WAL.md).
Group commit (thread and process): a batch closes at `max_batch` records or `max_wait_us`
after its first record; a batch never splits a chunk, so one commit() is one write.
"""

import asyncio
import contextlib
import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final, Protocol

from switchyard.core.ports import Disk

from .errors import JournalFatal, WALError
from .writer import Chunk, SegmentWriter, SpareUnavailable, WriterPlan

Notify = Callable[..., object]  # e.g. loop.call_soon_threadsafe(callback, *args)

# Pipe protocol with the writer process (native endianness, one machine).
CHUNK_HEADER: Final = struct.Struct("=IIQQq")  # kind, length, first seq, last seq, last ts_ns
MSG_CHUNK: Final = 1
ACK: Final = struct.Struct("=IIQ")  # kind, spare, value
ACK_READY: Final = 1
ACK_DURABLE: Final = 2
ACK_DISK_FULL: Final = 3
ACK_FATAL: Final = 4  # value = length of the UTF-8 message that follows
ACK_SYNC: Final = 5  # spare = records made durable by one write, value = its fdatasync ns
PIPE_SIZE_BYTES: Final = 1 << 20
START_TIMEOUT_S: Final = 30.0


class Callbacks(Protocol):
    def on_flushed(self, seq: int) -> None: ...
    def on_fatal(self, error: BaseException) -> None: ...
    def on_disk_full(self, full: bool) -> None: ...
    def on_synced(self, records: int, sync_ns: int) -> None: ...


class Flusher(Protocol):
    """How the journal hands chunks to a SegmentWriter."""

    def start(self, plan: WriterPlan, disk: Disk, lock_handle: int, callbacks: Callbacks) -> None:
        """Start the writer for the recovered log (holding the WAL lock `lock_handle`)."""
        ...

    def submit(self, chunk: Chunk) -> None:
        """Queue one committed chunk (called on the loop, in seq order)."""
        ...

    async def close(self) -> None:
        """Write and sync everything submitted, export the final anchor, stop the writer."""
        ...


def _fatal(error: BaseException) -> JournalFatal:
    fatal = JournalFatal(f"WAL write failed, journal stopped: {error}")
    fatal.__cause__ = error
    return fatal


class InlineFlusher:
    """Writes in the caller's thread at each submit; results through `notify` (default: now)."""

    def __init__(self, notify: Notify | None = None) -> None:
        self.notify: Notify = notify or (lambda callback, *args: callback(*args))
        self._writer: SegmentWriter | None = None
        self._callbacks: Callbacks | None = None
        self._waiting: list[Chunk] = []  # chunks held while no segment space is available
        self._dead = False

    def start(self, plan: WriterPlan, disk: Disk, lock_handle: int, callbacks: Callbacks) -> None:
        self._callbacks = callbacks
        self._writer = SegmentWriter(
            disk,
            plan,
            threaded_spare=False,
            on_disk_full=lambda full: self.notify(callbacks.on_disk_full, full),
        )

    def submit(self, chunk: Chunk) -> None:
        if self._dead:
            return
        self._waiting.append(chunk)
        self.retry()

    def retry(self) -> None:
        """Try again to write chunks held back by a full disk."""
        writer, callbacks = self._writer, self._callbacks
        assert writer is not None
        assert callbacks is not None
        if self._dead or not self._waiting:
            return
        try:
            seq = writer.write(self._waiting)
        except SpareUnavailable:
            return
        except OSError as error:
            self._dead = True
            self.notify(callbacks.on_fatal, _fatal(error))
            return
        records = seq - self._waiting[0][1] + 1
        self._waiting.clear()
        self.notify(callbacks.on_synced, records, writer.write_sync_ns)
        self.notify(callbacks.on_flushed, seq)

    @property
    def held_chunks(self) -> int:
        return len(self._waiting)

    async def close(self) -> None:
        self.close_now()

    def close_now(self) -> None:
        writer = self._writer
        if writer is None:
            return
        self.retry()
        self._writer = None
        if self._dead:
            writer.spare.close()
            return
        try:
            writer.close()
        except OSError as error:
            assert self._callbacks is not None
            self._dead = True
            self.notify(self._callbacks.on_fatal, _fatal(error))


class ThreadFlusher:
    """One writer thread doing write + fdatasync per group-committed batch."""

    def __init__(self, notify: Notify, *, max_batch: int, max_wait_us: int) -> None:
        self.notify = notify
        self.max_batch = max_batch
        self.max_wait_s = max_wait_us / 1e6
        self._queue: deque[Chunk] = deque()
        self._queued_records = 0
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._done: asyncio.Future[None] | None = None

    def start(self, plan: WriterPlan, disk: Disk, lock_handle: int, callbacks: Callbacks) -> None:
        writer = SegmentWriter(
            disk,
            plan,
            threaded_spare=True,
            on_disk_full=lambda full: self.notify(callbacks.on_disk_full, full),
        )
        self._thread = threading.Thread(
            target=self._run, args=(writer, callbacks), name="wal-writer", daemon=True
        )
        self._thread.start()

    def submit(self, chunk: Chunk) -> None:
        with self._cond:
            idle = not self._queue
            self._queue.append(chunk)
            self._queued_records += chunk[2] - chunk[1] + 1
            if idle or self._queued_records >= self.max_batch:
                self._cond.notify()

    def _take_batch(self) -> list[Chunk] | None:
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if not self._queue:
                return None
            # The batch is open: wait until it is full or max_wait after its first record.
            deadline = time.perf_counter() + self.max_wait_s  # OS scheduling, not record time
            while self._queued_records < self.max_batch and not self._closing:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch = list(self._queue)
            self._queue.clear()
            self._queued_records = 0
            return batch

    def _run(self, writer: SegmentWriter, callbacks: Callbacks) -> None:
        failed = False
        try:
            while (batch := self._take_batch()) is not None:
                try:
                    seq = writer.write(batch)
                except (OSError, SpareUnavailable) as error:
                    failed = True
                    self.notify(callbacks.on_fatal, _fatal(error))
                    return
                self.notify(callbacks.on_synced, seq - batch[0][1] + 1, writer.write_sync_ns)
                self.notify(callbacks.on_flushed, seq)
        finally:
            if failed:
                writer.spare.close()
            else:
                try:
                    writer.close()
                except OSError as error:
                    self.notify(callbacks.on_fatal, _fatal(error))
            self.notify(self._finished)

    def _finished(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def close(self) -> None:
        assert self._thread is not None
        self._done = asyncio.get_running_loop().create_future()
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            await self._done
        await asyncio.to_thread(self._thread.join)


class ProcessFlusher:
    """A writer process; see wal/_writer_process.py for its side of the pipes."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        disk_factory: str,
        disk_args: tuple[str, ...] = (),
        max_batch: int,
        max_wait_us: int,
    ) -> None:
        self.loop = loop
        self.disk_factory = disk_factory  # "package.module:callable", imported in the child
        self.disk_args = disk_args
        self.max_batch = max_batch
        self.max_wait_us = max_wait_us
        self.process: subprocess.Popen[bytes] | None = None
        self._data_fd = -1
        self._ack_fd = -1
        self._backlog: deque[bytes] = deque()
        self._ack_buffer = bytearray()
        self._callbacks: Callbacks | None = None
        self._closing = False
        self._dead = False
        self._done: asyncio.Future[None] | None = None

    def start(self, plan: WriterPlan, disk: Disk, lock_handle: int, callbacks: Callbacks) -> None:
        self._callbacks = callbacks
        data_read, data_write = os.pipe()
        ack_read, ack_write = os.pipe()
        with contextlib.suppress(OSError):  # a larger pipe absorbs bursts; not required
            fcntl.fcntl(data_write, fcntl.F_SETPIPE_SZ, PIPE_SIZE_BYTES)
        config = {
            "plan": plan.to_json(),
            "disk_factory": self.disk_factory,
            "disk_args": list(self.disk_args),
            "data_fd": data_read,
            "ack_fd": ack_write,
            "lock_fd": lock_handle,
            "max_batch": self.max_batch,
            "max_wait_us": self.max_wait_us,
        }
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [sys.executable, "-m", "switchyard.wal._writer_process", json.dumps(config)],
                pass_fds=(data_read, ack_write, lock_handle),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl-C must not kill it mid-batch
            )
        finally:
            os.close(data_read)
            os.close(ack_write)
        self._data_fd, self._ack_fd = data_write, ack_read
        self._wait_ready()
        os.set_blocking(self._data_fd, False)
        os.set_blocking(self._ack_fd, False)
        self.loop.add_reader(self._ack_fd, self._on_ack)

    def _wait_ready(self) -> None:
        ready, _, _ = select.select([self._ack_fd], [], [], START_TIMEOUT_S)
        data = os.read(self._ack_fd, ACK.size) if ready else b""
        if len(data) == ACK.size and ACK.unpack(data)[0] == ACK_READY:
            return
        rest = os.read(self._ack_fd, 65536) if data else b""
        os.close(self._data_fd)
        os.close(self._ack_fd)
        assert self.process is not None
        self.process.wait(timeout=START_TIMEOUT_S)
        detail = _fatal_text(data + rest) or f"exit status {self.process.returncode}"
        raise WALError(f"WAL writer process failed to start: {detail}")

    def submit(self, chunk: Chunk) -> None:
        if self._dead:
            return
        data, first_seq, last_seq, ts_ns = chunk
        header = CHUNK_HEADER.pack(MSG_CHUNK, len(data), first_seq, last_seq, ts_ns)
        if self._backlog:
            self._backlog.append(header + data)
            return
        try:
            written = os.writev(self._data_fd, [header, data])
        except BlockingIOError:
            written = 0
        except BrokenPipeError as error:
            self._die(error)
            return
        if written < len(header) + len(data):
            self._backlog.append((header + data)[written:])
            self.loop.add_writer(self._data_fd, self._drain)

    def _drain(self) -> None:
        while self._backlog:
            try:
                written = os.write(self._data_fd, self._backlog[0])
            except BlockingIOError:
                return
            except BrokenPipeError as error:
                self.loop.remove_writer(self._data_fd)
                self._die(error)
                return
            if written < len(self._backlog[0]):
                self._backlog[0] = self._backlog[0][written:]
                return
            self._backlog.popleft()
        self.loop.remove_writer(self._data_fd)
        if self._closing:
            os.close(self._data_fd)

    def _on_ack(self) -> None:
        try:
            data = os.read(self._ack_fd, 65536)
        except BlockingIOError:
            return
        if not data:
            self._on_exit()
            return
        buffer = self._ack_buffer
        buffer += data
        durable = 0
        callbacks = self._callbacks
        assert callbacks is not None
        position = 0
        while len(buffer) - position >= ACK.size:
            kind, spare, value = ACK.unpack_from(buffer, position)
            if kind == ACK_FATAL:
                if len(buffer) - position - ACK.size < value:
                    break
                text = bytes(buffer[position + ACK.size : position + ACK.size + value])
                position += ACK.size + value
                self._die(OSError(text.decode(errors="replace")))
                continue
            position += ACK.size
            if kind == ACK_DURABLE:
                durable = max(durable, value)
            elif kind == ACK_DISK_FULL:
                callbacks.on_disk_full(bool(value))
            elif kind == ACK_SYNC:
                callbacks.on_synced(spare, value)
        del buffer[:position]
        if durable and not self._dead:
            callbacks.on_flushed(durable)

    def _die(self, error: BaseException) -> None:
        if self._dead:
            return
        self._dead = True
        assert self._callbacks is not None
        self._callbacks.on_fatal(_fatal(error))

    def _on_exit(self) -> None:
        self.loop.remove_reader(self._ack_fd)
        os.close(self._ack_fd)
        self._ack_fd = -1
        assert self.process is not None
        status = self.process.wait(timeout=START_TIMEOUT_S)
        if not self._closing or status != 0:
            self._die(OSError(f"WAL writer process exited with status {status}"))
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def close(self) -> None:
        """Close the data pipe (the writer drains, syncs, anchors and exits), await its exit."""
        if self.process is None or self._closing:
            return
        self._done = self.loop.create_future()
        self._closing = True
        if self._backlog and not self._dead:
            return await self._done  # _drain closes the pipe once the backlog is written
        if self._backlog:
            self.loop.remove_writer(self._data_fd)
        os.close(self._data_fd)
        if self._ack_fd >= 0:
            await self._done


def _fatal_text(data: bytes) -> str:
    if len(data) >= ACK.size and ACK.unpack_from(data)[0] == ACK_FATAL:
        length = ACK.unpack_from(data)[2]
        return data[ACK.size : ACK.size + length].decode(errors="replace")
    return ""
