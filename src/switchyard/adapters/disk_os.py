"""The real Disk port: POSIX files through `os` (pread/pwrite, fdatasync, rename, flock).

Owns nothing but the translation to system calls: it never retries, never swallows an error
and never buffers. Short writes are continued (a regular file may return fewer bytes than
asked, e.g. at ENOSPC after a partial write, which then raises on the next call).
"""

import contextlib
import errno
import fcntl
import os

from switchyard.core.ports import DiskBuffer


class OsDisk:
    """Disk on the local filesystem (`core.ports.Disk`)."""

    __slots__ = ()

    def open(self, path: str, *, create: bool, write: bool) -> int:
        flags = (os.O_RDWR if write else os.O_RDONLY) | os.O_CLOEXEC
        if create:
            flags |= os.O_CREAT
        return os.open(path, flags, 0o644)

    def close(self, handle: int) -> None:
        os.close(handle)

    def pread(self, handle: int, size: int, offset: int) -> bytes:
        return os.pread(handle, size, offset)

    def pwrite(self, handle: int, data: DiskBuffer, offset: int) -> None:
        view = memoryview(data)
        written = os.pwrite(handle, view, offset)
        while written < len(view):
            step = os.pwrite(handle, view[written:], offset + written)
            if step == 0:
                raise OSError(errno.EIO, "pwrite made no progress")
            written += step

    def fdatasync(self, handle: int) -> None:
        os.fdatasync(handle)

    def fsync_dir(self, path: str) -> None:
        handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)

    def truncate(self, handle: int, size: int) -> None:
        os.ftruncate(handle, size)

    def fallocate(self, handle: int, offset: int, size: int) -> None:
        os.posix_fallocate(handle, offset, size)

    def size(self, handle: int) -> int:
        return os.fstat(handle).st_size

    def rename(self, source: str, target: str) -> None:
        os.replace(source, target)

    def remove(self, path: str) -> None:
        os.remove(path)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)

    def makedirs(self, path: str) -> None:
        missing = []
        current = os.path.abspath(path)
        while not os.path.isdir(current):
            missing.append(current)
            current = os.path.dirname(current)
        for directory in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, 0o755)
            self.fsync_dir(os.path.dirname(directory))

    def free_space_pct(self, path: str) -> float | None:
        try:
            stats = os.statvfs(path)
        except OSError:
            return None
        if stats.f_blocks == 0:
            return None
        return 100.0 * stats.f_bavail / stats.f_blocks

    def try_lock(self, path: str) -> int | None:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return None
        except BaseException:
            os.close(handle)
            raise
        return handle

    def unlock(self, handle: int) -> None:
        # Closing the descriptor releases the flock once no inherited copy (a writer process)
        # still holds the same open file description.
        os.close(handle)
