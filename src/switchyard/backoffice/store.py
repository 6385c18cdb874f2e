"""The write side of the back office database: one batch of events = one transaction.

`Store.apply_batch` opens a transaction, lets the Bookkeeper decide the batch's effects
(reading state through `_TxReader` inside the same transaction), writes the dedupe keys and
every effect, advances each source's contiguous watermark, stores the WAL cursor when the
source is the WAL, and commits. Either all of it is durable or none of it is: a crash
mid-transaction leaves no trace, and the source re-delivers the batch (consumer offsets are
committed only after this returns).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from . import schema as t
from .bookkeeper import (
    BalanceKey,
    Bookkeeper,
    Changes,
    Counts,
    FillRow,
    OrderRow,
    ParkedRow,
    PositionKey,
    PositionRow,
)
from .lookups import chunks, where_one_of

WATERMARK_SCAN_ROWS = 1024  # applied seqs read per step when advancing a source watermark


@dataclass(frozen=True, slots=True)
class WALCursor:
    """Where the WAL event source resumes: stored in the transaction of the events it fed."""

    wal_id: str
    acked_seq: int
    engine_id: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    counts: Counts
    events: int
    seconds: float


class Store:
    """Applies batches to the database at `engine`."""

    def __init__(self, engine: Engine, *, currency: str, fee_bps: int) -> None:
        self.engine = engine
        self.currency = currency
        self.fee_bps = fee_bps

    def apply_batch(
        self,
        items: Sequence[tuple[bytes, str]],
        *,
        now_ns: int,
        wal_cursor: WALCursor | None = None,
    ) -> BatchResult:
        """Apply (envelope, position) pairs in order, in one transaction."""
        started = time.perf_counter()
        with self.engine.begin() as connection:
            keeper = Bookkeeper(
                _TxReader(connection), currency=self.currency, fee_bps=self.fee_bps, now_ns=now_ns
            )
            keeper.prefetch(_decodable(raw for raw, _ in items))
            for raw, position in items:
                keeper.apply(raw, position)
            changes = keeper.changes()
            _write(connection, changes)
            _advance_sources(connection, changes.sources, now_ns)
            if wal_cursor is not None:
                store_wal_cursor(connection, wal_cursor)
        return BatchResult(keeper.counts, len(items), time.perf_counter() - started)

    def wal_cursor(self) -> WALCursor | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(t.wal_cursor).where(t.wal_cursor.c.name == "wal")
            ).first()
        if row is None:
            return None
        return WALCursor(row.wal_id, row.acked_seq, row.engine_id)


def _decodable(raws: Iterable[bytes]) -> list[Any]:
    from .events import EventError, decode_event

    events = []
    for raw in raws:
        try:
            events.append(decode_event(raw))
        except EventError:
            continue  # the bookkeeper quarantines it with the reason
    return events


# --- reads inside the transaction ---------------------------------------------------------


# Statements built once (lookups.py says why in this form).
_SELECT_EXISTING = where_one_of(t.applied_events.c.event_id, t.applied_events.c.event_id)
_SELECT_ORDERS = where_one_of(t.orders, t.orders.c.order_id)
_SELECT_PARKED = where_one_of(t.parked_events, t.parked_events.c.order_id)
_SELECT_POSITIONS = where_one_of(t.positions, t.positions.c.account_id)
_SELECT_BALANCES = where_one_of(t.ledger_balances, t.ledger_balances.c.account_id)
_SELECT_FILLS_OF = select(t.fills).where(
    t.fills.c.account_id == bindparam("account_id"), t.fills.c.symbol == bindparam("symbol")
)


class _TxReader:
    """The Bookkeeper's StateReader, bound to the batch's connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._dialect = connection.dialect.name

    def existing_event_ids(self, event_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(event_ids):
            found.update(self.connection.scalars(_SELECT_EXISTING[self._dialect], {"ids": chunk}))
        return found

    def orders(self, order_ids: Collection[str]) -> dict[str, OrderRow]:
        found: dict[str, OrderRow] = {}
        for chunk in chunks(order_ids):
            for row in self.connection.execute(_SELECT_ORDERS[self._dialect], {"ids": chunk}):
                found[row.order_id] = OrderRow(**row._asdict())
        return found

    def parked(self, order_ids: Collection[str]) -> list[ParkedRow]:
        found: list[ParkedRow] = []
        for chunk in chunks(order_ids):
            rows = self.connection.execute(_SELECT_PARKED[self._dialect], {"ids": chunk})
            found.extend(ParkedRow(**row._asdict()) for row in rows)
        return found

    def positions(self, keys: Collection[PositionKey]) -> dict[PositionKey, PositionRow]:
        # By account (one indexed range each), filtered here: fewer, cacheable statements.
        wanted = set(keys)
        found: dict[PositionKey, PositionRow] = {}
        for chunk in chunks(sorted({key[0] for key in wanted})):
            for row in self.connection.execute(_SELECT_POSITIONS[self._dialect], {"ids": chunk}):
                key = (row.account_id, row.symbol)
                if key in wanted:
                    found[key] = position_row(row)
        return found

    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, int]:
        wanted = set(keys)
        found: dict[BalanceKey, int] = {}
        for chunk in chunks(sorted({key[0] for key in wanted})):
            for row in self.connection.execute(_SELECT_BALANCES[self._dialect], {"ids": chunk}):
                key = (row.account_id, row.book, row.asset)
                if key in wanted:
                    found[key] = row.amount
        return found

    def fills_of(self, key: PositionKey) -> list[FillRow]:
        rows = self.connection.execute(_SELECT_FILLS_OF, {"account_id": key[0], "symbol": key[1]})
        return [fill_row(row) for row in rows]


