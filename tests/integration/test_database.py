"""The database handle under concurrent writers, on SQLite and PostgreSQL.

On SQLite the writers of one process take the write lock in turn, in order of arrival
(issue 13, item 15): before, a writer racing in SQLite's busy handler could lose again and
again while later ones got in, and webhook answers waited over a second.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import text

from oar.db import Database

WRITERS = 40
STATEMENTS = 5


async def _scratch_table(db: Database) -> None:
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
    async with db.transaction() as session:
        await session.execute(text("DROP TABLE IF EXISTS write_turns"))
        await session.execute(
            text(f"CREATE TABLE write_turns (seq {key}, writer INTEGER NOT NULL, step INTEGER)")
        )


async def _committed(db: Database) -> list[tuple[int, int]]:
    async with db.session() as session:
        rows = await session.execute(text("SELECT writer, COALESCE(step, 0) FROM write_turns ORDER BY seq"))
        return [(int(w), int(s)) for w, s in rows.all()]


async def test_many_concurrent_writers_all_commit_and_on_sqlite_in_order_of_arrival(
    database_url: str,
) -> None:
    async with Database(database_url) as db:
        await _scratch_table(db)
        arrivals: list[int] = []

        async def writer(number: int) -> None:
            arrivals.append(number)  # arrival: nothing awaits between this and the queue
            async with db.transaction() as session:
                # Several statements, each a trip to the driver's thread and back: the
                # write lock is held across awaits, as a real transaction holds it.
                for step in range(STATEMENTS):
                    await session.execute(
                        text("INSERT INTO write_turns (writer, step) VALUES (:w, :s)"),
                        {"w": number, "s": step},
                    )

        await asyncio.gather(*(writer(n) for n in range(WRITERS)))
        committed = await _committed(db)

    assert sorted(committed) == sorted(itertools.product(range(WRITERS), range(STATEMENTS)))
    if db.is_sqlite:
        # Each transaction's rows are contiguous and transactions commit in arrival order:
        # no writer was overtaken by one that came after it.
        order = [writer for writer, _ in committed[::STATEMENTS]]
        assert order == arrivals
        assert committed == [(w, s) for w in arrivals for s in range(STATEMENTS)]


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

        async def writer(number: int) -> None:
            async with db.transaction() as session:
                await session.execute(
                    text("INSERT INTO write_turns (writer) VALUES (:w)"), {"w": number}
                )

        first = asyncio.create_task(failing())
        await holding.wait()
        second = asyncio.create_task(writer(1))
        cancelled = asyncio.create_task(writer(2))
        third = asyncio.create_task(writer(3))
        await asyncio.sleep(0)  # let the three queue up behind the failing writer
        cancelled.cancel()
        fail_now.set()
        with pytest.raises(RuntimeError, match="the handler failed"):
            await first
        await asyncio.wait_for(asyncio.gather(second, third), timeout=30)
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        committed = [writer for writer, _ in await _committed(db)]

    # The failed writer's row is rolled back and the cancelled one never wrote; on SQLite
    # the two others went in their order of arrival.
    assert (committed if db.is_sqlite else sorted(committed)) == [1, 3]
