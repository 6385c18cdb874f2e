"""The `switchyard` console script: one subcommand per module `cli/cmd_*.py`.

Each module exposes `register(subparsers)`, adding its parser with `set_defaults(func=...)`;
`func(args) -> int` is the exit status. Modules are discovered, so adding a command never
means editing this file.
"""

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import switchyard
from switchyard import cli
from switchyard.core.env import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchyard", description="Order gateway and event switchyard for low-latency trading."
    )
    parser.add_argument("--version", action="version", version=switchyard.__version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda m: m.name):
        if module_info.name.startswith("cmd_"):
            module = importlib.import_module(f"switchyard.cli.{module_info.name}")
            module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if not __debug__:
        # Asserts are our invariants (STYLE 2.5): running without them is running unchecked.
        sys.stderr.write("switchyard: refusing to run under `python -O` (asserts stripped)\n")
        return 2
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except ConfigError as error:
        sys.stderr.write(f"switchyard: configuration error: {error}\n")
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
