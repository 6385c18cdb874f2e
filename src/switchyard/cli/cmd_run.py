"""`switchyard run`: the gateway (HTTP on GATEWAY_PORT, in-process venue unless
EXCHANGE_TRANSPORT=tcp, outbox when KAFKA_BOOTSTRAP_SERVERS is set)."""

from __future__ import annotations

import argparse
import os
import sys

from switchyard.datadir import add_data_dir_argument


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("run", help="run the gateway (default port 8080)")
    add_data_dir_argument(parser)
    parser.set_defaults(func=run)


# Recovery refused the WAL (mid-log corruption, durable records missing) or another writer
# holds it: a clear line naming the file and offset for the operator, no traceback.
EXIT_WAL_REFUSED = 3


def run(args: argparse.Namespace) -> int:
    from switchyard import app
    from switchyard.extensions import discover
    from switchyard.venue.transports import transport_from_env
    from switchyard.wal.errors import WALCorruption, WALLocked

    try:
        return app.run(os.environ, args.data_dir, transport_from_env, discover())
    except (WALCorruption, WALLocked) as error:
        sys.stderr.write(
            f"switchyard: refusing to start: {error}\n"
            "switchyard: recovery never guesses; see docs/runbooks/wal.md\n"
        )
        return EXIT_WAL_REFUSED
