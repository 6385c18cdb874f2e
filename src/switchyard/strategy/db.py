"""Database engine and schema migrations of the strategy config (SQLite or PostgreSQL).

`create_engine_for(url, timeout_ms)` makes an engine whose every call is bounded by the
timeout: SQLite waits at most that long for a lock (and opens the file per use, so a file
that went away is an error now, not a stale handle later); PostgreSQL (psycopg 3) bounds the
connect, TCP retransmissions and each statement. `migrate(engine)` applies the Alembic
migrations of the `strategy` branch with their own version table, after a cheap check that
skips Alembic entirely when the schema is already at `HEAD` (the common restart).

Blocking: call only from the strategy's database thread (service.py), never the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
VERSION_TABLE: Final = "strategy_alembic_version"
HEAD: Final = "s0001"  # latest revision (tests/unit/strategy/test_db.py keeps it true)
BRANCH_HEAD: Final = "strategy@head"
_SELECT_REVISION: Final = text("SELECT version_num FROM strategy_alembic_version")


def create_engine_for(url: str, *, timeout_ms: int) -> Engine:
    """An engine for `url` with bounded waits (see the module docstring)."""
    assert timeout_ms > 0, timeout_ms
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args={"timeout": timeout_ms / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    assert backend == "postgresql", backend
    assert parsed.get_driver_name() == "psycopg", parsed.drivername
    engine = create_engine(
        url,
        pool_size=1,  # one database thread
        max_overflow=1,
        pool_pre_ping=True,  # a connection the server dropped is replaced, not reported
        pool_timeout=timeout_ms / 1000,
        connect_args={
            "connect_timeout": max(1, round(timeout_ms / 1000)),
            "tcp_user_timeout": timeout_ms,  # unacknowledged data: give up after this
        },
    )
    event.listen(engine, "connect", _postgres_statement_timeout(timeout_ms))
    return engine


def sqlite_directory(url: str) -> Path | None:
    """The directory of a SQLite file URL (None for PostgreSQL or an in-memory database)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database).parent


def _sqlite_on_connect(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed config change survives a crash
    cursor.close()


def _postgres_statement_timeout(timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {int(timeout_ms)}")
        cursor.execute(f"SET lock_timeout = {int(timeout_ms)}")
        cursor.close()
        dbapi_connection.commit()

    return on_connect


def current_revision(engine: Engine) -> str | None:
    """The strategy schema's revision, or None before the first migration."""
    try:
        with engine.connect() as connection:
            row = connection.execute(_SELECT_REVISION).first()
    except SQLAlchemyError:
        if not _reachable(engine):
            raise
        return None  # no version table yet
    return str(row[0]) if row is not None else None


def _reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def migrate(engine: Engine) -> bool:
    """Bring the strategy tables to HEAD; True if Alembic had to run (idempotent)."""
    if current_revision(engine) == HEAD:
        return False
    # Imported here: Alembic costs ~0.3 s to import and is needed only on a fresh database.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, BRANCH_HEAD)
    return True
