"""The writer process: `python -m switchyard.wal._writer_process CONFIG_JSON`.

Started by ProcessFlusher with the read end of the data pipe, the write end of the ack pipe
and the WAL lock (an inherited flock: the lock stays held until this process exits, so a
restarting gateway cannot open the WAL while a previous writer is still finishing). It
group-commits what arrives (a batch closes at max_batch records or max_wait_us after its
first record), acknowledges each durable seq, and on end of input (the gateway closed the
pipe, or died) writes and syncs every complete chunk it received, exports the final anchor
and exits. A fatal write error is reported once and ends the process with status 1.
"""

import importlib
import json
import os
import select
import signal
import sys
import time

from switchyard.core.ports import Disk

from .flushers import (
    ACK,
    ACK_DISK_FULL,
    ACK_DURABLE,
    ACK_FATAL,
    ACK_READY,
    ACK_SYNC,
    CHUNK_HEADER,
    MSG_CHUNK,
)
from .writer import Chunk, SegmentWriter, SpareUnavailable, WriterPlan

_READ_BYTES = 1 << 20


def _load_disk(factory: str, args: list[str]) -> Disk:
    module_name, _, attribute = factory.partition(":")
    target: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    assert callable(target), factory
    disk: Disk = target(*args)
    return disk


class _Acks:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.gone = False  # the gateway went away: keep writing, stop acknowledging

    def send(self, kind: int, value: int, text: bytes = b"", spare: int = 0) -> None:
        self._write(ACK.pack(kind, spare, value) + text)

    def send_durable(self, durable_seq: int, records: int, sync_ns: int) -> None:
        """One batch written and synced: its statistics (records, fdatasync ns) and the new
        durable seq, in one write (one wake-up of the gateway, not two)."""
        self._write(
            ACK.pack(ACK_SYNC, min(records, 0xFFFFFFFF), sync_ns)
            + ACK.pack(ACK_DURABLE, 0, durable_seq)
        )

    def _write(self, data: bytes) -> None:
        if self.gone:
            return
        try:
            os.write(self.fd, data)
        except BrokenPipeError:
            self.gone = True


class _Inbox:
    """Parses chunk messages out of the data pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.eof = False
        # Read into one reused buffer: os.read(fd, 1 MiB) allocated (mmap), shrank (mremap)
        # and freed (munmap) a megabyte per read - three syscalls and page faults per chunk.
        self._scratch = bytearray(_READ_BYTES)
        self._scratch_view = memoryview(self._scratch)

    def read(self, timeout: float | None) -> list[Chunk]:
        if timeout is not None:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
            if not ready:
                return []
        size = os.readv(self.fd, [self._scratch])
        if not size:
            self.eof = True
            return []
        self.buffer += self._scratch_view[:size]
        return self._parse()

    def _parse(self) -> list[Chunk]:
        chunks: list[Chunk] = []
        buffer = self.buffer
        position = 0
        while len(buffer) - position >= CHUNK_HEADER.size:
            kind, length, first_seq, last_seq, ts_ns = CHUNK_HEADER.unpack_from(buffer, position)
            assert kind == MSG_CHUNK, kind
            start = position + CHUNK_HEADER.size
            if len(buffer) - start < length:
                break
            chunks.append((bytes(buffer[start : start + length]), first_seq, last_seq, ts_ns))
            position = start + length
        del buffer[:position]
        return chunks


def run(config: dict[str, object]) -> int:
    plan = WriterPlan.from_json(config["plan"])  # type: ignore[arg-type]
    disk = _load_disk(str(config["disk_factory"]), list(config["disk_args"]))  # type: ignore[call-overload]
    acks = _Acks(int(config["ack_fd"]))  # type: ignore[call-overload]
    inbox = _Inbox(int(config["data_fd"]))  # type: ignore[call-overload]
    max_batch = int(config["max_batch"])  # type: ignore[call-overload]
    max_wait_s = int(config["max_wait_us"]) / 1e6  # type: ignore[call-overload]
    try:
        writer = SegmentWriter(
            disk,
            plan,
            threaded_spare=True,
            on_disk_full=lambda full: acks.send(ACK_DISK_FULL, int(full)),
        )
    except OSError as error:
        acks.send(ACK_FATAL, len(str(error).encode()), str(error).encode())
        return 1
    acks.send(ACK_READY, os.getpid())
    pending: list[Chunk] = []
    try:
        while True:
            if not pending and not inbox.eof:
                pending.extend(inbox.read(None))
            records = sum(chunk[2] - chunk[1] + 1 for chunk in pending)
            if pending and records < max_batch and not inbox.eof:
                deadline = time.perf_counter() + max_wait_s  # OS scheduling, not record time
                while records < max_batch and not inbox.eof:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    more = inbox.read(remaining)
                    pending.extend(more)
                    records += sum(chunk[2] - chunk[1] + 1 for chunk in more)
            if pending:
                durable = writer.write(pending)
                acks.send_durable(durable, durable - pending[0][1] + 1, writer.write_sync_ns)
                pending = []
            elif inbox.eof:
                break
        writer.close()
    except (OSError, SpareUnavailable) as error:
        message = f"{type(error).__name__}: {error}".encode()
        acks.send(ACK_FATAL, len(message), message)
        return 1
    if inbox.buffer:
        sys.stderr.write(f"wal writer: dropped {len(inbox.buffer)} bytes of a partial chunk\n")
    return 0


def main() -> int:
    # The gateway ends us by closing the pipe; signals meant for it must not cut a batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return run(json.loads(sys.argv[1]))


if __name__ == "__main__":
    sys.exit(main())
