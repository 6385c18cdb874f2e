"""The stability verdict: each criterion on the numbers of a real run's timeline."""

from switchyard.sre import stability

from .conftest_helpers import bench_document


def _run(p99s, errors=0, dropped=0):
    document = bench_document()
    document["timeline"] = [
        {
            "tSec": float(i),
            "completed": 1000,
            "errors": 0,
            "p50Us": 80.0,
            "p99Us": p99,
            "maxUs": p99 * 2,
        }
        for i, p99 in enumerate(p99s)
    ]
    document["counts"]["errors"] = errors
    document["counts"]["dropped"] = dropped
    return document


def _failed(criteria):
    return [c.name for c in criteria if not c.passed]


def test_a_flat_run_passes():
    samples = [{"rssBytes": 100 * 2**20}, {"rssBytes": 104 * 2**20}]
    assert _failed(stability.judge(_run([300, 310, 305]), samples)) == []


def test_p99_growing_over_the_run_fails():
    assert _failed(stability.judge(_run([300, 400, 500]), [])) == ["p99 degradation"]


def test_final_p99_over_the_slo_fails_even_if_flat():
    assert _failed(stability.judge(_run([1500, 1500]), [])) == ["final p99"]


def test_errors_drops_and_memory_growth_fail():
    samples = [{"rssBytes": 100 * 2**20}, {"rssBytes": 150 * 2**20}]
    failed = _failed(stability.judge(_run([300, 300], errors=2, dropped=1), samples))
    assert failed == ["no errors", "no drops", "memory"]


def test_a_run_without_a_timeline_cannot_pass():
    document = bench_document()
    document["timeline"] = []
    assert "timeline" in _failed(stability.judge(document, []))


def test_summary_states_each_criterion():
    text = stability.summary(_run([300, 500]), stability.judge(_run([300, 500]), []), 0)
    assert text.startswith("stability test: FAIL")
    assert "[FAIL] p99 degradation: first interval 300 µs, last 500 µs (+66.7%" in text
