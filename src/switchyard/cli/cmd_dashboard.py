"""`switchyard dashboard`: a live terminal view of a running gateway (Ctrl+C to quit).

    switchyard dashboard [--url http://127.0.0.1:8080] [--backoffice-url URL]
                         [--interval 1.0] [--once]

Polls the gateway's GET /stats and GET /health (and the back office's /health when given)
every interval and redraws one screen with `rich`: health and its checks, order rates
(differences of the counters between two polls), latency percentiles from the gateway's HDR
recorders (since start, as /stats reports them), the WAL, backpressure and the venue. An
unreachable process is shown as such and polled again; nothing here changes any state.
`--once` prints one frame and exits (1 if the gateway did not answer). Owns only the view.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

DEFAULT_URL: Final = "http://127.0.0.1:8080"
REQUEST_TIMEOUT_S: Final = 2.0
INTERVAL_MIN_S: Final = 0.2

# (label, /stats prefix, p99 objective in microseconds from docs/specs/slo.md, or None)
LATENCIES: Final = (
    ("fast ACK", "gateway_ack", 1_000.0),
    ("durable ACK", "gateway_durable_ack", 5_000.0),
    ("WAL enqueue", "gateway_wal_enqueue", None),
    ("fast path", "fast_path_process", None),
    ("fdatasync", "gateway_fdatasync", 5_000.0),
)
PERCENTILES: Final = ("p50", "p90", "p99", "p999", "max")
HEALTH_STYLE: Final = {"healthy": "bold green", "degraded": "bold yellow", "unhealthy": "bold red"}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One poll: what each endpoint answered (None if it did not), and when (monotonic s)."""

    at_s: float
    stats: dict[str, Any] | None
    health: dict[str, Any] | None
    backoffice: dict[str, Any] | None
    error: str = ""


def fetch_json(url: str) -> dict[str, Any]:
    """GET a JSON object; a 503 from /health still carries its body."""
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310
            body = response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return value


def poll(url: str, backoffice_url: str | None) -> Snapshot:
    """Ask the gateway (and the back office) once."""
    stats: dict[str, Any] | None = None
    health: dict[str, Any] | None = None
    backoffice: dict[str, Any] | None = None
    error = ""
    try:
        stats = fetch_json(f"{url}/stats")
        health = fetch_json(f"{url}/health")
    except (OSError, ValueError) as problem:
        error = f"{url}: {problem}"
    if backoffice_url:
        try:
            backoffice = fetch_json(f"{backoffice_url}/health")
        except (OSError, ValueError) as problem:
            backoffice = {"status": "unreachable", "error": str(problem)}
    return Snapshot(time.monotonic(), stats, health, backoffice, error)


def _rate(now: Snapshot, before: Snapshot | None, path: tuple[str, ...]) -> float | None:
    """Per-second change of a counter between two polls."""
    if before is None or now.stats is None or before.stats is None:
        return None
    elapsed = now.at_s - before.at_s
    if elapsed <= 0:
        return None
    current: Any = now.stats
    previous: Any = before.stats
    for key in path:
        current = current.get(key, 0) if isinstance(current, dict) else 0
        previous = previous.get(key, 0) if isinstance(previous, dict) else 0
    return max(0.0, (float(current) - float(previous)) / elapsed)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}{unit}"
    return f"{value:.1f}{unit}" if value != int(value) else f"{int(value)}{unit}"


def _header(now: Snapshot) -> RenderableType:
    if now.health is None or now.stats is None:
        return Text(f"gateway unreachable: {now.error}   (retrying)", style="bold red")
    status = str(now.health.get("status", "?"))
    text = Text()
    text.append(f"{status.upper()}", style=HEALTH_STYLE.get(status, "bold"))
    text.append(f"   engine {now.health.get('engineId', '?')}")
    text.append(f"   version {now.health.get('version', '?')}")
    text.append(f"   up {now.health.get('uptime_human', '?')}")
    if now.backoffice is not None:
        bo_status = str(now.backoffice.get("status", "?"))
        text.append("   back office ")
        text.append(bo_status, style=HEALTH_STYLE.get(bo_status, "bold red"))
    return text


