"""Result documents: reading, writing and validating them against the versioned contracts.

Owns the schema names (`switchyard.bench.v1`, `switchyard.canary_result.v1`), the lookup of
`contracts/<name>.schema.json`, and the common blocks every result carries (machine, git,
timestamp). One schema per document kind and version: a document says which it is in its
`schema` field, and readers refuse documents they do not know.
"""

import json
import os
import platform
import shutil
import socket
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from switchyard.sre import paths

BENCH_SCHEMA = "switchyard.bench.v1"
CANARY_SCHEMA = "switchyard.canary_result.v1"

# schema name -> file under contracts/
SCHEMA_FILES: dict[str, str] = {
    BENCH_SCHEMA: "bench.v1.schema.json",
    CANARY_SCHEMA: "canary_result.v1.schema.json",
}

GIT_TIMEOUT_S = 10.0  # git on a local checkout answers in milliseconds; a hang is a broken repo

Document = dict[str, Any]


class DocumentError(ValueError):
    """A result document is unreadable, of an unknown kind, or fails its schema."""


def iso_utc(wall_ns: int) -> str:
    """Format epoch nanoseconds as RFC 3339 UTC with microseconds (what the schemas expect)."""
    assert wall_ns > 0
    moment = datetime.fromtimestamp(wall_ns / 1e9, tz=UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def load_schema(schema_name: str, contracts: Path | None = None) -> Document:
    """Load the JSON Schema for a document kind from contracts/."""
    if schema_name not in SCHEMA_FILES:
        raise DocumentError(f"unknown document schema {schema_name!r}")
    path = (contracts or paths.contracts_dir()) / SCHEMA_FILES[schema_name]
    schema: Document = json.loads(path.read_text(encoding="utf-8"))
    return schema


def schema_errors(document: Mapping[str, Any], contracts: Path | None = None) -> list[str]:
    """Every schema violation of `document`, as `path: message` lines; empty when valid."""
    name = document.get("schema")
    if not isinstance(name, str) or name not in SCHEMA_FILES:
        return [f"schema: unknown or missing document schema {name!r}"]
    schema = load_schema(name, contracts)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in errors
    ]


def read_document(path: Path) -> Document:
    """Read a JSON result document; the message names the file when it cannot."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DocumentError(f"{path}: cannot read a JSON document: {error}") from None
    if not isinstance(document, dict):
        raise DocumentError(f"{path}: expected a JSON object at the top level")
    return document


def write_document(path: Path, document: Mapping[str, Any]) -> None:
    """Write a document atomically (temp file + rename), so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def git_info(root: Path | None = None) -> Document:
    """The checkout's revision and whether the working tree has changes."""
    cwd = root or paths.repo_root()
    try:
        rev = _git(cwd, "rev-parse", "HEAD")
        dirty = _git(cwd, "status", "--porcelain", "--untracked-files=no") != ""
    except (OSError, subprocess.SubprocessError):
        return {"rev": "unknown", "dirty": False}
    return {"rev": rev, "dirty": dirty}


def _git(cwd: Path, *args: str) -> str:
    binary = shutil.which("git")
    if binary is None:
        raise OSError("git is not installed")
    completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=True
    )
    return completed.stdout.strip()


def machine_info() -> Document:
    """What the numbers were measured on: CPU, memory, kernel, Python, load at the time."""
    load = os.getloadavg()
    return {
        "hostname": socket.gethostname(),
        "cpuCount": os.cpu_count() or 0,
        "cpuModel": _cpu_model(),
        "memTotalBytes": _mem_total_bytes(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadAvg1m": round(load[0], 2),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
