"""FakeDisk: an in-memory Disk with power-loss semantics and injectable faults. Deterministic.

What it models (the POSIX durability contract the journal relies on, and no more):
- file data is durable only after `fdatasync` of that file; `power_cut()` throws away every
  write made after it, except that it may keep a prefix of those writes with the last one torn
  at any byte (`mode="prefix"`), or any subset of their 512-byte sectors (`mode="sectors"`,
  the page-cache write-back order a real disk may show);
- a created, renamed or removed name is durable only after `fsync_dir` of its directory; a
  power cut restores every directory to its last synced listing (files only reachable through
  a lost name vanish);
- `crash()` is a process death without power loss: handles and locks go, data stays.
Faults: `fail(op, errno, after=N)` makes the (N+1)-th matching call raise OSError(errno)
(a failing pwrite may land a prefix first, like a real ENOSPC); `capacity_bytes` makes the
disk full; `latency_ns` advances a fake clock through `advance` at each sync. All choices come
from one seeded PRNG, so a failing run is replayed by its seed.
"""

import errno as errno_codes
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from switchyard.core.ports import DiskBuffer

SECTOR_BYTES = 512
_DIRECTORY = -1  # directory entry value for a sub-directory

OPS = (
    "open",
    "pread",
    "pwrite",
    "fdatasync",
    "fsync_dir",
    "truncate",
    "fallocate",
    "rename",
    "remove",
    "listdir",
    "makedirs",
    "try_lock",
)


@dataclass(slots=True)
class _Inode:
    data: bytearray = field(default_factory=bytearray)
    durable: bytes = b""
    unsynced: list[tuple[str, int, bytes]] = field(default_factory=list)  # (kind, offset, data)


@dataclass(slots=True)
class _Fault:
    op: str
    errno: int
    after: int  # matching calls to let through first
    count: int  # how many calls fail (then the fault is spent)
    path_contains: str


