"""Settings the tools share with the gateway, read through the gateway's own declarations.

`JWT_HS256_SECRET` and `SWITCHYARD_DATA_DIR` belong to the gateway (DESIGN.md §2): the module
that uses them declares them with `core.env.declare`. Declaring them again here would make
the two declarations collide in one process, so the tools read them through the registry when
the owner is loaded, and with the same name and default otherwise. Variables the tools alone
read are declared in the tool's own module.
"""

from collections.abc import Mapping
from pathlib import Path

from switchyard.core import env

DATA_DIR_DEFAULT = "./var"
JWT_SECRET_FILE = Path("secrets") / "jwt-hs256.key"  # under the data dir (DESIGN.md §2)


def read_shared(name: str, default: str, environ: Mapping[str, str]) -> str:
    """A gateway-owned variable: parsed by its declaration when loaded, raw otherwise."""
    declared = env.REGISTRY.get(name)
    if declared is not None:
        value = declared.read(environ)
        if value is None:
            return ""
        return value.decode() if isinstance(value, bytes) else str(value)
    return environ.get(name, default).strip()


def data_dir(environ: Mapping[str, str], override: str | None = None) -> Path:
    """`--data-dir`, else SWITCHYARD_DATA_DIR, else ./var."""
    if override:
        return Path(override)
    return Path(read_shared("SWITCHYARD_DATA_DIR", DATA_DIR_DEFAULT, environ) or DATA_DIR_DEFAULT)
