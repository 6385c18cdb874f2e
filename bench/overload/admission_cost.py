"""What admission control costs per POST /orders, measured in-process on a real built gateway.

1. The hook alone (`ctx.extras["admission"]`) and the whole admission step
   (`api_orders._admission`: accepting flag + hook lookup + hook), in ns per call, for: no
   hook installed; the backpressure extension with nothing configured (only the always-on
   bounds: full disk, the sampled WAL safety bound, venue queue); every static limit and the
   adaptive limit configured (admitting); and a refusal (the 429 Response built).
2. The whole request in the HTTP protocol (parse, auth cache, admission, decode, sequencer,
   WAL append, answer bytes) through a null transport: an accepted order versus a refused
   one, in µs of thread CPU per request (what shedding costs next to serving).

    python -m bench.overload.admission_cost [--out bench/results/overload-admission.json]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import uvloop

from bench.gateway.hotpath import NullTransport
from switchyard.adapters import api_orders
from switchyard.adapters.auth import mint_token
from switchyard.adapters.http.protocol import HTTPProtocol
from switchyard.app import Gateway, build_gateway, start_gateway, stop_gateway
from switchyard.extensions import backpressure
from switchyard.venue.transports import transport_from_env

BASE_ENV = {"VENUE_LIQUIDITY": "0", "GATEWAY_PORT": "0", "GATEWAY_HOST": "127.0.0.1"}
ALL_CONFIGURED = {
    "BACKPRESSURE_INFLIGHT_MAX": "100000",
    "BACKPRESSURE_WAL_BYTES_MAX": "100000000",
    "BACKPRESSURE_WAL_AGE_MS_MAX": "1000",
    "BACKPRESSURE_SOFT_WAL_AGE_MS_MAX": "500",
    "BACKPRESSURE_DISK_FREE_PCT_MIN": "1",
    "BACKPRESSURE_INFLIGHT_DYNAMIC": "1",
    "BACKPRESSURE_INFLIGHT_CAP": "100000",
    "BACKPRESSURE_INFLIGHT_INITIAL": "100000",
}
REFUSING = {
    "BACKPRESSURE_INFLIGHT_DYNAMIC": "1",
    "BACKPRESSURE_INFLIGHT_MIN": "1",
    "BACKPRESSURE_INFLIGHT_CAP": "1",
    "BACKPRESSURE_INFLIGHT_INITIAL": "1",
}
CALLS = 500_000
REPEATS = 7


async def _gateway(extra: Mapping[str, str], *, with_extension: bool) -> Gateway:
    environ = {**os.environ, **BASE_ENV, **extra}
    data_dir = Path(tempfile.mkdtemp(prefix="bench-admission-"))
    extensions = (backpressure.install,) if with_extension else ()
    gateway = await build_gateway(
        environ, data_dir=data_dir, venue_factory=transport_from_env, extensions=extensions
    )
    await start_gateway(gateway)
    return gateway


def _ns_per_call(function: Callable[[], Any]) -> float:
    timer = timeit.Timer(function)
    best = min(timer.repeat(repeat=REPEATS, number=CALLS))
    return best / CALLS * 1e9


async def admission_step() -> dict[str, float]:
    """ns per call of the hook alone and of the whole admission step (`_admission(ctx)`),
    minus the cost of calling an empty function (timeit's own overhead)."""
    overhead = _ns_per_call(lambda: None)
    results: dict[str, float] = {"timeit_call_overhead_ns": round(overhead, 1)}
    cases: list[tuple[str, Mapping[str, str], bool]] = [
        ("no_hook", {}, False),
        ("nothing_configured", {}, True),
        ("all_configured_admitting", ALL_CONFIGURED, True),
        ("refusing_429", REFUSING, True),
    ]
    for name, extra, with_extension in cases:
        gateway = await _gateway(extra, with_extension=with_extension)
        ctx = gateway.ctx
        if name == "refusing_429":
            gateway.node.order_outcomes["accepted"] += 1  # one order inflight: every check refuses
            answer = api_orders._admission(ctx)
            assert answer is not None
            assert answer.status == 429
        else:
            assert api_orders._admission(ctx) is None, name
        hook = ctx.extras.get("admission")
        if hook is not None:
            results[f"hook_{name}_ns"] = round(_ns_per_call(hook) - overhead, 1)
        step = functools.partial(api_orders._admission, ctx)
        results[f"step_{name}_ns"] = round(_ns_per_call(step) - overhead, 1)
        if name == "refusing_429":
            gateway.node.order_outcomes["accepted"] -= 1
        await stop_gateway(gateway)
    return results


def _requests(token: str, start: int, count: int) -> list[bytes]:
    out = []
    for i in range(start, start + count):
        body = (
            b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":1,"price":60000,'
            b'"timeInForce":"IOC","clientOrderId":"a%d"}' % i
        )
        out.append(
            b"POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer %s\r\ncontent-length: %d\r\n\r\n%s"
            % (token.encode(), len(body), body)
        )
    return out


async def request_cpu(extra: Mapping[str, str], orders: int, batch: int) -> dict[str, Any]:
    """µs of thread CPU per request through the real protocol, and the answers' statuses."""
    gateway = await _gateway(extra, with_extension=True)
    token = mint_token(gateway.ctx.auth.settings.secret, "bench", ttl_s=3600)
    protocol = HTTPProtocol(gateway.http.state)
    transport = NullTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    per_request_us: list[float] = []
    done = 0
    while done < orders:
        chunk = _requests(token, done, batch)
        started = time.thread_time_ns()
        for raw in chunk:
            protocol.data_received(raw)
        per_request_us.append((time.thread_time_ns() - started) / batch / 1000)
        done += batch
        await asyncio.sleep(0.002)  # let this batch become durable between batches
    outcomes = dict(gateway.node.order_outcomes)
    await stop_gateway(gateway)
    return {
        "requests": done,
        "accepted": outcomes["accepted"],
        "us_per_request_median": round(statistics.median(per_request_us), 2),
        "us_per_request_min": round(min(per_request_us), 2),
    }


async def run(orders: int) -> dict[str, Any]:
    step = await admission_step()
    accepted = await request_cpu({}, orders, 50)
    # A limit of 1 with 50 requests per read: the first is accepted, the other 49 refused.
    refused = await request_cpu(REFUSING, orders, 50)
    return {
        "schema": "switchyard.bench.overload-admission.v1",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "admissionStepNs": step,
        "requestCpu": {"acceptedOrders": accepted, "refusedOrders": refused},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/overload-admission.json"))
    args = parser.parse_args()
    result = uvloop.run(run(args.orders))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
