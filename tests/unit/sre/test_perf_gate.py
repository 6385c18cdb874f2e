"""Perf gate: same-case comparison with tolerance and floors; bless on purpose only."""

import pytest

from switchyard.sre import perf_gate

from .conftest_helpers import bench_document, noisy_bench_document


def _regressed(comparisons):
    return [c.metric.key for c in comparisons if c.regressed]


def test_case_key_names_everything_that_must_match():
    assert perf_gate.case_key(bench_document()) == "steady/orders/fast/python/open/c16/r1000"


def test_identical_runs_do_not_regress():
    document = bench_document()
    assert _regressed(perf_gate.compare(document, document, 0.10)) == []


def test_a_p99_beyond_tolerance_regresses():
    baseline = bench_document()
    current = bench_document()
    current["latencyUs"]["p99"] = baseline["latencyUs"]["p99"] * 1.5 + 100
    assert _regressed(perf_gate.compare(current, baseline, 0.10)) == ["latency_p99_us"]


def test_small_absolute_changes_are_noise_not_regressions():
    baseline = bench_document()
    baseline["latencyUs"]["p50"] = 30.0
    current = bench_document()
    current["latencyUs"]["p50"] = 60.0  # +100% but only 30 µs: under the 50 µs floor
    assert "latency_p50_us" not in _regressed(perf_gate.compare(current, baseline, 0.10))


def test_p999_gets_twice_the_tolerance():
    baseline = bench_document()
    baseline["latencyUs"]["p999"] = 10_000.0
    current = bench_document()
    current["latencyUs"]["p999"] = 11_500.0  # +15%: over 10%, under 20%
    assert "latency_p999_us" not in _regressed(perf_gate.compare(current, baseline, 0.10))
    current["latencyUs"]["p999"] = 12_500.0
    assert "latency_p999_us" in _regressed(perf_gate.compare(current, baseline, 0.10))


def test_throughput_drop_regresses():
    baseline = bench_document()
    current = bench_document()
    current["rate"]["achievedPerSec"] = baseline["rate"]["achievedPerSec"] * 0.5
    assert _regressed(perf_gate.compare(current, baseline, 0.10)) == ["throughput_per_sec"]


def test_the_real_noisy_run_regresses_against_the_quiet_one():
    regressed = _regressed(perf_gate.compare(noisy_bench_document(), bench_document(), 0.10))
    assert "latency_p99_us" in regressed


def test_bless_stores_per_case_and_reloads(tmp_path):
    path = perf_gate.baseline_path(tmp_path, "ci-runner")
    document = bench_document()
    key = perf_gate.bless(path, document, "r.json", "2026-11-26T00:00:00Z")
    loaded = perf_gate.load_baselines(path)
    assert loaded["cases"][key] == document
    assert loaded["blessed"][key]["source"] == "r.json"


def test_a_failing_or_dirty_run_is_not_blessable():
    document = bench_document()
    document["counts"]["errors"] = 3
    document["git"]["dirty"] = True
    problems = perf_gate.bless_problems(document)
    assert any("3 errors" in p for p in problems)
    assert any("uncommitted" in p for p in problems)


def test_a_corrupt_baseline_is_refused(tmp_path):
    path = tmp_path / "local.json"
    path.write_text('{"schema": "switchyard.perf_baseline.v1", "cases": {"k": {"schema": "x"}}}')
    with pytest.raises(perf_gate.BaselineError, match="case k"):
        perf_gate.load_baselines(path)
