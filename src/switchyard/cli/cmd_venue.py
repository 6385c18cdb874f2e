"""`switchyard venue`: the stand-alone TCP venue (matching engine + simulated liquidity).

switchyard venue [--port 9901] [--host 127.0.0.1] [--metrics-port 9902] [--seed N]
                 [--symbols BTC,ETH] [--no-liquidity]

Serves newline-delimited JSON on EXCHANGE_TCP_PORT (docs/VENUE.md), Prometheus metrics on
VENUE_METRICS_PORT (0 = off). SIGTERM/SIGINT stop it gracefully (flush, close); a second
signal exits at once. Prints `venue listening on HOST:PORT` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any

import uvloop

from switchyard.adapters.clock_system import SystemClock
from switchyard.venue.server import VenueServer
from switchyard.venue.service import VenueService
from switchyard.venue.settings import VenueSettings

log = logging.getLogger("switchyard.venue")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "venue",
        help="stand-alone TCP venue: matching engine with simulated liquidity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, help="default: $EXCHANGE_TCP_PORT (9901); 0 = any")
    parser.add_argument("--host", help="listen address, default: $EXCHANGE_TCP_BIND (127.0.0.1)")
    parser.add_argument("--metrics-port", type=int, help="default: $VENUE_METRICS_PORT (9902)")
    parser.add_argument("--seed", type=int, help="default: $VENUE_SEED (42)")
    parser.add_argument("--symbols", help="default: $VENUE_SYMBOLS")
    parser.add_argument(
        "--no-liquidity", action="store_true", help="no market makers (VENUE_LIQUIDITY=off)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    overrides = {
        "EXCHANGE_TCP_PORT": args.port,
        "EXCHANGE_TCP_BIND": args.host,
        "VENUE_METRICS_PORT": args.metrics_port,
        "VENUE_SEED": args.seed,
        "VENUE_SYMBOLS": args.symbols,
        "VENUE_LIQUIDITY": "off" if args.no_liquidity else None,
    }
    environ.update({name: str(value) for name, value in overrides.items() if value is not None})
    port_zero = args.port == 0
    if port_zero:
        environ["EXCHANGE_TCP_PORT"] = "1"  # validated below; 0 means "any free port"
    settings = VenueSettings.from_env(environ)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return int(uvloop.run(serve(settings, 0 if port_zero else settings.tcp_port)))


async def serve(settings: VenueSettings, port: int) -> int:
    """Run the venue until a signal; 0 on a clean stop, 1 after a broken invariant."""
    service = VenueService.from_settings(settings)
    server = VenueServer(service, clock=SystemClock(), tick_ms=settings.tick_ms)
    bound = await server.start(settings.tcp_bind, port)
    if settings.metrics_port:
        from prometheus_client import start_http_server

        from switchyard.venue.metrics import build_registry

        start_http_server(
            settings.metrics_port, addr=settings.tcp_bind, registry=build_registry(server)
        )
    loop = asyncio.get_running_loop()
    signals_seen = 0
    stopping: set[asyncio.Task[None]] = set()

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            log.warning("second signal %d: exiting now", signum)
            os._exit(130)
        log.info("signal %d: stopping (flush and close connections)", signum)
        task = loop.create_task(server.stop())
        stopping.add(task)
        task.add_done_callback(stopping.discard)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    sys.stdout.write(f"venue listening on {settings.tcp_bind}:{bound}\n")
    sys.stdout.flush()
    log.info(
        "venue up port=%d symbols=%s liquidity=%s seed=%d metrics_port=%d",
        bound,
        ",".join(service.symbols()),
        settings.liquidity,
        settings.seed,
        settings.metrics_port,
    )
    await server.stopped.wait()
    log.info("venue stopped")
    return 1 if server.fatal is not None else 0
