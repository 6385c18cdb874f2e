"""WAL benchmarks: append cost, preallocation vs fdatasync, group commit, and the GIL question.

Writes one JSON document (default bench/results/wal.json) and prints a summary:
- append: ns per Journal.append of a 150-byte record (90-byte payload), HMAC and plain chain;
- prealloc: fdatasync p50/p99 and records/s for 64-record batches on an appending file, a
  fallocate'd file and a zero-filled file (the reference's claim, re-measured);
- group_commit: SegmentWriter throughput writing 64-record batches (records/s);
- loop: an asyncio loop doing ~10 us of fake work per "order" at a target rate while the
  journal group-commits through each flusher (thread, process): achieved orders/s, durable
  latency p50/p99/p99.9 (append -> on_durable on the loop) and loop lag.
Run: `make bench-wal` (or `.venv/bin/python bench/wal/bench_wal.py --help`). Numbers on a
shared 2-core VM are noisy: compare flushers within one run.
"""

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from switchyard.adapters.disk_os import OsDisk
from switchyard.wal.flushers import InlineFlusher, ProcessFlusher, ThreadFlusher
from switchyard.wal.journal import Journal
from switchyard.wal.settings import JournalSettings
from switchyard.wal.writer import Chunk

PAYLOAD = b"p" * 90  # + 60 bytes of framing = a 150-byte record


class Clock:
    def wall_ns(self) -> int:
        return time.time_ns()

    def mono_ns(self) -> int:
        return time.monotonic_ns()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


class NullFlusher:
    """Discards chunks: isolates the loop-side cost of append + commit."""

    def start(self, plan, disk, lock_handle, callbacks) -> None:
        self.callbacks = callbacks

    def submit(self, chunk: Chunk) -> None:
        self.callbacks.on_flushed(chunk[2])

    async def close(self) -> None:
        return None


def bench_append(directory: str, key: bytes | None, count: int) -> dict[str, float]:
    settings = JournalSettings(hmac_key=key, flusher="inline", anchor_interval_s=0)
    journal = Journal.open(
        Path(directory),
        disk=OsDisk(),
        settings=settings,
        clock=Clock(),
        flusher=NullFlusher(),
        on_durable=lambda seq: None,
        on_fatal=print,
    )
    append, commit = journal.append, journal.commit
    best = float("inf")
    seq = 0
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(count):
            seq += 1
            append(seq, 10, seq, PAYLOAD)
            if seq % 64 == 0:
                commit()
        best = min(best, (time.perf_counter_ns() - start) / count)
    asyncio.run(journal.close())
    return {"ns_per_append_min_of_5": round(best, 1), "record_bytes": 60 + len(PAYLOAD)}


def bench_prealloc(directory: str, batches: int) -> dict[str, dict[str, float]]:
    batch = (b"r" * 150) * 64
    size = 64 << 20
    results = {}
    for mode in ("append", "fallocate", "zero", "append", "fallocate", "zero"):
        path = os.path.join(directory, f"prealloc-{mode}")
        flags = os.O_RDWR | os.O_CREAT | (os.O_APPEND if mode == "append" else 0)
        fd = os.open(path, flags, 0o644)
        if mode == "fallocate":
            os.posix_fallocate(fd, 0, size)
            os.fsync(fd)
        elif mode == "zero":
            zeros = bytes(1 << 20)
            for offset in range(0, size, len(zeros)):
                os.pwrite(fd, zeros, offset)
            os.fsync(fd)
        syncs = []
        start = time.perf_counter()
        for index in range(batches):
            if mode == "append":
                os.write(fd, batch)
            else:
                os.pwrite(fd, batch, index * len(batch))
            began = time.perf_counter_ns()
            os.fdatasync(fd)
            syncs.append((time.perf_counter_ns() - began) / 1000)
        elapsed = time.perf_counter() - start
        os.close(fd)
        os.remove(path)
        run = {
            "fdatasync_p50_us": round(pct(syncs, 50)),
            "fdatasync_p99_us": round(pct(syncs, 99)),
            "records_per_s": round(batches * 64 / elapsed),
        }
        key = mode if mode not in results else f"{mode}_run2"
        results[key] = run
    return results


