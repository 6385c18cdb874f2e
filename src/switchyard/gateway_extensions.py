"""Optional parts of the gateway process, each wired in by one function (composition root).

An extension gets the built Gateway and the environment; it registers routes, collectors,
health checks and stop hooks, and does nothing when its settings say it is off.
"""

from __future__ import annotations

from switchyard.app import Extension

EXTENSIONS: tuple[Extension, ...] = ()
