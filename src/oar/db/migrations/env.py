"""Alembic environment: migrations always run on a connection OAR hands in."""

from __future__ import annotations

from alembic import context

from oar.db.migrations import VERSION_TABLE
from oar.db.models import Base


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run OAR migrations with `oarctl db upgrade`, not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # SQLite runs DDL in transactions too. Without this Alembic commits after each
        # revision, releasing the write lock between them, so a second process upgrading
        # at the same moment could read the version midway and apply a revision twice.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
