"""`switchyard change-risk`: score a git diff by size and by what it touches, with canary advice.

The seed's factors (size, file count, critical paths, build and CI files) mapped to this
repository's layout: a change to the WAL, the sequencer or the runtime's effect ordering can
lose acknowledged orders; a change to risk, book or ledger can trade or book wrongly; ingress
sees every request. Each touched area counts once. Levels (from the uncapped score): >= 70
critical, >= 50 high, >= 30 medium, else low; each level comes with a rollout plan.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GIT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Area:
    name: str
    pattern: str  # regex on the repository path
    points: int
    reason: str
    advice: str


AREAS: tuple[Area, ...] = (
    Area(
        "wal-record-layout",
        r"^src/switchyard/core/events\.py$",
        25,
        "WAL record layout (positional msgpack, append-only fields)",
        "replay an old WAL with the new code (switchyard wal verify / dump)",
    ),
    Area(
        "wal",
        r"^src/switchyard/wal/",
        30,
        "WAL: framing, checksums, hash chain, group commit, recovery",
        "run the crash suite (pytest -m crash_full) and switchyard wal verify after the soak",
    ),
    Area(
        "sequencer",
        r"^src/switchyard/pipeline/",
        25,
        "sequencer: the single writer of trading state and its state hash",
        "run the deterministic simulation with many seeds (pytest -m sim_full)",
    ),
    Area(
        "runtime",
        r"^src/switchyard/runtime/",
        25,
        "runtime: the order of effects (durable before visible)",
        "run the crash suite and the SSE resume tests",
    ),
    Area(
        "core",
        r"^src/switchyard/core/(?!events\.py$)",
        15,
        "core vocabulary shared by every layer (enums, reason codes, limits, ports)",
        "check that enum and Reason values were only appended, never renumbered",
    ),
    Area(
        "ingress",
        r"^src/switchyard/adapters/http/",
        20,
        "HTTP ingress: auth, limits and parsing of every request",
        "run the hostile-client tests and a bench at the SLO rate",
    ),
    Area(
        "risk",
        r"^src/switchyard/risk/",
        20,
        "pre-trade risk: a bug lets orders out that must be denied",
        "run the risk property tests; canary with the kill switch at hand",
    ),
    Area(
        "book",
        r"^src/switchyard/book/",
        20,
        "matching engine: fills, prices, priority",
        "run the reference-book property tests",
    ),
    Area(
        "ledger",
        r"^src/switchyard/(ledger|backoffice)/",
        20,
        "ledger and back office: money, positions, exactly-once application",
        "run /reconcile against the gateway after the canary",
    ),
    Area(
        "outbox",
        r"^src/switchyard/(outbox|adapters/.*kafka)",
        15,
        "outbox to Kafka: at-least-once delivery and its offset file",
        "stop and restart Kafka during the canary; check no event is missing",
    ),
    Area(
        "venue",
        r"^src/switchyard/venue/",
        15,
        "venue protocol: reconnect and reconciliation",
        "restart the TCP venue during the canary",
    ),
    Area(
        "dependencies",
        r"^(pyproject\.toml|requirements\.lock)$",
        15,
        "dependencies and their pins",
        "run a vulnerability scan (pip-audit) and the full suite",
    ),
    Area(
        "deploy",
        r"^deploy/",
        15,
        "deployment: containers, Kubernetes, Prometheus rules, nginx",
        "apply to staging first; promtool check rules",
    ),
    Area(
        "ci",
        r"^(\.ci/|Makefile$|mk/|scripts/ci-)",
        10,
        "CI and build: what the gates run",
        "land CI changes in their own pull request",
    ),
    Area(
        "contracts",
        r"^contracts/",
        10,
        "public JSON contracts",
        "check every reader of the contract still validates",
    ),
)
LEVELS = ((70, "critical"), (50, "high"), (30, "medium"), (0, "low"))
ROLLOUT: dict[str, list[str]] = {
    "low": [
        "standard review",
        "make check-lite (Gate0) in CI",
        "normal rollout; switchyard canary after deploy",
    ],
    "medium": [
        "review by an owner of each touched area",
        "make check (Gate1: bench, SLO gate, perf gate)",
        "canary: 10% of traffic for 15 minutes; roll back if the SLO gate "
        "fails on the canary's result",
    ],
    "high": [
        "tech lead review",
        "make check (Gate1)",
        "canary: 5% of traffic for 30 minutes, "
        "switchyard canary before and after, automatic rollback on a FAIL",
        "watch p99, error rate and backpressure refusals on the dashboard during the canary",
    ],
    "critical": [
        "tech lead and staff review; write the rollback plan before deploying",
        "make check-full (Gate2: soak, crash suite, multi-process e2e)",
        "staged rollout 1% -> 10% -> 50% -> 100% with 30-minute holds",
        "switchyard wal verify on the canary's data dir after the soak",
        "keep the previous build ready; do not deploy on a Friday",
    ],
}


class GitError(RuntimeError):
    """git failed (unknown revision, not a repository); the message has git's words."""


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    added: int
    deleted: int


