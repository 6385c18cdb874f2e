"""The log-linear latency histogram: slots tile the range, percentiles within 0.8%."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from switchyard.runtime.latency import (
    BUCKETS_S,
    LatencyRecorder,
    bucket_highest,
    bucket_index,
    bucket_lowest,
)


def test_slots_tile_the_range_without_gaps_or_overlaps() -> None:
    previous_high = -1
    for index in range(bucket_index(1 << 40)):
        low, high = bucket_lowest(index), bucket_highest(index)
        assert low == previous_high + 1
        assert high >= low
        previous_high = high


@given(st.integers(0, (1 << 40) - 1))
def test_a_value_lands_in_the_slot_that_contains_it(value: int) -> None:
    index = bucket_index(value)
    assert bucket_lowest(index) <= value <= bucket_highest(index)
    assert bucket_highest(index) - bucket_lowest(index) <= max(1, value // 128)


def test_percentiles_match_exact_ones_within_the_precision() -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(11, 1.2)) for _ in range(50_000)]
    recorder = LatencyRecorder("t", "test")
    for value in values:
        recorder.record_ns(value)
    ordered = sorted(values)
    got = recorder.percentiles_us()
    for key, pct in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        exact = ordered[max(0, int(-(-len(values) * pct // 100)) - 1)] / 1000
        assert abs(got[key] - exact) <= exact / 128 + 0.001, (key, got[key], exact)
    assert got["max"] == ordered[-1] / 1000
    assert got["count"] == len(values)


def test_prometheus_buckets_are_cumulative_and_end_with_the_count() -> None:
    recorder = LatencyRecorder("t", "test")
    for value in (5_000, 30_000, 30_000, 2_000_000, 20_000_000_000):
        recorder.record_ns(value)
    buckets = dict(recorder.cumulative_buckets())
    assert buckets["1e-05"] == 1
    assert buckets["5e-05"] == 3
    assert buckets["0.0025"] == 4
    assert buckets["+Inf"] == 5
    assert len(buckets) == len(BUCKETS_S) + 1
    counts = [count for _, count in recorder.cumulative_buckets()]
    assert counts == sorted(counts)


def test_empty_recorder_reports_zeros() -> None:
    assert LatencyRecorder("t", "test").percentiles_us()["p99"] == 0.0


def test_negative_and_huge_values_are_clamped() -> None:
    recorder = LatencyRecorder("t", "test")
    recorder.record_ns(-5)
    recorder.record_ns(1 << 50)
    assert recorder.count == 2
    assert recorder.clamped == 1
