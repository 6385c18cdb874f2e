"""Strategy measurements (`make strategy-measure`, marker perf): what one tick costs the event
loop at the largest config allowed, and what config database calls cost and do to the loop.
Prints a JSON line per measurement (copied into docs/STRATEGY.md); the asserts are the
budgets the design relies on, loose enough for a busy 2-core machine."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path

import pytest
from tests.fixtures.strategy import StrategySim
from tests.unit.strategy.test_service import Subject, settings_for

from switchyard.strategy.config import RSI_PERIOD_MAX, SYMBOLS_MAX, WINDOW_MAX, StrategyConfig
from switchyard.strategy.service import Stored

pytestmark = [pytest.mark.perf, pytest.mark.integration]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def report(name: str, **figures: float) -> None:
    print(json.dumps({"measure": name, **{k: round(v, 3) for k, v in figures.items()}}))


def test_tick_cost_at_the_largest_config() -> None:
    """50 symbols, SMA 199/200, RSI 100, on the deterministic simulation's seeded venue (orders
    go to the venue and end there, as in the gateway); one tick timed at a time."""
    config = StrategyConfig(
        enabled=True,
        symbols=tuple(f"S{index:02d}" for index in range(SYMBOLS_MAX)),
        tick_ms=100,
        max_orders_per_min=0,
        cooldown_ms=0,
        short_window=WINDOW_MAX - 1,
        long_window=WINDOW_MAX,
        rsi_period=RSI_PERIOD_MAX,
        rsi_overbought=70,
        rsi_oversold=30,
        order_qty=1,
        max_position=5,
        version=1,
    )
    sim = StrategySim(3, config, check=False)
    durations_ms: list[float] = []
    trader = sim.trader
    original = trader.tick

    def timed(**kwargs: int) -> object:
        started = time.perf_counter()
        made = original(**kwargs)
        if trader.ticks > WINDOW_MAX:  # every symbol past its warm-up: the full signal work
            durations_ms.append((time.perf_counter() - started) * 1000)
        return made

    trader.tick = timed  # type: ignore[method-assign]
    sim.run(WINDOW_MAX + 400)
    report(
        "tick_ms_50_symbols_sma199_200_rsi100",
        p50=statistics.median(durations_ms),
        p99=percentile(durations_ms, 99),
        max=max(durations_ms),
        orders=len(sim.result.orders),
    )
    assert statistics.median(durations_ms) < 10.0


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_config_writes_cost_the_loop_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'perf.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("strategy_pg_url")
    )
    subject = Subject(settings_for(url, tmp_path, STRATEGY_CONFIG_REFRESH_MS="100"))
    subject.service.start()
    await subject.service.wait_started()
    lags_ms: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.002)
            lags_ms.append((loop.time() - before - 0.002) * 1000)

    ticking = asyncio.create_task(ticker())
    calls_ms: list[float] = []
    for index in range(200):
        version = subject.service.config.version
        started = time.perf_counter()
        result = await subject.service.update(
            expected_version=version,
            values=subject.values(tick_ms=1000 + index),
            actor="perf",
        )
        calls_ms.append((time.perf_counter() - started) * 1000)
        assert isinstance(result, Stored)
    stop.set()
    await ticking
    await subject.service.close()
    report(
        f"config_put_{backend}",
        call_p50_ms=statistics.median(calls_ms),
        call_p99_ms=percentile(calls_ms, 99),
        loop_lag_p50_ms=statistics.median(lags_ms),
        loop_lag_p99_ms=percentile(lags_ms, 99),
        loop_lag_max_ms=max(lags_ms),
    )
    assert percentile(lags_ms, 99) < 20.0
