"""Alembic environment: runs on the connection `engine.log.store.upgrade` passes in.

There is no alembic.ini: the store configures Alembic in code, so migrations run the same
way from the server, the CLI and the tests.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through engine.log.store.upgrade, which passes a connection")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
