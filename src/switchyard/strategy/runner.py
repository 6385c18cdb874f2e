"""`StrategyRunner`: ticks the trader on the event loop while the strategy is enabled.

Owns the schedule (a loop timer every `tickMs`, late ticks skipped and counted, never
bunched), start and stop as configs arrive (`apply`), the tick-duration series and the
runner's status. A tick is synchronous on the loop: every order it submits is sequenced (or
refused) before the tick returns, so stopping (disable, STRATEGY_AUTO_ENABLE=0, shutdown)
between ticks never leaves an order half-submitted; orders already sent are IOC and end at
the venue on their own. A tick that raises stops the runner (logged by the loop with its
traceback, shown in /health) until a new config version is applied.
Must not do I/O or block: the tick's work is bounded by the config's limits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from switchyard.core.ports import Clock
from switchyard.runtime.latency import LatencyRecorder

from .config import StrategyConfig
from .signal import required_samples
from .trader import Trader

log = logging.getLogger("switchyard.strategy")

_NS_PER_MS: Final = 1_000_000

# Why the runner is not ticking
DISABLED: Final = "disabled"  # the config says enabled=false
AUTO_ENABLE_OFF: Final = "auto_enable_off"  # STRATEGY_AUTO_ENABLE=0
FAILED: Final = "failed"  # a tick raised; waits for a new config version
STOPPING: Final = "gateway_stopping"


class StrategyRunner:
    """See the module docstring. Everything runs on the event loop thread."""

    def __init__(self, *, trader: Trader, clock: Clock, auto_enable: bool) -> None:
        # config and collaborators
        self.trader = trader
        self.clock = clock
        self.auto_enable = auto_enable
        # state
        self.running = False
        self.stopped_reason = AUTO_ENABLE_OFF if not auto_enable else DISABLED
        self.failed: str | None = None
        self._closed = False
        self._handle: asyncio.TimerHandle | None = None
        self._next_due = 0.0  # loop time of the next tick
        # observability
        self.tick_latency = LatencyRecorder("strategy_tick", "one strategy tick, every symbol")
        self.ticks_skipped = 0  # ticks missed because the loop was late by a whole period
        self.starts = 0
        self.last_tick_at_ms = 0

    @property
    def config(self) -> StrategyConfig:
        return self.trader.config

    def apply(self, config: StrategyConfig) -> None:
        """Take a new config: start, stop or re-time the ticks as it says."""
        previous = self.trader.config
        if config.version != previous.version:
            self.failed = None  # an operator changed the config: try again
        self.trader.configure(config)
        reason = self._reason_not_to_run(config)
        if reason is None and not self.running:
            self._start()
        elif reason is not None and self.running:
            self._stop(reason)
        elif reason is not None:
            self.stopped_reason = reason
        elif config.tick_ms != previous.tick_ms:
            self._schedule(self._next_due - previous.tick_ms / 1000 + config.tick_ms / 1000)

    def _reason_not_to_run(self, config: StrategyConfig) -> str | None:
        if self._closed:
            return STOPPING
        if not self.auto_enable:
            return AUTO_ENABLE_OFF
        if self.failed is not None:
            return FAILED
        if not config.enabled:
            return DISABLED
        return None

    def _start(self) -> None:
        self.trader.reset_prices()  # samples from before a pause are not one tick apart
        self.running = True
        self.stopped_reason = ""
        self.starts += 1
        log.info(
            "event=strategy_started version=%d symbols=%s tick_ms=%d",
            self.config.version,
            ",".join(self.config.symbols),
            self.config.tick_ms,
        )
        self._schedule(asyncio.get_running_loop().time())

    def _stop(self, reason: str) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.running = False
        self.stopped_reason = reason
        log.info("event=strategy_stopped reason=%s ticks=%d", reason, self.trader.ticks)

    def close(self) -> None:
        """The gateway is stopping: no tick after this returns."""
        self._closed = True
        if self.running:
            self._stop(STOPPING)

    def _schedule(self, due: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        loop = asyncio.get_running_loop()
        now = loop.time()
        if due < now:
            due = now
        self._next_due = due
        self._handle = loop.call_at(due, self._on_tick)

    def _on_tick(self) -> None:
        self._handle = None
        if not self.running:
            return
        clock = self.clock
        started = clock.mono_ns()
        try:
            self.trader.tick(
                now_mono_ms=started // _NS_PER_MS, now_wall_ms=clock.wall_ns() // _NS_PER_MS
            )
        except BaseException as error:
            self.failed = repr(error)[:300]
            self._stop(FAILED)
            raise  # the loop logs it with its traceback; /health shows `failed`
        self.tick_latency.record_ns(clock.mono_ns() - started)
        self.last_tick_at_ms = clock.wall_ns() // _NS_PER_MS
        period = self.config.tick_ms / 1000
        due = self._next_due + period
        now = asyncio.get_running_loop().time()
        if due <= now - period:  # a whole period late: skip, do not run ticks back to back
            skipped = int((now - due) // period)
            self.ticks_skipped += skipped
            due += skipped * period
        self._schedule(due)

    def status(self) -> dict[str, Any]:
        """The runner's state for GET /api/strategy (`status`) and /api/admin."""
        trader = self.trader
        config = trader.config
        return {
            "running": self.running,
            "stoppedReason": self.stopped_reason or None,
            "autoEnable": self.auto_enable,
            "failed": self.failed,
            "ticks": trader.ticks,
            "lastTickAtMs": self.last_tick_at_ms or None,
            "samplesNeeded": required_samples(config.signal_params),
            "samples": {symbol: trader.samples(symbol) for symbol in config.symbols},
            "liveOrders": trader.live_order_count,
            "ordersLastMinute": trader.submissions_in_window(),
        }
