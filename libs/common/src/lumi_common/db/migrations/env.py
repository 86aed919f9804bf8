"""Alembic environment: always runs on the connection `lumi_common.db.migrate` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from lumi_common.db.tables import Base

connection: Connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    compare_type=True,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