def bench_group_commit(directory: str, seconds: float) -> dict[str, float]:
    settings = JournalSettings(hmac_key=b"k", flusher="inline", anchor_interval_s=0)
    durable: list[int] = []
    journal = Journal.open(
        Path(directory),
        disk=OsDisk(),
        settings=settings,
        clock=Clock(),
        flusher=InlineFlusher(),
        on_durable=durable.append,
        on_fatal=print,
    )
    seq = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(64):
            seq += 1
            journal.append(seq, 10, seq, PAYLOAD)
        journal.commit()
    elapsed = time.perf_counter() - start
    asyncio.run(journal.close())
    return {"batch_records": 64, "records_per_s": round(seq / elapsed), "batches": seq // 64}


async def _loop_run(
    directory: str, kind: str, rate: float, seconds: float, work_us: float
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    settings = JournalSettings(hmac_key=b"k", flusher="inline", anchor_interval_s=0)
    if kind == "thread":
        flusher = ThreadFlusher(loop.call_soon_threadsafe, max_batch=64, max_wait_us=200)
    elif kind == "process":
        flusher = ProcessFlusher(
            loop, disk_factory="switchyard.adapters.disk_os:OsDisk", max_batch=64, max_wait_us=200
        )
    else:
        flusher = NullFlusher()
    appended_at: list[int] = [0]
    latencies: list[float] = []
    state = {"durable": 0}

    def on_durable(seq: int) -> None:
        now = time.perf_counter_ns()
        latencies.extend(
            (now - appended_at[s]) / 1000 for s in range(state["durable"] + 1, seq + 1)
        )
        state["durable"] = seq

    journal = Journal.open(
        Path(directory),
        disk=OsDisk(),
        settings=settings,
        clock=Clock(),
        flusher=flusher,
        on_durable=on_durable,
        on_fatal=print,
    )
    work_ns = int(work_us * 1000)
    lags: list[float] = []
    seq = 0
    start = time.perf_counter_ns()
    end = start + int(seconds * 1e9)
    expected_tick = start
    while (now := time.perf_counter_ns()) < end:
        lags.append((now - expected_tick) / 1000)
        due = int((now - start) / 1e9 * rate) if rate > 0 else seq + 256
        for _ in range(min(due - seq, 1024)):
            spin_until = time.perf_counter_ns() + work_ns  # the fake order work
            while time.perf_counter_ns() < spin_until:
                pass
            seq += 1
            appended_at.append(time.perf_counter_ns())
            journal.append(seq, 10, seq, PAYLOAD)
        journal.commit()
        expected_tick = time.perf_counter_ns()
        await asyncio.sleep(0)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    deadline = time.perf_counter() + 5
    while state["durable"] < seq and time.perf_counter() < deadline:  # noqa: ASYNC110 - bench drain
        await asyncio.sleep(0.001)
    await journal.close()
    return {
        "target_orders_per_s": rate,
        "orders_per_s": round(seq / elapsed),
        "durable_p50_us": round(pct(latencies, 50)),
        "durable_p99_us": round(pct(latencies, 99)),
        "durable_p999_us": round(pct(latencies, 99.9)),
        "loop_lag_p99_us": round(pct(lags, 99)),
        "records": seq,
    }


def bench_loop(directory: str, rates: list[float], seconds: float, work_us: float) -> list[dict]:
    runs = []
    for rate in rates:
        for kind in ("none", "thread", "process"):
            sub = tempfile.mkdtemp(dir=directory)
            result = asyncio.run(_loop_run(sub, kind, rate, seconds, work_us))
            result["flusher"] = kind
            runs.append(result)
            print(f"  loop {kind:8s} rate={rate or 'max'}: {result}", flush=True)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/wal.json")
    parser.add_argument("--dir", default=None, help="scratch directory on the disk to measure")
    parser.add_argument("--seconds", type=float, default=5.0, help="per loop run")
    parser.add_argument("--work-us", type=float, default=10.0)
    parser.add_argument("--rates", default="40000,0", help="orders/s per loop run; 0 = max")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else args.seconds
    scratch = tempfile.mkdtemp(prefix="bench-wal-", dir=args.dir)
    rates = [float(r) for r in args.rates.split(",")]
    print("append ...", flush=True)
    result: dict[str, object] = {
        "schema": "switchyard.bench.wal.v1",
        "started_at_ns": time.time_ns(),
        "host": {
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "scratch": scratch,
        },
        "append_hmac": bench_append(tempfile.mkdtemp(dir=scratch), b"k", 20_000),
        "append_sha256": bench_append(tempfile.mkdtemp(dir=scratch), None, 20_000),
    }
    print(f"  {result['append_hmac']} / plain {result['append_sha256']}", flush=True)
    print("prealloc ...", flush=True)
    result["prealloc"] = bench_prealloc(scratch, 300 if args.quick else 1500)
    print(f"  {result['prealloc']}", flush=True)
    print("group commit ...", flush=True)
    result["group_commit"] = bench_group_commit(tempfile.mkdtemp(dir=scratch), seconds)
    print(f"  {result['group_commit']}", flush=True)
    print("loop ...", flush=True)
    result["loop"] = bench_loop(scratch, rates, seconds, args.work_us)
    result["loop_summary"] = {
        kind: statistics.mean(r["orders_per_s"] for r in result["loop"] if r["flusher"] == kind)
        for kind in ("none", "thread", "process")
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
