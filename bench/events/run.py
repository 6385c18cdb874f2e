"""`make bench-events`: POST /events on real gateway processes with etcd ownership.

1. One engine (owning every key through etcd; latency runs on CPU 0, capacity on each CPU):
   - latency at a fixed open-loop rate with `switchyard bench` (Python generator on CPU 1,
     coordinated-omission corrected: latency from each request's intended send time), with
     the fast answer and with `?ack=durable`;
   - capacity with wrk (closed loop, on the other CPU): requests/s, service-time percentiles,
     and how busy each CPU was (other work on a shared machine shows up there).
2. Two engines (CPU 0 and CPU 1, keys split by the etcd leader): one wrk per engine, each
   posting only the keys its engine owns, at the same time; aggregate requests/s. The two wrk
   processes cannot have a core of their own on a 2-core machine: they share the engines'
   cores, and the CPU each process used is reported next to the numbers.

Every number says which generator produced it. Writes --out (JSON) and prints a table.
Needs Debian etcd and wrk (`make system-deps`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.fixtures.etcd import EtcdServer, start_etcd

from switchyard.adapters.auth import mint_token
from switchyard.testing.gateway_harness import GatewayProcess

HERE = Path(__file__).resolve().parent
PROFILE = HERE / "profiles" / "events.yaml"
LUA = HERE / "events.lua"
KEYS = ("BTC", "ETH", "7203", "6758", "9984", "K1", "K2", "K3")
SECRET = "bench-events-secret-0123456789abcdef0123"
MARKER = "SWITCHYARD_EVENTS_JSON "
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def affinity(cpus: set[int]) -> Iterator[None]:
    """Children started inside inherit this CPU set (the gateway and its WAL writer)."""
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def start_engine(base: Path, etcd: EtcdServer, name: str, cpu: int) -> GatewayProcess:
    env = {
        "ENGINE_ID": name,
        "ETCD_ENDPOINTS": etcd.endpoint,
        "ETCD_LEASE_TTL_SEC": "10",
        "ASSIGN_KEYS": ",".join(KEYS),
        "JWT_HS256_SECRET": SECRET,
        "VENUE_LIQUIDITY": "1",  # the default: events move the makers' quotes
        "LOG_LEVEL": "WARNING",
    }
    gw = GatewayProcess(base / name, env=env)
    with affinity({cpu}):
        gw.start(wait=False)
    gw.wait_ready()
    return gw


def owned(gw: GatewayProcess) -> list[str]:
    keys: list[str] = gw.client().get("/ownership").json()["serving"]
    return keys


def wait_split(gateways: list[GatewayProcess], timeout_s: float = 30.0) -> dict[str, list[str]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        split = {str(gw.env["ENGINE_ID"]): owned(gw) for gw in gateways}
        if sorted(k for keys in split.values() for k in keys) == sorted(KEYS) and all(
            split.values()
        ):
            return split
        time.sleep(0.1)
    raise RuntimeError("the engines never split the keys")


def process_tree(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    children.append(int(entry.name))
    return [pid, *children]


def cpu_busy() -> list[tuple[int, int]]:
    """(busy, total) jiffies per CPU since boot, from /proc/stat."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + values[4]  # idle + iowait
            out.append((sum(values) - idle, sum(values)))
    return out


