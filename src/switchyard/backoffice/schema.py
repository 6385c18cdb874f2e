"""The back office tables (SQLAlchemy Core). Alembic migrations create them; this is the map.

All names start with `bo_` so the strategy config (another area, same database and Alembic
tooling) can live beside them; our Alembic version table is `backoffice_alembic_version`.
Amounts are integers (cash units = ticks x lots, lots, ns); nothing is a float.

    bo_applied_events  the dedupe key: one row per event id ever seen, with its outcome,
                       written in the same transaction as the event's effects
    bo_parked_events   events waiting for their order (or for an earlier fill of it)
    bo_quarantine      events that cannot be applied (invalid, contradictory), kept whole
    bo_orders          every order, with the fills applied so far and its latest status
    bo_fills           one row per fill, with the realized PnL it produced
    bo_positions       per (account, symbol): qty, cost basis, realized PnL, fees
    bo_ledger_entries  double-entry journal entries (one per fill, plus adjustments)
    bo_postings        their postings; each entry sums to zero per asset
    bo_ledger_balances running balance per (account, book, asset)
    bo_sources         per event source: highest seq applied with every seq before it
    bo_wal_cursor      where the WAL event source resumes (same transaction as the effects)
"""

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ID = 200  # event ids and order ids: engine id + wal id + seq
ACCOUNT = 64
SYMBOL = 32
# Autoincrement keys: BIGINT on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

applied_events = Table(
    "bo_applied_events",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("source", String(ID), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("account_id", String(ACCOUNT)),
    Column("order_id", String(ID)),
    Column("outcome", String(16), nullable=False),  # applied | parked | recorded | quarantined
    Column("occurred_at_ns", BigInteger, nullable=False),
    Column("applied_at_ns", BigInteger, nullable=False),
    Column(
        "position", String(ID), nullable=False
    ),  # where it came from (topic:part:offset, wal:seq)
    Index("bo_applied_events_source_seq", "source", "seq"),
)

parked_events = Table(
    "bo_parked_events",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("order_id", String(ID), nullable=False),
    Column("reason", String(16), nullable=False),  # ORDER | FILL_GAP
    Column("seq", BigInteger, nullable=False),
    Column("body", Text, nullable=False),  # the envelope JSON as received
    Column("parked_at_ns", BigInteger, nullable=False),
    Index("bo_parked_events_order", "order_id"),
)

quarantine = Table(
    "bo_quarantine",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("at_ns", BigInteger, nullable=False),
)

orders = Table(
    "bo_orders",
    metadata,
    Column("order_id", String(ID), primary_key=True),
    Column("source", String(ID), nullable=False),
    Column("account_id", String(ACCOUNT), nullable=False),
    Column("symbol", String(SYMBOL), nullable=False),
    Column("side", String(4), nullable=False),
    Column("order_type", String(8), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_seq", BigInteger, nullable=False),
    Column("filled_qty", BigInteger, nullable=False),  # by fills applied here
    Column("cum_notional", BigInteger, nullable=False),  # by fills applied here
    Column("reported_filled_qty", BigInteger, nullable=False),  # highest the gateway reported
    Column("accept_seq", BigInteger, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    Index("bo_orders_account", "account_id"),
    Index("bo_orders_source_accept", "source", "accept_seq"),
)

fills = Table(
    "bo_fills",
    metadata,
    Column("fill_id", AutoId, primary_key=True, autoincrement=True),
    Column("event_id", String(ID), nullable=False),
    Column("source", String(ID), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("account_id", String(ACCOUNT), nullable=False),
    Column("symbol", String(SYMBOL), nullable=False),
    Column("side", String(4), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("notional", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("realized_pnl", BigInteger, nullable=False),
    Column("liquidity", String(8), nullable=False),
    Column("exec_id", String(ID), nullable=False),
    Column("filled_qty_after", BigInteger, nullable=False),
    Column("occurred_at_ns", BigInteger, nullable=False),
    UniqueConstraint("event_id", name="bo_fills_event_id"),
    Index("bo_fills_account", "account_id", "fill_id"),
    Index("bo_fills_order", "order_id"),
    Index("bo_fills_position", "account_id", "symbol"),
)

positions = Table(
    "bo_positions",
    metadata,
    Column("account_id", String(ACCOUNT), primary_key=True),
    Column("symbol", String(SYMBOL), primary_key=True),
    Column("qty", BigInteger, nullable=False),
    Column("cost_basis", BigInteger, nullable=False),
    Column("realized_pnl", BigInteger, nullable=False),
    Column("fees", BigInteger, nullable=False),
    Column("fill_count", BigInteger, nullable=False),
    # the latest fill in canonical order (occurred_at_ns, source, seq): an earlier one re-folds
    Column("last_fill_ns", BigInteger, nullable=False),
    Column("last_fill_source", String(ID), nullable=False),
    Column("last_fill_seq", BigInteger, nullable=False),
)

ledger_entries = Table(
    "bo_ledger_entries",
    metadata,
    Column("ledger_index", AutoId, primary_key=True, autoincrement=True),
    Column("entry_id", String(ID + 8), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("account_id", String(ACCOUNT), nullable=False),
    Column("symbol", String(SYMBOL), nullable=False),
    Column("order_id", String(ID)),
    Column("occurred_at_ns", BigInteger, nullable=False),
    UniqueConstraint("entry_id", name="bo_ledger_entries_entry_id"),
    Index("bo_ledger_entries_account", "account_id", "ledger_index"),
)

postings = Table(
    "bo_postings",
    metadata,
    Column("posting_id", AutoId, primary_key=True, autoincrement=True),
    Column("entry_id", String(ID + 8), nullable=False),
    Column("account_id", String(ACCOUNT), nullable=False),
    Column("book", String(SYMBOL + 16), nullable=False),
    Column("asset", String(SYMBOL + 8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Index("bo_postings_entry", "entry_id"),
    Index("bo_postings_account", "account_id"),
)

ledger_balances = Table(
    "bo_ledger_balances",
    metadata,
    Column("account_id", String(ACCOUNT), primary_key=True),
    Column("book", String(SYMBOL + 16), primary_key=True),
    Column("asset", String(SYMBOL + 8), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

sources = Table(
    "bo_sources",
    metadata,
    Column("source", String(ID), primary_key=True),
    Column("applied_through_seq", BigInteger, nullable=False),
    Column("max_seq", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
)

wal_cursor = Table(
    "bo_wal_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("wal_id", String(16), nullable=False),
    Column("acked_seq", BigInteger, nullable=False),
    Column("engine_id", String(ID), nullable=False),
)

STATE_TABLES = (
    applied_events,
    parked_events,
    quarantine,
    orders,
    fills,
    positions,
    ledger_entries,
    postings,
    ledger_balances,
    sources,
)
