"""Alembic environment: geomap passes an open connection in `config.attributes`."""
from alembic import context

from geomap.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
