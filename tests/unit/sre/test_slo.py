"""The SLO gate: thresholds come from docs/specs/slo.md; real results pass; bad ones fail."""

import pytest

from switchyard.sre import paths, slo

from .conftest_helpers import bench_document, canary_document, noisy_bench_document


@pytest.fixture(scope="module")
def spec():
    return slo.load_spec(paths.slo_spec_path())


def test_the_spec_page_defines_the_documented_profiles(spec):
    assert set(spec) >= {"strict", "light", "durable", "canary"}
    strict = {check.metric: check for check in spec["strict"]}
    assert strict["latency_p99_us"].threshold == 1000
    assert strict["latency_p99_us"].operator == "<="
    assert strict["tail_ratio"].severity == "warning"
    assert strict["dropped"].operator == "=="


def test_a_healthy_bench_result_passes(spec):
    document = bench_document()
    outcomes = slo.evaluate(document, spec[slo.default_profile(document)])
    assert slo.validity_problems(document) == []
    assert slo.status_of(outcomes) == "PASS"


def test_p99_over_the_objective_fails(spec):
    document = bench_document()
    document["latencyUs"]["p99"] = 1500.0
    outcomes = slo.evaluate(document, spec["strict"])
    assert slo.status_of(outcomes) == "FAIL"
    failed = [o for o in outcomes if not o.passed and o.check.severity == "critical"]
    assert [o.check.metric for o in failed] == ["latency_p99_us"]
    assert "(FAIL)" in failed[0].message()


def test_one_drop_fails_even_with_perfect_latency(spec):
    document = bench_document()
    document["counts"]["dropped"] = 1
    assert slo.status_of(slo.evaluate(document, spec["strict"])) == "FAIL"


def test_undelivered_load_fails_an_open_loop_run(spec):
    document = bench_document()
    document["rate"]["achievedRatio"] = 0.8
    assert slo.status_of(slo.evaluate(document, spec["strict"])) == "FAIL"


def test_a_high_tail_ratio_only_warns(spec):
    document = bench_document()
    document["latencyUs"]["p50"] = 50.0
    document["latencyUs"]["p99"] = 900.0  # ratio 18 > 12, p99 still within 1000
    outcomes = slo.evaluate(document, spec["strict"])
    assert slo.status_of(outcomes) == "WARN"


def test_closed_loop_results_skip_the_delivered_load_check(spec):
    document = bench_document()
    document["mode"] = "closed"
    outcome = next(
        o for o in slo.evaluate(document, spec["strict"]) if o.check.metric == "achieved_ratio"
    )
    assert outcome.actual is None
    assert outcome.passed


def test_a_healthy_canary_passes_its_profile(spec):
    document = canary_document()
    assert slo.default_profile(document) == "canary"
    assert slo.status_of(slo.evaluate(document, spec["canary"])) == "PASS"


def test_a_canary_with_one_refused_event_fails(spec):
    document = canary_document()
    document["errorRatePercent"] = 0.05
    assert slo.status_of(slo.evaluate(document, spec["canary"])) == "FAIL"


def test_a_failed_or_empty_result_cannot_pass_whatever_its_numbers():
    document = canary_document()
    document["passed"] = False
    document["failures"] = ["GET /health answered 503 status=unhealthy"]
    assert slo.validity_problems(document) == [
        "canary failed: GET /health answered 503 status=unhealthy"
    ]
    empty = bench_document()
    empty["latencyUs"]["count"] = 0
    assert "no request was answered" in slo.validity_problems(empty)[0]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            "version: 1\nprofiles:\n  p:\n    checks:\n      nonsense_us: {max: 1}\n",
            "unknown metric",
        ),
        (
            "version: 1\nprofiles:\n  p:\n    checks:\n      dropped: {max: 1, min: 0}\n",
            "exactly one",
        ),
        ("version: 2\nprofiles: {}\n", "version: 1"),
        (
            "version: 1\nprofiles:\n  p:\n    checks:\n      dropped: {max: 0, severity: fatal}\n",
            "severity",
        ),
    ],
)
def test_bad_threshold_blocks_are_refused(block, message):
    with pytest.raises(slo.SLOSpecError, match=message):
        slo.parse_spec(f"# SLO\n\n```yaml slo-thresholds\n{block}```\n")


def test_a_page_without_the_block_is_refused():
    with pytest.raises(slo.SLOSpecError, match="no ```yaml slo-thresholds block"):
        slo.parse_spec("# SLO\n\nthresholds: none\n")


def test_markdown_report_lists_every_check_and_the_verdict(spec):
    document = bench_document()
    document["latencyUs"]["p999"] = 9000.0
    outcomes = slo.evaluate(document, spec["strict"])
    text = slo.markdown(document, outcomes, "strict", "r.json", [])
    assert text.startswith("## SLO gate: ❌ FAIL")
    assert text.count("\n| ") == len(outcomes) + 2  # header, separator, one row per check
    assert "**FAIL**" in text


def test_the_real_noisy_run_fails_and_says_the_generator_was_late(spec):
    outcomes = {o.check.metric: o for o in slo.evaluate(noisy_bench_document(), spec["strict"])}
    assert not outcomes["latency_p99_us"].passed
    assert not outcomes["send_lag_p99_us"].passed
    assert outcomes["send_lag_p99_us"].check.severity == "warning"
