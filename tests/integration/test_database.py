"""The database handle under concurrent writers, on SQLite and PostgreSQL.

On SQLite the writers of one process take the write lock in turn, in order of arrival
(issue 13, item 15): before, a writer racing in SQLite's busy handler could lose again and
again while later ones got in, and webhook answers waited over a second.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from oar.db import Database
from oar.db.database import write_turn_for
from tests.waiting import eventually, eventually_sync

WRITERS = 40
STATEMENTS = 5
# Writers queued behind a holder, one at a time; fewer than the SQLite pool (5 + 10).
QUEUED = 12


async def _scratch_table(db: Database) -> None:
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
    async with db.transaction() as session:
        await session.execute(text("DROP TABLE IF EXISTS write_turns"))
        await session.execute(
            text(f"CREATE TABLE write_turns (seq {key}, writer INTEGER NOT NULL, step INTEGER)")
        )


async def _committed(db: Database) -> list[tuple[int, int]]:
    async with db.session() as session:
        rows = await session.execute(
            text("SELECT writer, COALESCE(step, 0) FROM write_turns ORDER BY seq")
        )
        return [(int(w), int(s)) for w, s in rows.all()]


async def _write(db: Database, number: int, statements: int = 1) -> None:
    async with db.transaction() as session:
        # Each statement a trip to the driver's thread and back: the write lock is held
        # across awaits, as a real transaction holds it.
        for step in range(statements):
            await session.execute(
                text("INSERT INTO write_turns (writer, step) VALUES (:w, :s)"),
                {"w": number, "s": step},
            )


async def test_many_concurrent_writers_all_commit_whole(database_url: str) -> None:
    async with Database(database_url) as db:
        await _scratch_table(db)
        await asyncio.gather(*(_write(db, n, STATEMENTS) for n in range(WRITERS)))
        committed = await _committed(db)

    assert sorted(committed) == sorted(itertools.product(range(WRITERS), range(STATEMENTS)))
    # One transaction's rows are never interleaved with another's (one writer at a time).
    if db.is_sqlite:
        assert all(
            committed[i : i + STATEMENTS] == [(committed[i][0], s) for s in range(STATEMENTS)]
            for i in range(0, len(committed), STATEMENTS)
        )


async def test_sqlite_writers_waiting_for_the_lock_get_it_in_order_of_arrival(
    tmp_path: Path,
) -> None:
    """Twelve writers queue one after another behind a writer holding the lock; when it
    commits they commit in the order they came, none overtaken by a later one."""
    url = f"sqlite:///{tmp_path}/turns.db"
    async with Database(url) as db:
        await _scratch_table(db)
        turn = write_turn_for(f"{tmp_path}/turns.db")
        holding, finish = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO write_turns (writer) VALUES (-1)"))
                holding.set()
                await finish.wait()

        first = asyncio.create_task(holder())
        await holding.wait()
        writers = []
        for number in range(QUEUED):
            writers.append(asyncio.create_task(_write(db, number)))
            await eventually(
                functools.partial(lambda queued: turn.waiting == queued, number + 1),
                timeout=30,
                what=f"writer {number} to queue for its turn",
                interval=0.005,
            )
        finish.set()
        await asyncio.wait_for(asyncio.gather(first, *writers), timeout=60)
        committed = [writer for writer, _ in await _committed(db)]

    assert committed == [-1, *range(QUEUED)]
    assert turn.waiting == 0


async def test_a_failed_transaction_and_a_cancelled_writer_pass_the_turn_on(
    database_url: str,
) -> None:
    async with Database(database_url) as db:
        await _scratch_table(db)
        holding = asyncio.Event()
        fail_now = asyncio.Event()

        async def failing() -> None:
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO write_turns (writer) VALUES (0)"))
                holding.set()
                await fail_now.wait()
                raise RuntimeError("the handler failed")

        first = asyncio.create_task(failing())
        await holding.wait()
        second = asyncio.create_task(_write(db, 1))
        cancelled = asyncio.create_task(_write(db, 2))
        third = asyncio.create_task(_write(db, 3))
        await asyncio.sleep(0)  # a yield, not a wait: the three start their transactions
        cancelled.cancel()
        fail_now.set()
        with pytest.raises(RuntimeError, match="the handler failed"):
            await first
        await asyncio.wait_for(asyncio.gather(second, third), timeout=60)
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        committed = sorted(writer for writer, _ in await _committed(db))
        # The turn is free again: a new writer gets in at once.
        await asyncio.wait_for(_write(db, 4), timeout=60)

    # The failed writer's row is rolled back and the cancelled one never wrote.
    assert committed == [1, 3]


async def test_a_writer_cancelled_while_holding_the_lock_passes_the_turn_on(
    database_url: str,
) -> None:
    async with Database(database_url) as db:
        await _scratch_table(db)
        holding = asyncio.Event()

        async def stuck() -> None:
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO write_turns (writer) VALUES (0)"))
                holding.set()
                await asyncio.Event().wait()  # until cancelled

        first = asyncio.create_task(stuck())
        await holding.wait()
        second = asyncio.create_task(_write(db, 1))
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.wait_for(second, timeout=60)
        committed = [writer for writer, _ in await _committed(db)]

    assert committed == [1]


async def test_write_at_once_commits_whole_or_not_at_all(database_url: str) -> None:
    async with Database(database_url) as db:
        await _scratch_table(db)

        def two_rows(conn: Connection) -> str:
            for step in range(2):
                conn.execute(
                    text("INSERT INTO write_turns (writer, step) VALUES (7, :s)"), {"s": step}
                )
            return "written"

        def fails_midway(conn: Connection) -> None:
            conn.execute(text("INSERT INTO write_turns (writer) VALUES (8)"))
            raise RuntimeError("midway")

        assert await db.write_at_once(two_rows) == "written"
        with pytest.raises(RuntimeError, match="midway"):
            await db.write_at_once(fails_midway)
        assert await _committed(db) == [(7, 0), (7, 1)]


async def test_sqlite_write_at_once_holds_the_lock_without_the_event_loop(
    tmp_path: Path,
) -> None:
    """Issue 13 item 15: a transaction of write_at_once never waits for the event loop
    while it holds SQLite's write lock. Here the loop is blocked (this test reads from its
    own thread, never awaiting) from just after the transaction starts, and it still
    commits and gives the write turn back. A transaction of ``Database.transaction()``
    needs the loop after each statement, so on a busy loop it held the lock (and every
    writer queued behind it) for as long as the loop took to come round."""
    path = tmp_path / "at-once.db"
    async with Database(f"sqlite:///{path}") as db:
        await _scratch_table(db)
        turn = write_turn_for(str(path))

        def three_rows(conn: Connection) -> None:
            for step in range(3):
                conn.execute(
                    text("INSERT INTO write_turns (writer, step) VALUES (1, :s)"), {"s": step}
                )

        pending = asyncio.ensure_future(db.write_at_once(three_rows))
        await asyncio.sleep(0)  # the transaction is handed to its thread; no more awaits
        with sqlite3.connect(path) as probe:
            eventually_sync(
                lambda: probe.execute("SELECT count(*) FROM write_turns").fetchone()[0] == 3,
                timeout=30,
                what="the transaction to commit while the event loop is blocked",
            )
        eventually_sync(
            lambda: not turn.waiting and turn.acquire(0.0),
            timeout=30,
            what="the write turn to be free while the event loop is blocked",
        )
        turn.release()
        await pending
