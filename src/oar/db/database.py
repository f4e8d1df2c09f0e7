"""The database handle: an async SQLAlchemy engine, sessions, and schema upgrades.

One class serves SQLite (the embedded default: one file, WAL, a generous busy timeout,
``BEGIN IMMEDIATE`` for writes so concurrent writers queue instead of failing, and a
first-come-first-served write turn among the writers of one process) and PostgreSQL (the
scale-out backend). Driver errors that mean "cannot reach the database"
become :class:`DatabaseUnavailableError` naming the URL with its password masked.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import sqlite3
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Table, create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

from oar.backoff import Backoff
from oar.errors import DatabaseError, DatabaseUnavailableError
from oar.logs import get_logger
from oar.settings import mask_url

log = get_logger(__name__)

_WRITE = "oar_write"
_BEGIN_WRITE = "BEGIN IMMEDIATE"
# Seconds a SQLite writer waits for the lock (another process's) or for its turn.
_BUSY_TIMEOUT = 30.0
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


T = TypeVar("T")


class Database:
    """Owns the connection pool; use as ``async with Database(url) as db``."""

    def __init__(
        self, url: str, *, pool_size: int = 10, echo: bool = False, write_turn: bool = True
    ) -> None:
        self.url = url
        self.url_masked = mask_url(url)
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._pool_size = pool_size
        self._echo = echo
        self._engine: AsyncEngine | None = None
        self._read: async_sessionmaker[AsyncSession] | None = None
        self._write: async_sessionmaker[AsyncSession] | None = None
        # SQLite only: a synchronous engine on the same file for write_at_once().
        self._sync: Engine | None = None
        # SQLite only: see WriteTurn.
        self.write_turn = write_turn and self.is_sqlite

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
        if self.is_sqlite:
            self._sync = self._create_sync_engine()

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        if self._sync is not None:
            self._sync.dispose()
        self._engine = self._read = self._write = self._sync = None

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

        On SQLite the writers of this process also take the lock in turn, in order of
        arrival (see :class:`WriteTurn`).
        """
        if self._write is None:
            raise DatabaseError("the database is not connected")
        async with self._write() as session, session.begin():
            yield session

    async def write_at_once(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` (synchronous statements on a Connection) in one write transaction,
        committed on success and rolled back on error; return its result.

        On SQLite the whole transaction — turn, ``BEGIN IMMEDIATE``, statements, commit —
        runs on a worker thread without coming back to the event loop: the write lock is
        never held while a coroutine waits for the loop to resume it. A transaction of
        :meth:`transaction` goes back to the loop after every statement, so a loop busy
        with requests stretches the time it holds the lock and every writer queued behind
        it waits that long too (the paced webhook tail, issue 13 item 15). Use this for
        short, hot writes that need no await in between. On PostgreSQL (row locks, no
        file lock) it is an ordinary transaction of the async engine.
        """
        if self._sync is not None:
            return await asyncio.to_thread(self._write_now, self._sync, work)
        async with self.engine.execution_options(**{_WRITE: True}).begin() as conn:
            return await conn.run_sync(work)

    @staticmethod
    def _write_now(engine: Engine, work: Callable[[Connection], T]) -> T:
        with engine.execution_options(**{_WRITE: True}).begin() as conn:
            return work(conn)

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
            kwargs["connect_args"] = {"timeout": _BUSY_TIMEOUT}
            if self.write_turn:
                kwargs["connect_args"]["factory"] = _TurnTakingConnection
        else:
            async_url = parsed.set(drivername="postgresql+asyncpg")
            kwargs.update(pool_size=self._pool_size, max_overflow=self._pool_size)
            kwargs["connect_args"] = {"timeout": 10, "server_settings": {"application_name": "oar"}}
        engine = create_async_engine(async_url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(engine.sync_engine)
        return engine

    def _create_sync_engine(self) -> Engine:
        """SQLite: the same file, pragmas, write turn and ``BEGIN IMMEDIATE`` as the async
        engine, on the standard driver, for transactions run whole on a worker thread."""
        connect_args: dict[str, Any] = {"timeout": _BUSY_TIMEOUT, "check_same_thread": False}
        if self.write_turn:
            connect_args["factory"] = _TurnTakingConnection
        sync_url = make_url(self.url).set(drivername="sqlite+pysqlite")
        engine = create_engine(sync_url, echo=self._echo, connect_args=connect_args)
        _configure_sqlite(engine)
        return engine


class WriteTurn:
    """The order in which the writers of one process take a SQLite file's write lock.

    SQLite has one write lock per file, and a writer that finds it taken does not queue
    for it: its busy handler sleeps (1, 2, 5 … 100 ms) and tries again, and whoever asks
    at the moment the lock is free gets it. With many writers in one process (webhook
    intake, task bookkeeping, the executor heartbeat, the sweepers), an unlucky one lost
    that race again and again: in the webhook bench a writer waited up to 9 s for the
    lock, and saturated answers' p99 was 2.6-3.3x what it is with turns (issue 13, item
    15; docs/benchmarks.md).

    So a connection takes a turn before ``BEGIN IMMEDIATE`` and gives it back when the
    transaction ends, first come, first served; at most one writer of this process asks
    SQLite for the lock, and none is overtaken by a later one. The turn is taken and
    handed over on the connections' own threads (aiosqlite runs each connection on one),
    not on the event loop: a loop busy with requests then does not sit between one
    transaction's commit and the next one's start. The durable engine's writes (its own
    connections) and other processes still meet these at the lock, on the busy timeout.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._queue: deque[threading.Lock] = deque()
        self._held = False

    @property
    def waiting(self) -> int:
        """How many writers wait for their turn."""
        with self._mutex:
            return len(self._queue)

    def acquire(self, timeout: float) -> bool:
        """Wait (blocking this thread) for the turn; False after ``timeout`` seconds."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            gate = threading.Lock()
            gate.acquire()
            self._queue.append(gate)
        if gate.acquire(timeout=timeout):
            return True  # handed over by release(): the turn never became free
        with self._mutex:
            if gate in self._queue:
                self._queue.remove(gate)
                return False
        return True  # handed over just as the wait timed out

    def release(self) -> None:
        """Hand the turn to the writer that has waited longest, or free it."""
        with self._mutex:
            if self._queue:
                self._queue.popleft().release()
            else:
                self._held = False


_turns: dict[str, WriteTurn] = {}
_turns_lock = threading.Lock()


def write_turn_for(database: str) -> WriteTurn:
    """The one :class:`WriteTurn` of this process for the SQLite file ``database``."""
    key = os.path.realpath(database)
    with _turns_lock:
        return _turns.setdefault(key, WriteTurn())


class _TurnTakingConnection(sqlite3.Connection):
    """A sqlite3 connection whose write transactions take the process's write turn.

    Passed as ``factory`` to ``sqlite3.connect``; every method here runs on the
    connection's own thread (aiosqlite's), so waiting for the turn blocks only that one.
    """

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.turn = write_turn_for(database)
        self.turn_timeout = float(kwargs.get("timeout", _BUSY_TIMEOUT))
        self.holds_turn = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _TurnTakingCursor)

    def take_turn(self) -> None:
        if self.holds_turn:
            return
        if not self.turn.acquire(self.turn_timeout):
            raise sqlite3.OperationalError(
                f"database is locked: no write turn within {self.turn_timeout:g}s"
            )
        self.holds_turn = True

    def give_turn_back(self) -> None:
        if self.holds_turn and not self.in_transaction:
            self.holds_turn = False
            self.turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_turn_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_turn_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._drop_turn()

    def __del__(self) -> None:
        # A connection discarded without close() must not keep the turn from the others.
        self._drop_turn()

    def _drop_turn(self) -> None:
        if getattr(self, "holds_turn", False):
            self.holds_turn = False
            self.turn.release()


class _TurnTakingCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> _TurnTakingCursor:
        if sql != _BEGIN_WRITE:
            super().execute(sql, parameters)
            return self
        connection = self.connection
        assert isinstance(connection, _TurnTakingConnection)
        connection.take_turn()
        try:
            super().execute(sql, parameters)
        except BaseException:
            connection.give_turn_back()
            raise
        return self


def insert_for(dialect: str, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with ``on_conflict_do_nothing/do_update`` for the database in use.

    It targets the model's table (Core), not the ORM entity: these are single-row writes
    on hot paths, and the ORM's bulk-insert machinery costs more than the statement.
    """
    table: Table = model.__table__
    if dialect == "postgresql":  # imported here: a SQLite process never loads the dialect
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


# Two processes opening a new file at once both hold a read lock and both want the write
# lock to switch it to WAL: SQLite answers one of them "locked" at once, without waiting in
# the busy handler (waiting would deadlock). The switch is retried a bounded number of
# times; once one process has switched, the file stays in WAL and the next try is a read.
_WAL_RETRY = Backoff(delay=0.02, factor=1.5, max_delay=0.5, jitter=0.5)
_WAL_ATTEMPTS = 20


def _switch_to_wal(cursor: Any) -> None:
    for attempt in range(1, _WAL_ATTEMPTS + 1):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS:
                raise
            # A connect-time wait on a first open only, before the connection is in use.
            time.sleep(_WAL_RETRY.delay_for(attempt, seed=str(os.getpid())))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # The busy timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT * 1000)}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE):
            conn.exec_driver_sql(_BEGIN_WRITE)
        else:
            conn.exec_driver_sql("BEGIN")


def _reason(exc: BaseException) -> str:
    """A one-line cause, without the driver's multi-line traceback text."""
    if isinstance(exc, OperationalError | DBAPIError) and exc.orig is not None:
        exc = exc.orig
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return message
