"""Strategy config tables (strategy_*): the current config per account and its history.

Revision ID: s0001
Revises: (none; first revision of the `strategy` branch)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("strategy",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "strategy_configs",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("symbols", sa.Text(), nullable=False),
        sa.Column("tick_ms", sa.Integer(), nullable=False),
        sa.Column("max_orders_per_min", sa.Integer(), nullable=False),
        sa.Column("cooldown_ms", sa.Integer(), nullable=False),
        sa.Column("short_window", sa.Integer(), nullable=False),
        sa.Column("long_window", sa.Integer(), nullable=False),
        sa.Column("rsi_period", sa.Integer(), nullable=False),
        sa.Column("rsi_overbought", sa.Integer(), nullable=False),
        sa.Column("rsi_oversold", sa.Integer(), nullable=False),
        sa.Column("order_qty", sa.BigInteger(), nullable=False),
        sa.Column("max_position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "strategy_config_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("old_values", sa.Text(), nullable=True),
        sa.Column("new_values", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "account_id", "version", name="strategy_config_history_account_version"
        ),
    )


def downgrade() -> None:
    op.drop_table("strategy_config_history")
    op.drop_table("strategy_configs")
