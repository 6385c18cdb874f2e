"""The verdict of a stability (soak) run: a bench result with a timeline, plus sampler lines.

Pass when nothing failed or was dropped, the p99 of the last interval is within the allowed
degradation of the first measured interval and within the SLO, and the server's RSS did not
keep growing (last sample within the allowed growth of the first). The seed's criteria, with
the memory check added and each criterion reported with its numbers.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

P99_US_MAX = 1000.0  # docs/specs/slo.md, profile strict
DEGRADATION_PERCENT_MAX = 10.0  # the seed's bound on p99 growth between start and end
RSS_GROWTH_PERCENT_MAX = 20.0  # bounded queues: memory plateaus; more is a leak to look at


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    passed: bool
    detail: str


def _windows(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in document.get("timeline", []) if w["completed"] > 0]


def judge(
    document: dict[str, Any],
    samples: list[dict[str, Any]],
    p99_us_max: float = P99_US_MAX,
    degradation_percent_max: float = DEGRADATION_PERCENT_MAX,
    rss_growth_percent_max: float = RSS_GROWTH_PERCENT_MAX,
) -> list[Criterion]:
    """Every criterion of the verdict, with the numbers behind it."""
    counts = document["counts"]
    windows = _windows(document)
    criteria = [
        Criterion("no errors", counts["errors"] == 0, f"{counts['errors']} errors"),
        Criterion("no drops", counts["dropped"] == 0, f"{counts['dropped']} dropped"),
    ]
    if len(windows) < 2:
        criteria.append(Criterion("timeline", False, f"{len(windows)} measured intervals (< 2)"))
        return criteria
    first, last = windows[0]["p99Us"], windows[-1]["p99Us"]
    growth = (last - first) * 100.0 / first if first else 0.0
    criteria.append(
        Criterion(
            "p99 degradation",
            growth < degradation_percent_max,
            f"first interval {first} µs, last {last} µs ({growth:+.1f}%, "
            f"limit {degradation_percent_max:g}%)",
        )
    )
    criteria.append(
        Criterion("final p99", last <= p99_us_max, f"{last} µs (limit {p99_us_max:g} µs)")
    )
    rss = [s["rssBytes"] for s in samples if s.get("rssBytes")]
    if len(rss) >= 2:
        rss_growth = (rss[-1] - rss[0]) * 100.0 / rss[0]
        criteria.append(
            Criterion(
                "memory",
                rss_growth < rss_growth_percent_max,
                f"RSS {rss[0] // 2**20} MiB -> {rss[-1] // 2**20} MiB "
                f"({rss_growth:+.1f}%, limit {rss_growth_percent_max:g}%)",
            )
        )
    return criteria


def read_samples(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def summary(document: dict[str, Any], criteria: list[Criterion], samples: int) -> str:
    verdict = "PASS" if all(c.passed for c in criteria) else "FAIL"
    latency = document["latencyUs"]
    lines = [
        f"stability test: {verdict}",
        f"  target {document['target']['url']} ({document['target']['server']}), profile "
        f"{document['profile']['name']}, asked {document['rate']['askedPerSec']}/s for "
        f"{document['durationSec']} s, achieved {document['rate']['achievedPerSec']}/s",
        f"  requests {document['counts']['sent']}; latency µs p50 {latency['p50']} "
        f"p99 {latency['p99']} p99.9 {latency['p999']} max {latency['max']}",
        f"  {len(_windows(document))} intervals in the bench timeline, {samples} server samples",
    ]
    lines += [f"  [{'ok' if c.passed else 'FAIL'}] {c.name}: {c.detail}" for c in criteria]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m switchyard.sre.stability RESULT SAMPLES SUMMARY`: exit 0 on PASS, 1 on FAIL."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        sys.stderr.write("usage: python -m switchyard.sre.stability RESULT SAMPLES SUMMARY\n")
        return 2
    document = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    samples = read_samples(Path(args[1]))
    criteria = judge(document, samples)
    text = summary(document, criteria, len(samples))
    Path(args[2]).write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0 if all(c.passed for c in criteria) else 1


if __name__ == "__main__":
    raise SystemExit(main())
