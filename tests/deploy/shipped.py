"""What deploy/ ships, read for the tests: rules, dashboard queries, metric names in PromQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULE_FILES = (PROMETHEUS_DIR / "rules" / "recording.yml", PROMETHEUS_DIR / "rules" / "alerts.yml")
DASHBOARD_DIR = DEPLOY / "grafana" / "dashboards"
JOBS = ("switchyard-gateway", "switchyard-backoffice", "switchyard-venue", "switchyard-outbox")

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
     "offset", "inf", "nan"}
)  # fmt: skip


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules() -> Iterator[dict[str, Any]]:
    """Every recording and alerting rule of the shipped rule files."""
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            yield from group["rules"]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def recording_rules() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "record" in rule]


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref_id: str
    expr: str


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panel_queries() -> list[PanelQuery]:
    found = []
    for name, model in dashboards().items():
        for panel in model["panels"]:
            for target in panel.get("targets", []):
                found.append(PanelQuery(name, panel["title"], target["refId"], target["expr"]))
    return found


def grafana_to_promql(expr: str, *, rate_interval: str = "1m") -> str:
    """Substitute the dashboard and Grafana variables the way Grafana would (all instances)."""
    return (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$__interval", "15s")
        .replace("$instance", ".*")
    )


def metric_names(expr: str) -> set[str]:
    """Metric (and recording rule) names referenced by a PromQL expression."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # grouping label lists
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        name = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in _KEYWORDS:
            continue  # a function or an aggregation, or an operator keyword
        if match.start() > 0 and text[match.start() - 1] in "$.0123456789":
            continue  # a variable or part of a number (1e-05)
        names.add(name)
    return names


def metrics_catalogue() -> dict[str, dict[str, tuple[str, set[str]]]]:
    """Section -> metric name -> (type, documented labels), from docs/METRICS.md."""
    sections: dict[str, dict[str, tuple[str, set[str]]]] = {}
    current = ""
    for line in (ROOT / "docs" / "METRICS.md").read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].split(" (")[0].strip()
        elif line.startswith("### Only with etcd"):
            current = "Gateway with etcd"
        elif line.startswith("| `") and current:
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            labels = set(re.findall(r"`(\w+)`", cells[3]))
            sections.setdefault(current, {})[cells[0].strip("`")] = (cells[1], labels)
    return sections
