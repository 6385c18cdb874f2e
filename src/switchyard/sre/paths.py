"""Where the toolchain finds the repository's files: contracts, SLO spec, docs, baselines.

The tools run from a checkout (editable install), so the repository root is found from this
file's location, and from the working directory as a fallback (a copy of the tools run inside
another checkout). Owns no I/O beyond `Path.exists`.
"""

from pathlib import Path

_MARKERS = ("pyproject.toml", "contracts")


def _is_root(path: Path) -> bool:
    return all((path / marker).exists() for marker in _MARKERS)


def repo_root(start: Path | None = None) -> Path:
    """The checkout's root: the nearest parent holding pyproject.toml and contracts/."""
    candidates = [start] if start is not None else [Path.cwd(), Path(__file__).resolve()]
    for candidate in candidates:
        for path in (candidate, *candidate.parents):
            if _is_root(path):
                return path
    raise FileNotFoundError(
        "cannot find the repository root (a directory with pyproject.toml and contracts/); "
        "run from inside the switchyard checkout"
    )


def contracts_dir() -> Path:
    return repo_root() / "contracts"


def slo_spec_path() -> Path:
    return repo_root() / "docs" / "specs" / "slo.md"


def docs_dir() -> Path:
    return repo_root() / "docs"


def baselines_dir() -> Path:
    return repo_root() / "bench" / "baselines"


def results_dir() -> Path:
    return repo_root() / "bench" / "results"


def profiles_dir() -> Path:
    return repo_root() / "bench" / "profiles"
