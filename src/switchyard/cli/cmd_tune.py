"""`switchyard tune --in FILE`: backpressure and group-commit advice from measured runs.

Reads bench/canary results (`--in`, repeatable) and optionally a server snapshot
(`--metrics` Prometheus text, `--stats` /stats JSON, or `--url` to fetch both live); the
gateway's current settings come from `--set NAME=VALUE` / `--env-file` (default: the declared
defaults). Prints a table; `--out` writes CSV (the seed's columns), `--summary` Markdown.
Exit 0, or 1 with `--fail-on-critical` when a CRITICAL recommendation exists; 2 on bad input.
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path

from switchyard.sre import documents, observations, serverside, tune
from switchyard.sre.httpclient import Target


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "tune", help="recommend WAL batch/wait, inflight and buffer settings", description=__doc__
    )
    parser.add_argument(
        "--in",
        dest="inputs",
        type=Path,
        action="append",
        default=[],
        help="bench or canary result (repeatable)",
    )
    parser.add_argument("--metrics", type=Path, help="a /metrics snapshot (Prometheus text)")
    parser.add_argument("--stats", type=Path, help="a /stats snapshot (JSON)")
    parser.add_argument("--url", help="fetch /metrics and /stats from a live gateway")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a current gateway setting (repeatable)",
    )
    parser.add_argument("--env-file", type=Path, help="current settings as NAME=VALUE lines")
    parser.add_argument("--out", type=Path, help="write recommendations as CSV")
    parser.add_argument("--summary", type=Path, help="write recommendations as Markdown")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--fail-on-critical", action="store_true")
    parser.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> dict[str, str]:
    pairs = list(args.settings)
    if args.env_file:
        pairs += [
            line.removeprefix("export ").strip()
            for line in args.env_file.read_text(encoding="utf-8").splitlines()
            if "=" in line and not line.lstrip().startswith("#")
        ]
    overrides = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if not name.strip() or not value.strip():
            raise ValueError(f"setting {pair!r} is not NAME=VALUE")
        overrides[name.strip()] = value.strip().strip("'\"")
    return tune.current_settings(overrides)


def _snapshot(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, int]]:
    found: dict[str, float] = {}
    refusals: dict[str, int] = {}
    metrics_text = args.metrics.read_text(encoding="utf-8") if args.metrics else None
    stats = json.loads(args.stats.read_text(encoding="utf-8")) if args.stats else None
    if args.url:
        target = Target.from_url(args.url)
        metrics_text = asyncio.run(serverside.get_text(target, "/metrics")) or metrics_text
        stats = asyncio.run(serverside.get_json(target, "/stats"))
    if metrics_text:
        found, refusals = observations.observe_metrics(metrics_text)
    if isinstance(stats, dict):
        found.update(observations.observe_stats(stats))
    return found, refusals


def run(args: argparse.Namespace) -> int:
    if not args.inputs and not (args.metrics or args.stats or args.url):
        sys.stderr.write("switchyard tune: give --in FILE and/or --metrics/--stats/--url\n")
        return 2
    try:
        settings = _settings(args)
        found, refusals = _snapshot(args)
        runs = [observations.from_document(documents.read_document(p), str(p)) for p in args.inputs]
    except (OSError, ValueError, documents.DocumentError) as error:
        sys.stderr.write(f"switchyard tune: {error}\n")
        return 2
    if not runs:
        runs = [observations.Observations(source=["snapshot"], kind="snapshot")]
    recommendations: list[tune.Recommendation] = []
    for obs in runs:
        obs.stats.update(found)
        for code, count in refusals.items():
            obs.errors_by_code.setdefault(code, count)
        recommendations += [r for r in tune.recommend(obs, settings) if r not in recommendations]
    recommendations.sort(key=lambda r: tune.PRIORITIES.index(r.priority))
    sources = [source for obs in runs for source in obs.source]
    _emit(args, recommendations, sources)
    critical = any(r.priority == "CRITICAL" for r in recommendations)
    return 1 if critical and args.fail_on_critical else 0


def _emit(
    args: argparse.Namespace, recommendations: list[tune.Recommendation], sources: list[str]
) -> None:
    if args.json:
        rows = [
            dict(
                zip(
                    ("priority", "parameter", "current", "recommended", "reason"),
                    r.row(),
                    strict=True,
                )
            )
            for r in recommendations
        ]
        sys.stdout.write(json.dumps({"sources": sources, "recommendations": rows}, indent=2) + "\n")
    else:
        sys.stdout.write(tune.markdown(recommendations, sources))
    if args.out:
        args.out.write_text(tune.csv_text(recommendations), encoding="utf-8")
    if args.summary:
        args.summary.write_text(tune.markdown(recommendations, sources), encoding="utf-8")
