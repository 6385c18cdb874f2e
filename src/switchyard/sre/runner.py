"""The runner label: which machine a performance number belongs to (the seed's RUNNER_LABEL).

Baselines are kept per runner label (bench/baselines/<label>.json) because numbers from
different machines are not comparable. Declares RUNNER_LABEL.
"""

import re
from collections.abc import Mapping

from switchyard.core import env

_LABEL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _parse_label(raw: str) -> str:
    value = raw.strip() or "local"
    if not _LABEL.match(value):
        raise ValueError("expected 1-64 characters from A-Z a-z 0-9 _ . -")
    return value


RUNNER_LABEL = env.declare(
    "RUNNER_LABEL",
    "local",
    "Machine label for performance baselines (bench/baselines/<label>.json) used by "
    "`switchyard perf-gate` and recorded in bench results.",
    _parse_label,
    section="sre",
)


def runner_label(environ: Mapping[str, str], override: str | None = None) -> str:
    """`--runner-label`, else RUNNER_LABEL, else `local`."""
    if override is not None:
        try:
            return _parse_label(override)
        except ValueError as error:
            raise env.ConfigError(f"--runner-label={override!r}: {error}") from None
    return RUNNER_LABEL.read(environ)
