"""`make bench-overload`: drive 5x the gateway's measured capacity for a bounded time.

Spawns `switchyard run` with the adaptive inflight limit on (BENCH_ENV below), then:

1. warm-up (not measured);
2. capacity: closed loop (connections x depth outstanding) -> accepted orders per second, C;
   and the refusal ceiling: the same closed loop against a gateway that refuses every order
   (how many refusals per second it can answer at all; at k x C it must refuse (k-1) x C);
3. unloaded: open loop at 0.2 C -> p50/p99 of accepted orders (the reference);
4. fill: 30,000 accepted orders at 0.5 C, so every retention cap is full before RSS is read;
5. overload: open loop at `--multiples` x C (default 5) for `--duration` seconds, `--runs`
   times, RSS read from /proc before, between and after -> accepted p99 against the unloaded p99
   (target <= 2x), the share of the excess (offered - C x duration) refused, and refused
   within 10 ms of its intended send time (target >= 99%), RSS (target: flat).

Latency is client-side from the intended send time (coordinated omission corrected), so a
queue anywhere (generator, kernel, gateway) is charged; the generator's own send lag and CPU
share are reported with each run (loadgen.py: it sends on a 1 ms grid, one write per
connection per tick). Orders are IOC with no venue
liquidity (they expire at once), and the gateway keeps at most 20,000 retained orders and
idempotency keys, so state does not grow with the run and RSS reflects queues only.
Writes bench/results/overload.json and prints a summary.

    python -m bench.overload.run [--multiples 5] [--duration 10] [--server-cpu 0 --cpu 1]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.overload import loadgen
from switchyard.testing.gateway_harness import GatewayProcess

# Both gateways: bounded state (IOC orders expire at once; at most 20,000 retained orders,
# idempotency keys and venue final orders), so memory stops growing once the caps are reached
# and RSS then reflects queues only.
COMMON_ENV = {
    "GATEWAY_ORDERS_RETAINED_MAX": "20000",
    "GATEWAY_ORDERS_OPEN_MAX": "20000",
    "GATEWAY_IDEMPOTENCY_MAX": "20000",
    "VENUE_FINAL_ORDERS_RETAINED_MAX": "20000",
    "IDEMPOTENCY_TTL_SEC": "60",
    "LOG_LEVEL": "WARNING",
    "WAL_SEGMENT_SIZE_BYTES": str(64 * 1024 * 1024),
}
# The protected gateway: the adaptive inflight limit aiming at 50 ms from accept to durable,
# with the loop budget on (the limit halves on a tick where the loop thread used over 80% of
# a CPU: far above capacity the refusals take most of it). MIN 8: with accept-to-durable at
# 1-3 ms, MIN inflight is a floor of MIN / 2 ms = 4,000 accepted orders/s that no budget can
# go below; the former MIN of 128 (64,000/s) never bound, so the loop saturated.
BENCH_ENV = {
    **COMMON_ENV,
    "BACKPRESSURE_INFLIGHT_DYNAMIC": "1",
    "BACKPRESSURE_INFLIGHT_TARGET_WAL_AGE_SEC": "0.05",
    "BACKPRESSURE_INFLIGHT_MIN": "8",
    "BACKPRESSURE_INFLIGHT_CAP": "2048",
    "BACKPRESSURE_INFLIGHT_INITIAL": "256",
    "BACKPRESSURE_INFLIGHT_TICK_MS": "100",
    "BACKPRESSURE_INFLIGHT_LOOP_BUSY_MAX": "0.8",
}
# Accepted orders sent before the first RSS reading: more than every 20,000 cap above.
FILL_ORDERS = 30_000
CONNECTIONS = 32
CLOSED_DEPTH = 4


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS of the gateway and of its children (the WAL writer), in KiB."""
    found: dict[str, int] = {}
    for name, process in [("gateway", pid), *((f"child-{c}", c) for c in _children(pid))]:
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found[name] = int(line.split()[1])
        except FileNotFoundError:
            continue
    return found


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(child) for child in text)
    return children


def gateway_stats(gw: GatewayProcess) -> dict[str, Any]:
    stats: dict[str, Any] = gw.client().get("/stats").json()
    return {
        "backpressure": stats.get("backpressure"),
        "orders": stats.get("orders"),
        "gateway_ack_p99_us": stats.get("gateway_ack_p99_us"),
        "gateway_durable_ack_p99_us": stats.get("gateway_durable_ack_p99_us"),
    }