def busy_percent(before: list[tuple[int, int]], after: list[tuple[int, int]]) -> list[float]:
    """How busy each CPU was between two samples (everything on it, not only ours)."""
    return [
        round(100 * (b1 - b0) / max(t1 - t0, 1), 1)
        for (b0, t0), (b1, t1) in zip(before, after, strict=True)
    ]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def wrk(
    gw: GatewayProcess, keys: list[str], *, seconds: int, connections: int, cpu: int | None
) -> subprocess.Popen[str]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA)]
    command.append(f"http://127.0.0.1:{gw.port}")
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    env = {
        **os.environ,
        "SWITCHYARD_TOKEN": mint_token(SECRET.encode(), "bench", ttl_s=3600),
        "EVENT_KEYS": ",".join(keys),
    }
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def wrk_result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=120)
    line = next((x for x in out.splitlines() if x.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    result: dict[str, Any] = json.loads(line[len(MARKER) :])
    result["requestsPerSec"] = round(result["requests"] / result["seconds"], 1)
    return result


def capacity(
    gateways: list[GatewayProcess],
    split: dict[str, list[str]],
    *,
    seconds: int,
    connections: int,
    wrk_cpus: list[int | None],
) -> dict[str, Any]:
    """One wrk per engine at once; requests/s per engine and in all; CPU per process."""
    trees = {str(gw.env["ENGINE_ID"]): process_tree(gw.process.pid) for gw in gateways}  # type: ignore[union-attr]
    before = {name: cpu_seconds(pids) for name, pids in trees.items()}
    machine_before = cpu_busy()
    started = time.monotonic()
    runs = [
        wrk(gw, split[str(gw.env["ENGINE_ID"])], seconds=seconds, connections=connections, cpu=cpu)
        for gw, cpu in zip(gateways, wrk_cpus, strict=True)
    ]
    children_before = os.times()
    results = [wrk_result(run) for run in runs]
    wall = time.monotonic() - started
    children_after = os.times()
    machine_busy = busy_percent(machine_before, cpu_busy())
    engines = {}
    for (name, pids), result in zip(trees.items(), results, strict=True):
        used = cpu_seconds(pids) - before[name]
        engines[name] = {
            **result,
            "keys": split[name],
            "serverCores": round(used / wall, 2),
            # CPU per request: what the engine would need of a core to itself (steadier than
            # requests/s when other work shares the machine)
            "serverCpuUsPerRequest": round(used / max(result["requests"], 1) * 1e6, 1),
        }
    wrk_cpu = (children_after.children_user + children_after.children_system) - (
        children_before.children_user + children_before.children_system
    )
    return {
        "generator": "wrk (closed loop, -t1 per engine, service time)",
        "connectionsPerEngine": connections,
        "wrkCpus": wrk_cpus,
        "engines": engines,
        "aggregateRequestsPerSec": round(sum(r["requestsPerSec"] for r in results), 1),
        "wrkCores": round(wrk_cpu / wall, 2),
        "cpuBusyPercent": machine_busy,  # per CPU, all processes: 100 = no idle time left
    }


def open_loop(
    gw: GatewayProcess, out_dir: Path, *, rate: int, seconds: int, ack: str
) -> dict[str, Any]:
    """`switchyard bench` (Python, open loop) at `rate`; its bench.v1 summary."""
    secret_file = out_dir / "jwt.key"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o600)
    out = out_dir / f"events-python-{ack}-{rate}.json"
    command = [
        sys.executable, "-m", "switchyard", "bench",
        "--url", f"http://127.0.0.1:{gw.port}",
        "--profile", str(PROFILE),
        "--rate", str(rate),
        "--duration", str(seconds),
        "--ack", ack,
        "--generator", "python",
        "--cpu", "1",
        "--jwt-secret-file", str(secret_file),
        "--server-label", "gateway (etcd ownership, 1 engine, CPU 0)",
        "--out", str(out),
        "--quiet",
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=seconds + 120)
    document = json.loads(out.read_text())
    return {
        "generator": "switchyard bench (python, open loop, CO-corrected)",
        "ack": ack,
        "askedPerSec": document["rate"]["askedPerSec"],
        "achievedPerSec": document["rate"]["achievedPerSec"],
        "latencyUs": document["latencyUs"],
        "serviceTimeUs": document["serviceTimeUs"],
        "byStatus": document["counts"]["byStatus"],
        "errors": document["counts"]["errors"],
        "resultFile": str(out),
    }


def hook_cost() -> dict[str, Any]:
    """The request-path ownership check alone, in-process (timeit, best of 5): ns per call."""
    import timeit
    from types import SimpleNamespace

    from switchyard.adapters.clock_system import SystemClock
    from switchyard.extensions.ownership import Ownership
    from switchyard.ownership import OwnershipSettings

    settings = OwnershipSettings.from_env(
        {"ETCD_ENDPOINTS": "http://127.0.0.1:2379"}, engine_id="e1"
    )
    gateway = SimpleNamespace(node=SimpleNamespace(clock=SystemClock()))
    ownership = Ownership(gateway, settings)  # type: ignore[arg-type]
    ownership.table.serving = frozenset(KEYS[:4])
    ownership.table.owners = {key: "e1" if key in KEYS[:4] else "e2" for key in KEYS}
    ownership.table.urls = {"e1": "http://e1:8080", "e2": "http://e2:8080"}
    ownership.table.deadline_ns = SystemClock().mono_ns() + 3600 * 10**9
    check = ownership.hook()
    out = {}
    for label, key in (("servedNs", "BTC"), ("notOwnerNs", "K1")):
        calls = 200_000
        best = min(timeit.repeat(lambda key=key: check(key), number=calls, repeat=5))
        out[label] = round(best / calls * 1e9, 1)
    return {"generator": "timeit, in-process, best of 5", **out}


def machine() -> dict[str, Any]:
    return {
        "loadAverageAtStart": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": subprocess.run(
            ["wrk", "-v"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0:1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/events.json"))
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument("--rate", type=int, default=3000, help="open-loop rate, requests/s")
    parser.add_argument("--open-seconds", type=int, default=15, help="each open-loop run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections per engine")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"machine": machine(), "keys": KEYS, "ownershipCheck": hook_cost()}
    with tempfile.TemporaryDirectory(prefix="bench-events-") as scratch:
        base = Path(scratch)
        etcd = start_etcd(base)
        try:
            report.update(run_all(base, etcd, args))
        finally:
            etcd.stop()
    report["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(table(report))
    sys.stdout.write(
        f"load average (1/5/15 min) at start {report['machine']['loadAverageAtStart']}, "
        f"at end {report['loadAverageAtEnd']}: other work on this 2-CPU machine competes\n"
    )
    sys.stdout.write(f"\nwritten: {args.out}\n")
    return 0


def run_all(base: Path, etcd: EtcdServer, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cpu in (0, 1):
        out[f"oneEngineCapacityCpu{cpu}"] = one_engine_capacity(base / f"cpu{cpu}", etcd, cpu, args)
    one = start_engine(base, etcd, "e1", 0)
    try:
        split = wait_split([one])
        out["oneEngineOpenLoopFast"] = open_loop(
            one, base, rate=args.rate, seconds=args.open_seconds, ack="fast"
        )
        out["oneEngineOpenLoopDurable"] = open_loop(
            one, base, rate=args.rate, seconds=args.open_seconds, ack="durable"
        )
    finally:
        one.stop()
    pair = [start_engine(base / "pair", etcd, "e1", 0), start_engine(base / "pair", etcd, "e2", 1)]
    try:
        split = wait_split(pair)
        out["twoEnginesCapacity"] = capacity(
            pair, split, seconds=args.seconds, connections=args.connections, wrk_cpus=[None, None]
        )
    finally:
        for gw in pair:
            gw.stop()
    return out


def one_engine_capacity(
    base: Path, etcd: EtcdServer, cpu: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One engine on `cpu`, wrk on the other one."""
    engine = start_engine(base, etcd, "e1", cpu)
    try:
        split = wait_split([engine])
        return capacity(
            [engine], split, seconds=args.seconds, connections=args.connections, wrk_cpus=[1 - cpu]
        )
    finally:
        engine.stop()


def table(report: dict[str, Any]) -> str:
    rows = [
        "| run | generator | requests/s | p50 us | p99 us | p99.9 us | server cores "
        "| server CPU us/request |"
    ]
    rows.append("|---|---|---|---|---|---|---|---|")
    for name in ("oneEngineOpenLoopFast", "oneEngineOpenLoopDurable"):
        run = report[name]
        lat = run["latencyUs"]
        rows.append(
            f"| 1 engine, open loop, ack={run['ack']} | {run['generator']} | "
            f"{run['achievedPerSec']:.0f} (asked {run['askedPerSec']:.0f}) | {lat['p50']} | "
            f"{lat['p99']} | {lat['p999']} | - | - |"
        )
    for name, label in (
        ("oneEngineCapacityCpu0", "1 engine on CPU 0"),
        ("oneEngineCapacityCpu1", "1 engine on CPU 1"),
        ("twoEnginesCapacity", "2 engines"),
    ):
        run = report[name]
        for engine, result in run["engines"].items():
            rows.append(
                f"| {label}, capacity, {engine} | {run['generator']} | "
                f"{result['requestsPerSec']:.0f} | {result['p50Us']} | {result['p99Us']} | "
                f"{result['p999Us']} | {result['serverCores']} | "
                f"{result['serverCpuUsPerRequest']} |"
            )
        rows.append(
            f"| {label}, capacity, all | wrk ({run['wrkCores']} cores) | "
            f"**{run['aggregateRequestsPerSec']:.0f}** | | | | CPUs busy "
            f"{run['cpuBusyPercent']} % | |"
        )
    check = report["ownershipCheck"]
    rows.append(
        f"\nownership check in the request path ({check['generator']}): "
        f"{check['servedNs']} ns for a served key, {check['notOwnerNs']} ns to build a 409"
    )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
