"""deploy/grafana: the dashboards are valid Grafana models wired to the provisioned datasource.

Grafana itself is not in Debian's archive, so the models are checked structurally (a JSON
schema of the dashboard fields we use, unique ids and uids, a 24-column grid without
overlaps, known panel types and units) and against the provisioning files; the queries are
evaluated by a real Prometheus in test_prometheus_live.py.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from itertools import combinations
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from tests.deploy import shipped

GRAFANA = shipped.DEPLOY / "grafana"
PANEL_TYPES = {"timeseries", "gauge", "stat", "row", "bargauge", "table", "text"}
UNITS = {"s", "ms", "short", "reqps", "ops", "decbytes", "bytes", "Bps", "percent", "percentunit"}
SEED_FAST_PATH_TITLES = [
    "Fast Path Process Latency (p99/p50)",
    "Current p99 Latency",
    "Fast Path Throughput",
    "Fast Path Total Events",
    "Fast Path Drops",
    "Fast Path Lag",
    "Process Memory",  # the seed's "JVM Heap Memory"
    "Process Threads",  # the seed's "JVM Thread Count"
    "Persistence Queue p99 Latency",
    "Persistence Queue Lag",
    "Persistence Queue Errors",
]

_DATASOURCE = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"type": "string"}, "uid": {"type": "string"}},
}
_TARGET = {
    "type": "object",
    "required": ["refId", "expr", "datasource"],
    "properties": {
        "refId": {"type": "string", "pattern": "^[A-Z]$"},
        "expr": {"type": "string", "minLength": 1},
        "legendFormat": {"type": "string"},
        "datasource": _DATASOURCE,
    },
}
_GRID = {
    "type": "object",
    "required": ["h", "w", "x", "y"],
    "properties": {
        "h": {"type": "integer", "minimum": 1},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
    },
}
_THRESHOLDS = {
    "type": "object",
    "required": ["mode", "steps"],
    "properties": {
        "mode": {"enum": ["absolute", "percentage"]},
        "steps": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["color", "value"],
                "properties": {"value": {"type": ["number", "null"]}},
            },
        },
    },
}
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "time", "refresh"],
    "properties": {
        "id": {"type": "null"},  # provisioned dashboards get their id from Grafana
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 36, "maximum": 41},
        "tags": {"type": "array", "items": {"type": "string"}},
        "refresh": {"type": "string", "pattern": "^[0-9]+[smh]$"},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "type", "query", "datasource"],
                        "properties": {"datasource": _DATASOURCE},
                    },
                }
            },
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "type": {"enum": sorted(PANEL_TYPES)},
                    "title": {"type": "string", "minLength": 1},
                    "gridPos": _GRID,
                    "datasource": _DATASOURCE,
                    "targets": {"type": "array", "items": _TARGET},
                    "fieldConfig": {
                        "type": "object",
                        "required": ["defaults", "overrides"],
                        "properties": {
                            "defaults": {
                                "type": "object",
                                "properties": {
                                    "unit": {"enum": sorted(UNITS)},
                                    "thresholds": _THRESHOLDS,
                                },
                            }
                        },
                    },
                },
            },
        },
    },
}


def _provisioned_datasource() -> dict[str, Any]:
    document = shipped.load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    (datasource,) = document["datasources"]
    return dict(datasource)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_dashboards", GRAFANA / "build_dashboards.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_committed_dashboards_equal_the_generator_output() -> None:
    generator = _generator()
    built = generator.build()
    assert sorted(built) == sorted(shipped.dashboards())
    for name, model in built.items():
        assert (shipped.DASHBOARD_DIR / name).read_text() == generator.render(model), (
            f"{name} differs: run deploy/grafana/build_dashboards.py"
        )


@pytest.mark.parametrize("name", sorted(shipped.dashboards()))
def test_dashboard_is_a_grafana_model(name: str) -> None:
    model = shipped.dashboards()[name]
    jsonschema.validate(model, DASHBOARD_SCHEMA)
    ids = [panel["id"] for panel in model["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    for panel in model["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert refs, f"{panel['title']} has no query"
        assert len(refs) == len(set(refs)), panel["title"]
        steps = [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]
        assert steps[0] is None, panel["title"]  # the base step
        assert steps[1:] == sorted(steps[1:]), panel["title"]


def _rectangles_overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


@pytest.mark.parametrize("name", sorted(shipped.dashboards()))
def test_dashboard_panels_do_not_overlap(name: str) -> None:
    panels = shipped.dashboards()[name]["panels"]
    for first, second in combinations(panels, 2):
        assert not _rectangles_overlap(first["gridPos"], second["gridPos"]), (
            first["title"],
            second["title"],
        )


def _datasources(model: dict[str, Any]) -> list[dict[str, Any]]:
    found = [variable["datasource"] for variable in model["templating"]["list"]]
    for panel in model["panels"]:
        if "datasource" in panel:
            found.append(panel["datasource"])
        found.extend(target["datasource"] for target in panel.get("targets", []))
    return found


def test_every_datasource_reference_matches_the_provisioned_datasource() -> None:
    provisioned = _provisioned_datasource()
    for name, model in shipped.dashboards().items():
        for reference in _datasources(model):
            assert reference == {"type": provisioned["type"], "uid": provisioned["uid"]}, name


def test_uids_and_titles_are_unique_across_dashboards() -> None:
    models = list(shipped.dashboards().values())
    assert len({model["uid"] for model in models}) == len(models)
    assert len({model["title"] for model in models}) == len(models)


def test_every_variable_used_in_a_query_is_defined() -> None:
    for name, model in shipped.dashboards().items():
        defined = {variable["name"] for variable in model["templating"]["list"]}
        for panel in model["panels"]:
            for target in panel.get("targets", []):
                used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
                assert used <= defined, (name, panel["title"], used - defined)


def test_fast_path_dashboard_keeps_the_seeds_eleven_panels_and_layout() -> None:
    model = shipped.dashboards()["hft-fast-path.json"]
    assert model["uid"] == "hft-fast-path"
    assert model["title"] == "HFT Fast Path - Real-time Performance"
    assert set(model["tags"]) == {"HFT", "Fast Path", "Performance"}
    panels = model["panels"]
    assert [panel["title"] for panel in panels] == SEED_FAST_PATH_TITLES
    assert [panel["type"] for panel in panels][:3] == ["timeseries", "gauge", "timeseries"]
    widths = [panel["gridPos"]["w"] for panel in panels]
    assert widths == [12, 6, 6] + [12] * 8  # seed: 12/6/6, then pairs of 12
    assert {panel["gridPos"]["h"] for panel in panels} == {8}


def test_fast_path_latency_panels_use_histograms_not_stats_polled_gauges() -> None:
    # The seed's latency panels showed gauges updated only when someone polled /stats.
    model = shipped.dashboards()["hft-fast-path.json"]
    for panel in model["panels"]:
        for target in panel["targets"]:
            assert "_microseconds" not in target["expr"], panel["title"]
            if "Latency" in panel["title"]:
                assert "histogram_quantile(" in target["expr"], panel["title"]


def test_dashboard_provider_reads_the_directory_compose_mounts() -> None:
    provider = shipped.load_yaml(GRAFANA / "provisioning" / "dashboards" / "switchyard.yml")
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    assert entry["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = _provisioned_datasource()
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["uid"] == "prometheus"
