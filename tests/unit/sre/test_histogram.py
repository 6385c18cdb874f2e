"""LatencyHistogram: percentiles in microseconds from nanosecond samples."""

from switchyard.sre.histogram import LATENCY_NS_MAX, LatencyHistogram


def test_percentiles_of_a_known_distribution_within_hdr_precision():
    histogram = LatencyHistogram()
    for value_us in range(1, 1001):  # 1..1000 µs, uniform
        histogram.record_ns(value_us * 1_000)
    summary = histogram.summary_us()
    assert summary["count"] == 1000
    assert abs(summary["p50"] - 500) <= 1
    assert abs(summary["p99"] - 990) <= 1
    assert abs(summary["p999"] - 999) <= 1
    assert abs(summary["max"] - 1000) <= 1
    assert summary["p50"] <= summary["p90"] <= summary["p99"] <= summary["p999"]


def test_empty_histogram_summarises_as_zeros_not_an_error():
    summary = LatencyHistogram().summary_us()
    assert summary == {
        "count": 0,
        "mean": 0.0,
        "max": 0.0,
        "p50": 0.0,
        "p90": 0.0,
        "p99": 0.0,
        "p999": 0.0,
    }


def test_out_of_range_samples_are_clamped_and_still_counted():
    histogram = LatencyHistogram()
    histogram.record_ns(5)  # below 1 µs
    histogram.record_ns(LATENCY_NS_MAX * 10)
    summary = histogram.summary_us()
    assert summary["count"] == 2
    assert summary["max"] >= LATENCY_NS_MAX / 1_000 * 0.999


def test_merge_adds_counts():
    first, second = LatencyHistogram(), LatencyHistogram()
    first.record_ns(1_000_000)
    second.record_ns(3_000_000)
    first.merge(second)
    assert first.count == 2
    assert first.summary_us()["max"] >= 2999
