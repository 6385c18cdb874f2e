"""Migrations: they build exactly schema.py, on SQLite and PostgreSQL, in their own version table."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from switchyard.backoffice.db import VERSION_TABLE, current_revision, migrate, open_database
from switchyard.backoffice.schema import metadata


def test_migrations_create_exactly_the_schema(db_url: str) -> None:
    engine = open_database(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_migrations_are_idempotent_and_use_their_own_version_table(db_url: str) -> None:
    engine = open_database(db_url)
    migrate(engine)
    assert current_revision(engine) == "0001"
    tables = set(inspect(engine).get_table_names())
    assert VERSION_TABLE in tables
    assert "alembic_version" not in tables  # the strategy config's default name stays free
    assert {t for t in tables if not t.startswith("bo_")} == {VERSION_TABLE}
    engine.dispose()


def test_open_database_refuses_postgres_drivers_other_than_psycopg3() -> None:
    with pytest.raises(ValueError, match="psycopg"):
        open_database("postgresql+psycopg2://postgres@127.0.0.1/test")
