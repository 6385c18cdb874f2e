"""The real Clock: wall time for records, monotonic time for latency and timers."""

from __future__ import annotations

import time


class SystemClock:
    __slots__ = ()

    def wall_ns(self) -> int:
        return time.time_ns()

    def mono_ns(self) -> int:
        return time.monotonic_ns()
