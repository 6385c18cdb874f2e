"""`switchyard gate`: judge a bench or canary result against the SLOs in docs/specs/slo.md.

Owns the SLO threshold format (the fenced ```yaml slo-thresholds block of that page), the
extraction of SLIs from both result kinds, the evaluation (critical failures fail, warnings
warn, inapplicable checks are reported as such) and the Markdown summary.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from switchyard.sre import documents

BLOCK = re.compile(r"^```yaml slo-thresholds\s*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SEVERITIES = ("critical", "warning")
OPERATORS = {"max": "<=", "min": ">=", "equals": "=="}


class SLOSpecError(ValueError):
    """docs/specs/slo.md has no usable thresholds block; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Check:
    metric: str
    operator: str  # "<=", ">=", "=="
    threshold: float
    severity: str


@dataclass(frozen=True, slots=True)
class Outcome:
    check: Check
    actual: float | None  # None: not applicable to this document

    @property
    def passed(self) -> bool:
        if self.actual is None:
            return True
        if self.check.operator == "<=":
            return self.actual <= self.check.threshold
        if self.check.operator == ">=":
            return self.actual >= self.check.threshold
        return self.actual == self.check.threshold

    def describe(self) -> dict[str, Any]:
        return {
            "name": METRIC_TITLES[self.check.metric],
            "metric": self.check.metric,
            "operator": self.check.operator,
            "threshold": self.check.threshold,
            "actual": self.actual,
            "passed": self.passed,
            "severity": self.check.severity,
            "message": self.message(),
        }

    def message(self) -> str:
        title = METRIC_TITLES[self.check.metric]
        if self.actual is None:
            return f"{title}: not applicable to this result"
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{title}: {self.actual:g} {self.check.operator} {self.check.threshold:g} ({verdict})"
        )


def _bench_metric(path: tuple[str, ...]) -> Callable[[Mapping[str, Any]], float | None]:
    def get(document: Mapping[str, Any]) -> float | None:
        value: Any = document
        for key in path:
            if not isinstance(value, Mapping) or value.get(key) is None:
                return None
            value = value[key]
        return float(value)

    return get


def _tail_ratio(document: Mapping[str, Any]) -> float | None:
    latency = document["latencyUs"]
    if not latency.get("count") or not latency.get("p50"):
        return None
    return round(float(latency["p99"]) / float(latency["p50"]), 2)


def _dropped(document: Mapping[str, Any]) -> float | None:
    if document["schema"] == documents.BENCH_SCHEMA:
        return float(document["counts"]["dropped"])
    return float(document["dropped"])


def _error_rate(document: Mapping[str, Any]) -> float | None:
    if document["schema"] == documents.BENCH_SCHEMA:
        return float(document["counts"]["errorRatePercent"])
    return float(document["errorRatePercent"])


def _throughput(document: Mapping[str, Any]) -> float | None:
    if document["schema"] == documents.BENCH_SCHEMA:
        return float(document["rate"]["achievedPerSec"])
    return float(document["throughputPerSec"])


def _achieved_ratio(document: Mapping[str, Any]) -> float | None:
    if document["schema"] != documents.BENCH_SCHEMA or document["mode"] != "open":
        return None
    ratio = document["rate"]["achievedRatio"]
    return None if ratio is None else float(ratio)


EXTRACTORS: dict[str, Callable[[Mapping[str, Any]], float | None]] = {
    "latency_p50_us": _bench_metric(("latencyUs", "p50")),
    "latency_p99_us": _bench_metric(("latencyUs", "p99")),
    "latency_p999_us": _bench_metric(("latencyUs", "p999")),
    "latency_max_us": _bench_metric(("latencyUs", "max")),
    "tail_ratio": _tail_ratio,
    "dropped": _dropped,
    "error_rate_percent": _error_rate,
    "throughput_per_sec": _throughput,
    "achieved_ratio": _achieved_ratio,
    "send_lag_p99_us": _bench_metric(("sendLagUs", "p99")),
}
METRIC_TITLES = {
    "latency_p50_us": "Latency p50 (µs)",
    "latency_p99_us": "Latency p99 (µs)",
    "latency_p999_us": "Latency p99.9 (µs)",
    "latency_max_us": "Latency max (µs)",
    "tail_ratio": "Tail ratio p99/p50",
    "dropped": "Dropped (no answer)",
    "error_rate_percent": "Error rate (%)",
    "throughput_per_sec": "Throughput (/s)",
    "achieved_ratio": "Delivered load (achieved/asked)",
    "send_lag_p99_us": "Generator send lag p99 (µs)",
}
assert set(METRIC_TITLES) == set(EXTRACTORS)


def parse_spec(text: str, origin: str = "docs/specs/slo.md") -> dict[str, list[Check]]:
    """SLO profiles and their checks from the page's ```yaml slo-thresholds block."""
    match = BLOCK.search(text)
    if match is None:
        raise SLOSpecError(f"{origin}: no ```yaml slo-thresholds block")
    try:
        raw = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise SLOSpecError(f"{origin}: thresholds block is not YAML: {error}") from None
    if not isinstance(raw, dict) or raw.get("version") != 1:
        raise SLOSpecError(f"{origin}: thresholds block must be a mapping with version: 1")
    profiles = raw.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise SLOSpecError(f"{origin}: thresholds block has no profiles")
    return {
        str(name): _parse_checks(body, f"{origin}: profile {name}")
        for name, body in profiles.items()
    }


