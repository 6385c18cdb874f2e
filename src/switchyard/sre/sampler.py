"""A sampler for long runs: /stats and the server's RSS and CPU every interval, as JSON lines.

Used by scripts/stability_test.sh next to a long bench: the bench's timeline says what the
clients saw per interval, the sampler what the server reported and how much memory it held
(a flat RSS under constant load is the expected shape: every queue is bounded). Run as
`python -m switchyard.sre.sampler --url URL --interval-sec S --duration-sec D --out FILE`.
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from switchyard.sre import serverside
from switchyard.sre.httpclient import Target

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def rss_bytes(pid: int) -> int | None:
    """Resident set size of `pid` and its descendants (the WAL writer is a child)."""
    total = 0
    for member in serverside.process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text(encoding="ascii").splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            if member == pid:
                return None
    return total


async def sample_once(target: Target, started_ns: int) -> dict[str, Any]:
    stats = await serverside.get_json(target, "/stats")
    pid = serverside.listening_pid(target.port) if target.host in LOOPBACK_HOSTS else None
    usage = serverside.process_usage(pid) if pid is not None else None
    return {
        "tSec": round((time.perf_counter_ns() - started_ns) / 1e9, 3),
        "pid": pid,
        "rssBytes": rss_bytes(pid) if pid is not None else None,
        "cpuSeconds": usage.cpu_seconds if usage is not None else None,
        "stats": stats,
    }


async def run(target: Target, interval_sec: float, duration_sec: float, out: Path) -> int:
    """Append one sample per interval to `out` until `duration_sec` has passed."""
    assert interval_sec > 0
    started_ns = time.perf_counter_ns()
    count = 0
    with out.open("a", encoding="utf-8") as handle:
        while True:
            sample = await sample_once(target, started_ns)
            handle.write(json.dumps(sample) + "\n")
            handle.flush()
            count += 1
            if sample["tSec"] + interval_sec > duration_sec:
                return count
            await asyncio.sleep(interval_sec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchyard.sre.sampler")
    parser.add_argument("--url", required=True)
    parser.add_argument("--interval-sec", type=float, default=10.0)
    parser.add_argument("--duration-sec", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    count = asyncio.run(
        run(Target.from_url(args.url), args.interval_sec, args.duration_sec, args.out)
    )
    sys.stderr.write(f"sampler: {count} samples in {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
