"""The database handle under concurrent writers, on SQLite and PostgreSQL.

On SQLite the writers of one process take the write lock in turn, in order of arrival
(issue 13, item 15): before, a writer racing in SQLite's busy handler could lose again and
again while later ones got in, and webhook answers waited over a second.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from pathlib import Path

import pytest
from sqlalchemy import text

from oar.db import Database
from oar.db.database import write_turn_for
from tests.waiting import eventually

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
