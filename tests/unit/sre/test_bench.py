"""Bench orchestration logic: generator choice, open-loop ceiling search, result assembly."""

import copy

from switchyard.sre import bench, loadgen
from switchyard.sre.profiles import load_profile

from .conftest_helpers import bench_document

CEILING = {
    "server": "x",
    "python": {"maxRatePerSec": 40_000.0, "openLoopMaxRatePerSec": 10_000.0},
    "wrk": {"maxRatePerSec": 80_000.0},
}


def test_auto_uses_python_within_its_open_loop_ceiling_and_wrk_beyond():
    within = load_profile("steady").with_overrides(rate_per_sec=5_000)
    beyond = load_profile("steady").with_overrides(rate_per_sec=9_000)
    assert bench.choose_generator("auto", within, CEILING)[0] == "python"
    generator, why = bench.choose_generator("auto", beyond, CEILING)
    assert generator == "wrk"
    assert "not CO-corrected" in why


def test_auto_without_a_ceiling_stays_open_loop_and_closed_loop_goes_to_wrk():
    assert bench.choose_generator("auto", load_profile("steady"), None)[0] == "python"
    closed = load_profile("steady").with_overrides(mode="closed")
    assert bench.choose_generator("auto", closed, CEILING)[0] == "wrk"
    assert bench.choose_generator("python", closed, CEILING)[0] == "python"


def _at(rate, lag_p90, ratio=1.0):
    document = copy.deepcopy(bench_document())
    document["rate"]["achievedRatio"] = ratio
    document["sendLagUs"]["p90"] = lag_p90
    return document


def test_open_loop_ceiling_is_the_last_rate_held():
    lags = {2_500: 20.0, 5_000: 30.0, 10_000: 200.0, 15_000: 5_000.0, 20_000: 10.0}
    asked = []

    def run_at(rate):
        asked.append(rate)
        return _at(rate, lags[rate])

    result = bench.open_loop_ceiling(run_at)
    assert result["openLoopMaxRatePerSec"] == 10_000
    assert asked == [2_500, 5_000, 10_000, 15_000]  # stops at the first rate not held
    assert [t["held"] for t in result["openLoopTried"]] == [True, True, True, False]


def test_a_rate_delivered_short_is_not_held():
    assert not bench.open_loop_holds(_at(5_000, 10.0, ratio=0.95))


def test_python_measurements_from_engine_stats():
    stats = loadgen.LoadStats()
    stats.sent = stats.completed = stats.ok = 1000
    stats.first_send_ns, stats.last_done_ns = 0, 2_000_000_000
    for value_us in range(1, 1001):
        stats.latency.record_ns(value_us * 1000)
    profile = load_profile("steady").with_overrides(
        rate_per_sec=500, duration_sec=2.2, warmup_sec=0.2
    )
    measured = bench.python_measurements(stats, profile)
    assert measured["rate"]["askedPerSec"] == 500.0
    assert measured["rate"]["achievedPerSec"] == 500.0
    assert measured["latencyBasis"] == "intended-send"
    assert measured["counts"]["errorRatePercent"] == 0.0


def test_summary_names_generator_rate_latency_and_ceiling():
    document = bench_document()
    document["toolCeiling"] = CEILING
    text = bench.summary_text(document)
    assert "generator python (open loop" in text
    assert "rate asked 1000.0/s achieved" in text
    assert "python open loop 10000.0/s" in text
