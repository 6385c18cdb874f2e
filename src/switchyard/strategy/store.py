"""`ConfigStore`: the strategy config rows in SQLite or PostgreSQL (blocking, one thread).

Owns the SQL: open (migrate, then read the account's row or insert the seed as version 1),
read, the optimistic-concurrency update (the row moves from the version the client read to
the next one in one transaction with its history row, or nothing happens) and the history
query. Rows come back as `StoredConfig` with the values exactly as stored: the caller
validates them (a hand-edited row is untrusted data). Every database failure is raised as
`StoreUnavailable` with a short reason.

Blocking: only the strategy's database thread (service.py) calls it; never the event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from . import db
from .config import EDITABLE, HISTORY_LIMIT_MAX
from .schema import configs, history

_ERROR_TEXT_MAX: Final = 300
# column name -> camelCase field, for the editable values
_COLUMNS: Final = {attr: name for name, attr in EDITABLE.items()}


class StoreUnavailable(Exception):
    """The database could not be reached or refused the work (the reason is in the text)."""


@dataclass(frozen=True, slots=True)
class StoredConfig:
    account_id: str
    version: int
    values: dict[str, Any]  # camelCase editable fields, as stored (not validated)
    updated_at_ms: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """The update found another version (None: the row is gone)."""

    current_version: int | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    version: int
    changed_at_ms: int
    changed_by: str
    old: dict[str, Any] | None
    new: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        old = self.old or {}
        changes = {
            name: {"old": old.get(name), "new": value}
            for name, value in self.new.items()
            if self.old is None or old.get(name) != value
        }
        return {
            "version": self.version,
            "changedAtMs": self.changed_at_ms,
            "changedBy": self.changed_by,
            "changes": changes,
            "old": self.old,
            "new": self.new,
        }


class ConfigStore:
    """See the module docstring. Not thread-safe: one thread uses it."""

    def __init__(self, *, url: str, account_id: str, timeout_ms: int) -> None:
        self.url = url
        self.account_id = account_id
        self.timeout_ms = timeout_ms
        self._engine: Engine | None = None
        self.migrated = False  # whether this process ran Alembic (a fresh schema)

    def _connect(self) -> Engine:
        if self._engine is None:
            directory = db.sqlite_directory(self.url)
            if directory is not None:
                # Once, at the first use: a directory that disappears later is an outage
                # to report, not a reason to start over with an empty database.
                directory.mkdir(parents=True, exist_ok=True)
            self._engine = db.create_engine_for(self.url, timeout_ms=self.timeout_ms)
        return self._engine

    def open(self, seed: dict[str, Any], *, actor: str, now_ms: int) -> StoredConfig:
        """Migrate, then the account's row; the seed's values become version 1 if none."""
        try:
            engine = self._connect()
            self.migrated = db.migrate(engine) or self.migrated
            stored = self._read(engine)
            if stored is not None:
                return stored
            try:
                with engine.begin() as connection:
                    return self._insert_first(connection, seed, actor, now_ms)
            except IntegrityError:
                stored = self._read(engine)  # another gateway inserted it first
                if stored is None:
                    raise
                return stored
        except (SQLAlchemyError, OSError) as error:
            raise StoreUnavailable(_describe(error)) from error

    def load(self) -> StoredConfig | None:
        """The account's row (None if it is gone)."""
        try:
            return self._read(self._connect())
        except (SQLAlchemyError, OSError) as error:
            raise StoreUnavailable(_describe(error)) from error

    def update(
        self, *, expected_version: int, values: dict[str, Any], actor: str, now_ms: int
    ) -> StoredConfig | Conflict:
        """Version `expected_version` -> the next, with `values`, and its history row."""
        try:
            with self._connect().begin() as connection:
                return self._update(connection, expected_version, values, actor, now_ms)
        except (SQLAlchemyError, OSError) as error:
            raise StoreUnavailable(_describe(error)) from error

    def history(self, limit: int) -> list[HistoryEntry]:
        """The account's stored versions, newest first."""
        assert 0 < limit <= HISTORY_LIMIT_MAX, limit
        query = (
            select(history)
            .where(history.c.account_id == self.account_id)
            .order_by(history.c.version.desc())
            .limit(limit)
        )
        try:
            with self._connect().connect() as connection:
                rows = connection.execute(query).all()
        except (SQLAlchemyError, OSError) as error:
            raise StoreUnavailable(_describe(error)) from error
        return [
            HistoryEntry(
                version=row.version,
                changed_at_ms=row.changed_at_ms,
                changed_by=row.changed_by,
                old=json.loads(row.old_values) if row.old_values is not None else None,
                new=json.loads(row.new_values),
            )
            for row in rows
        ]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- SQL -------------------------------------------------------------------------------

    def _read(self, engine: Engine) -> StoredConfig | None:
        with engine.connect() as connection:
            return self._select(connection)

    def _select(self, connection: Connection) -> StoredConfig | None:
        row = connection.execute(
            select(configs).where(configs.c.account_id == self.account_id)
        ).first()
        if row is None:
            return None
        mapping = row._mapping
        values = {name: mapping[attr] for attr, name in _COLUMNS.items()}
        values["symbols"] = json.loads(values["symbols"])
        return StoredConfig(
            account_id=self.account_id,
            version=mapping["version"],
            values=values,
            updated_at_ms=mapping["updated_at_ms"],
            updated_by=mapping["updated_by"],
        )

    def _insert_first(
        self, connection: Connection, seed: dict[str, Any], actor: str, now_ms: int
    ) -> StoredConfig:
        row = {**_columns(seed), "version": 1, "updated_at_ms": now_ms, "updated_by": actor}
        connection.execute(insert(configs).values(account_id=self.account_id, **row))
        self._insert_history(connection, 1, None, seed, actor, now_ms)
        return StoredConfig(self.account_id, 1, dict(seed), now_ms, actor)

    def _update(
        self,
        connection: Connection,
        expected_version: int,
        values: dict[str, Any],
        actor: str,
        now_ms: int,
    ) -> StoredConfig | Conflict:
        current = self._select(connection)
        if current is None or current.version != expected_version:
            return Conflict(current.version if current is not None else None)
        if current.values == values:
            return current  # nothing changes: no new version, no history row
        new_version = expected_version + 1
        changed = connection.execute(
            update(configs)
            .where(configs.c.account_id == self.account_id)
            .where(configs.c.version == expected_version)
            .values(
                **_columns(values),
                version=new_version,
                updated_at_ms=now_ms,
                updated_by=actor,
            )
        ).rowcount
        if changed != 1:  # another writer moved it between our read and our write
            latest = self._select(connection)  # nothing written: committing is harmless
            return Conflict(latest.version if latest is not None else None)
        self._insert_history(connection, new_version, current.values, values, actor, now_ms)
        return StoredConfig(self.account_id, new_version, dict(values), now_ms, actor)

    def _insert_history(
        self,
        connection: Connection,
        version: int,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        actor: str,
        now_ms: int,
    ) -> None:
        connection.execute(
            insert(history).values(
                account_id=self.account_id,
                version=version,
                changed_at_ms=now_ms,
                changed_by=actor,
                old_values=json.dumps(old) if old is not None else None,
                new_values=json.dumps(new),
            )
        )


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """camelCase values -> column values (symbols as a JSON list)."""
    row = {attr: values[name] for attr, name in _COLUMNS.items()}
    row["symbols"] = json.dumps(list(values["symbols"]))
    return row


def _describe(error: SQLAlchemyError | OSError) -> str:
    """A short reason: the driver's first line, without the SQL or its parameters."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip().splitlines()
    first = text[0] if text else type(error).__name__
    return f"{type(original or error).__name__}: {first}"[:_ERROR_TEXT_MAX]
