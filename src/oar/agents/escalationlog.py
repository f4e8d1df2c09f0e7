"""The Jira notificator's memory in OAR's database: its runs, and each escalation step of
each ON_QA bug (``oar_onqa_notifications``).

A step is **claimed before it is posted**: the claim is an insert that the unique
(issue_key, cycle, tier) index lets only one run make, so two runs, overlapping or one after
a restart, never both post it. After posting the claim becomes ``posted``. When posting fails
the claim becomes ``failed`` with the error; a later run takes a failed claim over (a
compare-and-set update) unless the bug's comments show the step was posted after all (a lost
response), in which case the claim is settled as posted. A claim left ``claimed`` by a run
that died between claim and post is taken over the same way once it is older than
``stale_after``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from oar.agents.escalation import Tier
from oar.db import Database, insert_for
from oar.db.models import NotificatorRunRecord, OnQaNotificationRecord
from oar.jsonvalue import JSON


class ClaimStatus(enum.StrEnum):
    CLAIMED = "claimed"
    POSTED = "posted"
    FAILED = "failed"


class ClaimOutcome(enum.StrEnum):
    """What a run got when it tried to claim a step."""

    CLAIMED = "claimed"  # ours to post
    DONE = "done"  # already posted
    BUSY = "busy"  # another run holds a fresh claim


@dataclass(frozen=True, kw_only=True)
class StepRecord:
    id: int
    issue_key: str
    cycle: str
    tier: Tier
    status: ClaimStatus
    run_id: int | None
    claimed_at: datetime
    posted_at: datetime | None
    mentioned: tuple[str, ...]
    error: str | None

    def to_dict(self) -> dict[str, JSON]:
        return {
            "tier": self.tier.value,
            "cycle": self.cycle,
            "status": self.status.value,
            "claimed_at": self.claimed_at.isoformat(),
            "posted_at": self.posted_at.isoformat() if self.posted_at else None,
            "mentioned": list(self.mentioned),
            "error": self.error,
        }


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    id: int
    started_at: datetime
    finished_at: datetime | None
    trigger: str
    dry_run: bool
    status: str
    summary: dict[str, Any] | None


def _step(row: OnQaNotificationRecord) -> StepRecord:
    return StepRecord(
        id=row.id,
        issue_key=row.issue_key,
        cycle=row.cycle,
        tier=Tier(row.tier),
        status=ClaimStatus(row.status),
        run_id=row.run_id,
        claimed_at=row.claimed_at,
        posted_at=row.posted_at,
        mentioned=tuple(str(m) for m in row.mentioned or ()),
        error=row.error,
    )


def _run(row: NotificatorRunRecord) -> RunRecord:
    return RunRecord(
        id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        trigger=row.trigger,
        dry_run=row.dry_run,
        status=row.status,
        summary=row.summary,
    )


class EscalationLog:
    """Runs and claimed steps, on OAR's database (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, *, stale_after: timedelta = timedelta(minutes=15)) -> None:
        self.db = db
        self.stale_after = stale_after

    # --- runs ---------------------------------------------------------------------------
    async def start_run(self, *, trigger: str, dry_run: bool, now: datetime) -> int:
        async with self.db.transaction() as session:
            row = NotificatorRunRecord(
                started_at=now, trigger=trigger, dry_run=dry_run, status="running"
            )
            session.add(row)
            await session.flush()
            return int(row.id)

    async def finish_run(
        self, run_id: int, *, status: str, summary: dict[str, JSON], now: datetime
    ) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(NotificatorRunRecord)
                .where(NotificatorRunRecord.id == run_id)
                .values(status=status, summary=summary, finished_at=now)
            )

    async def runs(self, *, limit: int = 20, dry_run: bool | None = None) -> list[RunRecord]:
        """The latest runs, newest first."""
        query = select(NotificatorRunRecord).order_by(NotificatorRunRecord.id.desc()).limit(limit)
        if dry_run is not None:
            query = query.where(NotificatorRunRecord.dry_run == dry_run)
        async with self.db.session() as session:
            return [_run(r) for r in (await session.scalars(query)).all()]

    # --- steps --------------------------------------------------------------------------
    async def steps(self, keys: Sequence[str] | None = None) -> list[StepRecord]:
        """The recorded steps of these bugs (all bugs: None), oldest first."""
        query = select(OnQaNotificationRecord).order_by(OnQaNotificationRecord.id)
        if keys is not None:
            query = query.where(OnQaNotificationRecord.issue_key.in_(list(keys)))
        async with self.db.session() as session:
            return [_step(r) for r in (await session.scalars(query)).all()]

    async def claim(
        self, key: str, cycle: str, tier: Tier, *, run_id: int, now: datetime
    ) -> tuple[ClaimOutcome, int | None]:
        """Claim a step for this run before posting it (see the module docstring)."""
        insert = (
            insert_for(self.db.dialect, OnQaNotificationRecord)
            .values(
                issue_key=key,
                cycle=cycle,
                tier=tier.value,
                status=ClaimStatus.CLAIMED.value,
                run_id=run_id,
                claimed_at=now,
                mentioned=[],
            )
            .on_conflict_do_nothing(index_elements=["issue_key", "cycle", "tier"])
        )
        where = (
            (OnQaNotificationRecord.issue_key == key)
            & (OnQaNotificationRecord.cycle == cycle)
            & (OnQaNotificationRecord.tier == tier.value)
        )
        async with self.db.transaction() as session:
            inserted = (await session.execute(insert)).rowcount == 1  # type: ignore[attr-defined]
            row = (await session.scalars(select(OnQaNotificationRecord).where(where))).one()
            if inserted:
                return ClaimOutcome.CLAIMED, row.id
            if row.status == ClaimStatus.POSTED.value:
                return ClaimOutcome.DONE, row.id
            stale = row.claimed_at < now - self.stale_after
            if row.status == ClaimStatus.CLAIMED.value and not stale:
                return ClaimOutcome.BUSY, row.id
            # A failed or abandoned claim: take it over, unless another run just did.
            taken = await session.execute(
                update(OnQaNotificationRecord)
                .where(
                    (OnQaNotificationRecord.id == row.id)
                    & (OnQaNotificationRecord.status == row.status)
                    & (OnQaNotificationRecord.claimed_at == row.claimed_at)
                )
                .values(status=ClaimStatus.CLAIMED.value, run_id=run_id, claimed_at=now, error=None)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return ClaimOutcome.CLAIMED, row.id
            return ClaimOutcome.BUSY, row.id

    async def posted(
        self,
        claim_id: int,
        *,
        at: datetime,
        mentioned: Sequence[str] = (),
        comment_id: str | None = None,
    ) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OnQaNotificationRecord)
                .where(OnQaNotificationRecord.id == claim_id)
                .values(
                    status=ClaimStatus.POSTED.value,
                    posted_at=at,
                    mentioned=list(mentioned),
                    comment_id=comment_id,
                    error=None,
                )
            )

    async def failed(self, claim_id: int, *, error: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OnQaNotificationRecord)
                .where(
                    (OnQaNotificationRecord.id == claim_id)
                    & (OnQaNotificationRecord.status == ClaimStatus.CLAIMED.value)
                )
                .values(status=ClaimStatus.FAILED.value, error=error[:2000])
            )

    async def settle(self, key: str, cycle: str, tier: Tier, *, at: datetime) -> None:
        """The bug's comments show a step that a claim still calls unposted: posted it was."""
        async with self.db.transaction() as session:
            await session.execute(
                update(OnQaNotificationRecord)
                .where(
                    (OnQaNotificationRecord.issue_key == key)
                    & (OnQaNotificationRecord.cycle == cycle)
                    & (OnQaNotificationRecord.tier == tier.value)
                    & (OnQaNotificationRecord.status != ClaimStatus.POSTED.value)
                )
                .values(status=ClaimStatus.POSTED.value, posted_at=at, error=None)
            )
