"""Database engine and schema migrations of the back office (SQLite or PostgreSQL).

`open_database(url)` creates the engine with settings that make a committed transaction
durable (SQLite: WAL journal, synchronous=FULL, a busy timeout; PostgreSQL: psycopg 3 with
its durable defaults) and applies the Alembic migrations of the `backoffice` branch, which
keep their own version table so other components can migrate the same database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "backoffice_alembic_version"
HEAD = "backoffice@head"
SQLITE_BUSY_TIMEOUT_S = 10.0  # a reader never blocks the writer in WAL mode; writers queue


def open_database(url: str, *, migrate_schema: bool = True) -> Engine:
    """An engine for `url` with the schema at the latest revision."""
    engine = create_database_engine(url)
    if migrate_schema:
        migrate(engine)
    return engine


def create_database_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        raise ValueError(
            f"use the psycopg 3 driver: postgresql+psycopg://... (got {parsed.drivername})"
        )
    return create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a commit is fsynced: offsets follow it
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the back office tables to the latest revision (idempotent)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, HEAD)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        revision: str | None = context.get_current_revision()
        return revision