def _orders(now: Snapshot, before: Snapshot | None) -> Table:
    stats = now.stats or {}
    table = Table(title="Orders", expand=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("accepted / s", _number(_rate(now, before, ("orders", "accepted")))),
        ("denied / s", _number(_rate(now, before, ("orders", "denied")))),
        ("capacity 503 / s", _number(_rate(now, before, ("orders", "capacity")))),
        ("HTTP requests / s", _number(_rate(now, before, ("http_requests",)))),
        ("accepted (total)", _number(stats.get("orders", {}).get("accepted"))),
        ("open orders", _number(stats.get("orders_open"))),
        ("not yet durable", _number(stats.get("inflight"))),
        ("SSE subscribers", _number(stats.get("sse_subscribers"))),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def _latencies(now: Snapshot) -> Table:
    stats = now.stats or {}
    table = Table(title="Latency since start (us, HDR)", expand=True)
    table.add_column("path")
    for name in PERCENTILES:
        table.add_column(name, justify="right")
    table.add_column("count", justify="right")
    for label, prefix, objective in LATENCIES:
        cells = []
        for name in PERCENTILES:
            value = stats.get(f"{prefix}_{name}_us")
            style = ""
            if name == "p99" and objective is not None and value is not None:
                style = "red" if value > objective else "green"
            cells.append(Text(_number(value), style=style))
        table.add_row(label, *cells, _number(stats.get(f"{prefix}_count")))
    return table


def _durability(now: Snapshot) -> Table:
    stats = now.stats or {}
    backpressure = stats.get("backpressure", {})
    table = Table(title="WAL, backpressure, venue", expand=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    venue = "connected" if stats.get("venue_up") else "DOWN"
    rows = [
        ("durable / appended seq", f"{stats.get('wal_durable_seq', '-')} / "
                                   f"{stats.get('wal_appended_seq', '-')}"),
        ("oldest non-durable (ms)", _number(stats.get("wal_age_ms"))),
        ("pending bytes", _number(stats.get("wal_pending_bytes"))),
        ("records per fdatasync", _number(stats.get("wal_batch_mean_records"))),
        ("disk free (%)", _number(backpressure.get("diskFreePct"))),
        ("shedding", "yes" if backpressure.get("shedding") else "no"),
        ("refused by backpressure", _number(backpressure.get("refusedTotal"))),
        ("venue", f"{venue}, queue {stats.get('venue_queue_depth', '-')}"),
    ]  # fmt: skip
    for label, value in rows:
        table.add_row(label, value)
    return table


def _checks(now: Snapshot) -> Table:
    table = Table(title="/health checks", expand=True)
    table.add_column("check")
    table.add_column("status")
    table.add_column("reason")
    for name, check in sorted(((now.health or {}).get("checks") or {}).items()):
        status = str(check.get("status", "?"))
        table.add_row(
            name, Text(status, style=HEALTH_STYLE.get(status, "")), check.get("reason", "")
        )
    return table


def render(now: Snapshot, before: Snapshot | None, url: str) -> RenderableType:
    """One screen (pure: the same snapshots give the same screen)."""
    if now.stats is None:
        return Panel(_header(now), title=f"Switchyard {url}", subtitle="Ctrl+C to quit")
    grid = Table.grid(expand=True)
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(_orders(now, before), _durability(now))
    body = Group(_header(now), grid, _latencies(now), _checks(now))
    return Panel(body, title=f"Switchyard {url}", subtitle="Ctrl+C to quit")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="live terminal dashboard of a running gateway (Ctrl+C to quit)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"gateway (default {DEFAULT_URL})")
    parser.add_argument("--backoffice-url", default=None, help="also show the back office")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    url = args.url.rstrip("/")
    backoffice_url = args.backoffice_url.rstrip("/") if args.backoffice_url else None
    interval = max(INTERVAL_MIN_S, float(args.interval))
    console = Console()
    if args.once:
        first = poll(url, backoffice_url)
        time.sleep(min(interval, 1.0))
        second = poll(url, backoffice_url)
        console.print(render(second, first, url))
        return 0 if second.stats is not None else 1
    before: Snapshot | None = None
    try:
        with Live(console=console, refresh_per_second=4, screen=console.is_terminal) as live:
            while True:
                now = poll(url, backoffice_url)
                live.update(render(now, before, url))
                before = now if now.stats is not None else before
                time.sleep(interval)
    except KeyboardInterrupt:
        pass  # Ctrl+C is how this view ends
    sys.stdout.flush()
    return 0
