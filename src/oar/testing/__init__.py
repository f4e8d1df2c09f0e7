"""Test switches shipped as API: reset a database between tests.

Used by OAR's own test suite and by anyone testing plugins against a real database.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from oar.db import Base, Database
from oar.engine.runtime import reset_engine_tables


async def reset_database(url: str) -> None:
    """Bring the schema up to date, then empty OAR's tables and the engine's tables."""
    async with Database(url) as db:
        await db.upgrade()
        async with db.transaction() as session:
            if db.is_sqlite:
                for table in reversed(Base.metadata.sorted_tables):
                    await session.execute(table.delete())
            else:
                names = ", ".join(t.name for t in Base.metadata.sorted_tables)
                await session.execute(text(f"TRUNCATE {names} CASCADE"))
    try:
        await asyncio.to_thread(reset_engine_tables, url)
    except Exception as exc:  # a fresh database has no engine tables yet
        if "does not exist" not in str(exc) and "no such table" not in str(exc):
            raise
