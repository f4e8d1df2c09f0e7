"""The CI gate's records: every Prow run it started (claimed first), and each build's state.

A run is *claimed* by inserting its row (build, arch, job, attempt) before Gangway is
called; the unique index decides between two overlapping passes, and only the winner
triggers. A claim whose trigger never answered (the process died in between) stays
``claimed`` with no job ID: the gate does not trigger it again (a duplicate run costs a
cluster), and ``jobctl job list --build`` shows it so a person can start it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from oar.agents.testresults import build_state, y_stream_of
from oar.db import Database
from oar.db.database import insert_for
from oar.db.models import JobBuildRecord, JobRunRecord
from oar.db.types import utcnow
from oar.engine.changes import Change, announce, release_status

CLAIMED = "claimed"


@dataclass(frozen=True, kw_only=True)
class JobRun:
    build: str
    arch: str
    job_name: str
    attempt: int
    job_id: str | None
    state: str
    url: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: JobRunRecord) -> JobRun:
        return cls(
            build=row.build,
            arch=row.arch,
            job_name=row.job_name,
            attempt=row.attempt,
            job_id=row.job_id,
            state=row.state,
            url=row.url,
            created_at=row.created_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "build": self.build,
            "arch": self.arch,
            "job_name": self.job_name,
            "attempt": self.attempt,
            "job_id": self.job_id,
            "state": self.state,
            "url": self.url,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, kw_only=True)
class BuildRecord:
    build: str
    arch: str
    y_stream: str
    nightly: bool
    state: str
    document: dict[str, Any]
    updated_at: datetime


class JobRuns:
    """Claims and records of the gate's runs, and the builds' last known documents."""

    def __init__(self, db: Database, *, claimant: str = "oar") -> None:
        self.db = db
        self.claimant = claimant

    async def claim(self, *, build: str, arch: str, job_name: str, attempt: int) -> bool:
        """True when this caller won the right to trigger the run (a new row)."""
        stmt = (
            insert_for(self.db.dialect, JobRunRecord)
            .values(
                build=build,
                arch=arch,
                y_stream=y_stream_of(build),
                job_name=job_name,
                attempt=attempt,
                job_id=None,
                state=CLAIMED,
                url=None,
                claimed_by=self.claimant,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        try:
            async with self.db.transaction() as session:
                result = await session.execute(stmt)
        except IntegrityError:
            return False
        return bool(getattr(result, "rowcount", 0))

    async def triggered(
        self, *, build: str, arch: str, job_name: str, attempt: int, job_id: str
    ) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(JobRunRecord)
                .where(
                    JobRunRecord.build == build,
                    JobRunRecord.arch == arch,
                    JobRunRecord.job_name == job_name,
                    JobRunRecord.attempt == attempt,
                )
                .values(job_id=job_id, state="triggered", updated_at=utcnow())
            )

    async def release(self, *, build: str, arch: str, job_name: str, attempt: int) -> None:
        """Drop a claim whose trigger was refused outright (nothing ran)."""
        async with self.db.transaction() as session:
            row = await session.scalar(
                select(JobRunRecord).where(
                    JobRunRecord.build == build,
                    JobRunRecord.arch == arch,
                    JobRunRecord.job_name == job_name,
                    JobRunRecord.attempt == attempt,
                    JobRunRecord.job_id.is_(None),
                )
            )
            if row is not None:
                await session.delete(row)

    async def observed(self, job_id: str, *, state: str, url: str | None) -> None:
        """Record what Prow last said about a run."""
        async with self.db.transaction() as session:
            await session.execute(
                update(JobRunRecord)
                .where(JobRunRecord.job_id == job_id)
                .values(state=state, url=url, updated_at=utcnow())
            )

    async def runs(self, *, build: str, arch: str) -> list[JobRun]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(JobRunRecord)
                .where(JobRunRecord.build == build, JobRunRecord.arch == arch)
                .order_by(JobRunRecord.job_name, JobRunRecord.attempt)
            )
            return [JobRun.of(row) for row in rows]

    async def get(self, *, build: str, arch: str, job_name: str, attempt: int) -> JobRun | None:
        async with self.db.session() as session:
            row = await session.scalar(
                select(JobRunRecord).where(
                    JobRunRecord.build == build,
                    JobRunRecord.arch == arch,
                    JobRunRecord.job_name == job_name,
                    JobRunRecord.attempt == attempt,
                )
            )
            return None if row is None else JobRun.of(row)

    async def record_build(self, document: dict[str, Any], *, build: str, arch: str) -> None:
        """Keep the build's result document (and its state) for the dashboard; an unchanged
        document is not written again (no change announced)."""
        async with self.db.session() as session:
            known = await session.get(JobBuildRecord, (build, arch))
            if known is not None and known.document == document:
                return
        now = utcnow()
        values: dict[str, Any] = {
            "y_stream": y_stream_of(build),
            "nightly": "nightly" in build,
            "state": build_state(document).value,
            "document": document,
            "updated_at": now,
        }
        stmt = insert_for(self.db.dialect, JobBuildRecord).values(build=build, arch=arch, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["build", "arch"], set_=values)
        change = Change(
            kind="tests", id=str(values["y_stream"]), status=release_status(values["updated_at"])
        )
        async with self.db.transaction() as session:
            await session.execute(stmt)
            await announce(session, self.db, change)

    async def forget_build(self, *, build: str, arch: str) -> None:
        async with self.db.transaction() as session:
            row = await session.get(JobBuildRecord, (build, arch))
            if row is not None:
                await session.delete(row)

    async def builds(self, y_stream: str, *, limit: int = 200) -> list[BuildRecord]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(JobBuildRecord)
                .where(JobBuildRecord.y_stream == y_stream)
                .order_by(JobBuildRecord.updated_at.desc())
                .limit(limit)
            )
            return [
                BuildRecord(
                    build=row.build,
                    arch=row.arch,
                    y_stream=row.y_stream,
                    nightly=row.nightly,
                    state=row.state,
                    document=dict(row.document or {}),
                    updated_at=row.updated_at,
                )
                for row in rows
            ]

    async def y_streams(self) -> list[str]:
        async with self.db.session() as session:
            rows = await session.scalars(select(JobBuildRecord.y_stream).distinct())
            return sorted(set(rows), key=lambda y: tuple(int(p) for p in y.split(".")))
