"""OAR's own tables (SQLAlchemy 2 models, Alembic migrations) and the database handle."""

from __future__ import annotations

from oar.db.database import Database, insert_for
from oar.db.models import Base

__all__ = ["Base", "Database", "insert_for"]
