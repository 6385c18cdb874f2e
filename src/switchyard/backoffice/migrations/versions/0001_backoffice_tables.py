"""Back office tables (bo_*): dedupe keys, parked events, orders, fills, positions, ledger.

Revision ID: 0001
Revises: (none; first revision of the `backoffice` branch)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("backoffice",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bo_applied_events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("occurred_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("applied_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("bo_applied_events", schema=None) as batch_op:
        batch_op.create_index("bo_applied_events_source_seq", ["source", "seq"], unique=False)

    op.create_table(
        "bo_fills",
        sa.Column(
            "fill_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("notional", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("realized_pnl", sa.BigInteger(), nullable=False),
        sa.Column("liquidity", sa.String(length=8), nullable=False),
        sa.Column("exec_id", sa.String(length=200), nullable=False),
        sa.Column("filled_qty_after", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fill_id"),
        sa.UniqueConstraint("event_id", name="bo_fills_event_id"),
    )
    with op.batch_alter_table("bo_fills", schema=None) as batch_op:
        batch_op.create_index("bo_fills_account", ["account_id", "fill_id"], unique=False)
        batch_op.create_index("bo_fills_order", ["order_id"], unique=False)
        batch_op.create_index("bo_fills_position", ["account_id", "symbol"], unique=False)

    op.create_table(
        "bo_ledger_balances",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("book", sa.String(length=48), nullable=False),
        sa.Column("asset", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "book", "asset"),
    )
    op.create_table(
        "bo_ledger_entries",
        sa.Column(
            "ledger_index",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.String(length=208), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=True),
        sa.Column("occurred_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ledger_index"),
        sa.UniqueConstraint("entry_id", name="bo_ledger_entries_entry_id"),
    )
    with op.batch_alter_table("bo_ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "bo_ledger_entries_account", ["account_id", "ledger_index"], unique=False
        )

    op.create_table(
        "bo_orders",
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=8), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_seq", sa.BigInteger(), nullable=False),
        sa.Column("filled_qty", sa.BigInteger(), nullable=False),
        sa.Column("cum_notional", sa.BigInteger(), nullable=False),
        sa.Column("reported_filled_qty", sa.BigInteger(), nullable=False),
        sa.Column("accept_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    with op.batch_alter_table("bo_orders", schema=None) as batch_op:
        batch_op.create_index("bo_orders_account", ["account_id"], unique=False)
        batch_op.create_index("bo_orders_source_accept", ["source", "accept_seq"], unique=False)

    op.create_table(
        "bo_parked_events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("parked_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("bo_parked_events", schema=None) as batch_op:
        batch_op.create_index("bo_parked_events_order", ["order_id"], unique=False)

    op.create_table(
        "bo_positions",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("cost_basis", sa.BigInteger(), nullable=False),
        sa.Column("realized_pnl", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("fill_count", sa.BigInteger(), nullable=False),
        sa.Column("last_fill_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_fill_source", sa.String(length=200), nullable=False),
        sa.Column("last_fill_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "symbol"),
    )
    op.create_table(
        "bo_postings",
        sa.Column(
            "posting_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.String(length=208), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("book", sa.String(length=48), nullable=False),
        sa.Column("asset", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("posting_id"),
    )
    with op.batch_alter_table("bo_postings", schema=None) as batch_op:
        batch_op.create_index("bo_postings_account", ["account_id"], unique=False)
        batch_op.create_index("bo_postings_entry", ["entry_id"], unique=False)

    op.create_table(
        "bo_quarantine",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "bo_sources",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("applied_through_seq", sa.BigInteger(), nullable=False),
        sa.Column("max_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "bo_wal_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("wal_id", sa.String(length=16), nullable=False),
        sa.Column("acked_seq", sa.BigInteger(), nullable=False),
        sa.Column("engine_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("bo_wal_cursor")
    op.drop_table("bo_sources")
    op.drop_table("bo_quarantine")
    with op.batch_alter_table("bo_postings", schema=None) as batch_op:
        batch_op.drop_index("bo_postings_entry")
        batch_op.drop_index("bo_postings_account")

    op.drop_table("bo_postings")
    op.drop_table("bo_positions")
    with op.batch_alter_table("bo_parked_events", schema=None) as batch_op:
        batch_op.drop_index("bo_parked_events_order")

    op.drop_table("bo_parked_events")
    with op.batch_alter_table("bo_orders", schema=None) as batch_op:
        batch_op.drop_index("bo_orders_source_accept")
        batch_op.drop_index("bo_orders_account")

    op.drop_table("bo_orders")
    with op.batch_alter_table("bo_ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("bo_ledger_entries_account")

    op.drop_table("bo_ledger_entries")
    op.drop_table("bo_ledger_balances")
    with op.batch_alter_table("bo_fills", schema=None) as batch_op:
        batch_op.drop_index("bo_fills_position")
        batch_op.drop_index("bo_fills_order")
        batch_op.drop_index("bo_fills_account")

    op.drop_table("bo_fills")
    with op.batch_alter_table("bo_applied_events", schema=None) as batch_op:
        batch_op.drop_index("bo_applied_events_source_seq")

    op.drop_table("bo_applied_events")
