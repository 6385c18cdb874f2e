"""deploy/prometheus: promtool checks the shipped config and rules, and unit-tests every alert.

The promtool unit tests (deploy/prometheus/tests/alerts_test.yml) feed synthetic series to
the real rule engine: each alert fires where it should and stays quiet where it should not.
promtool compares annotations verbatim, so the rules are copied without them; the live test
(test_prometheus_live.py) renders the annotation templates instead.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy import shipped
from tests.fixtures.prometheus import promtool_path

pytestmark = pytest.mark.services

SEVERITIES = {"page", "ticket", "warning"}
UNIT_TEST_FILES = (
    shipped.PROMETHEUS_DIR / "tests" / "alerts_test.yml",
    shipped.PROMETHEUS_DIR / "tests" / "burn_rate_test.yml",
)


def _promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_path(), *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_promtool_check_config_accepts_shipped_prometheus_yml() -> None:
    result = _promtool("check", "config", str(shipped.PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rule files found" in result.stdout


def test_promtool_check_rules_accepts_shipped_rules() -> None:
    result = _promtool("check", "rules", *map(str, shipped.RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def _unit_test_tree(
    tmp_path: Path,
    *,
    rule_texts: dict[str, str] | None = None,
    only_alerts: set[str] | None = None,
) -> tuple[Path, list[str]]:
    """rules/ (annotations stripped) and tests/*.yml laid out as in deploy/prometheus.

    `rule_texts` replaces shipped rule files by name; `only_alerts` keeps only the checks of
    those alerts (a mutation needs only the cases that can notice it).
    """
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    texts = {path.name: path.read_text() for path in shipped.RULE_FILES}
    texts.update(rule_texts or {})
    alerts = yaml.safe_load(texts["alerts.yml"])
    for group in alerts["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules" / "alerts.yml").write_text(yaml.safe_dump(alerts, sort_keys=False))
    (tmp_path / "rules" / "recording.yml").write_text(texts["recording.yml"])
    names = []
    for source in UNIT_TEST_FILES:
        document = yaml.safe_load(source.read_text())
        if only_alerts is not None:
            for case in document["tests"]:
                case["alert_rule_test"] = [
                    check
                    for check in case.get("alert_rule_test", [])
                    if check["alertname"] in only_alerts
                ]
            document["tests"] = [case for case in document["tests"] if case["alert_rule_test"]]
            if not document["tests"]:
                continue
        (tmp_path / "tests" / source.name).write_text(yaml.safe_dump(document, sort_keys=False))
        names.append(source.name)
    return tmp_path / "tests", names


def test_promtool_unit_tests_of_every_alert_pass(tmp_path: Path) -> None:
    tests_dir, names = _unit_test_tree(tmp_path)
    result = _promtool("test", "rules", *names, cwd=tests_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2, result.stdout


@pytest.mark.parametrize(
    ("rule_file", "original", "broken", "alert"),
    [
        # a burn threshold ten times too lax
        ("alerts.yml", "> (14.4 * 0.01)", "> (14.4 * 0.1)", "SwitchyardFastAckLatencyBurnFast"),
        ("alerts.yml", "disk_full == 1", "disk_full == 2", "SwitchyardWALDiskFull"),
        (
            "alerts.yml",
            "changes(process_start",
            "resets(process_start",
            "SwitchyardGatewayRestarting",
        ),
        # the durable objective loosened from 5 ms to 10 ms
        ("recording.yml", 'le="0.005"', 'le="0.01"', "SwitchyardDurableAckLatencyBurnFast"),
        # without the zero guard a gateway that never refused at the HTTP layer has no shed ratio
        (
            "recording.yml",
            " or sum by (job, instance) (rate(switchyard_http_requests_total[5m])) * 0",
            "",
            "SwitchyardShedBurnFast",
        ),
    ],
)
def test_promtool_unit_tests_catch_a_broken_rule(
    tmp_path: Path, rule_file: str, original: str, broken: str, alert: str
) -> None:
    # The unit tests must be able to fail: each mutation of a shipped rule is noticed.
    text = (shipped.PROMETHEUS_DIR / "rules" / rule_file).read_text()
    assert original in text
    tests_dir, names = _unit_test_tree(
        tmp_path, rule_texts={rule_file: text.replace(original, broken)}, only_alerts={alert}
    )
    result = _promtool("test", "rules", *names, cwd=tests_dir)
    assert result.returncode != 0, f"unit tests did not notice {original!r} -> {broken!r}"
    assert alert in result.stdout + result.stderr


def test_every_alert_fires_in_at_least_one_unit_test() -> None:
    cases = [case for path in UNIT_TEST_FILES for case in yaml.safe_load(path.read_text())["tests"]]
    fired = {
        check["alertname"]
        for case in cases
        for check in case.get("alert_rule_test", [])
        if check.get("exp_alerts")
    }
    alerts = {rule["alert"] for rule in shipped.alert_rules()}
    assert alerts - fired == set(), "alerts without a firing unit test"
    assert fired - alerts == set(), "unit tests of alerts that do not exist"


def test_every_alert_has_severity_summary_and_description() -> None:
    for rule in shipped.alert_rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
        assert rule["alert"].startswith("Switchyard"), rule["alert"]


def test_every_page_has_a_for_clause_or_an_instant_reason() -> None:
    # Paging on a single evaluation is allowed only for states that cannot flap (a flag, a
    # counter that moved, a restart count); everything else must hold for a while.
    instant_ok = {
        "SwitchyardGatewayRestarting",
        "SwitchyardWALDiskFull",
        "SwitchyardOutboxFailed",
        "SwitchyardBackofficeQuarantinedEvents",
    }
    for rule in shipped.alert_rules():
        if rule["labels"]["severity"] == "page" and rule["alert"] not in instant_ok:
            assert "for" in rule, rule["alert"]


def _github_slug(heading: str) -> str:
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def test_runbook_urls_point_at_existing_runbook_sections() -> None:
    checked = 0
    for rule in shipped.alert_rules():
        url = rule["annotations"].get("runbook_url")
        if url is None:
            continue
        path, _, anchor = url.partition("#")
        page = shipped.ROOT / path
        assert page.is_file(), f"{rule['alert']}: {path} does not exist"
        headings = [
            line.lstrip("#").strip()
            for line in page.read_text().splitlines()
            if line.startswith("#")
        ]
        slugs = {_github_slug(heading) for heading in headings}
        assert anchor in slugs, f"{rule['alert']}: no section #{anchor} in {path}"
        checked += 1
    assert checked >= 20


def test_scrape_jobs_and_ports_match_the_readme_defaults() -> None:
    config = shipped.load_yaml(shipped.PROMETHEUS_DIR / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(shipped.JOBS) <= set(jobs)
    assert jobs["switchyard-gateway"]["static_configs"][0]["targets"] == ["gateway:8080"]
    assert jobs["switchyard-backoffice"]["static_configs"][0]["targets"] == ["backoffice:8082"]
    assert jobs["switchyard-venue"]["dns_sd_configs"][0]["port"] == 9902
    assert jobs["switchyard-outbox"]["dns_sd_configs"][0]["port"] == 9903
    readme = (shipped.ROOT / "README.md").read_text()
    for name, port in (
        ("GATEWAY_PORT", 8080),
        ("BACKOFFICE_PORT", 8082),
        ("VENUE_METRICS_PORT", 9902),
    ):
        assert f"| `{name}` | `{port}` |" in readme, name
    assert config["rule_files"] == ["rules/recording.yml", "rules/alerts.yml"]


def test_every_rule_selects_a_job_or_a_gateway_only_metric() -> None:
    # `up` is exported by every job: a rule on it must say which job it means.
    for rule in shipped.rules():
        expr = rule["expr"]
        if re.search(r"\bup\b", expr):
            assert re.search(r'\bup\{job="switchyard-[a-z]+"', expr), rule.get("alert")