class FakeDisk:
    """core.ports.Disk in memory; see the module docstring for the failure model."""

    def __init__(
        self,
        *,
        seed: int = 0,
        capacity_bytes: int | None = None,
        latency_ns: dict[str, int] | None = None,
        advance: Callable[[int], None] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.capacity_bytes = capacity_bytes
        self.latency_ns = dict(latency_ns or {})
        self.advance = advance
        self.calls: Counter[str] = Counter()
        self._faults: list[_Fault] = []
        self._inodes: dict[int, _Inode] = {}
        self._next_inode = 1
        self._dirs: dict[str, dict[str, int]] = {"/": {}}
        self._durable_dirs: dict[str, dict[str, int]] = {"/": {}}
        self._handles: dict[int, tuple[int, str, bool]] = {}
        self._next_handle = 3
        self._locks: dict[str, int] = {}

    # --- fault control ---------------------------------------------------------------------

    def fail(
        self, op: str, error: int, *, after: int = 0, count: int = 1, path_contains: str = ""
    ) -> None:
        """Make the (after+1)-th call of `op` (on a path containing `path_contains`) fail."""
        assert op in OPS, op
        self._faults.append(_Fault(op, error, after, count, path_contains))

    def clear_faults(self) -> None:
        self._faults.clear()

    def _check(self, op: str, path: str) -> None:
        self.calls[op] += 1
        for fault in self._faults:
            if fault.op != op or fault.path_contains not in path or fault.count <= 0:
                continue
            if fault.after > 0:
                fault.after -= 1
                continue
            fault.count -= 1
            raise OSError(fault.errno, f"{os.strerror(fault.errno)} (injected on {op})", path)
        delay = self.latency_ns.get(op, 0)
        if delay and self.advance is not None:
            self.advance(delay)

    # --- power and process failures ---------------------------------------------------------

    def crash(self) -> None:
        """The process dies: handles and locks are released; the page cache survives."""
        self._handles.clear()
        self._locks.clear()

    def power_cut(self, *, mode: str = "prefix") -> None:
        """Lose everything not made durable (see the module docstring); then `crash()`."""
        assert mode in ("prefix", "sectors", "none")
        self._dirs = {path: dict(entries) for path, entries in self._durable_dirs.items()}
        reachable = {inode for entries in self._dirs.values() for inode in entries.values()}
        for number in list(self._inodes):
            if number not in reachable:
                del self._inodes[number]
                continue
            inode = self._inodes[number]
            inode.data = bytearray(inode.durable)
            if mode == "prefix":
                self._replay_prefix(inode)
            elif mode == "sectors":
                self._replay_sectors(inode)
            inode.unsynced.clear()
        self.crash()

    def _replay_prefix(self, inode: _Inode) -> None:
        kept = self.rng.randint(0, len(inode.unsynced))
        for kind, offset, data in inode.unsynced[:kept]:
            _apply(inode.data, kind, offset, data)
        if kept < len(inode.unsynced):
            kind, offset, data = inode.unsynced[kept]
            if kind == "write" and data:
                _apply(inode.data, kind, offset, data[: self.rng.randint(0, len(data))])

    def _replay_sectors(self, inode: _Inode) -> None:
        for kind, offset, data in inode.unsynced:
            if kind != "write":
                if self.rng.random() < 0.5:
                    _apply(inode.data, kind, offset, data)
                continue
            position = 0
            while position < len(data):
                boundary = (offset + position) // SECTOR_BYTES * SECTOR_BYTES + SECTOR_BYTES
                piece = data[position : boundary - offset]
                if self.rng.random() < 0.5:
                    _apply(inode.data, "write", offset + position, piece)
                position += len(piece)

    # --- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        path = os.path.normpath(path)
        assert path.startswith("/"), f"FakeDisk paths are absolute: {path}"
        return os.path.dirname(path), os.path.basename(path)

    def _entries(self, directory: str) -> dict[str, int]:
        entries = self._dirs.get(os.path.normpath(directory))
        if entries is None:
            raise FileNotFoundError(errno_codes.ENOENT, "no such directory", directory)
        return entries

    def _inode(self, handle: int) -> _Inode:
        found = self._handles.get(handle)
        if found is None:
            raise OSError(errno_codes.EBADF, "bad handle")
        return self._inodes[found[0]]

    def _used_bytes(self) -> int:
        return sum(len(inode.data) for inode in self._inodes.values())

    def _reserve(self, inode: _Inode, new_size: int) -> None:
        growth = new_size - len(inode.data)
        capacity = self.capacity_bytes
        if capacity is not None and growth > 0 and self._used_bytes() + growth > capacity:
            raise OSError(errno_codes.ENOSPC, "No space left on device (fake disk full)")

    def file_bytes(self, path: str) -> bytes:
        """The current content of a file (tests)."""
        directory, name = self._split(path)
        return bytes(self._inodes[self._entries(directory)[name]].data)

    def set_file_bytes(self, path: str, data: bytes) -> None:
        """Overwrite a file's content as if it had always been durable (tests: corruption)."""
        directory, name = self._split(path)
        inode = self._inodes[self._entries(directory)[name]]
        inode.data = bytearray(data)
        inode.durable = bytes(data)
        inode.unsynced.clear()

    # --- the Disk port ---------------------------------------------------------------------

    def open(self, path: str, *, create: bool, write: bool) -> int:
        self._check("open", path)
        directory, name = self._split(path)
        entries = self._entries(directory)
        number = entries.get(name)
        if number == _DIRECTORY:
            raise IsADirectoryError(errno_codes.EISDIR, "is a directory", path)
        if number is None:
            if not create:
                raise FileNotFoundError(errno_codes.ENOENT, "no such file", path)
            number = self._next_inode
            self._next_inode += 1
            self._inodes[number] = _Inode()
            entries[name] = number
        handle = self._next_handle
        self._next_handle += 1
        self._handles[handle] = (number, path, write)
        return handle

    def close(self, handle: int) -> None:
        self._inode(handle)
        del self._handles[handle]

    def pread(self, handle: int, size: int, offset: int) -> bytes:
        self._check("pread", self._handles.get(handle, (0, "", False))[1])
        return bytes(self._inode(handle).data[offset : offset + size])

    def pwrite(self, handle: int, data: DiskBuffer, offset: int) -> None:
        _, path, writable = self._handles.get(handle, (0, "", False))
        inode = self._inode(handle)
        if not writable:
            raise OSError(errno_codes.EBADF, "handle not open for writing", path)
        payload = bytes(data)
        try:
            self._check("pwrite", path)
            self._reserve(inode, offset + len(payload))
        except OSError:
            landed = payload[: self.rng.randint(0, len(payload))]
            if self.capacity_bytes is None or offset + len(landed) <= len(inode.data):
                self._write(inode, offset, landed)
            raise
        self._write(inode, offset, payload)

    def _write(self, inode: _Inode, offset: int, payload: bytes) -> None:
        if payload:
            _apply(inode.data, "write", offset, payload)
            inode.unsynced.append(("write", offset, payload))

    def fdatasync(self, handle: int) -> None:
        inode = self._inode(handle)
        self._check("fdatasync", self._handles[handle][1])
        inode.durable = bytes(inode.data)
        inode.unsynced.clear()

    def fsync_dir(self, path: str) -> None:
        self._check("fsync_dir", path)
        normal = os.path.normpath(path)
        self._durable_dirs[normal] = dict(self._entries(normal))

    def truncate(self, handle: int, size: int) -> None:
        inode = self._inode(handle)
        self._check("truncate", self._handles[handle][1])
        self._reserve(inode, size)
        _apply(inode.data, "truncate", size, b"")
        inode.unsynced.append(("truncate", size, b""))

    def fallocate(self, handle: int, offset: int, size: int) -> None:
        inode = self._inode(handle)
        self._check("fallocate", self._handles[handle][1])
        end = offset + size
        if end > len(inode.data):
            self._reserve(inode, end)
            _apply(inode.data, "truncate", end, b"")
            inode.unsynced.append(("truncate", end, b""))

    def size(self, handle: int) -> int:
        return len(self._inode(handle).data)

    def rename(self, source: str, target: str) -> None:
        self._check("rename", source)
        source_dir, source_name = self._split(source)
        target_dir, target_name = self._split(target)
        entries = self._entries(source_dir)
        if source_name not in entries:
            raise FileNotFoundError(errno_codes.ENOENT, "no such file", source)
        self._entries(target_dir)[target_name] = entries.pop(source_name)

    def remove(self, path: str) -> None:
        self._check("remove", path)
        directory, name = self._split(path)
        entries = self._entries(directory)
        if name not in entries:
            raise FileNotFoundError(errno_codes.ENOENT, "no such file", path)
        del entries[name]

    def exists(self, path: str) -> bool:
        directory, name = self._split(path)
        entries = self._dirs.get(os.path.normpath(directory))
        return os.path.normpath(path) in self._dirs or (entries is not None and name in entries)

    def listdir(self, path: str) -> list[str]:
        self._check("listdir", path)
        return sorted(self._entries(path))

    def makedirs(self, path: str) -> None:
        self._check("makedirs", path)
        normal = os.path.normpath(path)
        missing = []
        while normal not in self._dirs:
            missing.append(normal)
            normal = os.path.dirname(normal)
        for directory in reversed(missing):
            parent, name = self._split(directory)
            self._dirs[parent][name] = _DIRECTORY
            self._durable_dirs.setdefault(parent, {})[name] = _DIRECTORY
            self._dirs[directory] = {}
            self._durable_dirs[directory] = {}

    def free_space_pct(self, path: str) -> float | None:
        if self.capacity_bytes is None:
            return None
        free = max(0, self.capacity_bytes - self._used_bytes())
        return 100.0 * free / self.capacity_bytes

    def try_lock(self, path: str) -> int | None:
        self._check("try_lock", path)
        if path in self._locks:
            return None
        handle = self.open(path, create=True, write=True)
        self._locks[path] = handle
        return handle

    def unlock(self, handle: int) -> None:
        for path, held in list(self._locks.items()):
            if held == handle:
                del self._locks[path]
        self.close(handle)


def _apply(data: bytearray, kind: str, offset: int, payload: bytes) -> None:
    if kind == "truncate":
        if offset < len(data):
            del data[offset:]
        else:
            data.extend(bytes(offset - len(data)))
        return
    end = offset + len(payload)
    if end > len(data):
        data.extend(bytes(end - len(data)))
    data[offset:end] = payload
