"""Ports: the interfaces the core and runtime use to reach the outside world.

Protocols only. Real implementations live in adapters/, fakes in testing/; one contract test
suite per port runs against both (STYLE 2.8).
"""

from collections.abc import Callable
from typing import Protocol

from .messages import BookSnapshot, ExecReport, MarketData, VenueRequest


class Clock(Protocol):
    def wall_ns(self) -> int:
        """Epoch nanoseconds (for records and timestamps clients see)."""
        ...

    def mono_ns(self) -> int:
        """Monotonic nanoseconds (for latency, timers and rates)."""
        ...


class VenueTransport(Protocol):
    """How the gateway runtime talks to a venue. All calls happen on the event loop."""

    def set_handlers(
        self,
        on_report: Callable[[ExecReport], None],
        on_market_data: Callable[[MarketData], None],
        on_connection: Callable[[bool], None],
    ) -> None:
        """Register callbacks; reports and market data arrive on the loop, in venue order."""
        ...

    def send(self, request: VenueRequest) -> bool:
        """Queue a request. False means refused now (venue down or queue full): fail fast."""
        ...

    def is_up(self) -> bool: ...

    def queue_depth(self) -> int:
        """Requests accepted by `send` and not yet written to the venue."""
        ...

    def book(self, symbol: str, depth: int) -> BookSnapshot | None:
        """The latest L2 snapshot known for a symbol, or None if the symbol is unknown."""
        ...

    def symbols(self) -> list[str]: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


DiskBuffer = bytes | bytearray | memoryview


class Disk(Protocol):
    """Files exactly as the WAL needs them (adapters/disk_os.py real, testing/fake_disk.py fake).

    Handles are small ints, paths are strings. Failures raise OSError with its errno (ENOSPC,
    EIO, ENOENT, ...). After a failed write or sync the file's durable state is unknown: the
    caller treats it as fatal and never retries the sync (DESIGN §4). Durability rules are the
    POSIX ones: data is durable after `fdatasync` of the file; a created, renamed or removed
    name is durable after `fsync_dir` of its directory. One contract suite
    (tests/unit/wal/test_disk_contract.py) runs against every implementation.
    """

    def open(self, path: str, *, create: bool, write: bool) -> int:
        """Open a file (read-only unless `write`); `create` makes it if missing, never truncates."""
        ...

    def close(self, handle: int) -> None: ...

    def pread(self, handle: int, size: int, offset: int) -> bytes:
        """Up to `size` bytes at `offset`; fewer only at the end of the file."""
        ...

    def pwrite(self, handle: int, data: DiskBuffer, offset: int) -> None:
        """Write all of `data` at `offset` (extending the file if needed) or raise."""
        ...

    def fdatasync(self, handle: int) -> None: ...

    def fsync_dir(self, path: str) -> None:
        """Make the names created, renamed or removed in directory `path` durable."""
        ...

    def truncate(self, handle: int, size: int) -> None: ...

    def fallocate(self, handle: int, offset: int, size: int) -> None:
        """Reserve blocks for [offset, offset + size); unwritten space reads as zeros."""
        ...

    def size(self, handle: int) -> int: ...

    def rename(self, source: str, target: str) -> None:
        """Atomically replace `target` by `source`."""
        ...

    def remove(self, path: str) -> None: ...

    def exists(self, path: str) -> bool: ...

    def listdir(self, path: str) -> list[str]: ...

    def makedirs(self, path: str) -> None:
        """Create `path` and missing parents, each made durable in its parent directory."""
        ...

    def free_space_pct(self, path: str) -> float | None:
        """Free space of the filesystem holding `path` in percent (None if unknown)."""
        ...

    def try_lock(self, path: str) -> int | None:
        """Take an exclusive lock on `path` (created if missing); None if held elsewhere."""
        ...

    def unlock(self, handle: int) -> None: ...