def position_row(row: Any) -> PositionRow:
    return PositionRow(
        account_id=row.account_id,
        symbol=row.symbol,
        qty=row.qty,
        cost_basis=row.cost_basis,
        realized_pnl=row.realized_pnl,
        fees=row.fees,
        fill_count=row.fill_count,
        last_fill=(row.last_fill_ns, row.last_fill_source, row.last_fill_seq),
    )


def fill_row(row: Any) -> FillRow:
    values = row._asdict()
    values.pop("fill_id", None)
    return FillRow(**values)


# --- writes -------------------------------------------------------------------------------


def _write(connection: Connection, changes: Changes) -> None:
    if changes.applied:
        _insert(connection, t.applied_events, [_fields(row) for row in changes.applied])
    if changes.outcome_updates:
        rows = [{"b_event_id": k, "b_outcome": v} for k, v in changes.outcome_updates.items()]
        _executemany(connection, _UPDATE_OUTCOME, rows)
    _write_parked(connection, changes)
    if changes.quarantine:
        _insert(connection, t.quarantine, [_fields(row) for row in changes.quarantine])
    _insert_and_update(
        connection, t.orders, ["order_id"], changes.orders_new, changes.orders_changed
    )
    if changes.fills_new:
        _insert(connection, t.fills, [_fields(row) for row in changes.fills_new])
    if changes.fill_realized_updates:
        realized: list[dict[str, object]] = [
            {"b_event_id": k, "b_realized": v} for k, v in changes.fill_realized_updates.items()
        ]
        _executemany(connection, _UPDATE_REALIZED, realized)
    positions_new = [_position_fields(row) for row in changes.positions_new]
    positions_changed = [_position_fields(row) for row in changes.positions_changed]
    _insert_and_update_dicts(
        connection, t.positions, ["account_id", "symbol"], positions_new, positions_changed
    )
    _write_ledger(connection, changes)


def _write_parked(connection: Connection, changes: Changes) -> None:
    table = t.parked_events
    if changes.parked_deletes:
        for chunk in chunks(changes.parked_deletes):
            connection.execute(table.delete().where(table.c.event_id.in_(chunk)))
    if changes.parked_inserts:
        _insert(connection, table, [_fields(row) for row in changes.parked_inserts])
    if changes.parked_reason_updates:
        rows = [{"b_event_id": k, "b_reason": v} for k, v in changes.parked_reason_updates.items()]
        _executemany(connection, _UPDATE_PARKED_REASON, rows)


