"""The read side of the back office database: API views, integrity checks, state digests.

Every function takes a Connection (callers choose the transaction: the API reads in a short
one; /reconcile and rebuild read the whole state in one snapshot) and an optional account
filter (None = every account, for operators). JSON shapes are built in api.py; these return
plain dicts with camelCase keys already, amounts as integers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, Engine, case, func, select

from switchyard.ledger import BOOK_CASH, MARKET_ACCOUNT

from . import schema as t
from .lookups import chunks, where_one_of

AVG_PRICE_DECIMALS = 6


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection whose queries all see one consistent state.

    PostgreSQL: a REPEATABLE READ transaction. SQLite (WAL mode): an explicit BEGIN, so every
    SELECT reads the same snapshot (the driver would otherwise end it after each statement).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            connection.rollback()


def average_price(qty: int, cost_basis: int) -> float | None:
    """cost basis / qty in ticks, rounded for display (the stored values are exact)."""
    if qty == 0:
        return None
    return round(float(Fraction(cost_basis, qty)), AVG_PRICE_DECIMALS)


def positions(connection: Connection, account_id: str | None) -> list[dict[str, Any]]:
    table = t.positions
    query = select(table).order_by(table.c.account_id, table.c.symbol)
    if account_id is not None:
        query = query.where(table.c.account_id == account_id)
    return [
        {
            "accountId": row.account_id,
            "symbol": row.symbol,
            "qty": row.qty,
            "avgPrice": average_price(row.qty, row.cost_basis),
            "costBasis": row.cost_basis,
            "realizedPnl": row.realized_pnl,
            "fees": row.fees,
            "fills": row.fill_count,
        }
        for row in connection.execute(query)
    ]


def balances(connection: Connection, account_id: str | None) -> list[dict[str, Any]]:
    table = t.ledger_balances
    query = (
        select(table)
        .where(table.c.book == BOOK_CASH, table.c.account_id != MARKET_ACCOUNT)
        .order_by(table.c.account_id, table.c.asset)
    )
    if account_id is not None:
        query = query.where(table.c.account_id == account_id)
    return [
        {"accountId": row.account_id, "currency": row.asset, "amount": row.amount}
        for row in connection.execute(query)
    ]


def pnl(connection: Connection, account_id: str | None, currency: str) -> list[dict[str, Any]]:
    table = t.positions
    query = select(table).order_by(table.c.account_id, table.c.symbol)
    if account_id is not None:
        query = query.where(table.c.account_id == account_id)
    return [
        {
            "accountId": row.account_id,
            "symbol": row.symbol,
            "currency": currency,
            "realizedPnl": row.realized_pnl,
            "fees": row.fees,
            "netRealizedPnl": row.realized_pnl - row.fees,
            "openQty": row.qty,
            "costBasis": row.cost_basis,
        }
        for row in connection.execute(query)
    ]


def fills(
    connection: Connection,
    account_id: str | None,
    *,
    order_id: str | None,
    after_id: int,
    limit: int,
) -> list[dict[str, Any]]:
    table = t.fills
    query = select(table).where(table.c.fill_id > after_id).order_by(table.c.fill_id).limit(limit)
    if account_id is not None:
        query = query.where(table.c.account_id == account_id)
    if order_id is not None:
        query = query.where(table.c.order_id == order_id)
    return [
        {
            "fillId": row.fill_id,
            "eventId": row.event_id,
            "orderId": row.order_id,
            "accountId": row.account_id,
            "symbol": row.symbol,
            "side": row.side,
            "qty": row.qty,
            "price": row.price,
            "notional": row.notional,
            "fee": row.fee,
            "realizedPnl": row.realized_pnl,
            "liquidity": row.liquidity,
            "execId": row.exec_id,
            "filledQtyAfter": row.filled_qty_after,
            "seq": row.seq,
            "occurredAtNs": row.occurred_at_ns,
        }
        for row in connection.execute(query)
    ]


_POSTINGS_OF = {  # the postings of a page of entries, by dialect (lookups.py)
    dialect: statement.order_by(t.postings.c.posting_id)
    for dialect, statement in where_one_of(t.postings, t.postings.c.entry_id).items()
}


def ledger(
    connection: Connection,
    account_id: str | None,
    *,
    order_id: str | None,
    after_index: int,
    limit: int,
) -> list[dict[str, Any]]:
    entries = t.ledger_entries
    query = (
        select(entries)
        .where(entries.c.ledger_index > after_index)
        .order_by(entries.c.ledger_index)
        .limit(limit)
    )
    if account_id is not None:
        query = query.where(entries.c.account_id == account_id)
    if order_id is not None:
        query = query.where(entries.c.order_id == order_id)
    rows = list(connection.execute(query))
    by_entry: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ids = [row.entry_id for row in rows]
    postings_of = _POSTINGS_OF[connection.dialect.name]
    for chunk in chunks(ids):
        for posting in connection.execute(postings_of, {"ids": chunk}):
            by_entry[posting.entry_id].append(
                {
                    "accountId": posting.account_id,
                    "book": posting.book,
                    "asset": posting.asset,
                    "amount": posting.amount,
                }
            )
    return [
        {
            "ledgerIndex": row.ledger_index,
            "entryId": row.entry_id,
            "eventId": row.event_id,
            "kind": row.kind,
            "accountId": row.account_id,
            "symbol": row.symbol,
            "orderId": row.order_id,
            "occurredAtNs": row.occurred_at_ns,
            "postings": by_entry[row.entry_id],
        }
        for row in rows
    ]


def source_watermarks(connection: Connection) -> dict[str, dict[str, int]]:
    return {
        row.source: {"appliedThroughSeq": row.applied_through_seq, "maxSeq": row.max_seq}
        for row in connection.execute(select(t.sources).order_by(t.sources.c.source))
    }


def applied_through(connection: Connection, source: str) -> int:
    value = connection.scalar(
        select(t.sources.c.applied_through_seq).where(t.sources.c.source == source)
    )
    return int(value or 0)


def backlog(connection: Connection) -> dict[str, Any]:
    """Parked and quarantined events: what keeps the books from being complete."""
    parked_count, oldest = connection.execute(
        select(func.count(), func.min(t.parked_events.c.parked_at_ns))
    ).one()
    quarantined = connection.scalar(select(func.count()).select_from(t.quarantine))
    applied = connection.scalar(select(func.count()).select_from(t.applied_events))
    return {
        "parked": int(parked_count or 0),
        "oldestParkedAtNs": int(oldest) if oldest is not None else None,
        "quarantined": int(quarantined or 0),
        "eventsSeen": int(applied or 0),
    }


# --- integrity checks (used by /reconcile) -------------------------------------------------


def unbalanced_entries(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    p = t.postings
    total = func.sum(p.c.amount)
    query = (
        select(p.c.entry_id, p.c.asset, total.label("total"))
        .group_by(p.c.entry_id, p.c.asset)
        .having(total != 0)
        .limit(limit)
    )
    return [
        {"kind": "LEDGER_UNBALANCED", "entryId": r.entry_id, "asset": r.asset, "sum": int(r.total)}
        for r in connection.execute(query)
    ]


def balance_drift(connection: Connection, account_id: str | None) -> list[dict[str, Any]]:
    """Running balances that differ from the sum of their postings."""
    p = t.postings
    query = select(p.c.account_id, p.c.book, p.c.asset, func.sum(p.c.amount).label("total"))
    if account_id is not None:
        query = query.where(p.c.account_id == account_id)
    sums = {
        (r.account_id, r.book, r.asset): int(r.total)
        for r in connection.execute(query.group_by(p.c.account_id, p.c.book, p.c.asset))
    }
    b = t.ledger_balances
    balance_query = select(b)
    if account_id is not None:
        balance_query = balance_query.where(b.c.account_id == account_id)
    stored = {(r.account_id, r.book, r.asset): r.amount for r in connection.execute(balance_query)}
    return [
        {
            "kind": "LEDGER_BALANCE_DRIFT",
            "accountId": key[0],
            "book": key[1],
            "asset": key[2],
            "balance": stored.get(key, 0),
            "sumOfPostings": sums.get(key, 0),
        }
        for key in sorted(set(sums) | set(stored))
        if stored.get(key, 0) != sums.get(key, 0)
    ]


def positions_vs_fills(connection: Connection, account_id: str | None) -> list[dict[str, Any]]:
    """Position quantities that differ from the signed sum of their fills or their ledger lots."""
    f = t.fills
    signed = func.sum(case((f.c.side == "BUY", f.c.qty), else_=-f.c.qty))
    query = select(f.c.account_id, f.c.symbol, signed.label("qty")).group_by(
        f.c.account_id, f.c.symbol
    )
    if account_id is not None:
        query = query.where(f.c.account_id == account_id)
    from_fills = {(r.account_id, r.symbol): int(r.qty) for r in connection.execute(query)}
    lots_query = select(t.ledger_balances).where(t.ledger_balances.c.book.like("position:%"))
    if account_id is not None:
        lots_query = lots_query.where(t.ledger_balances.c.account_id == account_id)
    from_ledger = {
        (r.account_id, r.book.split(":", 1)[1]): r.amount
        for r in connection.execute(lots_query)
        if r.account_id != MARKET_ACCOUNT
    }
    stored = {(p["accountId"], p["symbol"]): p["qty"] for p in positions(connection, account_id)}
    problems = []
    for key in sorted(set(from_fills) | set(stored) | set(from_ledger)):
        qty = stored.get(key, 0)
        if qty != from_fills.get(key, 0) or qty != from_ledger.get(key, 0):
            problems.append(
                {
                    "kind": "POSITION_VS_FILLS",
                    "accountId": key[0],
                    "symbol": key[1],
                    "position": qty,
                    "sumOfFills": from_fills.get(key, 0),
                    "ledgerLots": from_ledger.get(key, 0),
                }
            )
    return problems


# --- state digest (rebuild compares two databases with it) ---------------------------------

# Per table: the columns that are the state, in a fixed order; ids assigned by the database
# (fill_id, ledger_index, posting_id) and bookkeeping times (applied_at_ns, parked_at_ns, ...)
# are excluded, as are the per-event positions (topic offsets differ between deliveries).
DIGEST_COLUMNS: dict[str, tuple[str, ...]] = {
    "bo_orders": tuple(c.name for c in t.orders.columns),
    "bo_fills": tuple(c.name for c in t.fills.columns if c.name != "fill_id"),
    "bo_positions": tuple(c.name for c in t.positions.columns),
    "bo_ledger_balances": tuple(c.name for c in t.ledger_balances.columns),
    "bo_parked_events": ("event_id", "order_id", "reason", "seq"),
    "bo_quarantine": ("event_id", "reason"),
    "bo_applied_events": ("event_id", "source", "seq", "event_type", "outcome"),
}


def state_rows(
    connection: Connection, table_name: str, event_ids: set[str] | None = None
) -> list[tuple[Any, ...]]:
    """Sorted state rows of one table (optionally only those of the given events)."""
    table = t.metadata.tables[table_name]
    columns = DIGEST_COLUMNS[table_name]
    rows = [tuple(row) for row in connection.execute(select(*(table.c[c] for c in columns)))]
    if event_ids is not None and "event_id" in columns:
        index = columns.index("event_id")
        rows = [row for row in rows if row[index] in event_ids]
    return sorted(rows, key=repr)
