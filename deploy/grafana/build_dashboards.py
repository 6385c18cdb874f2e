"""Build the Grafana dashboards of deploy/grafana/dashboards/ from one description per panel.

    .venv/bin/python deploy/grafana/build_dashboards.py          # rewrite the JSON files
    .venv/bin/python deploy/grafana/build_dashboards.py --check  # exit 1 if they differ

The JSON files are what Grafana provisions; this script is how they are written, so that
every panel uses the same datasource uid, job selector and variables, and ids and layout
cannot drift. tests/deploy/test_grafana_dashboards.py checks that the committed files equal
the output, validates them as Grafana models, and a live Prometheus evaluates every query.

Queries use only names the processes export (docs/METRICS.md) and the recording rules of
deploy/prometheus/rules/recording.yml. `$instance` is a dashboard variable (all by default);
`$__rate_interval` is Grafana's (at least 4 scrape intervals).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # provisioning/datasources
SCHEMA_VERSION = 39  # Grafana 10.4 / 11.x
GRID_COLUMNS = 24

GW = 'job="switchyard-gateway", instance=~"$instance"'
BO = 'job="switchyard-backoffice", instance=~"$instance"'
OB = 'job="switchyard-outbox"'
VE = 'job="switchyard-venue"'
RI = "$__rate_interval"


@dataclass
class Target:
    expr: str
    legend: str = ""


@dataclass
class Panel:
    """One panel: what it shows; position and id are assigned by the layout."""

    title: str
    targets: list[Target]
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    description: str = ""
    thresholds: list[tuple[str, float | None]] = field(default_factory=list)
    decimals: int | None = None
    stack: bool = False


@dataclass
class Row:
    title: str


def q(expr: str, legend: str = "") -> Target:
    return Target(expr, legend)


def quantile(metric: str, selector: str, percentile: float) -> str:
    return (
        f"histogram_quantile({percentile}, sum by (instance, le) "
        f"(rate({metric}_bucket{{{selector}}}[{RI}])))"
    )


# --- the seed's 11 panels, with queries that measure what their titles say -------------------

FAST_PATH = [
    Panel(
        "Fast Path Process Latency (p99/p50)",
        [
            q(quantile("switchyard_fast_path_process_seconds", GW, 0.99), "p99 {{instance}}"),
            q(quantile("switchyard_fast_path_process_seconds", GW, 0.50), "p50 {{instance}}"),
        ],
        unit="s",
        thresholds=[("green", None), ("red", 0.0001)],
        description="Sequencer decision, apply and WAL append per order, from the "
        "switchyard_fast_path_process_seconds histogram (the seed's gauges moved only when "
        "someone polled /stats).",
    ),
    Panel(
        "Current p99 Latency",
        [q(quantile("switchyard_fast_path_process_seconds", GW, 0.99), "{{instance}}")],
        kind="gauge",
        unit="s",
        width=6,
        thresholds=[("green", None), ("yellow", 0.00008), ("red", 0.0001)],
        description="p99 of the fast path over the last rate interval (target under 100 us).",
    ),
    Panel(
        "Fast Path Throughput",
        [
            q(
                f"sum by (instance) "
                f'(rate(switchyard_orders_total{{{GW}, result="accepted"}}[{RI}]))',
                "accepted/s {{instance}}",
            )
        ],
        unit="reqps",
        width=6,
        description="Orders accepted per second (switchyard_orders_total{result=accepted}).",
    ),
    Panel(
        "Fast Path Total Events",
        [
            q(
                f'sum by (instance) (switchyard_orders_total{{{GW}, result="accepted"}})',
                "accepted {{instance}}",
            )
        ],
        description="Orders accepted since the process started (seed: fast_path_events_total).",
    ),
    Panel(
        "Fast Path Drops",
        [
            q(
                f'sum by (instance) (increase(switchyard_orders_total{{{GW}, result="capacity"}}'
                f"[{RI}]))",
                "503 capacity {{instance}}",
            ),
            q(
                f"sum by (instance, reason) "
                f"(increase(switchyard_backpressure_refusals_total{{{GW}}}[{RI}]))",
                "{{reason}} {{instance}}",
            ),
            q(
                f"sum by (instance, status) "
                f"(increase(switchyard_http_refused_total{{{GW}}}[{RI}]))",
                "HTTP {{status}} {{instance}}",
            ),
        ],
        thresholds=[("green", None), ("red", 1)],
        description="Requests refused before they reached the sequencer. Switchyard never "
        "drops an order silently: each refusal is an explicit 4xx/5xx (seed: "
        "fast_path_drops_total).",
    ),
    Panel(
        "Fast Path Lag",
        [
            q(
                f"max by (instance) (switchyard_wal_oldest_pending_age_seconds{{{GW}}})",
                "oldest non-durable record {{instance}}",
            )
        ],
        unit="s",
        description="How far durability lags behind acceptance: the age of the oldest "
        "accepted record not yet fsynced (the seed's fast_path_lag was never set).",
    ),
    Panel(
        "Process Memory",
        [
            q(f"process_resident_memory_bytes{{{GW}}}", "resident {{instance}}"),
            q(f"process_virtual_memory_bytes{{{GW}}}", "virtual {{instance}}"),
        ],
        unit="decbytes",
        description="The seed's JVM Heap Memory panel: a Python process has no heap limit, so "
        "resident and virtual size (process_* collector).",
    ),
    Panel(
        "Process Threads",
        [q(f"process_threads{{{GW}}}", "{{instance}}")],
        description="The seed's JVM Thread Count: OS threads of the gateway process (the WAL "
        "writer is a separate process).",
    ),
    Panel(
        "Persistence Queue p99 Latency",
        [
            q(quantile("switchyard_wal_fsync_seconds", GW, 0.99), "fdatasync p99 {{instance}}"),
            q(
                quantile("switchyard_durable_ack_latency_seconds", GW, 0.99),
                "durable ACK p99 {{instance}}",
            ),
        ],
        unit="s",
        thresholds=[("green", None), ("red", 0.005)],
        description="The WAL is the persistence queue: one fdatasync per group-commit batch, "
        "and request-to-durable latency (objective p99 <= 5 ms).",
    ),
    Panel(
        "Persistence Queue Lag",
        [
            q(
                f"switchyard_wal_undurable_records{{{GW}}}",
                "records waiting for fsync {{instance}}",
            ),
            q(
                f"switchyard_wal_appended_seq{{{GW}}} - switchyard_wal_durable_seq{{{GW}}}",
                "appended - durable seq {{instance}}",
            ),
        ],
        description="Records appended to the WAL and not yet durable.",
    ),
    Panel(
        "Persistence Queue Errors",
        [
            q(f"switchyard_wal_disk_full{{{GW}}}", "waiting for disk space {{instance}}"),
            q(
                f"1 - up{{{GW}}}",
                "down {{instance}}",
            ),
        ],
        thresholds=[("green", None), ("red", 1)],
        description="A WAL write or fdatasync error stops the gateway (fail-stop): it shows "
        "as the target going down. ENOSPC makes the WAL wait for space instead.",
    ),
]


# --- gateway operations ----------------------------------------------------------------------

GATEWAY_OPS: list[Panel | Row] = [
    Row("Orders and latency"),
    Panel(
        "HTTP requests",
        [
            q(
                f"sum by (instance) (rate(switchyard_http_requests_total{{{GW}}}[{RI}]))",
                "all {{instance}}",
            ),
            q(
                f"sum by (instance) (rate(switchyard_auth_refused_total{{{GW}}}[{RI}]))",
                "401 {{instance}}",
            ),
        ],
        unit="reqps",
        width=8,
    ),
    Panel(
        "Order submissions by result",
        [
            q(
                f"sum by (result) (rate(switchyard_orders_total{{{GW}}}[{RI}]))",
                "{{result}}",
            )
        ],
        unit="ops",
        width=8,
        stack=True,
    ),
    Panel(
        "Open orders",
        [q(f"switchyard_orders_open{{{GW}}}", "{{instance}}")],
        width=8,
    ),
    Panel(
        "Fast ACK latency",
        [
            q(quantile("switchyard_ack_latency_seconds", GW, 0.5), "p50 {{instance}}"),
            q(quantile("switchyard_ack_latency_seconds", GW, 0.99), "p99 {{instance}}"),
            q(quantile("switchyard_ack_latency_seconds", GW, 0.999), "p99.9 {{instance}}"),
        ],
        unit="s",
        width=8,
        thresholds=[("green", None), ("red", 0.001)],
        description="Request complete to the 202 (objective p99 <= 1 ms).",
    ),
    Panel(
        "Durable ACK latency",
        [
            q(quantile("switchyard_durable_ack_latency_seconds", GW, 0.5), "p50 {{instance}}"),
            q(quantile("switchyard_durable_ack_latency_seconds", GW, 0.99), "p99 {{instance}}"),
            q(quantile("switchyard_durable_ack_latency_seconds", GW, 0.999), "p99.9 {{instance}}"),
        ],
        unit="s",
        width=8,
        thresholds=[("green", None), ("red", 0.005)],
        description="Request complete to its accept record durable (objective p99 <= 5 ms).",
    ),
    Panel(
        "Error budget burn rate (1 = on budget)",
        [
            q(
                f"instance:switchyard_fast_ack_slow:ratio_rate5m{{{GW}}} / 0.01",
                "fast ACK {{instance}}",
            ),
            q(
                f"instance:switchyard_durable_ack_slow:ratio_rate5m{{{GW}}} / 0.01",
                "durable ACK {{instance}}",
            ),
            q(f"instance:switchyard_errors:ratio_rate5m{{{GW}}} / 0.0001", "errors {{instance}}"),
            q(f"instance:switchyard_shed:ratio_rate5m{{{GW}}} / 0.0001", "shed {{instance}}"),
        ],
        width=8,
        thresholds=[("green", None), ("orange", 6), ("red", 14.4)],
        description="5-minute burn rates from the recording rules; the page threshold is 14.4 "
        "(with the 1-hour window above it too).",
    ),
    Row("Durability (WAL)"),
    Panel(
        "fdatasync",
        [
            q(quantile("switchyard_wal_fsync_seconds", GW, 0.5), "p50 {{instance}}"),
            q(quantile("switchyard_wal_fsync_seconds", GW, 0.99), "p99 {{instance}}"),
        ],
        unit="s",
        width=8,
    ),
    Panel(
        "Group commit: records per fdatasync",
        [
            q(
                f"rate(switchyard_wal_synced_records_total{{{GW}}}[{RI}]) "
                f"/ rate(switchyard_wal_syncs_total{{{GW}}}[{RI}])",
                "mean {{instance}}",
            ),
            q(f"switchyard_wal_batch_records_max{{{GW}}}", "max since start {{instance}}"),
        ],
        width=8,
    ),
    Panel(
        "WAL write rate",
        [q(f"rate(switchyard_wal_bytes_total{{{GW}}}[{RI}])", "{{instance}}")],
        unit="Bps",
        width=8,
    ),
    Panel(
        "Oldest non-durable record",
        [q(f"switchyard_wal_oldest_pending_age_seconds{{{GW}}}", "{{instance}}")],
        unit="s",
        width=8,
        thresholds=[("green", None), ("red", 1)],
    ),
    Panel(
        "WAL disk free",
        [q(f"switchyard_backpressure_disk_free_percent{{{GW}}}", "{{instance}}")],
        unit="percent",
        width=8,
        thresholds=[("red", None), ("orange", 5), ("green", 15)],
        description="Free space of the WAL's filesystem as backpressure polls it "
        "(BACKPRESSURE_DISK_FREE_PCT_MIN refuses orders below its value).",
    ),
    Panel(
        "Durable sequence",
        [
            q(f"switchyard_wal_durable_seq{{{GW}}}", "durable {{instance}}"),
            q(f"switchyard_wal_appended_seq{{{GW}}}", "appended {{instance}}"),
        ],
        width=8,
    ),
    Row("Backpressure and refusals"),
    Panel(
        "Shed ratio",
        [q(f"instance:switchyard_shed:ratio_rate5m{{{GW}}}", "{{instance}}")],
        unit="percentunit",
        width=8,
        description="Submissions refused for capacity (backpressure, open-order bound, "
        "connection cap) over 5 minutes; the objective at the SLO rate is 0.01%.",
    ),
    Panel(
        "Refusals by reason",
        [
            q(
                f"sum by (instance, reason) "
                f"(rate(switchyard_backpressure_refusals_total{{{GW}}}[{RI}]))",
                "{{reason}} {{instance}}",
            ),
            q(
                f"sum by (instance) "
                f'(rate(switchyard_orders_total{{{GW}, result="capacity"}}[{RI}]))',
                "CAPACITY_EXCEEDED {{instance}}",
            ),
            q(
                f"rate(switchyard_http_connections_refused_total{{{GW}}}[{RI}])",
                "TOO_MANY_CONNECTIONS {{instance}}",
            ),
            q(
                f"sum by (instance, status) (rate(switchyard_http_refused_total{{{GW}}}[{RI}]))",
                "HTTP {{status}} {{instance}}",
            ),
        ],
        unit="ops",
        width=8,
    ),
    Panel(
        "Deny ratio (risk)",
        [q(f"instance:switchyard_denied:ratio_rate5m{{{GW}}}", "{{instance}}")],
        unit="percentunit",
        width=8,
    ),
    Panel(
        "Inflight orders and limit",
        [
            q(f"switchyard_backpressure_inflight_orders{{{GW}}}", "inflight {{instance}}"),
            q(f"switchyard_backpressure_inflight_limit{{{GW}}}", "limit {{instance}}"),
        ],
        width=8,
        description="Accepted orders not yet durable, and the limit in force (adaptive when "
        "BACKPRESSURE_INFLIGHT_DYNAMIC=1; 0 = no limit).",
    ),
    Panel(
        "Durable commit rate (controller)",
        [
            q(
                f"switchyard_backpressure_commit_rate_per_second{{{GW}}}",
                "durable/s {{instance}}",
            ),
            q(
                f"switchyard_backpressure_soft_refusal_rate_per_second{{{GW}}}",
                "soft refusals/s {{instance}}",
            ),
        ],
        width=8,
    ),
    Panel(
        "Shedding",
        [
            q(f"switchyard_backpressure_shedding{{{GW}}}", "shedding {{instance}}"),
            q(f"switchyard_backpressure_rate_declining{{{GW}}}", "rate declining {{instance}}"),
            q(f"switchyard_kill_switch_global{{{GW}}}", "kill switch {{instance}}"),
        ],
        width=8,
    ),
    Row("Outbox (Kafka)"),
    Panel(
        "Outbox lag",
        [
            q(f"switchyard_outbox_lag_seconds{{{OB}}}", "seconds {{instance}}"),
        ],
        unit="s",
        width=8,
        thresholds=[("green", None), ("orange", 10), ("red", 60)],
    ),
    Panel(
        "Outbox backlog",
        [
            q(f"switchyard_outbox_lag_records{{{OB}}}", "durable, not acknowledged {{instance}}"),
            q(f"switchyard_outbox_inflight_records{{{OB}}}", "in flight {{instance}}"),
        ],
        width=8,
    ),
    Panel(
        "Outbox publishing",
        [
            q(
                f"rate(gateway_outbox_events_published_total{{{OB}}}[{RI}])",
                "acknowledged/s {{instance}}",
            ),
            q(
                f"rate(gateway_kafka_delivery_err_total{{{OB}}}[{RI}])",
                "delivery errors/s {{instance}}",
            ),
            q(f"switchyard_outbox_state{{{OB}}} == 1", "state {{state}} {{instance}}"),
        ],
        width=8,
    ),
    Row("Streams (SSE)"),
    Panel(
        "SSE subscribers",
        [q(f"switchyard_sse_subscribers{{{GW}}}", "{{instance}}")],
        width=8,
    ),
    Panel(
        "SSE events",
        [
            q(f"rate(switchyard_sse_published_total{{{GW}}}[{RI}])", "published {{instance}}"),
            q(
                f"rate(switchyard_sse_resumed_from_disk_total{{{GW}}}[{RI}])",
                "resumed from WAL {{instance}}",
            ),
        ],
        unit="ops",
        width=8,
    ),
    Panel(
        "SSE subscribers dropped or refused",
        [
            q(
                f"increase(switchyard_sse_dropped_slow_total{{{GW}}}[{RI}])",
                "dropped slow {{instance}}",
            ),
            q(f"increase(switchyard_sse_refused_total{{{GW}}}[{RI}])", "refused {{instance}}"),
        ],
        width=8,
    ),
    Row("Venue"),
    Panel(
        "Venue connection and queue",
        [
            q(f"switchyard_venue_up{{{GW}}}", "connected {{instance}}"),
            q(f"switchyard_venue_queue_depth{{{GW}}}", "queued {{instance}}"),
        ],
        width=8,
    ),
    Panel(
        "Venue traffic (gateway side)",
        [
            q(
                f"rate(switchyard_venue_orders_sent_total{{{GW}}}[{RI}])",
                "orders sent {{instance}}",
            ),
            q(
                f"rate(switchyard_venue_reports_received_total{{{GW}}}[{RI}])",
                "reports {{instance}}",
            ),
        ],
        unit="ops",
        width=8,
    ),
    Panel(
        "Stand-alone venue",
        [
            q(
                f"sum by (instance, type) (rate(switchyard_venue_requests_total{{{VE}}}[{RI}]))",
                "{{type}}",
            ),
            q(f"sum by (instance) (rate(switchyard_venue_trades_total{{{VE}}}[{RI}]))", "trades"),
            q(f"switchyard_venue_orders_resting{{{VE}}}", "resting orders"),
        ],
        width=8,
        description="`switchyard venue` (EXCHANGE_TRANSPORT=tcp); empty with the in-process venue.",
    ),
    Row("Strategy"),
    Panel(
        "Strategy state",
        [
            q(f"switchyard_strategy_running{{{GW}}}", "running {{instance}}"),
            q(f"switchyard_strategy_enabled{{{GW}}}", "enabled {{instance}}"),
            q(f"switchyard_strategy_storage_healthy{{{GW}}}", "storage healthy {{instance}}"),
        ],
        width=8,
    ),
    Panel(
        "Strategy decisions",
        [
            q(
                f"sum by (reason) (rate(switchyard_strategy_decisions_total{{{GW}}}[{RI}]))",
                "{{reason}}",
            )
        ],
        unit="ops",
        width=8,
    ),
    Panel(
        "Strategy orders",
        [
            q(
                f"sum by (outcome) (rate(switchyard_strategy_orders_total{{{GW}}}[{RI}]))",
                "{{outcome}}",
            ),
            q(f"switchyard_strategy_live_orders{{{GW}}}", "live {{instance}}"),
        ],
        width=8,
    ),
    Row("Process"),
    Panel(
        "CPU",
        [q(f"rate(process_cpu_seconds_total{{{GW}}}[{RI}])", "{{instance}}")],
        unit="percentunit",
        width=8,
        description="Seconds of CPU per second of the gateway process (1 = one core).",
    ),
    Panel(
        "Resident memory",
        [q(f"process_resident_memory_bytes{{{GW}}}", "{{instance}}")],
        unit="decbytes",
        width=8,
    ),
    Panel(
        "Python GC collections",
        [
            q(
                f"sum by (instance, generation) (rate(python_gc_collections_total{{{GW}}}[{RI}]))",
                "gen {{generation}} {{instance}}",
            )
        ],
        unit="ops",
        width=8,
    ),
]


# --- back office -----------------------------------------------------------------------------

BACKOFFICE: list[Panel | Row] = [
    Panel(
        "Back office up",
        [
            q(f"up{{{BO}}}", "scraped {{instance}}"),
            q(f"switchyard_backoffice_up{{{BO}}}", "apply loop {{instance}}"),
        ],
        kind="stat",
        width=6,
        thresholds=[("red", None), ("green", 1)],
    ),
    Panel(
        "Events by outcome",
        [
            q(
                f"sum by (outcome) (rate(switchyard_backoffice_events_total{{{BO}}}[{RI}]))",
                "{{outcome}}",
            )
        ],
        unit="ops",
        width=18,
        stack=True,
    ),
    Panel(
        "Lag behind the source",
        [
            q(f"switchyard_backoffice_lag_seconds{{{BO}}}", "seconds {{instance}}"),
        ],
        unit="s",
        width=8,
        thresholds=[("green", None), ("red", 30)],
    ),
    Panel(
        "Backlog",
        [
            q(f"switchyard_backoffice_lag_records{{{BO}}}", "not yet applied {{instance}}"),
            q(f"switchyard_backoffice_parked_events{{{BO}}}", "parked {{instance}}"),
            q(f"switchyard_backoffice_quarantined_events{{{BO}}}", "quarantined {{instance}}"),
        ],
        width=8,
        thresholds=[("green", None), ("red", 1)],
        description="Quarantined events could not be applied: the books disagree with the "
        "stream for those accounts (a money incident; see GET /reconcile).",
    ),
    Panel(
        "Applied through seq vs gateway durable seq",
        [
            q(f"switchyard_backoffice_applied_through_seq{{{BO}}}", "applied {{source}}"),
            q(
                'max by (instance) (switchyard_wal_durable_seq{job="switchyard-gateway"})',
                "gateway durable {{instance}}",
            ),
        ],
        width=8,
    ),
    Panel(
        "Database transactions",
        [
            q(f"rate(switchyard_backoffice_batches_total{{{BO}}}[{RI}])", "batches/s {{instance}}"),
            q(
                f"rate(switchyard_backoffice_db_errors_total{{{BO}}}[{RI}])",
                "failed/s {{instance}}",
            ),
        ],
        unit="ops",
        width=12,
    ),
    Panel(
        "Mean batch apply time",
        [
            q(
                f"rate(switchyard_backoffice_batch_seconds_total{{{BO}}}[{RI}]) "
                f"/ rate(switchyard_backoffice_batches_total{{{BO}}}[{RI}])",
                "{{instance}}",
            )
        ],
        unit="s",
        width=12,
    ),
]


# --- assembly --------------------------------------------------------------------------------


def _thresholds(steps: list[tuple[str, float | None]]) -> dict[str, Any]:
    steps = steps or [("green", None)]
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, "thresholds": _thresholds(panel.thresholds)}
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    options: dict[str, Any]
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": True,
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
            "thresholdsStyle": {"mode": "line" if panel.thresholds else "off"},
        }
        defaults["color"] = {"mode": "palette-classic"}
        options = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:  # gauge, stat
        defaults["color"] = {"mode": "thresholds"}
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showThresholdLabels": False,
            "showThresholdMarkers": True,
        }
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "editorMode": "code",
                "expr": target.expr,
                "legendFormat": target.legend or "__auto",
                "range": True,
            }
            for index, target in enumerate(panel.targets)
        ],
    }


def _layout(items: list[Panel | Row]) -> list[dict[str, Any]]:
    """Flow panels left to right in 24 columns; a Row starts a new line."""
    out: list[dict[str, Any]] = []
    x = y = 0
    row_height = 0
    for panel_id, item in enumerate(items, start=1):
        if isinstance(item, Row):
            y += row_height
            x, row_height = 0, 0
            out.append(
                {
                    "id": panel_id,
                    "type": "row",
                    "title": item.title,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": y},
                    "panels": [],
                }
            )
            y += 1
            continue
        if x + item.width > GRID_COLUMNS:
            y += row_height
            x, row_height = 0, 0
        out.append(_panel_json(item, panel_id, x, y))
        x += item.width
        row_height = max(row_height, item.height)
    return out


def _instance_variable(job: str) -> dict[str, Any]:
    query = f'label_values(up{{job="{job}"}}, instance)'
    return {
        "name": "instance",
        "label": "instance",
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": "instance"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
        "options": [],
    }


def dashboard(
    *,
    uid: str,
    title: str,
    tags: list[str],
    items: list[Panel | Row],
    job: str,
    refresh: str,
    description: str,
) -> dict[str, Any]:
    """A complete Grafana dashboard model (schemaVersion SCHEMA_VERSION)."""
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": tags,
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": refresh,
        "time": {"from": "now-15m", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": [_instance_variable(job)]},
        "panels": _layout(items),
    }


def build() -> dict[str, dict[str, Any]]:
    """File name -> dashboard model."""
    return {
        "hft-fast-path.json": dashboard(
            uid="hft-fast-path",
            title="HFT Fast Path - Real-time Performance",
            tags=["HFT", "Fast Path", "Performance"],
            items=list(FAST_PATH),
            job="switchyard-gateway",
            refresh="5s",
            description="The seed's 11 panels, measured from histograms and counters that move "
            "at every scrape.",
        ),
        "gateway-operations.json": dashboard(
            uid="switchyard-gateway-ops",
            title="Switchyard Gateway - Operations",
            tags=["switchyard", "gateway"],
            items=GATEWAY_OPS,
            job="switchyard-gateway",
            refresh="5s",
            description="Orders, SLO burn, durability, refusals, outbox, SSE, venue, process.",
        ),
        "backoffice.json": dashboard(
            uid="switchyard-backoffice",
            title="Switchyard Back Office",
            tags=["switchyard", "backoffice"],
            items=BACKOFFICE,
            job="switchyard-backoffice",
            refresh="10s",
            description="Apply loop, lag, backlog and integrity of the ledger.",
        ),
    }


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    OUT_DIR.mkdir(exist_ok=True)
    for name, model in build().items():
        path = OUT_DIR / name
        text = render(model)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        sys.stderr.write(f"out of date: {', '.join(stale)} (run {Path(__file__).name})\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
