"""/reconcile's comparison, on the real store (SQLite and PostgreSQL) and a gateway view."""

import orjson
import pytest
from tests.fixtures.backoffice import (
    SOURCE,
    StubGateway,
    envelopes,
    gateway_view,
    order_flow,
    positioned,
)

from switchyard.backoffice import queries, reconcile
from switchyard.backoffice.store import Store

NOW = 1_800_000_000_000_000_000


def _books(store: Store, seed: int = 61, orders: int = 60) -> list[tuple[int, int, object]]:
    items, _ = order_flow(seed=seed, orders=orders)
    store.apply_batch(positioned(envelopes(items)), now_ns=NOW)
    return items  # type: ignore[return-value]


def _run(store: Store, view: dict[str, object], account_id: str | None = None) -> dict[str, object]:
    parsed = reconcile.parse_pages([orjson.loads(orjson.dumps(view))])
    return reconcile.reconcile(store.engine, parsed, account_id=account_id, wait_s=0.2)


def test_reconcile_same_books_no_mismatch(store: Store) -> None:
    items = _books(store)
    result = _run(store, gateway_view(items))  # type: ignore[arg-type]
    assert result["mismatches"] == []
    assert result["ok"] is True
    assert result["source"] == SOURCE


def test_reconcile_as_of_an_earlier_gateway_seq_no_mismatch(store: Store) -> None:
    items = _books(store)
    result = _run(store, gateway_view(items, through_seq=len(items) // 2))  # type: ignore[arg-type]
    assert result["mismatches"] == []


def test_reconcile_reports_filled_qty_and_position_differences(store: Store) -> None:
    items = _books(store)
    view = gateway_view(items)  # type: ignore[arg-type]
    filled = next(o for o in view["orders"] if o["filledQty"])  # type: ignore[attr-defined]
    filled["filledQty"] += 1
    view["positions"][0]["qty"] += 5  # type: ignore[index]
    kinds = sorted(m["kind"] for m in _run(store, view)["mismatches"])  # type: ignore[attr-defined]
    assert kinds == ["ORDER", "POSITION"]


def test_reconcile_reports_missing_and_unknown_orders(store: Store) -> None:
    items = _books(store)
    view = gateway_view(items)  # type: ignore[arg-type]
    removed = view["orders"].pop(3)  # type: ignore[attr-defined]
    view["orders"].append(dict(removed, orderId="eng1-a1b2c3-999999"))  # type: ignore[attr-defined]
    mismatches = _run(store, view)["mismatches"]
    kinds = sorted(m["kind"] for m in mismatches)  # type: ignore[attr-defined]
    assert kinds == ["ORDER_MISSING", "ORDER_UNKNOWN_TO_GATEWAY"]


def test_reconcile_not_caught_up_when_gateway_is_ahead(store: Store) -> None:
    items = _books(store)
    view = gateway_view(items)  # type: ignore[arg-type]
    view["seq"] = len(items) + 10
    result = _run(store, view)
    assert result["ok"] is False
    assert [m["kind"] for m in result["mismatches"]] == ["NOT_CAUGHT_UP"]  # type: ignore[attr-defined]


def test_reconcile_account_scope_filters_mismatches(store: Store) -> None:
    items = _books(store)
    view = gateway_view(items)  # type: ignore[arg-type]
    other = next(p for p in view["positions"] if p["accountId"] != "acct-1")  # type: ignore[attr-defined]
    other["qty"] += 1
    assert _run(store, view, account_id="acct-1")["mismatches"] == []
    assert _run(store, view, account_id=other["accountId"])["ok"] is False


def test_reconcile_lost_event_names_first_missing_seq(store: Store) -> None:
    items, _ = order_flow(seed=62, orders=20)
    raws = envelopes(items)
    accepted = next(i for i, (_, _, r) in enumerate(items) if type(r).__name__ == "OrderAccepted")
    store.apply_batch(positioned(raws[:accepted] + raws[accepted + 1 :]), now_ns=NOW)
    mismatches = _run(store, gateway_view(items))["mismatches"]  # type: ignore[arg-type]
    assert mismatches[0]["kind"] == "NOT_CAUGHT_UP"  # type: ignore[index]
    assert mismatches[0]["firstMissingSeq"] == items[accepted][0]  # type: ignore[index]


def test_reconcile_fetch_pages_through_stub_gateway(
    store: Store, stub_gateway: StubGateway
) -> None:
    from tests.fixtures.backoffice import JWT_SECRET

    from switchyard.adapters.auth import mint_token

    items = _books(store, orders=130)
    stub_gateway.view = gateway_view(items)  # type: ignore[arg-type]
    token = mint_token(JWT_SECRET.encode(), "backoffice", role="ops")
    view = reconcile.fetch_gateway_view(stub_gateway.url, token)
    assert stub_gateway.requests > 2  # paged at 50
    assert len(view.orders) == len(stub_gateway.view["orders"])  # type: ignore[arg-type]
    result = reconcile.reconcile(store.engine, view, account_id=None, wait_s=0.2)
    assert result["ok"] is True


def test_reconcile_fetch_refused_token_is_gateway_unavailable(stub_gateway: StubGateway) -> None:
    with pytest.raises(reconcile.GatewayUnavailable):
        reconcile.fetch_gateway_view(stub_gateway.url, "wrong")


def test_snapshot_reads_one_consistent_state(store: Store) -> None:
    _books(store, orders=10)
    with queries.snapshot(store.engine) as connection:
        before = queries.positions(connection, None)
        _books(store, seed=63, orders=10)  # commits meanwhile (another source's ids would clash)
        assert queries.positions(connection, None) == before
