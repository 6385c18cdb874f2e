"""`switchyard perf-gate`: compare a bench result with the blessed baseline of this machine.

Baselines live in bench/baselines/<runner-label>.json, one entry per *case* (profile,
endpoint, ack mode, generator, loop mode, connections, asked rate): only runs of the same
case on the same machine are comparable. An entry is a whole bench.v1 document, promoted on
purpose with `--bless` (`make bless`); it is never updated as a side effect of a check.

A metric regresses when it is worse than the baseline by more than the tolerance (relative)
and by more than a small absolute floor (so 30 -> 36 µs of loopback jitter is not a
regression). p99.9 gets twice the tolerance: on a 2-core VM it rests on few samples.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchyard.sre import documents

BASELINE_SCHEMA = "switchyard.perf_baseline.v1"
TOLERANCE_DEFAULT = 0.10  # this machine moves ±10-25% between runs (stack measurements)
LATENCY_FLOOR_US = 50.0  # absolute slack under which a latency change is noise
THROUGHPUT_FLOOR_PER_SEC = 100.0
ERROR_RATE_FLOOR_PERCENT = 0.01


class BaselineError(ValueError):
    """The baseline file is unreadable or not a baseline; the message names it."""


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    title: str
    path: tuple[str, ...]
    lower_is_better: bool
    tolerance_factor: float  # times the run's tolerance
    floor: float


METRICS: tuple[Metric, ...] = (
    Metric("latency_p50_us", "latency p50 (µs)", ("latencyUs", "p50"), True, 1.0, LATENCY_FLOOR_US),
    Metric("latency_p99_us", "latency p99 (µs)", ("latencyUs", "p99"), True, 1.0, LATENCY_FLOOR_US),
    Metric(
        "latency_p999_us", "latency p99.9 (µs)", ("latencyUs", "p999"), True, 2.0, LATENCY_FLOOR_US
    ),
    Metric(
        "throughput_per_sec",
        "throughput (/s)",
        ("rate", "achievedPerSec"),
        False,
        1.0,
        THROUGHPUT_FLOOR_PER_SEC,
    ),
    Metric(
        "error_rate_percent",
        "error rate (%)",
        ("counts", "errorRatePercent"),
        True,
        0.0,
        ERROR_RATE_FLOOR_PERCENT,
    ),
)


@dataclass(frozen=True, slots=True)
class Comparison:
    metric: Metric
    baseline: float
    current: float
    limit: float

    @property
    def regressed(self) -> bool:
        if self.metric.lower_is_better:
            return self.current > self.limit
        return self.current < self.limit

    @property
    def change_percent(self) -> float:
        if self.baseline == 0:
            return 0.0 if self.current == 0 else 100.0
        return (self.current - self.baseline) * 100.0 / self.baseline


def case_key(document: Mapping[str, Any]) -> str:
    """What must be equal for two bench results to be comparable."""
    profile = document["profile"]
    asked = document["rate"]["askedPerSec"]
    rate = "max" if asked is None else f"{round(asked)}"
    endpoint = "events" if document["target"]["endpoint"] == "POST /events" else "orders"
    return (
        f"{profile['name']}/{endpoint}/{document['target']['ackMode']}/{document['generator']}/"
        f"{document['mode']}/c{profile['connections']}/r{rate}"
    )


def _value(document: Mapping[str, Any], path: tuple[str, ...]) -> float:
    value: Any = document
    for key in path:
        value = value[key]
    return float(value)


def compare(
    current: Mapping[str, Any], baseline: Mapping[str, Any], tolerance: float
) -> list[Comparison]:
    """Each metric of `current` against `baseline` with its allowed limit."""
    assert 0 <= tolerance < 1
    comparisons = []
    for metric in METRICS:
        base = _value(baseline, metric.path)
        now = _value(current, metric.path)
        relative = base * tolerance * metric.tolerance_factor
        slack = max(relative, metric.floor)
        limit = base + slack if metric.lower_is_better else max(base - slack, 0.0)
        comparisons.append(Comparison(metric, base, now, round(limit, 3)))
    return comparisons


def baseline_path(directory: Path, runner_label: str) -> Path:
    return directory / f"{runner_label}.json"


def load_baselines(path: Path) -> dict[str, Any]:
    """The baseline file, or an empty one if it does not exist yet."""
    if not path.exists():
        return {"schema": BASELINE_SCHEMA, "runnerLabel": path.stem, "cases": {}}
    try:
        data = documents.read_document(path)
    except documents.DocumentError as error:
        raise BaselineError(str(error)) from None
    if data.get("schema") != BASELINE_SCHEMA or not isinstance(data.get("cases"), dict):
        raise BaselineError(f"{path}: not a {BASELINE_SCHEMA} file")
    for key, entry in data["cases"].items():
        problems = documents.schema_errors(entry)
        if problems:
            raise BaselineError(f"{path}: case {key} is not a valid bench result: {problems[0]}")
    return data


def bless_problems(document: Mapping[str, Any]) -> list[str]:
    """Why a result should not become a baseline (a failing run is no reference)."""
    problems = [f"schema: {problem}" for problem in documents.schema_errors(document)]
    if problems:
        return problems
    counts = document["counts"]
    if counts["errors"] or counts["dropped"]:
        problems.append(f"the run has {counts['errors']} errors and {counts['dropped']} drops")
    if not document["latencyUs"]["count"]:
        problems.append("the run has no measured request")
    if document["git"]["dirty"]:
        problems.append("the working tree had uncommitted changes (git.dirty)")
    return problems


def bless(path: Path, document: Mapping[str, Any], source: str, blessed_at: str) -> str:
    """Store `document` as the baseline of its case; returns the case key."""
    data = load_baselines(path)
    key = case_key(document)
    data["cases"][key] = {**document}
    data.setdefault("blessed", {})[key] = {"at": blessed_at, "source": source}
    documents.write_document(path, data)
    return key


def report(
    key: str, comparisons: list[Comparison], tolerance: float, label: str, notes: list[str]
) -> str:
    """Markdown table of the comparison."""
    regressions = [c for c in comparisons if c.regressed]
    verdict = "❌ REGRESSION" if regressions else "✅ OK"
    lines = [
        f"## Perf gate: {verdict}",
        "",
        f"case `{key}` on runner `{label}`, tolerance {tolerance:.0%} "
        f"(p99.9: {2 * tolerance:.0%}); absolute floors {LATENCY_FLOOR_US:g} µs / "
        f"{THROUGHPUT_FLOOR_PER_SEC:g} per s",
        "",
        "| metric | baseline | current | change | limit | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines.extend(
        f"| {c.metric.title} | {c.baseline:g} | {c.current:g} | {c.change_percent:+.1f}% | "
        f"{'<=' if c.metric.lower_is_better else '>='} {c.limit:g} | "
        f"{'**REGRESSED**' if c.regressed else 'ok'} |"
        for c in comparisons
    )
    lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def context_notes(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[str]:
    """Things that make a comparison less trustworthy, said next to the verdict."""
    notes = []
    if current["machine"].get("cpuModel") != baseline["machine"].get("cpuModel"):
        notes.append("CPU model differs from the baseline's: numbers may not be comparable")
    load_now = current["machine"].get("loadAvg1m", 0)
    if load_now > baseline["machine"].get("loadAvg1m", 0) + 1.0:
        notes.append(f"machine load was higher than at bless time ({load_now})")
    ceiling_now = ((current.get("toolCeiling") or {}).get("python") or {}).get("maxRatePerSec")
    ceiling_then = ((baseline.get("toolCeiling") or {}).get("python") or {}).get("maxRatePerSec")
    if ceiling_now and ceiling_then and ceiling_now < 0.8 * ceiling_then:
        notes.append(
            f"the generator's own ceiling fell ({ceiling_then} -> {ceiling_now}/s): "
            "the machine is slower, not necessarily the gateway"
        )
    notes.append(
        f"baseline git {baseline['git']['rev'][:12]}, current {current['git']['rev'][:12]}"
    )
    return notes
