"""What the tools learn from the server side: /stats, /health, /metrics, reference prices,
and the server process's own resource use (CPU seconds, bytes written to storage).

Resource use is read from /proc for a local server: the process listening on the target port
is found through /proc/net/tcp and its socket inode, then /proc/<pid>/stat and /proc/<pid>/io
give CPU ticks and storage write bytes. Works for loopback targets run by the same user;
elsewhere it reports why it could not, and the numbers fall back to /metrics.
"""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from switchyard.sre.httpclient import RequestFailed, Target, fetch

STATS_TIMEOUT_S = 5.0
BOOK_DEPTH = 1

Snapshot = dict[str, Any]


async def get_json(
    target: Target, path: str, timeout_s: float = STATS_TIMEOUT_S, token: str | None = None
) -> Snapshot:
    """GET a JSON object; {"error": ...} describing the failure instead of raising."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        response = await fetch(target, "GET", path, timeout_s=timeout_s, headers=headers)
    except RequestFailed as error:
        return {"error": error.code, "message": str(error)}
    if response.status != 200:
        return {
            "error": f"HTTP_{response.status}",
            "message": response.body[:200].decode("utf-8", "replace"),
        }
    try:
        value = response.json()
    except ValueError:
        return {"error": "NOT_JSON", "message": response.body[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"error": "NOT_AN_OBJECT"}


async def get_text(target: Target, path: str, timeout_s: float = STATS_TIMEOUT_S) -> str | None:
    try:
        response = await fetch(target, "GET", path, timeout_s=timeout_s)
    except RequestFailed:
        return None
    return response.body.decode("utf-8", "replace") if response.status == 200 else None


async def reference_prices(target: Target, symbols: list[str], token: str) -> dict[str, int]:
    """Mid price in ticks per symbol from GET /market/{symbol}/book (authenticated), where the
    book has one."""
    books = await asyncio.gather(
        *(
            get_json(target, f"/market/{symbol}/book?depth={BOOK_DEPTH}", token=token)
            for symbol in symbols
        )
    )
    prices: dict[str, int] = {}
    for symbol, book in zip(symbols, books, strict=True):
        mid = _mid_price(book)
        if mid is not None:
            prices[symbol] = mid
    return prices


def _mid_price(book: Snapshot) -> int | None:
    try:
        bid = int(book["bids"][0]["price"])
        ask = int(book["asks"][0]["price"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if bid <= 0 or ask <= 0:
        return None
    return (bid + ask) // 2


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → {"name{label=value,...}": value}; bare names for unlabelled samples."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
    return samples


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """Cumulative resource use of one process at one moment."""

    pid: int
    cpu_seconds: float
    write_bytes: int  # bytes the process caused to be sent to storage (/proc/<pid>/io)


def listening_pid(port: int) -> int | None:
    """The pid of the local process listening on TCP `port`, if we can see it."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(entry.name)
        except OSError:
            continue  # another user's process, or it exited while we looked
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    return inodes


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # Fields after the command name (which may contain spaces) start after the last ')'.
    return stat.rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (the gateway's WAL writer process is a child)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))  # field 4: ppid
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in children.get(parent, [])]
        tree.extend(frontier)
    return tree


def process_usage(pid: int) -> ProcessUsage | None:
    """CPU seconds (user + system) and storage write bytes of `pid` and its descendants."""
    ticks = 0
    write_bytes = 0
    for member in process_tree(pid):
        fields = _stat_fields(member)
        try:
            io_text = Path(f"/proc/{member}/io").read_text(encoding="ascii")
        except OSError:
            io_text = None
        if fields is None or io_text is None:
            if member == pid:
                return None
            continue  # a child that exited meanwhile
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
        for line in io_text.splitlines():
            if line.startswith("write_bytes:"):
                write_bytes += int(line.split()[1])
    return ProcessUsage(pid, ticks / os.sysconf("SC_CLK_TCK"), write_bytes)


def usage_delta(before: ProcessUsage | None, after: ProcessUsage | None) -> dict[str, Any]:
    """The server's resource use over a run, or the reason it is unknown."""
    if before is None or after is None:
        return {"source": "unavailable", "reason": "server process not visible in /proc"}
    if before.pid != after.pid:
        return {"source": "unavailable", "reason": "server restarted during the run"}
    return {
        "source": "proc",
        "pid": after.pid,
        "cpuSeconds": round(after.cpu_seconds - before.cpu_seconds, 3),
        "storageWriteBytes": after.write_bytes - before.write_bytes,
    }


@dataclass(slots=True)
class ServerSnapshot:
    stats: dict[str, Any]
    metrics: dict[str, float]
    usage: ProcessUsage | None


async def snapshot(target: Target, pid: int | None) -> ServerSnapshot:
    """The server's /stats, /metrics counters and process usage at one moment."""
    stats, metrics_text = await asyncio.gather(
        get_json(target, "/stats"), get_text(target, "/metrics")
    )
    metrics: dict[str, float] = {}
    if metrics_text:
        try:
            metrics = parse_metrics(metrics_text)
        except ValueError:
            metrics = {}
    usage = process_usage(pid) if pid is not None else None
    return ServerSnapshot(stats, metrics, usage)


def counter_deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """How much each counter (`*_total`) grew over the run; unchanged ones are left out."""
    deltas = {}
    for name, value in after.items():
        base = name.split("{", 1)[0]
        if not base.endswith("_total") or name not in before:
            continue
        delta = value - before[name]
        if delta != 0:
            deltas[name] = round(delta, 6)
    return deltas
