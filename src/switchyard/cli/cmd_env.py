"""`switchyard env [--markdown] [--check]`: every setting, its default and its meaning.

The README's settings table is this command's `--markdown` output (a test keeps them equal);
`--check` validates the current environment and exits 2 naming the first bad value.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

import switchyard
from switchyard.core.env import REGISTRY, ConfigError, EnvVar

_SKIP = ("switchyard.testing", "switchyard.wal._writer_process", "switchyard.__main__")


def load_all_declarations() -> dict[str, EnvVar[object]]:
    """Import every module of the package so each one declares its variables."""
    for module in pkgutil.walk_packages(switchyard.__path__, "switchyard."):
        if not module.name.startswith(_SKIP):
            importlib.import_module(module.name)
    return REGISTRY


def markdown_table() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    by_section: dict[str, list[EnvVar[object]]] = {}
    for var in load_all_declarations().values():
        by_section.setdefault(var.section, []).append(var)
    for section in sorted(by_section, key=str.lower):
        for var in sorted(by_section[section], key=lambda v: v.name):
            default = f"`{var.default}`" if var.default else "(unset)"
            meaning = var.help.replace("|", "\\|")
            lines.append(f"| `{var.name}` | {default} | {section}: {meaning} |")
    return "\n".join(lines) + "\n"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("env", help="list every setting (or check the environment)")
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    parser.add_argument("--check", action="store_true", help="validate the current environment")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(markdown_table())
        return 0
    registry = load_all_declarations()
    if args.check:
        for var in registry.values():
            try:
                var.read(os.environ)
            except ConfigError as error:
                sys.stderr.write(f"switchyard env: {error}\n")
                return 2
        sys.stdout.write(f"{len(registry)} settings ok\n")
        return 0
    for name in sorted(registry):
        var = registry[name]
        current = os.environ.get(name)
        hidden = any(word in name for word in ("SECRET", "KEY", "TOKEN", "DB_URL"))
        shown = "" if current is None else f"  (set: {'<hidden>' if hidden else current})"
        sys.stdout.write(f"{name}={var.default}{shown}\n    {var.help}\n")
    return 0
