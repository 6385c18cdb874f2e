"""The tools chained as CI runs them, through the `switchyard` command line, on real results:
bench -> gate -> perf-gate (bless, compare, regress) -> tune -> cost-guard; dlp; change-risk;
triage. Exit codes are the contract here."""

import json
import shutil
from pathlib import Path

import pytest
from tests.fixtures.sre import run_switchyard

pytestmark = pytest.mark.integration

DATA = Path(__file__).parents[1] / "unit" / "sre" / "data"


@pytest.fixture(scope="module")
def bench_result(tmp_path_factory, sre_fake_gateway, sre_secret_file):
    out = tmp_path_factory.mktemp("chain") / "bench.json"
    result = run_switchyard(
        "bench",
        "--url",
        sre_fake_gateway.target.url,
        "--jwt-secret-file",
        str(sre_secret_file),
        "--rate",
        "300",
        "--duration",
        "1",
        "--warmup",
        "0",
        "--generator",
        "python",
        "--out",
        str(out),
        "--ceiling-file",
        str(out.parent / "none.json"),
    )
    assert result.status == 0, result.stderr
    return out


def test_perf_gate_needs_a_blessed_baseline_then_catches_a_regression(tmp_path, bench_result):
    baselines = tmp_path / "baselines"
    args = ("--baselines", str(baselines), "--runner-label", "ci-test")
    missing = run_switchyard("perf-gate", "--in", str(bench_result), *args)
    assert missing.status == 1
    assert "no baseline" in missing.stdout
    assert run_switchyard("perf-gate", "--in", str(bench_result), *args, "--missing-ok").status == 0
    blessed = run_switchyard("perf-gate", "--in", str(bench_result), *args, "--bless", "--force")
    assert blessed.status == 0, blessed.stderr
    assert (baselines / "ci-test.json").exists()
    assert run_switchyard("perf-gate", "--in", str(bench_result), *args).status == 0
    slower = tmp_path / "slower.json"
    document = json.loads(bench_result.read_text())
    document["latencyUs"]["p99"] = document["latencyUs"]["p99"] * 3 + 500
    slower.write_text(json.dumps(document))
    regressed = run_switchyard("perf-gate", "--in", str(slower), *args)
    assert regressed.status == 1
    assert "REGRESSED" in regressed.stdout


def test_gate_reads_the_slo_page_and_can_write_back(tmp_path):
    # A recorded healthy run: this test is about the gate's mechanics, not today's latency.
    copy = tmp_path / "r.json"
    shutil.copy(DATA / "bench_steady.json", copy)
    summary = tmp_path / "gate.md"
    result = run_switchyard(
        "gate", "--in", str(copy), "--slo-profile", "light", "--annotate", "--summary", str(summary)
    )
    assert result.status == 0, result.stdout
    assert json.loads(copy.read_text())["sloCompliance"]["sloProfile"] == "light"
    assert summary.read_text() == result.stdout
    assert run_switchyard("gate", "--check-contracts").status == 0


def test_gate_refuses_a_result_that_breaks_its_schema(tmp_path, bench_result):
    broken = tmp_path / "broken.json"
    document = json.loads(bench_result.read_text())
    del document["counts"]
    broken.write_text(json.dumps(document))
    result = run_switchyard("gate", "--in", str(broken))
    assert result.status == 1
    assert "schema" in result.stdout


def test_tune_and_cost_guard_on_a_real_result(tmp_path, bench_result):
    csv_path = tmp_path / "tune.csv"
    tuned = run_switchyard("tune", "--in", str(bench_result), "--out", str(csv_path))
    assert tuned.status == 0
    assert csv_path.read_text().startswith("priority,parameter")
    report = tmp_path / "cost.json"
    within = run_switchyard(
        "cost-guard",
        "--in",
        str(bench_result),
        "--budget-yen-per-1k",
        "100",
        "--report",
        str(report),
    )
    assert within.status == 0, within.stderr
    cost = json.loads(report.read_text())
    assert cost["costYenPer1kOrders"] > 0
    over = run_switchyard(
        "cost-guard",
        "--in",
        str(bench_result),
        "--budget-yen-per-1k",
        str(cost["costYenPer1kOrders"] / 10),
    )
    assert over.status == 1


def test_dlp_exit_codes(tmp_path):
    clean = run_switchyard("dlp", str(DATA))
    assert clean.status == 0, clean.stdout
    log = tmp_path / "app.log"
    log.write_text("event=ticket contact=hanako.yamada@gmail.com phone=090-1234-5678\n")
    found = run_switchyard("dlp", str(log), "--format", "json")
    assert found.status == 1
    assert json.loads(found.stdout)["byCategory"] == {"email": 1, "phone": 1}
    bad_allow = tmp_path / "allow.yaml"
    bad_allow.write_text("allow:\n  - {category: email, pattern: '.*'}\n")
    assert run_switchyard("dlp", str(log), "--allow", str(bad_allow)).status == 2


def test_change_risk_and_triage_commands():
    risk = run_switchyard("change-risk", "--diff-base", "HEAD")
    assert risk.status == 0
    assert "Change risk: LOW" in risk.stdout
    triage = run_switchyard("triage", "--format", "json", "disk", "full", "ENOSPC")
    assert triage.status == 0
    assert json.loads(triage.stdout)["hits"][0]["file"] == "docs/runbooks/wal.md"
    assert run_switchyard("triage", "zzzz qqqq").status == 1
