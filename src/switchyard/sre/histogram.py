"""Latency histograms (HDR, 3 significant digits) and the percentile summary every result uses.

Values are recorded in nanoseconds and reported in microseconds. The summary keys are the
contract of the result schemas: count, mean, p50, p90, p99, p999, max.
"""

from typing import Any

from hdrh.histogram import HdrHistogram

LATENCY_NS_MIN = 1_000  # 1 µs: below loopback RTT, so nothing real is clipped
LATENCY_NS_MAX = 120 * 1_000_000_000  # 2 minutes: above any request timeout we allow
SIGNIFICANT_DIGITS = 3  # 0.1% value resolution, the HdrHistogram default

PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p999", 99.9),
)


class LatencyHistogram:
    """An HDR histogram of durations in nanoseconds, clamped into its trackable range."""

    __slots__ = ("_hdr",)

    def __init__(self) -> None:
        self._hdr: Any = HdrHistogram(LATENCY_NS_MIN, LATENCY_NS_MAX, SIGNIFICANT_DIGITS)

    def record_ns(self, duration_ns: int) -> None:
        # Clamp instead of failing: a sub-µs or >2 min sample is still a sample.
        if duration_ns < LATENCY_NS_MIN:
            duration_ns = LATENCY_NS_MIN
        elif duration_ns > LATENCY_NS_MAX:
            duration_ns = LATENCY_NS_MAX
        self._hdr.record_value(duration_ns)

    def merge(self, other: "LatencyHistogram") -> None:
        self._hdr.add(other._hdr)

    @property
    def count(self) -> int:
        total: int = self._hdr.get_total_count()
        return total

    def percentile_us(self, percentile: float) -> float:
        assert 0.0 <= percentile <= 100.0
        value: int = self._hdr.get_value_at_percentile(percentile)
        return round(value / 1_000, 1)

    def summary_us(self) -> dict[str, float | int]:
        """count, mean and percentiles in microseconds; all zero for an empty histogram."""
        count = self.count
        summary: dict[str, float | int] = {"count": count}
        if count == 0:
            summary.update({"mean": 0.0, "max": 0.0, **{key: 0.0 for key, _ in PERCENTILES}})
            return summary
        summary["mean"] = round(float(self._hdr.get_mean_value()) / 1_000, 1)
        for key, percentile in PERCENTILES:
            summary[key] = self.percentile_us(percentile)
        summary["max"] = round(int(self._hdr.get_max_value()) / 1_000, 1)
        assert summary["p50"] <= summary["p999"] <= summary["max"]
        return summary
