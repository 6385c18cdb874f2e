"""Process-wide allocator settings: glibc's mmap threshold, through ctypes (an edge adapter).

glibc serves an allocation of at least M_MMAP_THRESHOLD bytes (128 KiB by default) with a
mapping of its own, unmapped when freed. By default the threshold is adaptive: freeing such a
mapping raises it to that size (up to 32 MiB), so later buffers of that size come from the brk
heap, which can only shrink from its top. Under overload the gateway's large transient buffers
(socket reads and writes after a stall, WAL chunks) then fragmented the heap: RSS grew 1-2 MB in
every other 10 s run at 5x capacity with the Python heap flat (bench-overload, smaps: all of it
in [heap]). Setting the threshold explicitly turns the adaptation off (mallopt(3)).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("switchyard.process")

_M_MMAP_THRESHOLD = -3  # <malloc.h>


def fix_mmap_threshold(size_bytes: int) -> bool:
    """Serve allocations of `size_bytes` and more with mmap, for good. False if not glibc."""
    assert size_bytes > 0, size_bytes
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.info("mallopt is not available (not glibc): M_MMAP_THRESHOLD left as it is")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, size_bytes))
