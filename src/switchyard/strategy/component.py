"""`Strategy`: the auto-trader assembled from its parts, with its health, stats and admin views.

Owns the wiring inside the strategy package: settings -> trader (over a SequencerPort on the
gateway node) -> runner; the config service feeding the runner; the HTTP API and the metrics
collector over both. `start()` opens the config store off the loop and begins refreshing;
`stop()` stops ticking first, then closes the store. Must not reach into the gateway beyond
the node, the venue and the hooks it is given (extensions/strategy.py wires those).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

from switchyard.runtime.node import GatewayNode

from .api import StrategyAPI
from .config import StrategyConfig, Venue
from .metrics import StrategyCollector
from .port import Refusal, SequencerPort
from .runner import StrategyRunner
from .service import ConfigService, Storage
from .settings import StrategySettings
from .trader import Trader

DECISIONS_MAX: Final = 1_000  # recent decisions kept for the API (one per symbol per tick)


class Strategy:
    def __init__(
        self,
        *,
        settings: StrategySettings,
        node: GatewayNode,
        venue: Callable[[], Venue],
        refusal: Refusal,
    ) -> None:
        self.settings = settings
        self.node = node
        self.port = SequencerPort(
            account_id=settings.account_id,
            state=node.sequencer.state,
            submit_order=functools.partial(node.submit_order, t0_ns=0),
            book=node.venue.book,
            refusal=refusal,
        )
        self.trader = Trader(settings.seed, self.port, decisions_max=DECISIONS_MAX)
        self.trader.track_existing(iter(self.port.live_orders()))
        self.runner = StrategyRunner(
            trader=self.trader, clock=node.clock, auto_enable=settings.auto_enable
        )
        self.service = ConfigService(
            settings=settings, venue=venue, clock=node.clock, on_change=self._config_changed
        )
        self.api = StrategyAPI(
            service=self.service,
            runner=self.runner,
            account_id=settings.account_id,
            admin_token=settings.admin_token,
            venue=venue,
        )
        self.collector = StrategyCollector(self.runner, self.service)

    def _config_changed(self, config: StrategyConfig) -> None:
        self.runner.apply(config)

    def start(self) -> None:
        self.service.start()

    async def stop(self) -> None:
        self.runner.close()  # no tick (and so no order) after this line
        await self.service.close()

    # --- views -----------------------------------------------------------------------------

    def health(self) -> tuple[str, dict[str, Any]]:
        """Degraded while the config store is down (trading on the last good config) or
        after a failed tick; healthy otherwise (also while the store is still opening)."""
        service = self.service
        runner = self.runner
        config = service.config
        detail: dict[str, Any] = {
            "enabled": config.enabled,
            "running": runner.running,
            "configVersion": config.version,
            "storage": service.status.state.value,
        }
        if runner.failed is not None:
            return "degraded", {**detail, "reason": f"the strategy stopped: {runner.failed}"}
        status = service.status
        if status.state is Storage.UNAVAILABLE:
            return "degraded", {
                **detail,
                "reason": f"config store unavailable ({status.message}); running on the last "
                f"good config, version {config.version} (enabled={config.enabled})",
                "unavailableSinceMs": status.unavailable_since_ms,
            }
        return "healthy", detail

    def stats(self) -> dict[str, Any]:
        trader = self.trader
        orders = sum(trader.orders.values())
        return {
            "strategy_enabled": trader.config.enabled,
            "strategy_running": self.runner.running,
            "strategy_config_version": trader.config.version,
            "strategy_ticks": trader.ticks,
            "strategy_orders_submitted": orders,
            "strategy_storage": self.service.status.state.value,
        }

    def admin(self) -> dict[str, Any]:
        return {
            "accountId": self.settings.account_id,
            "adminTokenSet": bool(self.settings.admin_token),
            "refreshMs": self.settings.refresh_ms,
            "config": self.api.view(),
        }
