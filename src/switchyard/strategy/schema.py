"""The strategy config tables (SQLAlchemy Core). Alembic migrations create them; this is the map.

All names start with `strategy_` so they live beside the back office's `bo_*` tables in one
database; our Alembic version table is `strategy_alembic_version` (the back office keeps
`backoffice_alembic_version`), so the two migration histories never meet.

    strategy_configs         one row per strategy account: the current config and its version
    strategy_config_history  every stored version: who, when, the values before and after

Editable values are columns (typed, queryable); symbols are a JSON list. History keeps the
editable values as JSON objects (camelCase, the API's names), old = NULL for the first row.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ACCOUNT = 64
ACTOR = 200
# Autoincrement keys: BIGINT on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

configs = Table(
    "strategy_configs",
    metadata,
    Column("account_id", String(ACCOUNT), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("symbols", Text, nullable=False),
    Column("tick_ms", Integer, nullable=False),
    Column("max_orders_per_min", Integer, nullable=False),
    Column("cooldown_ms", Integer, nullable=False),
    Column("short_window", Integer, nullable=False),
    Column("long_window", Integer, nullable=False),
    Column("rsi_period", Integer, nullable=False),
    Column("rsi_overbought", Integer, nullable=False),
    Column("rsi_oversold", Integer, nullable=False),
    Column("order_qty", BigInteger, nullable=False),
    Column("max_position", BigInteger, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
    Column("updated_by", String(ACTOR), nullable=False),
)

history = Table(
    "strategy_config_history",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("account_id", String(ACCOUNT), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("changed_at_ms", BigInteger, nullable=False),
    Column("changed_by", String(ACTOR), nullable=False),
    Column("old_values", Text, nullable=True),
    Column("new_values", Text, nullable=False),
    UniqueConstraint("account_id", "version", name="strategy_config_history_account_version"),
)
