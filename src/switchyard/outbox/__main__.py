"""`python -m switchyard.outbox`: the outbox as its own process, beside a gateway.

The outbox reads the WAL through files only (WALTailer and the DURABLE watermark), so it can
run outside the gateway: then it never competes with the gateway's event loop for the
interpreter lock (bench/outbox measures the difference). It polls the watermark every
OUTBOX_POLL_INTERVAL_MS instead of being woken by the gateway. Settings as in-process;
`--metrics-port` serves its Prometheus metrics. Stops on SIGINT/SIGTERM after storing its
offset; exits 1 if the publishing thread failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from switchyard.core import env
from switchyard.wal.settings import HMAC_KEY

from .publisher import Outbox, OutboxState
from .settings import DEFAULT_ENGINE_ID, read_shared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchyard.outbox", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="default: $SWITCHYARD_DATA_DIR or ./var")
    parser.add_argument("--engine-id", default=None, help="used until a SessionStarted names one")
    parser.add_argument("--metrics-port", type=int, default=0, help="Prometheus port (0: none)")
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
    )
    data_dir = args.data_dir or Path(
        read_shared("SWITCHYARD_DATA_DIR", "./var", environ) or "./var"
    )
    engine_id = (
        args.engine_id or read_shared("ENGINE_ID", DEFAULT_ENGINE_ID, environ) or DEFAULT_ENGINE_ID
    )
    try:
        outbox = build(environ, data_dir, engine_id)
    except env.ConfigError as error:
        sys.stderr.write(f"outbox: configuration error: {error}\n")
        return 2
    if outbox is None:
        sys.stderr.write("outbox: KAFKA_BOOTSTRAP_SERVERS is not set: nothing to do\n")
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.metrics_port:
        from prometheus_client import CollectorRegistry, start_http_server

        from .metrics import OutboxCollector

        registry = CollectorRegistry()
        registry.register(OutboxCollector(outbox))
        start_http_server(args.metrics_port, registry=registry)
    outbox.start()
    while not stop.wait(1.0):
        if not outbox.is_alive():
            break
    outbox.close_blocking(10.0)
    return 1 if outbox.state is OutboxState.FAILED else 0


def build(environ: dict[str, str], data_dir: Path, engine_id: str) -> Outbox | None:
    """The outbox of this process: no event loop here, so its thread never offers the GIL."""
    return Outbox.from_env(
        environ,
        data_dir / "wal",
        HMAC_KEY.read(environ),
        engine_id=engine_id,
        shares_event_loop=False,
    )


if __name__ == "__main__":
    sys.exit(main())
