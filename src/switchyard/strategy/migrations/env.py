"""Alembic environment of the strategy config: its own version table, connection passed in.

Run through `switchyard.strategy.db.migrate()` (at gateway start, off the event loop), never
with a global alembic.ini: the back office keeps its own migrations and version table in the
same database, so the two histories never meet.
"""

from alembic import context

from switchyard.strategy.schema import metadata

VERSION_TABLE = "strategy_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run strategy migrations through switchyard.strategy.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
