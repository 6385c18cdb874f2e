"""`make bench`: the gateway's capacity and latency, next to our HTTP stack's ceiling (issue 2).

Runs, in one go and on one machine (server pinned to CPU 0, load generator on CPU 1):
1. the ceiling: wrk at 64 connections against our own HTTP stack answering a constant 202
   (`switchyard bench --tool-ceiling`, which also measures the python generator);
2. fast-ACK capacity: wrk, closed loop, 64 connections, new resting LIMIT orders (profile
   `orders`) against a spawned gateway;
3. durable-ACK capacity: the same with `?ack=durable`;
4. latency at 50% of the fast-ACK capacity: the python generator, open loop (latency from the
   intended send time: coordinated omission corrected), fast ACK; the server's own ack,
   durable-ack and fdatasync percentiles come from the gateway's /stats of that run.
Writes every result under bench/results/ and a summary JSON (`--out`), prints a Markdown table
and, with `--doc`, puts it into docs/PERFORMANCE.md between its `bench-gateway` markers.
The venue runs in-process with simulated liquidity off (`VENUE_LIQUIDITY=0`): the matching
engine still matches, but no market makers share the gateway's core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path("bench/results")
MARK_START = "<!-- bench-gateway:start -->"
MARK_END = "<!-- bench-gateway:end -->"


def bench(name: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = RESULTS / f"gateway-{name}.json"
    command = [sys.executable, "-m", "switchyard", "bench", *args, "--out", str(out), "--quiet"]
    sys.stderr.write(f"== {name}: switchyard bench {' '.join(args)}\n")
    subprocess.run(command, check=True, env=env)
    document: dict[str, Any] = json.loads(out.read_text())
    document["_file"] = str(out)
    document["_command"] = "switchyard bench " + " ".join(args)
    return document


def stats_after(document: dict[str, Any]) -> dict[str, Any]:
    server = document.get("server") or {}
    after = server.get("statsAfter") or {}
    return after if isinstance(after, dict) else {}


def run(duration: int, port: int) -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, VENUE_LIQUIDITY="0")
    url = f"http://127.0.0.1:{port}"
    spawn = ["--spawn", "gateway", "--url", url, "--server-cpu", "0", "--cpu", "1"]
    ceiling = bench(
        "ceiling", ["--tool-ceiling", "--connections", "64", "--duration", str(duration)], env
    )
    fast = bench(
        "fast", [*spawn, "--profile", "orders", "--generator", "wrk", "--ack", "fast",
                 "--duration", str(duration)], env,
    )  # fmt: skip
    durable = bench(
        "durable", [*spawn, "--profile", "orders", "--generator", "wrk", "--ack", "durable",
                    "--duration", str(duration)], env,
    )  # fmt: skip
    half_rate = int(fast["rate"]["achievedPerSec"] / 2)
    half = bench(
        "half-load", [*spawn, "--profile", "orders", "--generator", "python", "--mode", "open",
                      "--rate", str(half_rate), "--ack", "fast", "--duration", str(duration)], env,
    )  # fmt: skip
    wrk_ceiling = float(ceiling["toolCeiling"]["wrk"]["maxRatePerSec"])
    server = stats_after(half)
    summary = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "settings": {"VENUE_LIQUIDITY": "0", "durationSec": duration, "connections": 64},
        "ceilingConstant202PerSec": wrk_ceiling,
        "pythonGeneratorOpenLoopCeilingPerSec": ceiling["toolCeiling"]["python"].get(
            "openLoopMaxRatePerSec"
        ),
        "fastAckPerSec": fast["rate"]["achievedPerSec"],
        "fastAckShareOfCeiling": round(fast["rate"]["achievedPerSec"] / wrk_ceiling, 3),
        "fastAckRttUs": fast["latencyUs"],
        "durableAckPerSec": durable["rate"]["achievedPerSec"],
        "durableAckRttUs": durable["latencyUs"],
        "halfLoad": {
            "ratePerSec": half["rate"]["achievedPerSec"],
            "rttUs": half["latencyUs"],
            "serverAckUs": _pcts(server, "gateway_ack"),
            "serverDurableAckUs": _pcts(server, "gateway_durable_ack"),
            "fdatasyncUs": _pcts(server, "gateway_fdatasync"),
            "walBatchMeanRecords": server.get("wal_batch_mean_records"),
        },
        "durableRunServer": {
            "durableAckUs": _pcts(stats_after(durable), "gateway_durable_ack"),
            "fdatasyncUs": _pcts(stats_after(durable), "gateway_fdatasync"),
        },
        "files": [d["_file"] for d in (ceiling, fast, durable, half)],
        "commands": [d["_command"] for d in (ceiling, fast, durable, half)],
    }
    return summary


def _pcts(stats: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {key: stats.get(f"{prefix}_{key}_us") for key in ("p50", "p99", "p999")}


def markdown(summary: dict[str, Any]) -> str:
    half = summary["halfLoad"]
    durable_run = summary["durableRunServer"]

    def us(block: dict[str, Any]) -> str:
        return " / ".join(
            f"{block[k]:.0f}" if block.get(k) is not None else "-" for k in ("p50", "p99", "p999")
        )

    rows = [
        (
            "raw ceiling: our HTTP stack answering a constant 202 (wrk, 64 conns)",
            f"{summary['ceilingConstant202PerSec']:,.0f} /s",
            "",
        ),
        (
            "fast-ACK orders/s (wrk, closed loop, 64 conns)",
            f"{summary['fastAckPerSec']:,.0f} /s",
            f"{summary['fastAckShareOfCeiling']:.0%} of the ceiling; RTT p50/p99/p99.9 µs {us(summary['fastAckRttUs'])}",
        ),
        (
            "durable-ACK orders/s (wrk, closed loop, 64 conns)",
            f"{summary['durableAckPerSec']:,.0f} /s",
            f"RTT p50/p99/p99.9 µs {us(summary['durableAckRttUs'])}; server durable-ack {us(durable_run['durableAckUs'])}, fdatasync {us(durable_run['fdatasyncUs'])}",
        ),
        (
            f"50% load: {half['ratePerSec']:,.0f} /s open loop (python, CO-corrected)",
            "",
            f"RTT µs {us(half['rttUs'])}",
        ),
        ("  server ack (t0 -> t1) at 50% load", "", f"µs {us(half['serverAckUs'])}"),
        (
            "  durable ack at 50% load",
            "",
            f"µs {us(half['serverDurableAckUs'])}; fdatasync µs {us(half['fdatasyncUs'])}; mean batch {half['walBatchMeanRecords']} records",
        ),
    ]
    lines = [
        f"Run {summary['when']} on {summary['machine']['cpus']} CPUs ({summary['machine']['platform']}); "
        "server pinned to CPU 0, load generator to CPU 1; `VENUE_LIQUIDITY=0`.",
        "",
        "| measurement | rate | latency and notes (p50 / p99 / p99.9) |",
        "| --- | ---: | --- |",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
        "Commands (`make bench` runs them all):",
        "",
        *(f"- `{command}`" for command in summary["commands"]),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--port", type=int, default=18480)
    parser.add_argument("--out", type=Path, default=RESULTS / "gateway-summary.json")
    parser.add_argument("--doc", type=Path, default=None, help="update this Markdown file")
    args = parser.parse_args()
    summary = run(args.duration, args.port)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    table = markdown(summary)
    sys.stdout.write(table)
    if args.doc is not None:
        text = args.doc.read_text() if args.doc.exists() else ""
        if MARK_START in text and MARK_END in text:
            head, rest = text.split(MARK_START, 1)
            _, tail = rest.split(MARK_END, 1)
            text = f"{head}{MARK_START}\n{table}{MARK_END}{tail}"
        else:
            text += f"\n{MARK_START}\n{table}{MARK_END}\n"
        args.doc.write_text(text)


if __name__ == "__main__":
    main()