async def baseline(gw: GatewayProcess, args: argparse.Namespace) -> dict[str, Any]:
    """Capacity and the unloaded reference on a gateway with no BACKPRESSURE_* setting."""
    tokens = _tokens(gw)
    await loadgen.open_loop(gw.port, tokens, rate=1000, duration_s=2, tag="warm")
    capacity = await loadgen.closed_loop(
        gw.port, tokens, depth=CLOSED_DEPTH, duration_s=args.capacity_duration, tag="cap"
    )
    rate_c = float(capacity["acceptedPerSec"])
    unloaded = await loadgen.open_loop(
        gw.port, tokens, rate=max(100.0, 0.2 * rate_c), duration_s=5, tag="unl"
    )
    result = {"capacity": capacity, "unloaded": unloaded}
    if args.unprotected:
        result["unprotected"] = await loadgen.open_loop(
            gw.port, tokens, rate=args.multiples[-1] * rate_c, duration_s=args.duration, tag="unp"
        )
        result["unprotected"]["multiple"] = args.multiples[-1]
    return result


async def overload(gw: GatewayProcess, args: argparse.Namespace, rate_c: float) -> dict[str, Any]:
    """Each multiple x C against the protected gateway, `runs` times, RSS around each run."""
    tokens = _tokens(gw)
    pid = gw.process.pid  # type: ignore[union-attr]
    await loadgen.open_loop(gw.port, tokens, rate=1000, duration_s=2, tag="warm")
    unloaded = await loadgen.open_loop(
        gw.port, tokens, rate=max(100.0, 0.2 * rate_c), duration_s=5, tag="unl"
    )
    # Fill every retention cap before the first RSS reading, so that "before" is the steady
    # state: what the runs add after it is growth, not caps filling up.
    fill_rate = max(100.0, 0.5 * rate_c)
    fill = await loadgen.open_loop(
        gw.port, tokens, rate=fill_rate, duration_s=FILL_ORDERS / fill_rate, tag="fill"
    )
    await asyncio.sleep(1)
    rss = {"beforeOverload": rss_kib(pid)}
    runs = []
    for multiple in args.multiples:
        for run_index in range(args.runs):
            result = await loadgen.open_loop(
                gw.port,
                tokens,
                rate=multiple * rate_c,
                duration_s=args.duration,
                tag=f"ovl{multiple}-{run_index}",
            )
            result["multiple"] = multiple
            result["gatewayAfter"] = gateway_stats(gw)
            runs.append(result)
            await asyncio.sleep(2)  # let the backlog drain before reading RSS
            rss[f"after{multiple}x-{run_index + 1}"] = rss_kib(pid)
    return {
        "unloadedProtected": unloaded,
        "fillAccepted": fill["accepted"],
        "overload": runs,
        "rssKiB": rss,
    }


async def refusal_ceiling(gw: GatewayProcess, args: argparse.Namespace) -> dict[str, Any]:
    """How many refusals per second the gateway can answer at all (it refuses every order)."""
    tokens = _tokens(gw)
    await loadgen.open_loop(gw.port, tokens, rate=1000, duration_s=1, tag="warm")
    return await loadgen.closed_loop(
        gw.port, tokens, depth=CLOSED_DEPTH, duration_s=args.capacity_duration, tag="ref"
    )


def _tokens(gw: GatewayProcess) -> list[bytes]:
    return [gw.token(f"load{i}").encode() for i in range(CONNECTIONS)]


def _spawn(env: dict[str, str], args: argparse.Namespace) -> GatewayProcess:
    gw = GatewayProcess(Path(tempfile.mkdtemp(prefix="bench-overload-")), env=env)
    gw.start()
    assert gw.process is not None
    if args.server_cpu is not None:
        os.sched_setaffinity(gw.process.pid, {args.server_cpu})
    return gw