def _parse_checks(body: Any, where: str) -> list[Check]:
    checks_raw = body.get("checks") if isinstance(body, dict) else None
    if not isinstance(checks_raw, dict) or not checks_raw:
        raise SLOSpecError(f"{where}: no checks")
    checks = []
    for metric, rule in checks_raw.items():
        if metric not in EXTRACTORS:
            raise SLOSpecError(f"{where}: unknown metric {metric!r} (known: {sorted(EXTRACTORS)})")
        if not isinstance(rule, dict):
            raise SLOSpecError(f"{where}: {metric} must be a mapping")
        bounds = [key for key in OPERATORS if key in rule]
        if len(bounds) != 1:
            raise SLOSpecError(f"{where}: {metric} needs exactly one of max, min, equals")
        threshold = rule[bounds[0]]
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            raise SLOSpecError(f"{where}: {metric}.{bounds[0]} must be a number")
        severity = rule.get("severity", "critical")
        if severity not in SEVERITIES:
            raise SLOSpecError(f"{where}: {metric}.severity must be one of {SEVERITIES}")
        checks.append(Check(str(metric), OPERATORS[bounds[0]], float(threshold), severity))
    return checks


def load_spec(path: Path) -> dict[str, list[Check]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SLOSpecError(f"{path}: cannot read: {error}") from None
    return parse_spec(text, str(path))


def default_profile(document: Mapping[str, Any]) -> str:
    """The SLO profile a document asks to be judged by."""
    if document["schema"] == documents.CANARY_SCHEMA:
        return "canary"
    return str(document["profile"].get("sloProfile") or "strict")


def validity_problems(document: Mapping[str, Any]) -> list[str]:
    """Why a (schema-valid) result cannot pass whatever its numbers: nothing was measured,
    or the canary itself failed. Checked before any threshold."""
    problems = []
    if not document["latencyUs"].get("count"):
        problems.append("no request was answered: there is nothing to judge")
    if document["schema"] == documents.CANARY_SCHEMA and not document["passed"]:
        problems.extend(f"canary failed: {failure}" for failure in document["failures"])
    if document["schema"] == documents.BENCH_SCHEMA and document["counts"]["sent"] == 0:
        problems.append("the bench sent no request")
    return problems


def evaluate(document: Mapping[str, Any], checks: list[Check]) -> list[Outcome]:
    """Every check's outcome for this document."""
    return [Outcome(check, EXTRACTORS[check.metric](document)) for check in checks]


def status_of(outcomes: list[Outcome]) -> str:
    """FAIL on any failed critical check, WARN on any failed warning, else PASS."""
    failed = [outcome.check.severity for outcome in outcomes if not outcome.passed]
    if "critical" in failed:
        return "FAIL"
    return "WARN" if failed else "PASS"


def compliance(outcomes: list[Outcome], profile: str, evaluated_at: str) -> dict[str, Any]:
    """The sloCompliance block (optionally written back into the document)."""
    return {
        "status": status_of(outcomes),
        "sloProfile": profile,
        "evaluatedAt": evaluated_at,
        "checks": [outcome.describe() for outcome in outcomes],
    }


def markdown(
    document: Mapping[str, Any],
    outcomes: list[Outcome],
    profile: str,
    source: str,
    problems: list[str],
) -> str:
    """The gate's report: status, a checks table, key numbers, problems that fail it outright."""
    status = "FAIL" if problems else status_of(outcomes)
    icon = {"PASS": "✅", "WARN": "⚠️", "FAIL": "❌"}[status]
    kind = "bench" if document.get("schema") == documents.BENCH_SCHEMA else "canary"
    lines = [
        f"## SLO gate: {icon} {status}",
        "",
        f"`{source}` ({kind} result) judged by SLO profile **{profile}** "
        "(thresholds: docs/specs/slo.md)",
        "",
    ]
    if problems:
        lines += ["The result cannot pass:", ""]
        lines += [f"- {problem}" for problem in problems] + [""]
    lines += [
        "| status | check | actual | threshold | severity |",
        "| --- | --- | --- | --- | --- |",
    ]
    for outcome in outcomes:
        mark = "n/a" if outcome.actual is None else ("pass" if outcome.passed else "**FAIL**")
        actual = "—" if outcome.actual is None else f"{outcome.actual:g}"
        lines.append(
            f"| {mark} | {METRIC_TITLES[outcome.check.metric]} | {actual} | "
            f"{outcome.check.operator} {outcome.check.threshold:g} | "
            f"{outcome.check.severity} |"
        )
    lines.append("")
    if not any(problem.startswith("schema:") for problem in problems):
        lines += _key_numbers(document)  # only a schema-valid document has them all
    return "\n".join(lines) + "\n"


def _key_numbers(document: Mapping[str, Any]) -> list[str]:
    if "latencyUs" not in document:
        return []
    if document.get("schema") == documents.BENCH_SCHEMA:
        ceiling = document.get("toolCeiling") or {}
        python_max = (ceiling.get("python") or {}).get("maxRatePerSec")
        measured = f"{python_max}/s" if python_max is not None else "not measured"
        return [
            f"- generator: {document['generator']} ({document['mode']} loop, latency from "
            f"{document['latencyBasis']}); tool ceiling (python): {measured}",
            f"- rate asked {document['rate']['askedPerSec']}/s, achieved "
            f"{document['rate']['achievedPerSec']}/s over {document['durationSec']} s",
            f"- requests {document['counts']['sent']}, errors by code: "
            f"{document['counts']['byError'] or 'none'}",
        ]
    return [
        f"- health: {document['health']['httpStatus']} {document['health']['status']}",
        f"- events ok {document['events']['ok']}/{document['events']['requested']}, orders ok "
        f"{document['orders']['ok']}/{document['orders']['requested']}",
    ]
