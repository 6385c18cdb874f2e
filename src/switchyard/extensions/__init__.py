"""Optional parts of the gateway process, discovered at start (composition root helpers).

Each module here exposes `ORDER: int` and `install(gateway, environ) -> None`. `install` gets
the built (not yet listening) Gateway and the environment; it registers routes on
`gateway.http.state.router`, collectors on `gateway.ctx.extras["registry"]`, health checks in
`gateway.ctx.extras["health_checks"]` (name -> callable returning (level, detail)), stats in
`gateway.ctx.extras["stats_sources"]`, admin views in `gateway.ctx.extras["admin_sources"]`,
and async/sync stop hooks in `gateway.on_stop`; and does nothing when its settings say off.
Modules run in ascending ORDER (e.g. admission control before the features that use it).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchyard.app import Gateway

Install = Callable[["Gateway", Mapping[str, str]], Any]


def discover() -> tuple[Install, ...]:
    """The install functions of every extension module, in their ORDER."""
    found: list[tuple[int, str, Install]] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append((getattr(module, "ORDER", 100), info.name, module.install))
    return tuple(install for _, _, install in sorted(found, key=lambda item: item[:2]))
