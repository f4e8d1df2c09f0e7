"""The database handle: an async SQLAlchemy engine, sessions, and schema upgrades.

One class serves SQLite (the embedded default: one file, WAL, a generous busy timeout,
``BEGIN IMMEDIATE`` for writes so concurrent writers queue instead of failing) and
PostgreSQL (the scale-out backend). Driver errors that mean "cannot reach the database"
become :class:`DatabaseUnavailableError` naming the URL with its password masked.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from oar.errors import DatabaseError, DatabaseUnavailableError
from oar.logs import get_logger
from oar.settings import mask_url

log = get_logger(__name__)

_WRITE = "oar_write"
# Serialises schema upgrades between processes starting at once (PostgreSQL).
_UPGRADE_LOCK_ID = 0x4F41_5200
# Alembic keeps its migration context in a module global: one upgrade per process at a time.
_upgrade_lock = asyncio.Lock()
_VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^(down_)?revision\s*(?::[^=]*)?=\s*(?:\"(\w+)\"|'(\w+)'|(None))\s*$", re.M)
# The version table is oar.db.migrations.VERSION_TABLE (that module loads Alembic).
_READ_VERSION = "SELECT version_num FROM oar_alembic_version"


@functools.cache
def script_head() -> str | None:
    """The newest migration's revision, read from the migration files' text without
    loading Alembic (a short CLI run that finds the schema current skips it); None when
    the files do not say it plainly (a merge, say): then Alembic decides."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in _VERSIONS.glob("*.py"):
        found = _REVISION.findall(path.read_text(encoding="utf-8"))
        if len(found) != 2:
            return None
        for down, double, single, _none in found:
            value = double or single
            if value:
                (downs if down else revisions).add(value)
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


class Database:
    """Owns the connection pool; use as ``async with Database(url) as db``."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.url_masked = mask_url(url)
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._pool_size = pool_size
        self._echo = echo
        self._engine: AsyncEngine | None = None
        self._read: async_sessionmaker[AsyncSession] | None = None
        self._write: async_sessionmaker[AsyncSession] | None = None

    # --- lifecycle ------------------------------------------------------------------
    async def __aenter__(self) -> Database:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Create the pool and prove the database answers; fail with a readable error."""
        if self._engine is not None:
            return
        engine = self._create_engine()
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (TimeoutError, OSError, DBAPIError) as exc:
            await engine.dispose()
            raise DatabaseUnavailableError(self.url_masked, _reason(exc)) from exc
        self._engine = engine
        self._read = async_sessionmaker(engine, expire_on_commit=False)
        self._write = async_sessionmaker(
            engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = self._read = self._write = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise DatabaseError("the database is not connected; use `async with Database(...)`")
        return self._engine

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    # --- sessions -------------------------------------------------------------------
    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads (and writes that need no serialisation)."""
        if self._read is None:
            raise DatabaseError("the database is not connected")
        async with self._read() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction, committed on success and rolled back on error.

        On SQLite it starts with ``BEGIN IMMEDIATE``: the write lock is taken up front, so
        two writers queue on the busy timeout instead of deadlocking on an upgrade.
        """
        if self._write is None:
            raise DatabaseError("the database is not connected")
        async with self._write() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            async with self.session() as session:
                await session.execute(text("SELECT 1"))
        except (TimeoutError, OSError, DBAPIError, DatabaseError):
            return False
        return True

    # --- schema ---------------------------------------------------------------------
    async def upgrade(self, revision: str = "head") -> None:
        """Bring OAR's tables to ``revision`` (Alembic); safe to run from two processes.

        When ``revision`` is the head and the database is already there, Alembic is not
        even imported: one read of the version table answers.
        """
        if revision == "head" and await self._at_head():
            return
        from oar.db.migrations import run_upgrade

        # SQLite: BEGIN IMMEDIATE takes the write lock before Alembic reads its version.
        async with _upgrade_lock, self.engine.execution_options(**{_WRITE: True}).connect() as conn:
            if not self.is_sqlite:
                await conn.execute(text(f"SELECT pg_advisory_lock({_UPGRADE_LOCK_ID})"))
            try:
                await conn.run_sync(run_upgrade, revision)
                await conn.commit()
            finally:
                if not self.is_sqlite:
                    await conn.execute(text(f"SELECT pg_advisory_unlock({_UPGRADE_LOCK_ID})"))
                    await conn.commit()
        log.info("db.upgraded", revision=revision, database=self.url_masked)

    async def _at_head(self) -> bool:
        head = script_head()
        if head is None:
            return False
        try:
            async with self.engine.connect() as conn:
                found = await conn.execute(text(_READ_VERSION))
                versions = {row[0] for row in found}
        except DBAPIError:  # no version table yet: a new database
            return False
        return versions == {head}

    async def current_revision(self) -> str | None:
        from oar.db.migrations import current_revision

        async with self.engine.connect() as conn:
            return await conn.run_sync(current_revision)

    # --- engine construction ----------------------------------------------------------
    def _create_engine(self) -> AsyncEngine:
        parsed = make_url(self.url)
        # Pre-ping guards against server-side disconnects; a SQLite file has none to guard.
        kwargs: dict[str, Any] = {"echo": self._echo, "pool_pre_ping": not self.is_sqlite}
        if self.is_sqlite:
            assert parsed.database is not None
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            async_url = parsed.set(drivername="sqlite+aiosqlite")
            kwargs["connect_args"] = {"timeout": 30}
        else:
            async_url = parsed.set(drivername="postgresql+asyncpg")
            kwargs.update(pool_size=self._pool_size, max_overflow=self._pool_size)
            kwargs["connect_args"] = {"timeout": 10, "server_settings": {"application_name": "oar"}}
        engine = create_async_engine(async_url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(engine)
        return engine


def insert_for(dialect: str, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with ``on_conflict_do_nothing/do_update`` for the database in use.

    It targets the model's table (Core), not the ORM entity: these are single-row writes
    on hot paths, and the ORM's bulk-insert machinery costs more than the statement.
    """
    table: Table = model.__table__
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # The busy timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _reason(exc: BaseException) -> str:
    """A one-line cause, without the driver's multi-line traceback text."""
    if isinstance(exc, OperationalError | DBAPIError) and exc.orig is not None:
        exc = exc.orig
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return message
