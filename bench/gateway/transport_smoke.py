"""Accept -> fill latency through the in-process venue (`sim`) or the TCP venue (`tcp`).

Starts a gateway (and, for tcp, a `switchyard venue` process) with simulated liquidity, sends N
MARKET orders one at a time, and times each from the POST to its `execution_report` on the
account's SSE stream (the fill is durable by then: SSE only carries durable records).

    python -m bench.gateway.transport_smoke --transport sim|tcp [--orders 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from switchyard.testing.gateway_harness import GatewayProcess, free_port


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def run(transport: str, orders: int) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix=f"smoke-{transport}-"))
    env = {"VENUE_LIQUIDITY": "1", "EXCHANGE_TRANSPORT": transport}
    venue: subprocess.Popen[bytes] | None = None
    if transport == "tcp":
        port = free_port()
        metrics = free_port()
        env.update(EXCHANGE_TCP_HOST="127.0.0.1", EXCHANGE_TCP_PORT=str(port))
        venue = subprocess.Popen(
            [sys.executable, "-m", "switchyard", "venue", "--host", "127.0.0.1",
             "--port", str(port), "--metrics-port", str(metrics)],
            env={**os.environ, "VENUE_LIQUIDITY": "1"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1.0)
    gateway = GatewayProcess(root / "gw", env=env)
    latencies_ms: list[float] = []
    unfilled = 0
    try:
        gateway.start()
        client = gateway.client("smoke")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the makers quote on their first tick
            book = client.get("/market/BTC/book?depth=1").json()
            if book.get("bids") and book.get("asks"):
                break
            time.sleep(0.1)
        stream = client.stream("/stream")
        unfilled = 0
        for index in range(orders):
            body = {"symbol": "BTC", "side": "BUY" if index % 2 else "SELL", "type": "MARKET",
                    "qty": 1, "clientOrderId": f"smoke-{index}"}  # fmt: skip
            started = time.perf_counter()
            placed = client.post("/orders", body)
            assert placed.status == 202, placed
            order_id = placed.json()["orderId"]
            while True:
                _, name, data = stream.next_event(timeout_s=10)
                if data.get("orderId") != order_id:
                    continue
                if name == "execution_report":
                    latencies_ms.append((time.perf_counter() - started) * 1000)
                    break
                if data.get("status") in ("EXPIRED", "CANCELED", "REJECTED"):
                    unfilled += 1  # no liquidity at that instant: not a latency sample
                    break
        stream.close()
    finally:
        gateway.stop()
        if venue is not None:
            venue.terminate()
            venue.wait(timeout=10)
    return {
        "transport": transport,
        "orders": orders,
        "filled": len(latencies_ms),
        "unfilled": unfilled,
        "accept_to_fill_ms": {
            "p50": round(statistics.median(latencies_ms), 3),
            "p90": round(_percentile(latencies_ms, 90), 3),
            "p99": round(_percentile(latencies_ms, 99), 3),
            "max": round(max(latencies_ms), 3),
            "mean": round(statistics.fmean(latencies_ms), 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("sim", "tcp"), required=True)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = run(args.transport, args.orders)
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
