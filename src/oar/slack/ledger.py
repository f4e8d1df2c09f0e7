"""The record of Slack events already taken, so each message runs at most once.

Slack redelivers an event it believes was not acknowledged (same ``event_id``, up to three
times over about five minutes), and a message that mentions the bot arrives both as
``message`` and as ``app_mention``. Both unique keys live in the database, so the rule
holds across restarts and across several bot processes.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from oar.db import Database, insert_for
from oar.db.models import SlackEventRecord, SlackThreadRecord
from oar.db.types import utcnow


class EventLedger:
    def __init__(self, db: Database, *, ttl: float) -> None:
        self.db = db
        self.ttl = ttl

    async def first_time(
        self, *, event_id: str, channel: str, ts: str, kind: str, user: str | None
    ) -> bool:
        """Record the event; False when it (or the same message) was taken before."""
        statement = (
            insert_for(self.db.dialect, SlackEventRecord)
            .values(
                event_id=event_id,
                channel=channel,
                ts=ts,
                kind=kind,
                user=user,
                received_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        async with self.db.transaction() as session:
            result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def forget_old(self) -> int:
        """Drop keys older than the TTL (Slack has stopped retrying them by then)."""
        cutoff = utcnow() - timedelta(seconds=self.ttl)
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(SlackEventRecord).where(SlackEventRecord.received_at < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def join_thread(self, channel: str, thread_ts: str) -> None:
        """Remember that the bot takes part in this thread."""
        statement = (
            insert_for(self.db.dialect, SlackThreadRecord)
            .values(channel=channel, thread_ts=thread_ts, started_at=utcnow())
            .on_conflict_do_nothing()
        )
        async with self.db.transaction() as session:
            await session.execute(statement)

    async def in_thread(self, channel: str, thread_ts: str) -> bool:
        async with self.db.session() as session:
            row = await session.get(SlackThreadRecord, (channel, thread_ts))
        return row is not None
