"""Where every process keeps its files: $SWITCHYARD_DATA_DIR (default ./var), or --data-dir.

Layout under it: wal/ (segments, anchors, durable watermark), secrets/ (development JWT
secret), outbox/ (Kafka offset file), backoffice.db and strategy.db (SQLite defaults).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from switchyard.core import env

SWITCHYARD_DATA_DIR = env.declare(
    "SWITCHYARD_DATA_DIR",
    "./var",
    "Directory for the WAL, secrets, offsets and SQLite files (every command; --data-dir wins).",
    env.text,
    section="general",
)


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory (default: $SWITCHYARD_DATA_DIR or ./var)",
    )


def resolve_data_dir(environ: Mapping[str, str], override: Path | None = None) -> Path:
    """The data directory: an explicit override, else the environment, else ./var."""
    if override is not None:
        return override
    raw = SWITCHYARD_DATA_DIR.read(environ)
    if not raw:
        raise env.ConfigError("SWITCHYARD_DATA_DIR='': must name a directory")
    return Path(raw)
