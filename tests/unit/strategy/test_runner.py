"""The runner on a real event loop: ticks while enabled, stops on disable, close and failure,
re-times on a new tick period; the trader underneath is real (rig sequencer + SequencerPort)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from switchyard.adapters.clock_system import SystemClock
from switchyard.core.messages import BookLevel, BookSnapshot
from switchyard.strategy.config import StrategyConfig
from switchyard.strategy.port import SequencerPort
from switchyard.strategy.runner import AUTO_ENABLE_OFF, DISABLED, FAILED, STOPPING, StrategyRunner
from switchyard.strategy.trader import Trader
from switchyard.testing.stubs import make_rig

pytestmark = pytest.mark.asyncio

CONFIG = StrategyConfig(
    enabled=True,
    symbols=("BTC",),
    tick_ms=100,
    max_orders_per_min=0,
    cooldown_ms=0,
    short_window=2,
    long_window=4,
    rsi_period=3,
    rsi_overbought=70,
    rsi_oversold=30,
    order_qty=1,
    max_position=5,
    version=1,
)


class Venue:
    def __init__(self) -> None:
        self.broken: Exception | None = None

    def book(self, symbol: str, depth: int) -> BookSnapshot:
        if self.broken is not None:
            raise self.broken
        return BookSnapshot(symbol, 1, [BookLevel(99, 5)], [BookLevel(101, 5)])


def runner_for(auto_enable: bool = True) -> tuple[StrategyRunner, Venue]:
    rig = make_rig()
    venue = Venue()
    port = SequencerPort(
        account_id="strategy",
        state=rig.state,
        submit_order=lambda **kw: rig.sequencer.submit_order(now_ns=rig.tick(), **kw),
        book=venue.book,
    )
    trader = Trader(replace(CONFIG, enabled=False, version=0), port, decisions_max=100)
    return StrategyRunner(trader=trader, clock=SystemClock(), auto_enable=auto_enable), venue


def config(**changes: Any) -> StrategyConfig:
    return replace(CONFIG, **changes)


async def test_an_enabled_config_ticks_every_period() -> None:
    runner, _ = runner_for()
    runner.apply(config())
    assert runner.running
    await asyncio.sleep(0.45)
    ticks = runner.trader.ticks
    assert 3 <= ticks <= 6, ticks  # at 0, 100, 200, 300, 400 ms (a busy machine skips one)
    assert runner.status()["samples"] == {"BTC": ticks}
    assert runner.tick_latency.count == ticks
    runner.close()


async def test_disabling_stops_the_ticks_and_a_restart_forgets_old_prices() -> None:
    runner, _ = runner_for()
    runner.apply(config())
    await asyncio.sleep(0.25)
    runner.apply(config(enabled=False, version=2))
    assert (runner.running, runner.stopped_reason) == (False, DISABLED)
    ticks = runner.trader.ticks
    await asyncio.sleep(0.25)
    assert runner.trader.ticks == ticks
    runner.apply(config(version=3))
    assert runner.trader.samples("BTC") == 0
    await asyncio.sleep(0.05)
    assert runner.trader.samples("BTC") == 1
    runner.close()


async def test_auto_enable_off_never_ticks() -> None:
    runner, _ = runner_for(auto_enable=False)
    runner.apply(config())
    await asyncio.sleep(0.15)
    assert (runner.running, runner.stopped_reason, runner.trader.ticks) == (
        False,
        AUTO_ENABLE_OFF,
        0,
    )
    assert runner.trader.config.version == 1  # the config is still taken (API shows it)


async def test_close_stops_at_once_and_for_good() -> None:
    runner, _ = runner_for()
    runner.apply(config())
    await asyncio.sleep(0.05)
    runner.close()
    ticks = runner.trader.ticks
    runner.apply(config(version=2))
    await asyncio.sleep(0.25)
    assert (runner.running, runner.stopped_reason, runner.trader.ticks) == (False, STOPPING, ticks)


async def test_a_failing_tick_stops_the_runner_until_a_new_config_version() -> None:
    runner, venue = runner_for()
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    venue.broken = RuntimeError("venue book unavailable")
    runner.apply(config())
    await asyncio.sleep(0.25)
    assert (runner.running, runner.stopped_reason) == (False, FAILED)
    assert runner.failed is not None
    assert "venue book unavailable" in runner.failed
    assert [type(c["exception"]) for c in reported] == [RuntimeError]  # logged once, not lost
    runner.apply(config())  # the same version: still failed
    assert not runner.running
    venue.broken = None
    runner.apply(config(version=2))
    assert runner.running
    assert runner.failed is None
    await asyncio.sleep(0.15)
    assert runner.trader.ticks >= 2
    runner.close()
    loop.set_exception_handler(None)


async def test_a_new_tick_period_applies_to_the_next_tick() -> None:
    runner, _ = runner_for()
    runner.apply(config(tick_ms=1000))
    await asyncio.sleep(0.05)
    assert runner.trader.ticks == 1
    runner.apply(config(tick_ms=100, version=2))
    await asyncio.sleep(0.3)
    assert runner.trader.ticks >= 3
    runner.close()
