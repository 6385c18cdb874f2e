"""`switchyard run`: the gateway (HTTP on GATEWAY_PORT, in-process venue unless
EXCHANGE_TRANSPORT=tcp, outbox when KAFKA_BOOTSTRAP_SERVERS is set)."""

from __future__ import annotations

import argparse
import os

from switchyard.datadir import add_data_dir_argument


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("run", help="run the gateway (default port 8080)")
    add_data_dir_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from switchyard import app
    from switchyard.extensions import discover
    from switchyard.venue.transports import transport_from_env

    return app.run(os.environ, args.data_dir, transport_from_env, discover())
