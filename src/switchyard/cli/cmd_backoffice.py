"""`switchyard backoffice [run|migrate|rebuild]`: the back office service and its tools.

switchyard backoffice             serve the API on BACKOFFICE_PORT (8082), applying events
                                  from Kafka (KAFKA_BOOTSTRAP_SERVERS) or the gateway's WAL
switchyard backoffice migrate     apply the database migrations and exit
switchyard backoffice rebuild     recompute the books from the start of the topic (or WAL)
                                  into a scratch database; exit 0 if equal to the live
                                  books, 1 if not (the differences are printed as JSON)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import exc as sa_exc

from switchyard.backoffice import rebuild as rebuild_module
from switchyard.backoffice.db import current_revision, open_database
from switchyard.backoffice.settings import BackofficeSettings
from switchyard.datadir import resolve_data_dir


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backoffice",
        help="back office: ledger, positions, balances, PnL (serve, migrate, rebuild)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", nargs="?", default="run", choices=["run", "migrate", "rebuild"])
    parser.add_argument("--data-dir", type=Path, help="default: $SWITCHYARD_DATA_DIR or ./var")
    parser.add_argument("--port", type=int, help="default: $BACKOFFICE_PORT (8082)")
    parser.add_argument("--db-url", help="default: $APP_DB_URL or SQLite under the data dir")
    parser.add_argument(
        "--scratch-url", help="rebuild: database to rebuild into (default: temp SQLite)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    if args.port is not None:
        environ["BACKOFFICE_PORT"] = str(args.port)
    if args.db_url:
        environ["APP_DB_URL"] = args.db_url
    data_dir = resolve_data_dir(environ, args.data_dir)
    settings = BackofficeSettings.from_env(environ, data_dir=data_dir)
    _configure_logging()
    try:
        return _act(args, settings, environ)
    except sa_exc.OperationalError as error:
        sys.stderr.write(f"switchyard backoffice: database unavailable: {error.orig}\n")
        return 1


def _act(args: argparse.Namespace, settings: BackofficeSettings, environ: dict[str, str]) -> int:
    if args.action == "migrate":
        engine = open_database(settings.db_url)
        revision = current_revision(engine)
        engine.dispose()
        sys.stdout.write(f"backoffice schema at revision {revision}\n")
        return 0
    if args.action == "rebuild":
        report = rebuild_module.rebuild(settings, scratch_url=args.scratch_url)
        sys.stdout.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0 if report.equal else 1
    import uvloop

    from switchyard.backoffice.service import serve
    from switchyard.extensions.openapi import backoffice_document, encode

    status: int = uvloop.run(serve(settings, environ, openapi=encode(backoffice_document())))
    return status


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
            stream=sys.stderr,
        )
