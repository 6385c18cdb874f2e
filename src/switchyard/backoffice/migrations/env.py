"""Alembic environment of the back office: its own version table, connection passed in.

Run through `switchyard.backoffice.db.migrate()` (called at start), never with a global
alembic.ini: the strategy config keeps its own migrations and version table in the same
database, so the two histories never meet.
"""

from alembic import context

from switchyard.backoffice.schema import metadata

VERSION_TABLE = "backoffice_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run back office migrations through switchyard.backoffice.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