@dataclass(slots=True)
class Assessment:
    changes: list[FileChange]
    factors: list[dict[str, Any]] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    score: int = 0

    @property
    def level(self) -> str:
        return next(name for bound, name in LEVELS if self.score >= bound)


def git_numstat(base: str, repo: Path, worktree: bool = False) -> list[FileChange]:
    """`git diff --numstat base...HEAD` (or base against the working tree)."""
    binary = shutil.which("git")
    if binary is None:
        raise GitError("git is not installed")
    revision = base if worktree else f"{base}...HEAD"
    argv = [binary, "diff", "--numstat", "--no-renames", revision, "--"]
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv, cwd=repo, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(f"git diff failed: {error}") from None
    if completed.returncode != 0:
        raise GitError(f"git diff {revision}: {completed.stderr.strip()}")
    return parse_numstat(completed.stdout)


def parse_numstat(text: str) -> list[FileChange]:
    changes = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        added, deleted, path = parts
        # Binary files show "-": they count as changed files with no lines.
        changes.append(
            FileChange(
                path, int(added) if added.isdigit() else 0, int(deleted) if deleted.isdigit() else 0
            )
        )
    return changes


def assess(changes: list[FileChange]) -> Assessment:
    """Score a list of changed files."""
    result = Assessment(changes)
    lines = sum(change.added + change.deleted for change in changes)
    _size_factors(result, lines, len(changes))
    for area in AREAS:
        touched = [c.path for c in changes if re.search(area.pattern, c.path)]
        if touched:
            result.factors.append(
                {"points": area.points, "area": area.name, "reason": area.reason, "files": touched}
            )
            result.advice.append(f"{area.name}: {area.advice}")
    source_lines = sum(c.added + c.deleted for c in changes if c.path.startswith("src/"))
    if source_lines > 50 and not any(c.path.startswith("tests/") for c in changes):
        result.factors.append(
            {
                "points": 10,
                "area": "tests",
                "reason": f"{source_lines} lines of source changed, no test changed",
                "files": [],
            }
        )
        result.advice.append("tests: add or update tests for the changed behaviour")
    result.score = sum(int(factor["points"]) for factor in result.factors)
    return result


def _size_factors(result: Assessment, lines: int, files: int) -> None:
    if lines > 500:
        result.factors.append(
            {"points": 30, "area": "size", "reason": f"{lines} lines changed (> 500)", "files": []}
        )
        result.advice.append("size: split the change into reviewable pieces")
    elif lines > 200:
        result.factors.append(
            {"points": 15, "area": "size", "reason": f"{lines} lines changed (> 200)", "files": []}
        )
    if files > 20:
        result.factors.append(
            {"points": 20, "area": "spread", "reason": f"{files} files (> 20)", "files": []}
        )
    elif files > 10:
        result.factors.append(
            {"points": 10, "area": "spread", "reason": f"{files} files (> 10)", "files": []}
        )


def report(assessment: Assessment, base: str) -> dict[str, Any]:
    level = assessment.level
    return {
        "schema": "switchyard.change_risk.v1",
        "base": base,
        "riskScore": min(assessment.score, 100),
        "riskScoreUncapped": assessment.score,
        "riskLevel": level,
        "files": len(assessment.changes),
        "linesAdded": sum(c.added for c in assessment.changes),
        "linesDeleted": sum(c.deleted for c in assessment.changes),
        "factors": assessment.factors
        or [
            {
                "points": 0,
                "area": "none",
                "reason": "small change outside critical paths",
                "files": [],
            }
        ],
        "recommendations": assessment.advice,
        "rollout": ROLLOUT[level],
    }


def markdown(data: dict[str, Any]) -> str:
    lines = [
        f"## Change risk: {data['riskLevel'].upper()} ({data['riskScore']}/100)",
        "",
        f"against `{data['base']}`: {data['files']} files, +{data['linesAdded']} "
        f"-{data['linesDeleted']} lines",
        "",
        "| points | area | reason |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {f['points']} | {f['area']} | {f['reason']} |" for f in data["factors"]]
    lines += ["", "Before merging:"] + [f"- {item}" for item in data["recommendations"]]
    lines += ["", "Rollout:"] + [f"- {item}" for item in data["rollout"]]
    return "\n".join(lines) + "\n"
