"""CPU cost of one order through the gateway's request path, measured in-process.

Feeds pipelined POST /orders requests into the real HTTPProtocol of a real built gateway
(WAL writer process included) through a null transport, and reports thread CPU time per
request: parse + auth (cache) + decode + sequencer + WAL append + response bytes. The network,
the venue and fsync are outside this number; `make bench` measures the whole thing.

    python -m bench.gateway.hotpath [--orders 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import uvloop

from switchyard.adapters.auth import mint_token
from switchyard.adapters.http.protocol import HTTPProtocol
from switchyard.app import build_gateway, start_gateway, stop_gateway
from switchyard.venue.transports import transport_from_env


class NullTransport:
    """Accepts writes and drops them (counts bytes)."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


def requests(token: str, start: int, count: int) -> list[bytes]:
    out = []
    for i in range(start, start + count):
        body = (
            b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":1,"price":60000,'
            b'"clientOrderId":"h%d"}' % i
        )
        out.append(
            b"POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer %s\r\ncontent-length: %d\r\n\r\n%s"
            % (token.encode(), len(body), body)
        )
    return out


async def measure_constant(orders: int, batch: int) -> dict[str, float]:
    """The same protocol and router answering a constant 202: the HTTP stack's own cost."""
    from switchyard.adapters.http import HTTPLimits, Response, Router, ServerState

    body = b'{"orderId":"e1-abc123-1","acceptSeq":1,"status":"ACCEPTED","durable":false}'
    router = Router()
    router.post("/orders", lambda request: Response(202, body), json_body=True)
    protocol = HTTPProtocol(ServerState(router, HTTPLimits()))
    protocol.connection_made(NullTransport())  # type: ignore[arg-type]
    per_request_us: list[float] = []
    done = 0
    while done < orders:
        chunk = requests("x" * 180, done, batch)
        started = time.thread_time_ns()
        for raw in chunk:
            protocol.data_received(raw)
        per_request_us.append((time.thread_time_ns() - started) / batch / 1000)
        done += batch
        await asyncio.sleep(0)
    return {
        "orders": done,
        "us_per_request_median": statistics.median(per_request_us),
        "us_per_request_min": min(per_request_us),
    }


async def measure(orders: int, batch: int) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="hotpath-"))
    environ = {
        **os.environ,
        "VENUE_LIQUIDITY": "0",
        "GATEWAY_PORT": "0",
        "GATEWAY_HOST": "127.0.0.1",
    }
    gateway = await build_gateway(environ, data_dir=data_dir, venue_factory=transport_from_env)
    await start_gateway(gateway)
    token = mint_token(gateway.ctx.auth.settings.secret, "bench", ttl_s=3600)
    protocol = HTTPProtocol(gateway.http.state)
    transport = NullTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    per_request_us: list[float] = []
    done = 0
    total_started = time.thread_time_ns()
    while done < orders:
        chunk = requests(token, done, batch)
        started = time.thread_time_ns()
        for raw in chunk:
            protocol.data_received(raw)
        elapsed = time.thread_time_ns() - started
        per_request_us.append(elapsed / batch / 1000)
        done += batch
        await asyncio.sleep(0)  # let commits, durability and venue effects run between batches
        if done % (batch * 20) == 0:
            await asyncio.sleep(0.01)
    for _ in range(500):  # let every order become durable, sent and acknowledged
        if gateway.node.counters.reports >= orders:
            break
        await asyncio.sleep(0.01)
    total_us = (time.thread_time_ns() - total_started) / done / 1000
    stats = gateway.node.order_outcomes
    await stop_gateway(gateway)
    return {
        "orders": done,
        "accepted": stats["accepted"],
        "us_per_request_median": statistics.median(per_request_us),
        "us_per_request_min": min(per_request_us),
        "us_per_request_mean": statistics.fmean(per_request_us),
        "us_per_order_all_effects": total_us,
        "records": gateway.node.counters.records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--constant", action="store_true", help="HTTP stack only (constant 202)")
    args = parser.parse_args()
    run = measure_constant if args.constant else measure
    result = uvloop.run(run(args.orders, args.batch))
    for key, value in result.items():
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
