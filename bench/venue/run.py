"""`make bench-venue`: engine throughput and per-operation latency, ours next to PyPI peers.

Usage: python -m bench.venue.run [--ops 1000000] [--seed 1] [--engines a,b] [--repeat 3]
                                 [--out FILE]

The parent generates the workload once (bench/venue/workload.py), then measures each engine
in its own fresh subprocess (so one engine's heap and garbage collector cannot slow the
next), one after the other on the same core. Per engine: a throughput pass (one timed loop
over all operations, wall clock and process CPU time) and a latency pass on a fresh book
(perf_counter_ns around each operation, percentiles from an HDR histogram).

On a shared machine one run says little, so every engine is measured `--repeat` times, in
rounds, each round in a rotated order (no engine always runs first or right after another);
the table gives the median and the [min-max] range. CPU time is printed next to wall time:
when other jobs take the core, wall time charges their time to whichever engine was running.
Writes bench/results/venue-<UTC>.json (every run and the summary) and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENGINES = "ours,ours-handle,ours-nomd,akhil4n-orderbook,cython-orderbook"
DRAIN_EVERY = 1_024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default=DEFAULT_ENGINES)
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine (rounds)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--ops-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.ops_file)))
        return 0
    return orchestrate(args)


def orchestrate(args: argparse.Namespace) -> int:
    from .workload import generate

    started = time.perf_counter()
    ops = generate(args.ops, seed=args.seed)
    mix: dict[str, int] = {}
    for op in ops:
        mix[op.kind] = mix.get(op.kind, 0) + 1
    print(f"workload: {len(ops)} ops in {time.perf_counter() - started:.1f} s, mix {mix}")
    names = ["harness", *args.engines.split(",")]
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in names}
    with tempfile.NamedTemporaryFile(suffix=".pickle") as handle:
        pickle.dump(ops, handle)
        handle.flush()
        for round_index in range(args.repeat):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                command = [sys.executable, "-m", "bench.venue.run", "--child", name]
                command += ["--ops-file", handle.name]
                output = subprocess.run(
                    command, cwd=ROOT, check=True, capture_output=True, text=True, timeout=1_800
                ).stdout
                result = json.loads(output.strip().splitlines()[-1])
                runs[name].append(result)
                print(f"round {round_index + 1}/{args.repeat}  {_row(result)}", flush=True)
    results = [_summary(runs[name]) for name in names]
    print()
    print(f"{'median [min-max] of ' + str(args.repeat) + ' runs':<36} {'wall ops/s':>27}  "
          f"{'cpu ops/s':>27}  {'p50 us':>20}  {'p99 us':>20}  {'p99.9 us':>20}")  # fmt: skip
    for result in results:
        print(_summary_row(result))
    document = {
        "schema": "switchyard.bench-venue.v2",
        "command": "make bench-venue  (python -m bench.venue.run " + " ".join(sys.argv[1:]) + ")",
        "utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "ops": len(ops),
        "seed": args.seed,
        "repeat": args.repeat,
        "mix": mix,
        "engines": results,  # per engine: medians, and [min, max] ranges
        "runs": runs,  # every run of every engine, in the order measured within its engine
    }
    out = args.out or ROOT / "bench" / "results" / f"venue-{_stamp()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def measure(name: str, ops_file: Path) -> dict[str, object]:
    from .peers import ENGINES, Prepared

    with ops_file.open("rb") as handle:
        ops = pickle.load(handle)  # written by our own parent process

    def harness(ops: list[Any]) -> Prepared:
        return Prepared("harness (empty step)", "-", "loop cost", [(_noop, ())] * len(ops))

    factory = harness if name == "harness" else ENGINES[name]
    prepared = factory(ops)
    gc.collect()
    cpu_started = time.process_time()
    seconds = _throughput(prepared)
    cpu_seconds = time.process_time() - cpu_started
    latencies = _latency(factory(ops))
    histogram = HdrHistogram(1, 60_000_000_000, 3)
    for value in latencies:
        histogram.record_value(max(1, value))
    return {
        "engine": prepared.name,
        "version": prepared.version,
        "notes": prepared.notes,
        "ops": len(ops),
        "seconds": round(seconds, 4),
        "ops_per_s": round(len(ops) / seconds),
        "cpu_seconds": round(cpu_seconds, 4),
        "cpu_ops_per_s": round(len(ops) / cpu_seconds),
        "latency_us": {
            "p50": histogram.get_value_at_percentile(50) / 1_000,
            "p99": histogram.get_value_at_percentile(99) / 1_000,
            "p99.9": histogram.get_value_at_percentile(99.9) / 1_000,
            "max": histogram.get_max_value() / 1_000,
        },
    }


def _noop() -> None:
    return None


def _throughput(prepared: object) -> float:
    steps = prepared.steps  # type: ignore[attr-defined]
    drain = prepared.drain or _noop  # type: ignore[attr-defined]
    started = time.perf_counter()
    for index, (function, arguments) in enumerate(steps):
        function(*arguments)
        if not index % DRAIN_EVERY:
            drain()
    drain()
    return time.perf_counter() - started


def _latency(prepared: object) -> array[int]:
    steps = prepared.steps  # type: ignore[attr-defined]
    drain = prepared.drain or _noop  # type: ignore[attr-defined]
    clock = time.perf_counter_ns
    samples = array("q", bytes(8 * len(steps)))
    for index, (function, arguments) in enumerate(steps):
        begin = clock()
        function(*arguments)
        samples[index] = clock() - begin
        if not index % DRAIN_EVERY:
            drain()
    return samples


def _row(result: dict[str, object]) -> str:
    latency = result["latency_us"]
    assert isinstance(latency, dict)
    return (
        f"{result['engine']:<36} {result['ops_per_s']:>10,} ops/s  "
        f"(cpu {result['cpu_ops_per_s']:>10,})  "
        f"p50 {latency['p50']:>7.2f} us  p99 {latency['p99']:>7.2f} us  "
        f"p99.9 {latency['p99.9']:>8.2f} us"
    )


_SUMMARY_KEYS = ("ops_per_s", "cpu_ops_per_s")
_LATENCY_KEYS = ("p50", "p99", "p99.9", "max")


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each measure over an engine's runs, with its [min, max] range."""
    first = runs[0]
    summary: dict[str, Any] = {key: first[key] for key in ("engine", "version", "notes", "ops")}
    summary["runs"] = len(runs)
    for key in _SUMMARY_KEYS:
        values = [run[key] for run in runs]
        summary[key] = round(statistics.median(values))
        summary[key + "_range"] = [min(values), max(values)]
    latency: dict[str, Any] = {}
    for key in _LATENCY_KEYS:
        values = [run["latency_us"][key] for run in runs]
        latency[key] = statistics.median(values)
        latency[key + "_range"] = [min(values), max(values)]
    summary["latency_us"] = latency
    return summary


def _summary_row(summary: dict[str, Any]) -> str:
    def ops(key: str) -> str:
        low, high = summary[key + "_range"]
        return f"{summary[key]:>9,} [{low:>7,}-{high:>7,}]"

    def micros(key: str) -> str:
        latency = summary["latency_us"]
        low, high = latency[key + "_range"]
        return f"{latency[key]:>6.2f} [{low:>5.2f}-{high:>5.2f}]"

    return (
        f"{summary['engine']:<36} {ops('ops_per_s')}  {ops('cpu_ops_per_s')}  "
        f"{micros('p50')}  {micros('p99')}  {micros('p99.9')}"
    )


def _stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


if __name__ == "__main__":
    sys.exit(main())
