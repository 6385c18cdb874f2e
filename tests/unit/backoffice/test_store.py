"""The books through the real store, on SQLite and PostgreSQL: every rule of bookkeeper.py."""

import random

import orjson
import pytest
from sqlalchemy import Engine, select
from tests.fixtures.backoffice import SOURCE, envelopes, order_flow, positioned

from switchyard.backoffice import queries, schema
from switchyard.backoffice.db import open_database
from switchyard.backoffice.store import Store
from switchyard.core.codes import Reason
from switchyard.core.enums import LiquiditySide, OrderStatus, OrderType, Side, TimeInForce
from switchyard.core.events import OrderAccepted, OrderCanceled, OrderFilled, Record

NOW = 1_800_000_000_000_000_000


def _apply(store: Store, raws: list[bytes], batch: int = 50, prefix: str = "t") -> None:
    items = positioned(raws, prefix)
    for start in range(0, len(items), batch):
        store.apply_batch(items[start : start + batch], now_ns=NOW)


def _positions(engine: Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as connection:
        rows = queries.positions(connection, None)
    return {(r["accountId"], r["symbol"]): r["qty"] for r in rows if r["qty"] != 0}


def _checks(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return (
            queries.unbalanced_entries(connection)
            + queries.balance_drift(connection, None)
            + queries.positions_vs_fills(connection, None)
        )


def _digest(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {name: queries.state_rows(connection, name) for name in queries.DIGEST_COLUMNS}


def _accept(seq: int, order_id: str = "eng1-a1b2c3-1", qty: int = 10) -> tuple[int, int, Record]:
    return (
        seq,
        1_000 + seq,
        OrderAccepted(
            order_id=order_id,
            account_id="acct-1",
            client_order_id=f"c{seq}",
            idempotency_key=f"c{seq}",
            symbol="XYZ",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            qty=qty,
            price=100,
            time_in_force=TimeInForce.GTC,
            expire_at_ms=0,
        ),
    )


def _fill(
    seq: int, filled: int, last: int, price: int = 100, order_id: str = "eng1-a1b2c3-1"
) -> tuple[int, int, Record]:
    return (
        seq,
        1_000 + seq,
        OrderFilled(
            order_id=order_id,
            account_id="acct-1",
            status=OrderStatus.FILLED if filled == 10 else OrderStatus.PARTIALLY_FILLED,
            filled_qty=filled,
            symbol="XYZ",
            side=Side.BUY,
            last_qty=last,
            last_price=price,
            leaves_qty=10 - filled,
            cum_notional=filled * price,
            liquidity=LiquiditySide.TAKER,
            exec_id=f"x{seq}",
            venue_seq=seq,
        ),
    )


def test_store_flow_positions_equal_sum_of_fills_and_ledger_balanced(store: Store) -> None:
    items, expected = order_flow(seed=21, orders=150)
    _apply(store, envelopes(items))
    engine = store.engine
    assert _positions(engine) == {k: v for k, v in expected.positions.items() if v != 0}
    assert _checks(engine) == []
    with engine.connect() as connection:
        orders = {r.order_id: r for r in connection.execute(select(schema.orders))}
        assert queries.applied_through(connection, SOURCE) == len(items)
        assert queries.backlog(connection)["parked"] == 0
    assert {k: o.filled_qty for k, o in orders.items()} == expected.filled
    assert {k: o.status for k, o in orders.items()} == {
        k: s.name for k, s in expected.status.items()
    }


def test_store_same_events_twice_change_nothing(store: Store) -> None:
    items, _ = order_flow(seed=22, orders=40)
    raws = envelopes(items)
    _apply(store, raws)
    before = _digest(store.engine)
    result = store.apply_batch(positioned(raws, "again"), now_ns=NOW)
    assert result.counts.duplicates == len(raws)
    assert _digest(store.engine) == before


def test_store_duplicates_within_one_batch_apply_once(store: Store) -> None:
    items, expected = order_flow(seed=23, orders=20)
    raws = envelopes(items)
    doubled = [raw for raw in raws for _ in range(2)]
    result = store.apply_batch(positioned(doubled), now_ns=NOW)
    assert result.counts.duplicates == len(raws)
    assert _positions(store.engine) == {k: v for k, v in expected.positions.items() if v != 0}


@pytest.mark.parametrize("seed", [1, 2])
def test_store_shuffled_delivery_equals_in_order_state(
    store: Store, sqlite_url: str, seed: int
) -> None:
    items, _ = order_flow(seed=30 + seed, orders=80)
    raws = envelopes(items)
    reference = Store(open_database(sqlite_url), currency="JPY", fee_bps=0)
    _apply(reference, raws)
    shuffled = list(raws)
    random.Random(seed).shuffle(shuffled)
    _apply(store, shuffled, batch=17)
    assert _digest(store.engine) == _digest(reference.engine)
    assert _checks(store.engine) == []
    with store.engine.connect() as connection:
        assert queries.backlog(connection)["parked"] == 0
        assert queries.applied_through(connection, SOURCE) == len(items)


def test_store_fill_before_order_is_parked_then_applied(store: Store) -> None:
    raws = envelopes([_accept(1), _fill(2, 4, 4)])
    store.apply_batch([(raws[1], "p1")], now_ns=NOW)
    with store.engine.connect() as connection:
        assert queries.backlog(connection)["parked"] == 1
        assert queries.applied_through(connection, SOURCE) == 0
    result = store.apply_batch([(raws[0], "p0")], now_ns=NOW)
    assert result.counts.released == 1
    assert _positions(store.engine) == {("acct-1", "XYZ"): 4}
    with store.engine.connect() as connection:
        assert queries.backlog(connection)["parked"] == 0
        assert queries.applied_through(connection, SOURCE) == 2
        outcomes = dict(
            connection.execute(
                select(schema.applied_events.c.event_id, schema.applied_events.c.outcome)
            ).all()
        )
    assert set(outcomes.values()) == {"applied"}


def test_store_fill_gap_waits_for_earlier_fill(store: Store) -> None:
    raws = envelopes([_accept(1), _fill(2, 3, 3), _fill(3, 10, 7, price=110)])
    store.apply_batch([(raws[0], "a"), (raws[2], "c")], now_ns=NOW)
    assert _positions(store.engine) == {}
    store.apply_batch([(raws[1], "b")], now_ns=NOW)
    assert _positions(store.engine) == {("acct-1", "XYZ"): 10}
    with store.engine.connect() as connection:
        position = queries.positions(connection, "acct-1")[0]
    assert position["costBasis"] == 3 * 100 + 7 * 110
    assert position["avgPrice"] == pytest.approx(107.0)


def test_store_fill_before_order_and_gap_is_reparked_then_applied(store: Store) -> None:
    raws = envelopes([_accept(1), _fill(2, 3, 3), _fill(3, 10, 7)])
    store.apply_batch([(raws[2], "c")], now_ns=NOW)  # parked: no order
    store.apply_batch([(raws[0], "a")], now_ns=NOW)  # order arrives: still waits for fill 2
    with store.engine.connect() as connection:
        reasons = list(connection.scalars(select(schema.parked_events.c.reason)))
    assert reasons == ["FILL_GAP"]
    store.apply_batch([(raws[1], "b")], now_ns=NOW)
    assert _positions(store.engine) == {("acct-1", "XYZ"): 10}


def test_store_overlapping_fill_is_quarantined(store: Store) -> None:
    raws = envelopes([_accept(1), _fill(2, 5, 5), _fill(3, 6, 3)])
    result = store.apply_batch(positioned(raws), now_ns=NOW)
    assert result.counts.quarantined == 1
    assert _positions(store.engine) == {("acct-1", "XYZ"): 5}
    with store.engine.connect() as connection:
        assert queries.backlog(connection)["quarantined"] == 1


def test_store_undecodable_event_quarantined_once(store: Store) -> None:
    first = store.apply_batch([(b"{not json", "k:0:7")], now_ns=NOW)
    again = store.apply_batch([(b"{not json", "k:0:7")], now_ns=NOW)
    assert first.counts.quarantined == 1
    assert again.counts.duplicates == 1


def test_store_event_id_not_matching_source_and_seq_quarantined(store: Store) -> None:
    raw = orjson.loads(envelopes([_accept(1)])[0])
    raw["eventId"] = "other:000000:1"
    result = store.apply_batch([(orjson.dumps(raw), "x")], now_ns=NOW)
    assert result.counts.quarantined == 1


def test_store_status_follows_highest_seq(store: Store) -> None:
    canceled = (
        5,
        1_005,
        OrderCanceled(
            order_id="eng1-a1b2c3-1",
            account_id="acct-1",
            status=OrderStatus.CANCELED,
            filled_qty=4,
            reason=Reason.USER_REQUESTED,
            venue_seq=9,
        ),
    )
    raws = envelopes([_accept(1), _fill(2, 4, 4), canceled])
    store.apply_batch([(raws[0], "a"), (raws[2], "c"), (raws[1], "b")], now_ns=NOW)
    with store.engine.connect() as connection:
        status = connection.scalar(select(schema.orders.c.status))
    assert status == "CANCELED"


def test_store_source_watermark_stops_at_missing_seq(store: Store) -> None:
    items, _ = order_flow(seed=40, orders=10)
    raws = envelopes(items)
    missing = 5
    _apply(store, raws[: missing - 1] + raws[missing:])
    with store.engine.connect() as connection:
        assert queries.applied_through(connection, SOURCE) == missing - 1
    store.apply_batch([(raws[missing - 1], "late")], now_ns=NOW)
    with store.engine.connect() as connection:
        assert queries.applied_through(connection, SOURCE) == len(items)


def _order(seq: int, side: Side, qty: int, price: int) -> list[tuple[int, int, Record]]:
    """An order accepted at `seq` and filled completely at `seq + 1`."""
    order_id = f"eng1-a1b2c3-{seq}"
    accepted = OrderAccepted(
        order_id=order_id,
        account_id="acct-1",
        client_order_id=f"c{seq}",
        idempotency_key=f"c{seq}",
        symbol="XYZ",
        side=side,
        order_type=OrderType.LIMIT,
        qty=qty,
        price=price,
        time_in_force=TimeInForce.GTC,
        expire_at_ms=0,
    )
    filled = OrderFilled(
        order_id=order_id,
        account_id="acct-1",
        status=OrderStatus.FILLED,
        filled_qty=qty,
        symbol="XYZ",
        side=side,
        last_qty=qty,
        last_price=price,
        leaves_qty=0,
        cum_notional=qty * price,
        liquidity=LiquiditySide.MAKER,
        exec_id=f"x{seq}",
        venue_seq=seq,
    )
    return [(seq, 1_000 + seq, accepted), (seq + 1, 1_001 + seq, filled)]


def test_store_late_fill_refolds_position_and_books_adjustment(
    store: Store, sqlite_url: str
) -> None:
    # Canonical (time) order: buy 10 @ 100, buy 5 @ 110, sell 5 @ 120. The sell arrives before
    # the second buy; the books must end as if they had arrived in time order.
    first, second, third = (
        _order(1, Side.BUY, 10, 100),
        _order(3, Side.BUY, 5, 110),
        _order(5, Side.SELL, 5, 120),
    )
    raws = envelopes(first + second + third)
    store.apply_batch(positioned(raws[0:2] + raws[4:6], "early"), now_ns=NOW)
    store.apply_batch(positioned(raws[2:4], "late"), now_ns=NOW)
    reference = Store(open_database(sqlite_url), currency="JPY", fee_bps=0)
    reference.apply_batch(positioned(raws), now_ns=NOW)
    with store.engine.connect() as connection:
        position = queries.positions(connection, "acct-1")[0]
        kinds = list(connection.scalars(select(schema.ledger_entries.c.kind)))
        realized = sorted(connection.scalars(select(schema.fills.c.realized_pnl)))
    removed = 1550 * 5 // 15
    assert position["qty"] == 10
    assert position["realizedPnl"] == 5 * 120 - removed
    assert position["costBasis"] == 1550 - removed
    assert realized == [0, 0, 5 * 120 - removed]
    assert kinds.count("reorder_adjustment") == 1
    assert _checks(store.engine) == []
    assert _digest(store.engine) == _digest(reference.engine)


def test_store_postgresql_dedupe_lookup_does_not_scan_the_whole_table_per_batch(
    pg_url: str,
) -> None:
    # psycopg prepares a statement on its fifth execution and PostgreSQL keeps the generic plan
    # it makes then. For `event_id IN ($1, ..., $500)` on a young table that plan was a
    # sequential scan comparing every row with every id, kept as the table grew: one lookup
    # took 4 ms at first and 500 ms at 40,000 events; the apply rate fell from 5,300 to 320
    # events/s over 100,000 events. The lookup now joins `unnest(:ids)`, whose generic plan
    # probes the primary key. Rows read by sequential scans tell the two apart without timing:
    # for these 12,000 events the old form read 138,000 (each batch read the whole table, and
    # it grows with the square of the events), this one 22,500 (its first few batches only).
    events = 12_000
    engine = open_database(pg_url)
    store = Store(engine, currency="JPY", fee_bps=0)
    flow, _ = order_flow(seed=11, orders=events // 4, accounts=20, symbols=("XYZ", "ABC"))
    raws = envelopes(flow[:events])
    _apply(store, raws, batch=500)
    engine.dispose()  # its backend exits and flushes its table statistics
    engine = open_database(pg_url)
    with engine.connect() as connection:
        scanned = connection.exec_driver_sql(
            "select seq_tup_read from pg_stat_user_tables where relname = 'bo_applied_events' "
            "and schemaname = current_schema()"
        ).scalar_one()
    engine.dispose()
    assert len(raws) == events
    assert scanned < 3 * events, f"{scanned} rows read by sequential scans for {events} events"


def test_store_driver_sql_refuses_a_column_that_needs_bind_processing() -> None:
    # The batch writes skip SQLAlchemy's per-row parameter processing; a column type that
    # needs it (SQLite stores a datetime as text through a bind processor) must not pass.
    from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, bindparam, insert
    from sqlalchemy.dialects import sqlite

    from switchyard.backoffice.store import _driver_sql

    table = Table("x", MetaData(), Column("at", DateTime))
    with pytest.raises(AssertionError, match="at: DATETIME needs bind processing"):
        _driver_sql(sqlite.dialect(), insert(table).values(at=bindparam("at")))
    plain = Table("y", MetaData(), Column("n", BigInteger))
    sql = _driver_sql(sqlite.dialect(), insert(plain).values(n=bindparam("n")))
    assert sql == "INSERT INTO y (n) VALUES (:n)"
