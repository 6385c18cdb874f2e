"""Dashboard feed: windowed percentiles, rates, and the SLO lines agree with docs/specs/slo.md."""

from pathlib import Path

import pytest

from switchyard.ops.dashboard import SLO_US, WindowedLatency, _Rates
from switchyard.runtime.latency import LatencyRecorder
from switchyard.sre.slo import parse_spec

SLO_PAGE = Path(__file__).parents[3] / "docs" / "specs" / "slo.md"


def _recorder(*values_us: int) -> LatencyRecorder:
    recorder = LatencyRecorder("t", "test")
    for value in values_us:
        recorder.record_ns(value * 1000)
    return recorder


def test_windowed_latency_empty_window_reports_zero_count() -> None:
    window = WindowedLatency(_recorder(), 3)
    window.sample()
    assert window.percentiles_us()["count"] == 0


def test_windowed_latency_sees_only_values_after_it_started() -> None:
    recorder = _recorder(*[50_000] * 100)  # an old slow burst
    window = WindowedLatency(recorder, 3)
    for _ in range(100):
        recorder.record_ns(100_000)  # 100 us
    window.sample()
    out = window.percentiles_us()
    assert out["count"] == 100
    assert out["p50"] == pytest.approx(100, rel=0.01)
    assert out["max"] == pytest.approx(100, rel=0.01)


def test_windowed_latency_forgets_intervals_older_than_the_window() -> None:
    recorder = _recorder()
    window = WindowedLatency(recorder, 2)
    recorder.record_ns(9_000_000)  # 9 ms, in interval 1
    window.sample()
    recorder.record_ns(100_000)
    window.sample()
    assert window.percentiles_us()["max"] == pytest.approx(9000, rel=0.01)
    recorder.record_ns(100_000)
    window.sample()  # interval 1 falls out
    out = window.percentiles_us()
    assert out["count"] == 2
    assert out["max"] == pytest.approx(100, rel=0.01)


def test_windowed_latency_percentiles_split_the_tail() -> None:
    recorder = _recorder()
    window = WindowedLatency(recorder, 10)
    for _ in range(990):
        recorder.record_ns(10_000)
    for _ in range(10):
        recorder.record_ns(5_000_000)
    window.sample()
    out = window.percentiles_us()
    assert out["p50"] == pytest.approx(10, rel=0.01)
    assert out["p99"] == pytest.approx(10, rel=0.01)
    assert out["p999"] == pytest.approx(5000, rel=0.01)


def test_windowed_latency_survives_a_recorder_reset() -> None:
    recorder = _recorder(100, 100)
    window = WindowedLatency(recorder, 3)
    recorder.reset()
    window.sample()
    recorder.record_ns(200_000)
    window.sample()
    assert window.percentiles_us()["count"] == 1


def test_rates_are_per_second_and_zero_at_first() -> None:
    rates = _Rates()
    assert rates.update(10.0, {"orders": 5}) == {"orders": 0.0}
    assert rates.update(12.0, {"orders": 25}) == {"orders": 10.0}
    assert rates.update(13.0, {"orders": 25}) == {"orders": 0.0}


def test_slo_lines_match_the_slo_page() -> None:
    profiles = parse_spec(SLO_PAGE.read_text())
    limits = {name: {c.metric: c.threshold for c in checks} for name, checks in profiles.items()}
    assert SLO_US["fastAckP99"] == limits["strict"]["latency_p99_us"]
    assert SLO_US["fastAckP999"] == limits["strict"]["latency_p999_us"]
    assert SLO_US["durableAckP99"] == limits["durable"]["latency_p99_us"]
    assert SLO_US["durableAckP999"] == limits["durable"]["latency_p999_us"]
