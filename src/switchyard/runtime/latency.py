"""Latency recording: an HDR histogram (exact percentiles for /stats) plus fixed buckets
(a Prometheus histogram in seconds, so Grafana can use histogram_quantile).

Recording costs about 1 us (hdrh record + bisect + three adds); nothing is computed until
someone asks. Values are nanoseconds in, microseconds in the HDR histogram (3 significant
digits, 1 us .. 60 s).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Final

from hdrh.histogram import HdrHistogram

# Bucket upper bounds in seconds: 10 us .. 10 s, roughly 1-2.5-5 per decade.
BUCKETS_S: Final = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_BOUNDS_NS: Final = tuple(int(bound * 1e9) for bound in BUCKETS_S)
_HIGHEST_US: Final = 60_000_000


class LatencyRecorder:
    """One latency series (e.g. fast ACK). Mutated on the event loop only."""

    __slots__ = ("buckets", "count", "description", "hdr", "name", "sum_ns")

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description
        self.hdr = HdrHistogram(1, _HIGHEST_US, 3)
        self.buckets = [0] * (len(_BOUNDS_NS) + 1)  # the last one is +Inf
        self.count = 0
        self.sum_ns = 0

    def record_ns(self, value_ns: int) -> None:
        if value_ns < 0:
            value_ns = 0
        micros = value_ns // 1000
        self.hdr.record_value(
            micros if 0 < micros < _HIGHEST_US else (1 if micros <= 0 else _HIGHEST_US)
        )
        self.buckets[bisect_left(_BOUNDS_NS, value_ns)] += 1
        self.count += 1
        self.sum_ns += value_ns

    def percentiles_us(self) -> dict[str, float]:
        """p50/p90/p99/p99.9/max/mean in microseconds (0 when empty)."""
        hdr = self.hdr
        if self.count == 0:
            return {
                "p50": 0.0,
                "p90": 0.0,
                "p99": 0.0,
                "p999": 0.0,
                "max": 0.0,
                "mean": 0.0,
                "count": 0,
            }
        values = hdr.get_percentile_to_value_dict([50, 90, 99, 99.9])
        return {
            "p50": float(values[50]),
            "p90": float(values[90]),
            "p99": float(values[99]),
            "p999": float(values[99.9]),
            "max": float(hdr.get_max_value()),
            "mean": round(self.sum_ns / self.count / 1000, 3),
            "count": self.count,
        }

    def cumulative_buckets(self) -> list[tuple[str, int]]:
        """Prometheus buckets: (upper bound in seconds as text, cumulative count)."""
        result: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip(BUCKETS_S, self.buckets, strict=False):
            running += count
            result.append((repr(bound), running))
        running += self.buckets[-1]
        result.append(("+Inf", running))
        return result

    def reset(self) -> None:
        self.hdr.reset()
        self.buckets = [0] * (len(_BOUNDS_NS) + 1)
        self.count = 0
        self.sum_ns = 0
