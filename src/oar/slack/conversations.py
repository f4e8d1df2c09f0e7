"""Assistant conversations per Slack thread: the history the LLM sees next time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from oar.db import Database
from oar.db.models import ConversationRecord
from oar.db.types import utcnow


@dataclass(frozen=True, kw_only=True)
class Turn:
    role: str  # "user" or "assistant"
    text: str


class ConversationStore:
    def __init__(self, db: Database, *, max_turns: int = 20) -> None:
        self.db = db
        self.max_turns = max_turns

    async def history(self, channel: str, thread_ts: str) -> list[Turn]:
        """The thread's latest turns, oldest first."""
        query = (
            select(ConversationRecord.role, ConversationRecord.text)
            .where(ConversationRecord.channel == channel, ConversationRecord.thread_ts == thread_ts)
            .order_by(ConversationRecord.id.desc())
            .limit(self.max_turns)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        return [Turn(role=role, text=text) for role, text in reversed(rows)]

    async def add(
        self, channel: str, thread_ts: str, *, role: str, text: str, user: str | None = None
    ) -> None:
        async with self.db.transaction() as session:
            session.add(
                ConversationRecord(
                    channel=channel,
                    thread_ts=thread_ts,
                    role=role,
                    user=user,
                    text=text,
                    created_at=utcnow(),
                )
            )
