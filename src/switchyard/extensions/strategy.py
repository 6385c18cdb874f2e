"""The strategy auto-trader in the gateway process (issue 6): an `extensions` module.

`install()` reads the STRATEGY_* settings (a bad value stops startup, naming the variable),
builds `switchyard.strategy.Strategy` on the gateway node and wires it in: the routes
(GET/PUT /api/strategy, /api/strategy/decisions, /api/strategy/history), a Prometheus
collector, a /health check ("strategy": degraded while its config store is down or after a
failed tick), a /stats section, an /api/admin section and a stop hook that stops the ticks
before the node drains. It gives the trader the same gates HTTP orders pass before the
sequencer: the gateway still accepting, admission control (`ctx.extras["admission"]`) and
key ownership (`ctx.extras["ownership"]`), read at each order so their ORDER does not matter.
The config store opens on its own thread once installed; nothing here blocks the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from switchyard.strategy import Strategy, StrategySettings, Venue
from switchyard.strategy import decisions as reasons
from switchyard.venue.settings import VENUE_SYMBOLS

if TYPE_CHECKING:
    from switchyard.app import Gateway

ORDER = 70  # after admission control (10), ownership (20) and the outbox (60); before the UI
log = logging.getLogger("switchyard.strategy")

# The seed App's strategy settings that have no meaning here (docs/STRATEGY.md says why)
RETIRED_SETTINGS = {
    "ACCOUNT_ID": "the strategy account is STRATEGY_ACCOUNT_ID",
    "APP_DB_USER": "credentials go in APP_DB_URL",
    "APP_DB_PASSWORD": "credentials go in APP_DB_URL",
    "APP_DB_POOL": "the config uses one database thread and connection",
    "STRATEGY_SCHEDULER_MS": "the runner ticks every tickMs of the config",
}


def install(gateway: Gateway, environ: Mapping[str, str]) -> Strategy:
    for name, why in RETIRED_SETTINGS.items():
        if environ.get(name):
            log.warning("event=retired_setting name=%s: ignored; %s", name, why)
    lot_sizes = {spec.symbol: spec.lot_size for spec in VENUE_SYMBOLS.read(environ)}
    venue = gateway.venue

    def venue_info() -> Venue:
        # The venue's own list when it has one (a TCP venue before it connects has none).
        return Venue(frozenset(venue.symbols()), lot_sizes)

    settings = StrategySettings.from_env(environ, data_dir=gateway.data_dir, venue=venue_info())
    ctx = gateway.ctx
    extras: dict[str, Any] = ctx.extras
    node = gateway.node

    def refusal(symbol: str) -> str | None:
        if not node.accepting:
            return reasons.SHUTTING_DOWN
        admission = extras.get("admission")
        if admission is not None and admission() is not None:
            return reasons.BACKPRESSURE
        ownership = extras.get("ownership")
        if ownership is not None and ownership(symbol) is not None:
            return reasons.NOT_OWNER
        return None

    strategy = Strategy(settings=settings, node=node, venue=venue_info, refusal=refusal)
    strategy.api.register(gateway.http.state.router)
    extras["registry"].register(strategy.collector)
    extras["health_checks"]["strategy"] = strategy.health
    extras["stats_sources"].append(strategy.stats)
    extras["admin_sources"]["strategy"] = strategy.admin
    extras["strategy"] = strategy
    gateway.on_stop.append(strategy.stop)
    strategy.start()
    if not settings.admin_token:
        log.warning(
            "event=strategy_admin_token_unset: STRATEGY_ADMIN_TOKEN is not set, so anyone who "
            "reaches this gateway can change the strategy config (PUT /api/strategy)"
        )
    log.info(
        "event=strategy account=%s auto_enable=%s db=%s refresh_ms=%d",
        settings.account_id,
        settings.auto_enable,
        settings.db_url.split("://", 1)[0],
        settings.refresh_ms,
    )
    return strategy
