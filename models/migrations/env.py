"""Alembic environment: runs on the connection handed over by models.db.Database.upgrade()."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import models.state_tables
import models.tables  # noqa: F401  (registers the tables)

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `sigap db upgrade`")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
