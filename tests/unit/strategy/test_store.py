"""ConfigStore on SQLite and PostgreSQL: the seed row, optimistic updates with history, two
writers racing, and every database failure reported as StoreUnavailable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.strategy import PGProxy, move_away, move_back, valid_body

from switchyard.strategy.store import (
    ConfigStore,
    Conflict,
    StoredConfig,
    StoreUnavailable,
)

SEED = {k: v for k, v in valid_body().items() if k != "version"}


def store_for(url: str, account: str = "strategy") -> ConfigStore:
    return ConfigStore(url=url, account_id=account, timeout_ms=2000)


def changed(**changes: Any) -> dict[str, Any]:
    return {**SEED, **changes}


def test_open_seeds_version_1_once_and_records_it(strategy_db_url: str) -> None:
    store = store_for(strategy_db_url)
    first = store.open(SEED, actor="env", now_ms=1000)
    assert (first.version, first.values, first.updated_by, first.updated_at_ms) == (
        1,
        SEED,
        "env",
        1000,
    )
    again = store.open(changed(tickMs=5000), actor="env", now_ms=2000)
    assert again == first  # an existing row wins over new env values
    (entry,) = store.history(10)
    assert (entry.version, entry.changed_by, entry.old, entry.new) == (1, "env", None, SEED)
    store.close()


def test_update_moves_to_the_next_version_with_a_history_row(strategy_db_url: str) -> None:
    store = store_for(strategy_db_url)
    store.open(SEED, actor="env", now_ms=1000)
    result = store.update(
        expected_version=1,
        values=changed(enabled=True, tickMs=250),
        actor="ops@1.2.3.4",
        now_ms=2000,
    )
    assert isinstance(result, StoredConfig)
    assert result.version == 2
    assert store.load() == result
    newest, oldest = store.history(10)
    assert (newest.version, newest.changed_by, newest.changed_at_ms) == (2, "ops@1.2.3.4", 2000)
    assert newest.old == SEED
    assert newest.to_json()["changes"] == {
        "enabled": {"old": False, "new": True},
        "tickMs": {"old": 1000, "new": 250},
    }
    assert oldest.version == 1
    assert [e.version for e in store.history(1)] == [2]
    store.close()


def test_update_from_a_stale_version_changes_nothing(strategy_db_url: str) -> None:
    store = store_for(strategy_db_url)
    store.open(SEED, actor="env", now_ms=1000)
    store.update(expected_version=1, values=changed(tickMs=300), actor="a", now_ms=2000)
    stale = store.update(expected_version=1, values=changed(tickMs=400), actor="b", now_ms=3000)
    assert stale == Conflict(current_version=2)
    assert store.load().values["tickMs"] == 300  # type: ignore[union-attr]
    assert len(store.history(10)) == 2
    store.close()


def test_update_with_the_same_values_is_not_a_new_version(strategy_db_url: str) -> None:
    store = store_for(strategy_db_url)
    store.open(SEED, actor="env", now_ms=1000)
    same = store.update(expected_version=1, values=dict(SEED), actor="a", now_ms=2000)
    assert isinstance(same, StoredConfig)
    assert same.version == 1
    assert len(store.history(10)) == 1
    store.close()


def test_two_gateways_on_one_database_cannot_both_win(strategy_db_url: str) -> None:
    first, second = store_for(strategy_db_url), store_for(strategy_db_url)
    first.open(SEED, actor="env", now_ms=1000)
    assert second.open(changed(tickMs=9000), actor="env", now_ms=1001).version == 1
    won = first.update(expected_version=1, values=changed(tickMs=200), actor="a", now_ms=2000)
    lost = second.update(expected_version=1, values=changed(tickMs=300), actor="b", now_ms=2001)
    assert isinstance(won, StoredConfig)
    assert lost == Conflict(current_version=2)
    assert second.load() == won
    first.close()
    second.close()


def test_each_account_has_its_own_row(strategy_db_url: str) -> None:
    one, two = store_for(strategy_db_url, "algo-1"), store_for(strategy_db_url, "algo-2")
    one.open(SEED, actor="env", now_ms=1)
    two.open(changed(symbols=["BTC"]), actor="env", now_ms=1)
    one.update(expected_version=1, values=changed(enabled=True), actor="a", now_ms=2)
    assert two.load().values["symbols"] == ["BTC"]  # type: ignore[union-attr]
    assert two.load().version == 1  # type: ignore[union-attr]
    assert [e.version for e in two.history(10)] == [1]
    one.close()
    two.close()


def test_a_missing_sqlite_directory_is_unavailable_not_a_new_database(tmp_path: Path) -> None:
    directory = tmp_path / "volume"
    store = store_for(f"sqlite:///{directory / 'config.db'}")
    store.open(SEED, actor="env", now_ms=1)  # creates the directory at the first use
    away = move_away(directory)
    with pytest.raises(StoreUnavailable, match="unable to open database file"):
        store.load()
    with pytest.raises(StoreUnavailable):
        store.update(expected_version=1, values=SEED, actor="a", now_ms=2)
    assert not directory.exists()  # nothing recreated behind the operator's back
    move_back(away, directory)
    assert store.load().version == 1  # type: ignore[union-attr]
    store.close()


def test_a_lost_postgres_connection_is_unavailable_then_recovers(
    pg_proxy: PGProxy, strategy_pg_url: str, pg_dsn: str
) -> None:
    url = strategy_pg_url.replace(
        pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1),
        pg_proxy.dsn_through(pg_dsn).replace("postgresql://", "postgresql+psycopg://", 1),
    )
    store = store_for(url)
    store.open(SEED, actor="env", now_ms=1)
    pg_proxy.cut()
    with pytest.raises(StoreUnavailable, match="OperationalError"):
        store.load()
    with pytest.raises(StoreUnavailable):
        store.update(expected_version=1, values=SEED, actor="a", now_ms=2)
    with pytest.raises(StoreUnavailable):
        store.history(5)
    pg_proxy.restore()
    assert store.load().version == 1  # type: ignore[union-attr]
    store.close()


def test_an_unreachable_server_at_open_is_unavailable() -> None:
    from tests.fixtures.services import free_port

    store = store_for(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")
    with pytest.raises(StoreUnavailable, match="OperationalError"):
        store.open(SEED, actor="env", now_ms=1)
    store.close()
