"""Migrations: they build exactly schema.py on SQLite and PostgreSQL, in their own version
table, beside the back office's tables in the same database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from switchyard.backoffice import db as backoffice_db
from switchyard.strategy import db
from switchyard.strategy.schema import metadata


def test_head_constant_is_the_latest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [db.HEAD]


def test_migrations_create_exactly_the_schema(strategy_db_url: str) -> None:
    engine = db.create_engine_for(strategy_db_url, timeout_ms=3000)
    assert db.migrate(engine) is True
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": db.VERSION_TABLE})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_migrate_is_idempotent_and_skips_alembic_at_head(strategy_db_url: str) -> None:
    engine = db.create_engine_for(strategy_db_url, timeout_ms=3000)
    assert db.current_revision(engine) is None
    assert db.migrate(engine) is True
    assert db.current_revision(engine) == db.HEAD
    assert db.migrate(engine) is False
    tables = set(inspect(engine).get_table_names())
    assert {t for t in tables if not t.startswith("strategy_")} == set()
    assert db.VERSION_TABLE in tables
    engine.dispose()


def test_strategy_and_back_office_migrations_share_one_database(strategy_db_url: str) -> None:
    engine = db.create_engine_for(strategy_db_url, timeout_ms=3000)
    backoffice_db.migrate(engine)
    db.migrate(engine)
    backoffice_db.migrate(engine)  # each finds its own history at head
    assert db.current_revision(engine) == db.HEAD
    assert backoffice_db.current_revision(engine) == "0001"
    tables = set(inspect(engine).get_table_names())
    assert {db.VERSION_TABLE, backoffice_db.VERSION_TABLE} <= tables
    assert "alembic_version" not in tables
    assert {t for t in tables if not t.startswith(("strategy_", "bo_", "backoffice_"))} == set()
    engine.dispose()
