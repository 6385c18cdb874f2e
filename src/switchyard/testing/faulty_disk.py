"""FaultyDisk: the real disk plus injected latency, ENOSPC and EIO, switchable at run time.

For slow-disk and full-disk tests of a live gateway (issue 11) and for I/O error tests
(issue 10). Faults live in a small JSON control file, re-read whenever it changes, so a test
can switch them while the gateway (and its WAL writer process, which builds its own
FaultyDisk from the same file) keeps running:

    {"delay_ms": {"fdatasync": 50}, "enospc": ["pwrite", "fallocate"], "eio": ["fdatasync"],
     "free_space_pct": 3.5}

`delay_ms` sleeps before the named operations; `enospc`/`eio` make them raise OSError with
that errno (nothing is written); `free_space_pct` overrides what the filesystem reports.
Give the writer process `disk_factory="switchyard.testing.faulty_disk:FaultyDisk.from_control_file"`
and `disk_args=(control_path,)`. Without a control file, `configure()` sets faults in memory.
"""

import errno
import json
import os
import time
from typing import Any

from switchyard.adapters.disk_os import OsDisk
from switchyard.core.ports import DiskBuffer

FAULT_OPS = frozenset(
    {
        "open",
        "pread",
        "pwrite",
        "fdatasync",
        "fsync_dir",
        "truncate",
        "fallocate",
        "rename",
        "remove",
        "makedirs",
    }
)


def write_control(path: str, **faults: Any) -> None:
    """Atomically replace the control file with `faults` (see the module docstring)."""
    _validate(faults)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        json.dump(faults, handle)
    os.replace(temporary, path)


def _validate(faults: dict[str, Any]) -> None:
    unknown = set(faults) - {"delay_ms", "enospc", "eio", "free_space_pct"}
    assert not unknown, f"unknown fault settings {sorted(unknown)}"
    for key in ("enospc", "eio"):
        assert set(faults.get(key, [])) <= FAULT_OPS, faults.get(key)
    assert set(faults.get("delay_ms", {})) <= FAULT_OPS, faults.get("delay_ms")


class FaultyDisk(OsDisk):
    """OsDisk with faults read from a control file (or set with `configure`)."""

    __slots__ = ("_control", "_faults", "_stamp", "injected")

    def __init__(self, control_path: str | None = None) -> None:
        self._control = control_path
        self._faults: dict[str, Any] = {}
        self._stamp: tuple[int, int] | None = None
        self.injected: dict[str, int] = {}  # op -> faults raised, for assertions

    @classmethod
    def from_control_file(cls, control_path: str) -> "FaultyDisk":
        return cls(control_path)

    def configure(self, **faults: Any) -> None:
        """Set the faults (written to the control file when there is one)."""
        if self._control is not None:
            write_control(self._control, **faults)
        else:
            _validate(faults)
            self._faults = dict(faults)

    def _current(self) -> dict[str, Any]:
        if self._control is None:
            return self._faults
        try:
            stat = os.stat(self._control)
        except FileNotFoundError:
            self._faults, self._stamp = {}, None
            return self._faults
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp != self._stamp:
            with open(self._control) as handle:
                self._faults = json.load(handle)
            self._stamp = stamp
        return self._faults

    def _inject(self, op: str) -> None:
        faults = self._current()
        delay = faults.get("delay_ms", {}).get(op)
        if delay:
            time.sleep(delay / 1000)
        for key, code in (("eio", errno.EIO), ("enospc", errno.ENOSPC)):
            if op in faults.get(key, ()):
                self.injected[op] = self.injected.get(op, 0) + 1
                raise OSError(code, f"{os.strerror(code)} (injected on {op})")

    def open(self, path: str, *, create: bool, write: bool) -> int:
        self._inject("open")
        return super().open(path, create=create, write=write)

    def pread(self, handle: int, size: int, offset: int) -> bytes:
        self._inject("pread")
        return super().pread(handle, size, offset)

    def pwrite(self, handle: int, data: DiskBuffer, offset: int) -> None:
        self._inject("pwrite")
        super().pwrite(handle, data, offset)

    def fdatasync(self, handle: int) -> None:
        self._inject("fdatasync")
        super().fdatasync(handle)

    def fsync_dir(self, path: str) -> None:
        self._inject("fsync_dir")
        super().fsync_dir(path)

    def truncate(self, handle: int, size: int) -> None:
        self._inject("truncate")
        super().truncate(handle, size)

    def fallocate(self, handle: int, offset: int, size: int) -> None:
        self._inject("fallocate")
        super().fallocate(handle, offset, size)

    def rename(self, source: str, target: str) -> None:
        self._inject("rename")
        super().rename(source, target)

    def remove(self, path: str) -> None:
        self._inject("remove")
        super().remove(path)

    def makedirs(self, path: str) -> None:
        self._inject("makedirs")
        super().makedirs(path)

    def free_space_pct(self, path: str) -> float | None:
        override = self._current().get("free_space_pct")
        if override is not None:
            return float(override)
        return super().free_space_pct(path)
