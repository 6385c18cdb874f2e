"""Deterministic simulation of the auto-trader: a seeded venue (matching engine + simulated
liquidity) and the real sequencer, with the real trader and SequencerPort on a fake clock.

Each step moves the fake clock by one strategy tick: the venue's makers walk and requote,
their reports and trades reach the sequencer (as GatewayNode would deliver them), then the
trader ticks; an accepted order is marked sent and handed to the venue at once and its
reports applied (the node does the same once the accept record is durable). No sleeps, no
threads, no wall clock. Checked: the same seed gives the same orders and the same state
hash; the rate, cooldown and position limits are never exceeded (and were each reached, so
the checks are not vacuous); nothing is submitted after the kill switch. A failure prints
the seed; `-m sim_full` runs many more seeds for longer.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.fixtures.strategy import SimResult, StrategySim

from switchyard.strategy import decisions as R
from switchyard.strategy.config import StrategyConfig
from switchyard.strategy.trader import RATE_WINDOW_MS

SYMBOLS = ("BTC", "7203")
CI_SEEDS = (1, 7, 42)
CI_TICKS = 600  # 5 minutes of simulated time at 500 ms ticks

CONFIG = StrategyConfig(
    enabled=True,
    symbols=SYMBOLS,
    tick_ms=500,
    max_orders_per_min=20,
    cooldown_ms=1_500,
    short_window=3,
    long_window=8,
    rsi_period=5,
    rsi_overbought=70,
    rsi_oversold=30,
    order_qty=100,  # 7203 trades in lots of 100
    max_position=300,
    version=1,
)


def check_limits(result: SimResult, config: StrategyConfig, seed: int) -> None:
    orders = result.orders
    assert orders, f"seed {seed}: the strategy never traded"
    for index, order in enumerate(orders):
        window = [o for o in orders[: index + 1] if order.at_ms - o.at_ms < RATE_WINDOW_MS]
        assert len(window) <= config.max_orders_per_min, f"seed {seed}: rate at {order}"
    for symbol in config.symbols:
        times = [o.at_ms for o in orders if o.symbol == symbol]
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        assert all(gap >= config.cooldown_ms for gap in gaps), f"seed {seed}: cooldown {symbol}"
    for symbol, exposure in result.max_exposure.items():
        assert exposure <= config.max_position, f"seed {seed}: {symbol} exposure {exposure}"


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_same_seed_same_orders_and_state(seed: int) -> None:
    first = StrategySim(seed, CONFIG).run(CI_TICKS)
    second = StrategySim(seed, CONFIG).run(CI_TICKS)
    assert first.orders == second.orders, f"seed {seed}"
    assert first.state_hash == second.state_hash, f"seed {seed}"
    assert first.reasons == second.reasons, f"seed {seed}"


def test_different_seeds_trade_differently() -> None:
    runs = [StrategySim(seed, CONFIG).run(CI_TICKS).orders for seed in CI_SEEDS]
    assert runs[0] != runs[1] != runs[2]


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_rate_cooldown_and_position_limits_hold_and_are_reached(seed: int) -> None:
    result = StrategySim(seed, CONFIG).run(CI_TICKS)
    check_limits(result, CONFIG, seed)
    assert result.fills > 0, f"seed {seed}: IOC orders at the touch should fill"
    reached = {reason for reason in (R.COOLDOWN, R.POSITION_LIMIT) if result.reasons[reason]}
    assert reached == {R.COOLDOWN, R.POSITION_LIMIT}, f"seed {seed}: {result.reasons}"


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_rate_limit_holds_when_it_is_the_binding_rail(seed: int) -> None:
    config = replace(CONFIG, max_orders_per_min=4, cooldown_ms=0, max_position=100_000)
    result = StrategySim(seed, config).run(CI_TICKS)
    check_limits(result, config, seed)
    assert result.reasons[R.RATE_LIMIT] > 0, f"seed {seed}: {result.reasons}"


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_nothing_is_submitted_after_the_kill_switch(seed: int) -> None:
    kill_at = CI_TICKS // 2
    sim = StrategySim(seed, CONFIG)
    result = sim.run(CI_TICKS, kill_at=kill_at)
    before = [o for o in result.orders if o.step < kill_at]
    after = [o for o in result.orders if o.step >= kill_at]
    assert before, f"seed {seed}: no order before the kill switch"
    assert after == [], f"seed {seed}: {after[:3]}"
    assert result.reasons[R.KILL_SWITCH] > 0
    assert all(order.is_terminal for order in sim.rig.state.orders.values())


@pytest.mark.sim_full
@pytest.mark.parametrize("seed", range(100, 150))
def test_many_seeds_long_runs(seed: int) -> None:
    config = replace(CONFIG, max_orders_per_min=10, cooldown_ms=1_000)
    first = StrategySim(seed, config).run(3_000, kill_at=2_500)
    check_limits(first, config, seed)
    assert not [o for o in first.orders if o.step >= 2_500], f"seed {seed}"
    assert StrategySim(seed, config).run(3_000, kill_at=2_500).orders == first.orders
