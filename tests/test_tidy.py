"""Tidy (after TigerBeetle's tidy.zig): rules that keep the source easy to read.

- A function fits on a screen: at most 70 lines, except the listed hot-path functions, where
  one function per operation is a measured choice (each exception says why).
- No print() in src: output goes through logging, sys.stdout.write in CLIs, or a return value.
- Every TODO/FIXME names an issue number.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "switchyard"
FUNCTION_LINES_MAX = 70

# path relative to src/switchyard, function name -> why it may be longer
LONG_FUNCTION_EXCEPTIONS = {
    ("book/order_book.py", "_match"): "matching hot loop, kept whole to avoid per-call overhead",
    ("book/order_book.py", "new_order"): "hot path: one call per operation (bench-venue)",
    ("book/order_book.py", "replace"): "hot path: one call per operation (bench-venue)",
}
EXEMPT_DIRS = ("backoffice/migrations/", "strategy/migrations/")


def python_files() -> list[Path]:
    return [
        path
        for path in SRC.rglob("*.py")
        if not any(str(path.relative_to(SRC)).startswith(d) for d in EXEMPT_DIRS)
    ]


def test_functions_fit_on_a_screen() -> None:
    too_long = []
    for path in python_files():
        relative = str(path.relative_to(SRC))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if (
                    lines > FUNCTION_LINES_MAX
                    and (relative, node.name) not in LONG_FUNCTION_EXCEPTIONS
                ):
                    too_long.append(f"{relative}:{node.lineno} {node.name} has {lines} lines")
    assert not too_long, "split these functions:\n" + "\n".join(too_long)


def test_no_print_in_src() -> None:
    found = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not found, found


def test_todos_name_an_issue() -> None:
    found = []
    for path in python_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\b(TODO|FIXME|XXX)\b", line) and not re.search(r"#\d+|issue \d+", line):
                found.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not found, found


def test_exceptions_still_exist() -> None:
    """An exception for a function that no longer needs it must be removed."""
    for (relative, name), _ in LONG_FUNCTION_EXCEPTIONS.items():
        tree = ast.parse((SRC / relative).read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name in names, (relative, name)
