"""`switchyard replay --data-dir SRC --at TIME [--window-min N] --out DIR`: rebuild the gateway
as it was around an incident in a fresh data dir and check the state hash (sre/replay.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from switchyard.datadir import add_data_dir_argument, resolve_data_dir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay", help="extract an incident window from the WAL and replay it into a fresh data dir"
    )
    add_data_dir_argument(parser)
    parser.add_argument("--at", required=True, help="incident time: ISO-8601, epoch s or epoch ms")
    parser.add_argument("--window-min", type=float, default=5.0, help="minutes either side (5)")
    parser.add_argument("--out", type=Path, required=True, help="new data dir for the replay set")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from switchyard.sre.replay import parse_time, replay

    if args.window_min <= 0:
        sys.stderr.write("switchyard replay: --window-min must be positive\n")
        return 2
    try:
        at_ns = parse_time(args.at)
        report = replay(
            resolve_data_dir(os.environ, args.data_dir),
            args.out,
            at_ns,
            args.window_min,
            dict(os.environ),
        )
    except ValueError as error:
        sys.stderr.write(f"switchyard replay: {error}\n")
        return 2
    sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    return 0 if report.match else 1
