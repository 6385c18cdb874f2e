"""The back office service tailing a real WAL (no Kafka), on SQLite and PostgreSQL, over HTTP."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fixtures.backoffice import (
    SOURCE,
    BackofficeProcessless,
    StubGateway,
    WALWriter,
    order_flow,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def service(
    tmp_path: Path, backoffice_env: dict[str, str]
) -> Iterator[tuple[BackofficeProcessless, WALWriter]]:
    wal = WALWriter(tmp_path / "wal")
    running = BackofficeProcessless(backoffice_env, tmp_path)
    yield running, wal
    running.close()


def test_backoffice_wal_source_books_flow_and_serves_views(
    service: tuple[BackofficeProcessless, WALWriter],
) -> None:
    backoffice, wal = service
    items, expected = order_flow(seed=51, orders=120)
    wal.append_all(items)
    backoffice.wait_applied(SOURCE, len(items))
    ops = backoffice.token("operator", role="ops")
    status, body = backoffice.get("/positions", ops)
    assert status == 200
    positions = {(p["accountId"], p["symbol"]): p["qty"] for p in body["positions"] if p["qty"]}  # type: ignore[union-attr,index]
    assert positions == {k: v for k, v in expected.positions.items() if v}
    status, health = backoffice.get("/health")
    assert status == 200
    assert health["status"] == "healthy"


def test_backoffice_account_sees_only_its_own_data(
    service: tuple[BackofficeProcessless, WALWriter],
) -> None:
    backoffice, wal = service
    items, _ = order_flow(seed=52, orders=60)
    wal.append_all(items)
    backoffice.wait_applied(SOURCE, len(items))
    token = backoffice.token("acct-1")
    for path in ("/positions", "/balances", "/fills", "/pnl", "/ledger"):
        status, body = backoffice.get(path, token)
        assert status == 200, (path, body)
        rows = next(v for k, v in body.items() if isinstance(v, list))
        assert rows, path
        assert {row["accountId"] for row in rows} == {"acct-1"}, path  # type: ignore[index]
    status, body = backoffice.get("/positions?accountId=acct-2", token)
    assert (status, body["error"]) == (404, "NOT_FOUND")


def test_backoffice_requires_a_token(service: tuple[BackofficeProcessless, WALWriter]) -> None:
    backoffice, _ = service
    status, body = backoffice.get("/positions")
    assert (status, body["error"]) == (401, "MISSING_BEARER_TOKEN")
    status, body = backoffice.get("/positions", "not.a.token")
    assert status == 401


def test_backoffice_ledger_pages_and_balances_sum(
    service: tuple[BackofficeProcessless, WALWriter],
) -> None:
    backoffice, wal = service
    items, _ = order_flow(seed=53, orders=40)
    wal.append_all(items)
    backoffice.wait_applied(SOURCE, len(items))
    ops = backoffice.token("operator", role="ops")
    entries: list[dict[str, object]] = []
    after = 0
    while True:
        status, body = backoffice.get(f"/ledger?limit=7&afterIndex={after}", ops)
        assert status == 200
        entries += body["entries"]  # type: ignore[arg-type]
        if body["nextAfterIndex"] is None:
            break
        after = body["nextAfterIndex"]  # type: ignore[assignment]
    for entry in entries:
        totals: dict[str, int] = {}
        for posting in entry["postings"]:  # type: ignore[attr-defined]
            totals[posting["asset"]] = totals.get(posting["asset"], 0) + posting["amount"]
        assert set(totals.values()) == {0}
    status, body = backoffice.get("/fills?limit=0", ops)
    assert status == 200  # clamped to 1
    status, body = backoffice.get("/fills?limit=abc", ops)
    assert (status, body["error"]) == (400, "INVALID_LIMIT")


def test_backoffice_metrics_exposed(service: tuple[BackofficeProcessless, WALWriter]) -> None:
    import urllib.request

    backoffice, wal = service
    items, _ = order_flow(seed=54, orders=10)
    wal.append_all(items)
    backoffice.wait_applied(SOURCE, len(items))
    text = urllib.request.urlopen(backoffice.url + "/metrics", timeout=10).read().decode()
    assert 'switchyard_backoffice_events_total{outcome="applied"}' in text
    assert f'switchyard_backoffice_applied_through_seq{{source="{SOURCE}"}} {len(items)}.0' in text


def test_backoffice_rebuild_from_wal_equals_live(
    service: tuple[BackofficeProcessless, WALWriter],
) -> None:
    from switchyard.backoffice.rebuild import rebuild

    backoffice, wal = service
    items, _ = order_flow(seed=55, orders=80)
    wal.append_all(items)
    backoffice.wait_applied(SOURCE, len(items))
    report = rebuild(backoffice.settings)
    assert report.equal, report.as_dict()
    assert report.events_applied == len(items)


def test_backoffice_rebuild_detects_a_tampered_row(
    service: tuple[BackofficeProcessless, WALWriter],
) -> None:
    from sqlalchemy import update

    from switchyard.backoffice import schema
    from switchyard.backoffice.rebuild import rebuild

    backoffice, wal = service
    items, _ = order_flow(seed=56, orders=30)
    wal.append_all(items)
    backoffice.wait_applied(SOURCE, len(items))
    with backoffice.running.store.engine.begin() as connection:
        connection.execute(update(schema.positions).values(qty=schema.positions.c.qty + 1))
    report = rebuild(backoffice.settings)
    assert not report.equal
    assert "bo_positions" in report.tables


def test_backoffice_reconcile_gateway_down_is_503(
    tmp_path: Path, backoffice_env: dict[str, str]
) -> None:
    from tests.fixtures.services import free_port

    environ = dict(backoffice_env, GATEWAY_URL=f"http://127.0.0.1:{free_port()}")
    backoffice = BackofficeProcessless(environ, tmp_path)
    try:
        status, body = backoffice.get("/reconcile", backoffice.token("operator", role="ops"))
    finally:
        backoffice.close()
    assert (status, body["error"]) == (503, "GATEWAY_UNAVAILABLE")


def test_backoffice_reconcile_one_at_a_time(
    tmp_path: Path, backoffice_env: dict[str, str], stub_gateway: StubGateway
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    stub_gateway.delay_s = 1.0
    environ = dict(backoffice_env, GATEWAY_URL=stub_gateway.url)
    backoffice = BackofficeProcessless(environ, tmp_path)
    token = backoffice.token("operator", role="ops")
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(backoffice.get, "/reconcile", token)
            time.sleep(0.3)
            second = pool.submit(backoffice.get, "/reconcile", token)
            answers = sorted([first.result()[0], second.result()[0]])
    finally:
        backoffice.close()
    assert answers == [200, 429]