def verdict(result: dict[str, Any], multiples: list[float]) -> dict[str, Any]:
    """The issue's three targets from the measurements (computed here, never asserted)."""
    rate_c = result["capacity"]["acceptedPerSec"]
    unloaded_p99 = result["unloaded"]["acceptedLatencyUs"].get("p99")
    rows = [("protected", run) for run in result["overload"]]
    if "unprotected" in result:
        rows.insert(0, ("unprotected", result["unprotected"]))
    gateway_rss = {name: values.get("gateway") for name, values in result["rssKiB"].items()}
    readings = list(gateway_rss.values())  # before, then after each run, in order
    return {
        "multiples": multiples,
        "capacityPerSec": rate_c,
        "refusalCeilingPerSec": result["refusalCeiling"]["answeredPerSec"],
        "unloadedP99Us": unloaded_p99,
        "unloadedProtectedP99Us": result["unloadedProtected"]["acceptedLatencyUs"].get("p99"),
        "runs": [
            {
                **_row(label, run, rate_c, unloaded_p99),
                "p99RatioToProtectedUnloaded": _ratio(
                    run["acceptedLatencyUs"].get("p99"),
                    result["unloadedProtected"]["acceptedLatencyUs"].get("p99"),
                ),
            }
            for label, run in rows
        ],
        "rssGatewayKiB": gateway_rss,
        "rssGrowthPerRunKiB": [after - before for before, after in itertools.pairwise(readings)],
        "fillAccepted": result["fillAccepted"],
        # p99Ratio: against the unloaded p99 of the gateway without backpressure settings (the
        # issue's reference); p99RatioToProtectedUnloaded: against the protected gateway's own.
        "targets": {"p99Ratio": "<= 2", "refusedWithin10msShareOfExcess": ">= 0.99"},
    }


def _ratio(value: float | None, reference: float | None) -> float | None:
    return round(value / reference, 2) if value and reference else None


def _row(
    label: str, run: dict[str, Any], rate_c: float, unloaded_p99: float | None
) -> dict[str, Any]:
    excess = run["sent"] - rate_c * run["durationSec"]
    accepted_p99 = run["acceptedLatencyUs"].get("p99")
    return {
        "gateway": label,
        "multiple": run.get("multiple"),
        "offeredPerSec": round(run["offeredPerSec"], 1),
        "acceptedPerSec": round(run["accepted"] / run["durationSec"], 1),
        "acceptedP50Us": run["acceptedLatencyUs"].get("p50"),
        "acceptedP99Us": accepted_p99,
        "p99Ratio": round(accepted_p99 / unloaded_p99, 2)
        if accepted_p99 and unloaded_p99
        else None,
        "excessOrders": int(excess),
        "refused": run["refused"],
        "refusedShareOfExcess": round(run["refused"] / excess, 4) if excess > 0 else None,
        "refusedWithin10msShareOfExcess": round(run["refusedWithinMs"]["count"] / excess, 4)
        if excess > 0
        else None,
        "refusedP50Us": run["refusedLatencyUs"].get("p50"),
        "refusedP99Us": run["refusedLatencyUs"].get("p99"),
        "byCode": run["byCode"],
        "unanswered": run["unanswered"],
        "refusedWithoutRetryAfter": run["refusedWithoutRetryAfter"],
        "sendLagP99Us": run["sendLagUs"].get("p99"),
        "generatorCpuShare": run.get("generatorCpuShare"),
        "controller": ((run.get("gatewayAfter") or {}).get("backpressure") or {}).get("controller"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--multiples",
        type=lambda text: [float(part) for part in text.split(",")],
        default=[5.0],
        help="offered load as multiples of the measured capacity, e.g. 2,3,5 (default 5)",
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--capacity-duration", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--unprotected",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also offer the overload to the gateway without backpressure settings",
    )
    parser.add_argument("--server-cpu", type=int, help="pin the gateway's loop to this CPU")
    parser.add_argument("--cpu", type=int, help="pin this generator to this CPU")
    parser.add_argument(
        "--env", action="append", default=[], help="extra NAME=VALUE for the gateway"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/overload.json"))
    args = parser.parse_args()
    env = dict(BENCH_ENV)
    env.update(item.split("=", 1) for item in args.env)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    gw = _spawn(dict(COMMON_ENV), args)
    try:
        result = uvloop.run(baseline(gw, args))
    finally:
        gw.stop()
    # Free space below 100% is always true: this gateway refuses every order (503 DISK_FREE).
    gw = _spawn({**COMMON_ENV, "BACKPRESSURE_DISK_FREE_PCT_MIN": "100"}, args)
    try:
        result["refusalCeiling"] = uvloop.run(refusal_ceiling(gw, args))
    finally:
        gw.stop()
    gw = _spawn(env, args)
    try:
        rate_c = float(result["capacity"]["acceptedPerSec"])
        result.update(uvloop.run(overload(gw, args, rate_c)))
    finally:
        gw.stop()
    summary = verdict(result, args.multiples)
    document = {
        "schema": "switchyard.bench.overload.v1",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "git": _git_revision(),
        "gatewayEnv": env,
        "pinning": {"serverCpu": args.server_cpu, "generatorCpu": args.cpu},
        "summary": summary,
        "detail": result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def _git_revision() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


if __name__ == "__main__":
    main()
