"""`make bench-venue`: engine throughput and per-operation latency, ours next to PyPI peers.

Usage: python -m bench.venue.run [--ops 1000000] [--seed 1] [--engines a,b] [--out FILE]

The parent generates the workload once (bench/venue/workload.py), then measures each engine
in its own fresh subprocess (so one engine's heap and garbage collector cannot slow the
next), one after the other on the same core. Per engine: a throughput pass (one timed loop
over all operations) and a latency pass on a fresh book (perf_counter_ns around each
operation, percentiles from an HDR histogram). Writes bench/results/venue-<UTC>.json and
prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENGINES = "ours,ours-nomd,akhil4n-orderbook,cython-orderbook"
DRAIN_EVERY = 1_024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default=DEFAULT_ENGINES)
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
    results = []
    with tempfile.NamedTemporaryFile(suffix=".pickle") as handle:
        pickle.dump(ops, handle)
        handle.flush()
        for name in ["harness", *args.engines.split(",")]:
            command = [sys.executable, "-m", "bench.venue.run", "--child", name]
            command += ["--ops-file", handle.name]
            output = subprocess.run(
                command, cwd=ROOT, check=True, capture_output=True, text=True, timeout=1_800
            ).stdout
            result = json.loads(output.strip().splitlines()[-1])
            results.append(result)
            print(_row(result))
    document = {
        "schema": "switchyard.bench-venue.v1",
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
        "mix": mix,
        "engines": results,
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
    if name == "harness":
        factory = lambda ops: Prepared(  # noqa: E731
            "harness (empty step)", "-", "loop cost", [(_noop, ())] * len(ops)
        )
    else:
        factory = ENGINES[name]
    prepared = factory(ops)
    gc.collect()
    seconds = _throughput(prepared)
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
        f"{result['engine']:<36} {result['version']:<8} {result['ops_per_s']:>10,} ops/s  "
        f"p50 {latency['p50']:>7.2f} us  p99 {latency['p99']:>7.2f} us  "
        f"p99.9 {latency['p99.9']:>8.2f} us"
    )


def _stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


if __name__ == "__main__":
    sys.exit(main())