def _write_ledger(connection: Connection, changes: Changes) -> None:
    if changes.entries:
        entries: list[dict[str, object]] = []
        postings: list[dict[str, object]] = []
        for row in changes.entries:
            entries.append(
                {
                    "entry_id": row.entry_id,
                    "event_id": row.event_id,
                    "kind": row.kind,
                    "account_id": row.account_id,
                    "symbol": row.symbol,
                    "order_id": row.order_id,
                    "occurred_at_ns": row.occurred_at_ns,
                }
            )
            postings.extend(
                {
                    "entry_id": row.entry_id,
                    "account_id": p.account_id,
                    "book": p.book,
                    "asset": p.asset,
                    "amount": p.amount,
                }
                for p in row.entry.postings
            )
        _insert(connection, t.ledger_entries, entries)
        _insert(connection, t.postings, postings)
    new = [_balance(key, amount) for key, amount in changes.balances_new.items()]
    changed = [_balance(key, amount) for key, amount in changes.balances_changed.items()]
    _insert_and_update_dicts(
        connection, t.ledger_balances, ["account_id", "book", "asset"], new, changed
    )


def _balance(key: BalanceKey, amount: int) -> dict[str, object]:
    return {"account_id": key[0], "book": key[1], "asset": key[2], "amount": amount}


def _insert_and_update(
    connection: Connection, table: Any, keys: list[str], new: list[Any], changed: list[Any]
) -> None:
    _insert_and_update_dicts(
        connection, table, keys, [_fields(r) for r in new], [_fields(r) for r in changed]
    )


def _insert_and_update_dicts(
    connection: Connection,
    table: Any,
    keys: list[str],
    new: list[dict[str, Any]],
    changed: list[dict[str, Any]],
) -> None:
    if new:
        _insert(connection, table, new)
    if changed:
        statement = _update_by_key(table.name, tuple(keys))
        rows = [{f"b_{k}": v for k, v in row.items()} for row in changed]
        _executemany(connection, statement, rows)


@functools.cache
def _update_by_key(table_name: str, keys: tuple[str, ...]) -> Any:
    """UPDATE table SET every other column WHERE keys match (built once per table)."""
    table = t.metadata.tables[table_name]
    columns = [c.name for c in table.columns if c.name not in keys]
    statement = update(table).values({c: bindparam(f"b_{c}") for c in columns})
    for key in keys:
        statement = statement.where(table.c[key] == bindparam(f"b_{key}"))
    return statement


def _insert(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) into `table` in one executemany."""
    _executemany(connection, _insert_of(table.name, tuple(rows[0])), rows)


@functools.cache
def _insert_of(table_name: str, columns: tuple[str, ...]) -> Any:
    table = t.metadata.tables[table_name]
    return insert(table).values({c: bindparam(c) for c in columns})


def _executemany(connection: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Run `statement` once per row (dicts) through the driver's own executemany.

    `connection.execute(statement, rows)` has SQLAlchemy build every row's parameters in Python
    (`construct_params`, bind processors). Every column the back office writes is a string or
    an integer, which need no bind processing (`_driver_sql` checks), so the statement is
    compiled once per dialect with named placeholders (`:name` for SQLite, `%(name)s` for
    psycopg) and the rows go to the driver as they are. Measured (the first 15,000 events of
    a seeded flow, alternating runs): SQLite 11,300-13,000 -> 14,700-16,200 events/s,
    PostgreSQL 6,700-7,400 -> 8,700-9,100.
    """
    connection.exec_driver_sql(_driver_sql(connection.dialect, statement), rows)


_DRIVER_SQL: dict[tuple[str, int], tuple[str, Any]] = {}


def _driver_sql(dialect: Any, statement: Any) -> str:
    key = (dialect.name, id(statement))
    found = _DRIVER_SQL.get(key)
    if found is None:
        named = dialect if not dialect.positional else type(dialect)(paramstyle="named")
        compiled = statement.compile(dialect=named)
        for bind in compiled.binds.values():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            assert processor is None, f"{bind.key}: {bind.type} needs bind processing"
        found = (compiled.string, statement)  # the statement kept alive: its id stays its own
        _DRIVER_SQL[key] = found
    return found[0]


