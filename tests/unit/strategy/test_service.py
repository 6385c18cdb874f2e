"""ConfigService on a real event loop and real databases: the first row, writes, refresh, the
database going away and coming back, hand-edited rows, and a loop that never waits on it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from tests.fixtures.strategy import move_away, move_back

from switchyard.adapters.clock_system import SystemClock
from switchyard.strategy.config import StrategyConfig, Venue
from switchyard.strategy.service import (
    DB_CALLS_PENDING_MAX,
    ConfigService,
    Storage,
    Stored,
    Unavailable,
    VersionConflict,
)
from switchyard.strategy.settings import StrategySettings

pytestmark = pytest.mark.asyncio
VENUE = Venue(frozenset({"BTC", "ETH", "7203"}), {"7203": 100})


def settings_for(url: str, tmp_path: Path, **environ: str) -> StrategySettings:
    env = {
        "APP_DB_URL": url,
        "STRATEGY_SYMBOLS": "BTC,ETH",
        "STRATEGY_CONFIG_REFRESH_MS": "100",
        "STRATEGY_DB_TIMEOUT_MS": "1000",
        **environ,
    }
    return StrategySettings.from_env(env, data_dir=tmp_path, venue=VENUE)


class Subject:
    def __init__(self, settings: StrategySettings) -> None:
        self.changes: list[StrategyConfig] = []
        self.service = ConfigService(
            settings=settings,
            venue=lambda: VENUE,
            clock=SystemClock(),
            on_change=self.changes.append,
        )

    def values(self, **changes: Any) -> dict[str, Any]:
        config = self.service.config
        return {
            "enabled": config.enabled,
            "symbols": config.symbols,
            "tick_ms": config.tick_ms,
            "max_orders_per_min": config.max_orders_per_min,
            "cooldown_ms": config.cooldown_ms,
            "short_window": config.short_window,
            "long_window": config.long_window,
            "rsi_period": config.rsi_period,
            "rsi_overbought": config.rsi_overbought,
            "rsi_oversold": config.rsi_oversold,
            "order_qty": config.order_qty,
            "max_position": config.max_position,
            **changes,
        }


async def wait_for(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def subject(strategy_db_url: str, tmp_path: Path) -> AsyncIterator[Subject]:
    s = Subject(settings_for(strategy_db_url, tmp_path))
    s.service.start()
    await s.service.wait_started()
    yield s
    await s.service.close()


async def test_start_stores_the_env_seed_as_version_1(subject: Subject) -> None:
    config = subject.service.config
    assert (config.version, config.enabled, config.symbols) == (1, False, ("BTC", "ETH"))
    assert config.updated_by == "env"
    assert subject.service.status.state is Storage.DB
    assert [c.version for c in subject.changes] == [1]


async def test_update_stores_and_applies_the_new_config(subject: Subject) -> None:
    result = await subject.service.update(
        expected_version=1, values=subject.values(enabled=True, tick_ms=200), actor="ops"
    )
    assert isinstance(result, Stored)
    assert (result.config.version, result.config.enabled, result.config.tick_ms) == (2, True, 200)
    assert subject.service.config == result.config
    assert [c.version for c in subject.changes] == [1, 2]
    assert subject.service.counters["updates"] == 1


async def test_a_stale_version_is_a_conflict_and_changes_nothing(subject: Subject) -> None:
    await subject.service.update(expected_version=1, values=subject.values(tick_ms=300), actor="a")
    result = await subject.service.update(
        expected_version=1, values=subject.values(tick_ms=400), actor="b"
    )
    assert result == VersionConflict(current_version=2)
    assert subject.service.config.tick_ms == 300
    assert subject.service.counters["conflicts"] == 1


async def test_history_lists_every_version_newest_first(subject: Subject) -> None:
    await subject.service.update(expected_version=1, values=subject.values(tick_ms=300), actor="a")
    history = await subject.service.history(10)
    assert not isinstance(history, Unavailable)
    assert [(e.version, e.changed_by) for e in history.entries] == [(2, "a"), (1, "env")]


async def test_refresh_picks_up_a_change_made_elsewhere(
    subject: Subject, strategy_db_url: str, tmp_path: Path
) -> None:
    other = Subject(settings_for(strategy_db_url, tmp_path))
    other.service.start()
    await other.service.wait_started()
    await other.service.update(expected_version=1, values=other.values(enabled=True), actor="b")
    await other.service.close()
    await wait_for(lambda: subject.service.config.version == 2)
    assert subject.service.config.enabled is True
    assert [c.version for c in subject.changes] == [1, 2]


async def test_a_hand_edited_invalid_row_is_refused_and_the_last_good_config_kept(
    subject: Subject, strategy_db_url: str
) -> None:
    engine = create_engine(strategy_db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE strategy_configs SET tick_ms = 5, version = 9"))
    engine.dispose()
    await wait_for(lambda: subject.service.status.state is Storage.UNAVAILABLE)
    assert "STRATEGY_CONFIG_INVALID" in (subject.service.status.message or "")
    assert "tickMs" in (subject.service.status.message or "")
    assert subject.service.config.version == 1
    assert subject.service.counters["invalid_rows"] >= 1


async def test_database_down_keeps_the_last_good_config_refuses_writes_then_recovers(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "volume"
    s = Subject(settings_for(f"sqlite:///{directory / 'config.db'}", tmp_path))
    s.service.start()
    await s.service.wait_started()
    await s.service.update(expected_version=1, values=s.values(enabled=True), actor="a")
    away = move_away(directory)
    await wait_for(lambda: s.service.status.state is Storage.UNAVAILABLE)
    assert s.service.status.message is not None
    assert s.service.status.message.startswith("STRATEGY_DB_UNAVAILABLE")
    assert (s.service.config.version, s.service.config.enabled) == (2, True)  # kept
    written = await s.service.update(expected_version=2, values=s.values(tick_ms=500), actor="b")
    assert isinstance(written, Unavailable)
    assert not written.busy
    assert isinstance(await s.service.history(5), Unavailable)
    assert s.service.counters["fallbacks"] == 1  # one outage, however many failed calls
    move_back(away, directory)
    await wait_for(lambda: s.service.status.state is Storage.DB)
    assert s.service.config.version == 2
    assert s.service.status.unavailable_since_ms is None
    await s.service.close()


async def test_database_down_at_start_uses_the_disabled_seed_until_it_answers(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "late"
    url = f"sqlite:///{directory / 'config.db'}"
    directory.mkdir()
    away = move_away(directory)  # the directory is created once, at the first call: make it fail
    (directory.parent / "late").write_text("not a directory")  # so mkdir fails too
    s = Subject(settings_for(url, tmp_path))
    s.service.start()
    await s.service.wait_started()
    assert s.service.status.state is Storage.UNAVAILABLE
    assert (s.service.config.version, s.service.config.enabled) == (0, False)
    assert s.changes == []
    (directory.parent / "late").unlink()
    move_back(away, directory)
    await wait_for(lambda: s.service.config.version == 1)
    assert s.service.status.state is Storage.DB
    await s.service.close()


async def test_the_event_loop_keeps_running_while_the_database_is_locked(
    tmp_path: Path,
) -> None:
    """A write waits up to STRATEGY_DB_TIMEOUT_MS for a lock another process holds; the loop
    meanwhile keeps ticking every 5 ms (the call runs on the database thread)."""
    path = tmp_path / "locked.db"
    s = Subject(settings_for(f"sqlite:///{path}", tmp_path, STRATEGY_DB_TIMEOUT_MS="800"))
    s.service.start()
    await s.service.wait_started()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    lags: list[float] = []

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - before - 0.005)

    ticking = asyncio.create_task(ticker())
    release.start()
    started = time.monotonic()
    result = await s.service.update(expected_version=1, values=s.values(tick_ms=700), actor="a")
    waited = time.monotonic() - started
    ticking.cancel()
    release.join()
    holder.close()
    assert isinstance(result, Stored)  # the lock was released within the timeout
    assert waited >= 0.4
    assert len(lags) > 40
    assert max(lags) < 0.05, f"loop stalled {max(lags) * 1000:.1f} ms"
    await s.service.close()


async def test_too_many_waiting_calls_are_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    s = Subject(settings_for(f"sqlite:///{path}", tmp_path, STRATEGY_DB_TIMEOUT_MS="2000"))
    s.service.start()
    await s.service.wait_started()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    calls = [
        s.service.update(expected_version=1, values=s.values(tick_ms=100 + i), actor="a")
        for i in range(DB_CALLS_PENDING_MAX + 3)
    ]
    tasks = [asyncio.create_task(call) for call in calls]
    await asyncio.sleep(0.05)
    holder.execute("COMMIT")
    holder.close()
    results = await asyncio.gather(*tasks)
    busy = [r for r in results if isinstance(r, Unavailable) and r.busy]
    assert len(busy) == 3
    assert s.service.counters["busy"] == 3
    stored = [r for r in results if isinstance(r, Stored)]
    assert len(stored) == 1  # the others read version 1 too late: conflicts
    await s.service.close()