_UPDATE_OUTCOME = (
    update(t.applied_events)
    .where(t.applied_events.c.event_id == bindparam("b_event_id"))
    .values(outcome=bindparam("b_outcome"))
)
_UPDATE_REALIZED = (
    update(t.fills)
    .where(t.fills.c.event_id == bindparam("b_event_id"))
    .values(realized_pnl=bindparam("b_realized"))
)
_UPDATE_PARKED_REASON = (
    update(t.parked_events)
    .where(t.parked_events.c.event_id == bindparam("b_event_id"))
    .values(reason=bindparam("b_reason"))
)


def _fields(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__}


def _position_fields(row: PositionRow) -> dict[str, Any]:
    return {
        "account_id": row.account_id,
        "symbol": row.symbol,
        "qty": row.qty,
        "cost_basis": row.cost_basis,
        "realized_pnl": row.realized_pnl,
        "fees": row.fees,
        "fill_count": row.fill_count,
        "last_fill_ns": row.last_fill[0],
        "last_fill_source": row.last_fill[1],
        "last_fill_seq": row.last_fill[2],
    }


# --- source watermarks and the WAL cursor -------------------------------------------------


def _insert_ignoring_conflict(connection: Connection, table: Any, values: dict[str, Any]) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(values).on_conflict_do_nothing()
    connection.execute(statement)


def _advance_sources(connection: Connection, touched: dict[str, int], now_ns: int) -> None:
    """Move each touched source's `applied_through_seq` over every contiguous applied seq."""
    for source, batch_max in sorted(touched.items()):
        row = connection.execute(_SELECT_SOURCE, {"source": source}).first()
        if row is None:
            _insert_ignoring_conflict(
                connection,
                t.sources,
                {"source": source, "applied_through_seq": 0, "max_seq": 0, "updated_at_ns": now_ns},
            )
            row = connection.execute(_SELECT_SOURCE, {"source": source}).one()
        through = _walk(connection, source, row.applied_through_seq)
        values = {
            "b_source": source,
            "b_through": through,
            "b_max": max(row.max_seq, batch_max),
            "b_now": now_ns,
        }
        connection.execute(_UPDATE_SOURCE, values)


_SELECT_SOURCE = (
    select(t.sources).where(t.sources.c.source == bindparam("source")).with_for_update()
)
_UPDATE_SOURCE = (
    update(t.sources)
    .where(t.sources.c.source == bindparam("b_source"))
    .values(
        applied_through_seq=bindparam("b_through"),
        max_seq=bindparam("b_max"),
        updated_at_ns=bindparam("b_now"),
    )
)
_SELECT_SEQS_AFTER = (
    select(t.applied_events.c.seq)
    .where(
        t.applied_events.c.source == bindparam("source"),
        t.applied_events.c.seq > bindparam("after"),
    )
    .order_by(t.applied_events.c.seq)
    .limit(WATERMARK_SCAN_ROWS)
)


def _walk(connection: Connection, source: str, through: int) -> int:
    while True:
        seqs = list(connection.scalars(_SELECT_SEQS_AFTER, {"source": source, "after": through}))
        for seq in seqs:
            if seq != through + 1:
                return through
            through = seq
        if len(seqs) < WATERMARK_SCAN_ROWS:
            return through


def store_wal_cursor(connection: Connection, cursor: WALCursor) -> None:
    _insert_ignoring_conflict(
        connection,
        t.wal_cursor,
        {"name": "wal", "wal_id": cursor.wal_id, "acked_seq": 0, "engine_id": cursor.engine_id},
    )
    connection.execute(
        update(t.wal_cursor)
        .where(t.wal_cursor.c.name == "wal")
        .values(wal_id=cursor.wal_id, acked_seq=cursor.acked_seq, engine_id=cursor.engine_id)
    )
