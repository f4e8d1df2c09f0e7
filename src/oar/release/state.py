"""The release state store: releases, checklist tasks and their runs, issues and blockers.

It replaces the Google Sheet and the StateBox YAML files. Every write is one short
transaction of single-row statements (an upsert of the task, an insert or update of the
run), never a read-modify-write of a whole document, so two commands updating the same
release at once both land. A task's row names the run it shows; a late finish of an older
run cannot overwrite a newer run's outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession

from oar.db import Database, insert_for
from oar.db.models import (
    FollowRecord,
    ReleaseBugRecord,
    ReleaseIssueRecord,
    ReleaseRecord,
    ReleaseTaskRecord,
    ReleaseTaskRunRecord,
)
from oar.db.types import utcnow
from oar.engine.changes import Change, announce, release_status
from oar.errors import (
    ReleaseBusyError,
    ReleaseIssueNotFoundError,
    ReleaseNotFoundError,
    ReleaseTaskError,
)
from oar.logs import get_logger
from oar.release import bugstate
from oar.release.buglist import BugListUpdate, BugRecord
from oar.release.bugs import Bug
from oar.release.checklist import (
    FINAL_STATUSES,
    TASKS,
    Flow,
    ReleaseMetadata,
    TaskStatus,
    mask_emails,
    overall_status,
    task_name,
    task_status,
)
from oar.release.records import (
    IssueInfo,
    ReleaseInfo,
    ReleaseSummary,
    RunInfo,
    TaskInfo,
)
from oar.release.versions import ReleaseVersion

log = get_logger(__name__)

_ISSUE_KEY_LENGTH = 500
_LOG_SEPARATOR = "\n"


def release_text(release: ReleaseVersion | str) -> str:
    """The release's canonical text (``4.19.3``), validated."""
    return (
        release.text if isinstance(release, ReleaseVersion) else ReleaseVersion.parse(release).text
    )


def issue_identity(text: str) -> tuple[str, str]:
    """An issue's text with its whitespace folded, and the key that makes two reports of it
    one issue while it is open (case-insensitive, its first 500 characters). Shared by every
    release store, so they cannot disagree on what "the same issue" is."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ReleaseTaskError("an issue needs a description")
    return cleaned, cleaned.lower()[:_ISSUE_KEY_LENGTH]


def _flow(value: str | None) -> Flow | None:
    return Flow(value) if value in (Flow.ERRATA.value, Flow.KONFLUX.value) else None


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_emails(text)


class ReleaseStore(Protocol):
    """The release state as a release command's body sees it (``ReleaseContext.state``):
    exactly the calls the bodies make. :class:`ReleaseState` is the database's; unit tests
    use the in-memory ``oar.testing.release.FakeReleaseStore``, held to the same behaviour
    by a contract test run against both."""

    async def ensure_release(
        self, release: ReleaseVersion | str, metadata: ReleaseMetadata | None = None
    ) -> None: ...

    async def get(self, release: ReleaseVersion | str, *, hint: str = "") -> ReleaseInfo: ...

    async def first_run(
        self, release: ReleaseVersion | str, task: str, *, status: TaskStatus | str
    ) -> RunInfo | None: ...

    async def add_issue(
        self,
        release: ReleaseVersion | str,
        text: str,
        *,
        blocker: bool = True,
        related_tasks: Sequence[str] = (),
        actor: str,
    ) -> IssueInfo: ...

    async def record_bugs(
        self, release: ReleaseVersion | str, bugs: Sequence[Bug], *, attached: Iterable[str]
    ) -> BugListUpdate: ...

    async def set_metadata(self, release: ReleaseVersion | str, key: str, value: Any) -> None: ...


class TrackingStore(ReleaseStore, Protocol):
    """The release state as :func:`oar.release.tracking.run_tracked` uses it: a body's
    calls plus recording a run's start and outcome."""

    async def start_task(
        self,
        release: ReleaseVersion | str,
        name: str,
        *,
        actor: str,
        interface: str,
        slack_channel: str | None = None,
        slack_thread: str | None = None,
        at: datetime | None = None,
    ) -> int: ...

    async def finish_task(
        self,
        release: ReleaseVersion | str,
        name: str,
        status: TaskStatus | str,
        *,
        log_text: str | None = None,
        run_id: int | None = None,
        at: datetime | None = None,
    ) -> int | None: ...


class ReleaseState:
    """The release state in OAR's database (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- releases ------------------------------------------------------------------------
    async def ensure_release(
        self, release: ReleaseVersion | str, metadata: ReleaseMetadata | None = None
    ) -> None:
        """Create the release's row if missing; with ``metadata``, record it."""
        name = release_text(release)
        async with self.db.transaction() as session:
            await self._ensure(session, name, metadata)
            await self._changed(session, name, utcnow())

    async def _ensure(
        self, session: AsyncSession, release: str, metadata: ReleaseMetadata | None
    ) -> None:
        now = utcnow()
        stored: dict[str, Any] = {}
        if metadata is not None:
            # Keys the configuration does not give (set_metadata's: is-shipped's verdict)
            # are kept; the configuration's own are replaced.
            known = await session.get(ReleaseRecord, release)
            stored = {**((known.meta or {}) if known is not None else {}), **metadata.to_dict()}
        values: dict[str, Any] = {
            "release": release,
            "y_stream": ReleaseVersion.parse(release).y_stream,
            "flow": None if metadata is None or metadata.flow is None else metadata.flow.value,
            "metadata": stored,
            "created_at": now,
            "updated_at": now,
        }
        stmt = insert_for(self.db.dialect, ReleaseRecord).values(**values)
        if metadata is None:
            await session.execute(stmt.on_conflict_do_nothing(index_elements=["release"]))
        else:
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["release"],
                    set_={
                        "flow": stmt.excluded.flow,
                        "metadata": stmt.excluded["metadata"],
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )

    async def mark_changed(self, session: AsyncSession, release: str) -> None:
        """Inside another record's write (a follow of the release ending): mark the
        release changed now, so what shows or waits on it hears at once."""
        await self._changed(session, release, utcnow())

    async def version(self, release: ReleaseVersion | str) -> str | None:
        """The release's last change, as its change is announced (``Change.status``);
        None when it is not tracked. A later change has a greater version."""
        async with self.db.session() as session:
            at = await session.scalar(
                select(ReleaseRecord.updated_at).where(
                    ReleaseRecord.release == release_text(release)
                )
            )
        return None if at is None else release_status(at)

    async def _changed(self, session: AsyncSession, release: str, at: datetime) -> None:
        """Inside a write: mark the release changed at ``at`` and tell every process
        (the dashboard re-renders on it, a waiting drive looks again;
        :mod:`oar.engine.changes`)."""
        await session.execute(
            update(ReleaseRecord).where(ReleaseRecord.release == release).values(updated_at=at)
        )
        change = Change(kind="release", id=release, status=release_status(at))
        await announce(session, self.db, change)

    async def set_hidden(self, release: ReleaseVersion | str, hidden: bool, *, actor: str) -> None:
        """Hide the release from the dashboard's overview (listed collapsed), or show it
        again; its state is untouched."""
        name = release_text(release)
        now = utcnow()
        async with self.db.transaction() as session:
            found = await session.execute(
                update(ReleaseRecord)
                .where(ReleaseRecord.release == name)
                .values(hidden_at=now if hidden else None, hidden_by=actor if hidden else None)
            )
            if not getattr(found, "rowcount", 0):
                raise ReleaseNotFoundError(name)
            await self._changed(session, name, now)
        log.info("release.hidden" if hidden else "release.shown", release=name, actor=actor)

    async def hidden(self) -> dict[str, tuple[datetime, str | None]]:
        """The hidden releases: when and by whom each was hidden."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(
                        ReleaseRecord.release, ReleaseRecord.hidden_at, ReleaseRecord.hidden_by
                    ).where(ReleaseRecord.hidden_at.is_not(None))
                )
            ).all()
        return {release: (_utc(at), by) for release, at, by in rows}

    async def exists(self, release: ReleaseVersion | str) -> bool:
        async with self.db.session() as session:
            row = await session.get(ReleaseRecord, release_text(release))
        return row is not None

    async def get(self, release: ReleaseVersion | str, *, hint: str = "") -> ReleaseInfo:
        """The release with every checklist task and every issue."""
        name = release_text(release)
        async with self.db.session() as session:
            row = await session.get(ReleaseRecord, name)
            if row is None:
                raise ReleaseNotFoundError(name, hint)
            tasks = (
                await session.scalars(
                    select(ReleaseTaskRecord).where(ReleaseTaskRecord.release == name)
                )
            ).all()
            issues = (
                await session.scalars(
                    select(ReleaseIssueRecord)
                    .where(ReleaseIssueRecord.release == name)
                    .order_by(ReleaseIssueRecord.id)
                )
            ).all()
        by_name = {t.name: _task_info(t) for t in tasks}
        ordered = [by_name.pop(n, TaskInfo(name=n, status=TaskStatus.NOT_STARTED)) for n in TASKS]
        ordered.extend(by_name.values())  # tasks recorded by a newer OAR, kept visible
        updated = max(
            [row.updated_at]
            + [t.updated_at for t in tasks]
            + [i.resolved_at or i.reported_at for i in issues]
        )
        return ReleaseInfo(
            release=row.release,
            y_stream=row.y_stream,
            flow=_flow(row.flow),
            metadata=dict(row.meta or {}),
            created_at=row.created_at,
            updated_at=updated,
            tasks=ordered,
            issues=[_issue_info(i) for i in issues],
        )

    async def list_releases(self, *, y_stream: str | None = None) -> list[ReleaseSummary]:
        """Every tracked release, newest version first, with task counts and its colour."""
        async with self.db.session() as session:
            query = select(ReleaseRecord)
            if y_stream is not None:
                query = query.where(ReleaseRecord.y_stream == y_stream)
            releases = (await session.scalars(query)).all()
            task_rows = (
                await session.execute(
                    select(
                        ReleaseTaskRecord.release,
                        ReleaseTaskRecord.name,
                        ReleaseTaskRecord.status,
                        ReleaseTaskRecord.updated_at,
                    )
                )
            ).all()
            blocker_rows = (
                await session.execute(
                    select(ReleaseIssueRecord.release, func.count())
                    .where(ReleaseIssueRecord.blocker, ~ReleaseIssueRecord.resolved)
                    .group_by(ReleaseIssueRecord.release)
                )
            ).all()
        blockers = {release: int(count) for release, count in blocker_rows}
        per_release: dict[str, dict[str, TaskStatus]] = {}
        latest: dict[str, datetime] = {}
        for release, name, status, updated in task_rows:
            per_release.setdefault(release, {})[name] = task_status(status)
            if updated is not None:
                latest[release] = max(latest.get(release, _utc(updated)), _utc(updated))
        summaries = []
        for row in releases:
            statuses = per_release.get(row.release, {})
            counts: dict[str, int] = {}
            for status in statuses.values():
                counts[status.value] = counts.get(status.value, 0) + 1
            summaries.append(
                ReleaseSummary(
                    release=row.release,
                    y_stream=row.y_stream,
                    flow=_flow(row.flow),
                    overall=overall_status(
                        statuses,
                        flow=_flow(row.flow),
                        open_blockers=int(blockers.get(row.release, 0)),
                    ),
                    updated_at=max(row.updated_at, latest.get(row.release, row.updated_at)),
                    tasks=counts,
                )
            )
        summaries.sort(key=lambda s: ReleaseVersion.parse(s.release), reverse=True)
        return summaries

    async def delete(self, release: ReleaseVersion | str) -> None:
        """Remove a release created by mistake, with all its rows (tasks, runs, issues,
        bugs, finished follows). Refused (:class:`~oar.errors.ReleaseBusyError`, naming
        each) while work for it runs: a running follow or watch, a run In Progress."""
        name = release_text(release)
        async with self.db.transaction() as session:
            row = await session.get(ReleaseRecord, name, with_for_update=True)
            if row is None:
                raise ReleaseNotFoundError(name)
            follows = (
                await session.scalars(
                    select(FollowRecord.id).where(
                        FollowRecord.release == name, FollowRecord.status == "running"
                    )
                )
            ).all()
            runs = (
                await session.execute(
                    select(ReleaseTaskRunRecord.id, ReleaseTaskRunRecord.task).where(
                        ReleaseTaskRunRecord.release == name,
                        ReleaseTaskRunRecord.status == TaskStatus.IN_PROGRESS.value,
                    )
                )
            ).all()
            running = [f"follow {f} (cancel it: oarctl follows cancel {f})" for f in follows] + [
                f"run #{run_id} of {task} is In Progress (when nothing runs it any more:"
                f" oar -r {name} task {task} --status fail)"
                for run_id, task in runs
                if not follows
            ]
            if running:
                raise ReleaseBusyError(name, running)
            for model in (
                ReleaseTaskRecord,
                ReleaseTaskRunRecord,
                ReleaseIssueRecord,
                ReleaseBugRecord,
                FollowRecord,
            ):
                await session.execute(delete(model).where(model.release == name))
            await session.execute(delete(ReleaseRecord).where(ReleaseRecord.release == name))
            change = Change(kind="release", id=name, status="deleted")
            await announce(session, self.db, change)
        log.info("release.deleted", release=name)

    # --- tasks ---------------------------------------------------------------------------
    async def start_task(
        self,
        release: ReleaseVersion | str,
        name: str,
        *,
        actor: str,
        interface: str,
        slack_channel: str | None = None,
        slack_thread: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Record that ``name`` started (In Progress) and return the new run's ID."""
        release_name, name = release_text(release), task_name(name)
        now = at or utcnow()
        async with self.db.transaction() as session:
            await self._ensure(session, release_name, None)
            run = ReleaseTaskRunRecord(
                release=release_name,
                task=name,
                status=TaskStatus.IN_PROGRESS.value,
                started_at=now,
                actor=actor,
                interface=interface,
                slack_channel=slack_channel,
                slack_thread=slack_thread,
            )
            session.add(run)
            await session.flush()
            run_id = run.id
            await self._upsert_task(
                session,
                release_name,
                name,
                status=TaskStatus.IN_PROGRESS,
                started_at=now,
                completed_at=None,
                log=None,
                run_id=run_id,
                at=now,
            )
            await self._changed(session, release_name, now)
        log.info("release.task.started", release=release_name, task=name, run_id=run_id)
        return run_id

    async def finish_task(
        self,
        release: ReleaseVersion | str,
        name: str,
        status: TaskStatus | str,
        *,
        log_text: str | None = None,
        run_id: int | None = None,
        at: datetime | None = None,
    ) -> int | None:
        """Record a run's outcome (Pass or Fail, or In Progress for background work).

        ``log_text`` (emails masked) is appended to the run's log, so background work
        adds its log after the command's. Without ``run_id`` the task's latest run that
        is still In Progress is finished. Recording In Progress never undoes a Pass or
        Fail: background work may finish a run before the command that started it
        returns. Returns the run finished (None if none).
        """
        release_name, name = release_text(release), task_name(name)
        status = task_status(status)
        now = at or utcnow()
        masked = _masked(log_text)
        async with self.db.transaction() as session:
            if run_id is None:
                run_id = await session.scalar(
                    select(func.max(ReleaseTaskRunRecord.id)).where(
                        ReleaseTaskRunRecord.release == release_name,
                        ReleaseTaskRunRecord.task == name,
                        ReleaseTaskRunRecord.status == TaskStatus.IN_PROGRESS.value,
                    )
                )
            finished = status.finished
            run, task = ReleaseTaskRunRecord, ReleaseTaskRecord
            if run_id is not None:
                await session.execute(
                    update(run)
                    .where(run.id == run_id)
                    .values(
                        status=status.value
                        if finished
                        else _keep_final(run.status, run.status, status.value),
                        ended_at=now if finished else _keep_final(run.status, run.ended_at, None),
                        log=_appended(run.log, masked),
                    )
                )
            conditions = [ReleaseTaskRecord.release == release_name, ReleaseTaskRecord.name == name]
            if run_id is not None:
                conditions.append(
                    or_(ReleaseTaskRecord.run_id.is_(None), ReleaseTaskRecord.run_id == run_id)
                )
            result = await session.execute(
                update(ReleaseTaskRecord)
                .where(*conditions)
                .values(
                    status=status.value
                    if finished
                    else _keep_final(task.status, task.status, status.value),
                    started_at=func.coalesce(task.started_at, now),
                    completed_at=now
                    if finished
                    else _keep_final(task.status, task.completed_at, None),
                    log=_appended(task.log, masked),
                    updated_at=now,
                )
            )
            if not getattr(result, "rowcount", 0) and run_id is None:
                # Never started here (recorded by hand, or by an older tool): create it.
                await self._ensure(session, release_name, None)
                await self._upsert_task(
                    session,
                    release_name,
                    name,
                    status=status,
                    started_at=now,
                    completed_at=now if finished else None,
                    log=masked,
                    run_id=None,
                    at=now,
                )
            await self._changed(session, release_name, now)
        log.info(
            "release.task.finished",
            release=release_name,
            task=name,
            status=status.value,
            run_id=run_id,
        )
        return run_id

    async def set_task_status(
        self,
        release: ReleaseVersion | str,
        name: str,
        status: TaskStatus | str,
        *,
        actor: str,
        interface: str,
        note: str | None = None,
    ) -> int:
        """A manual update: recorded as a run of its own, which the task then shows."""
        release_name, name = release_text(release), task_name(name)
        status = task_status(status)
        now = utcnow()
        text = note or f"status set to {status.value} by {actor} ({interface})"
        async with self.db.transaction() as session:
            await self._ensure(session, release_name, None)
            run = ReleaseTaskRunRecord(
                release=release_name,
                task=name,
                status=status.value,
                started_at=now,
                ended_at=now if status.finished else None,
                log=_masked(text),
                actor=actor,
                interface=interface,
            )
            session.add(run)
            await session.flush()
            run_id = run.id
            not_started = status is TaskStatus.NOT_STARTED
            await self._upsert_task(
                session,
                release_name,
                name,
                status=status,
                started_at=None if not_started else now,
                completed_at=now if status.finished else None,
                log=_masked(text),
                run_id=run_id,
                at=now,
                keep_started=status.finished,
            )
            await self._changed(session, release_name, now)
        log.info("release.task.set", release=release_name, task=name, status=status.value)
        return run_id

    async def _upsert_task(
        self,
        session: AsyncSession,
        release: str,
        name: str,
        *,
        status: TaskStatus,
        started_at: datetime | None,
        completed_at: datetime | None,
        log: str | None,
        run_id: int | None,
        at: datetime,
        keep_started: bool = False,
    ) -> None:
        stmt = insert_for(self.db.dialect, ReleaseTaskRecord).values(
            release=release,
            name=name,
            status=status.value,
            started_at=started_at,
            completed_at=completed_at,
            log=log,
            run_id=run_id,
            updated_at=at,
        )
        started: Any = stmt.excluded.started_at
        if keep_started:
            started = func.coalesce(ReleaseTaskRecord.started_at, stmt.excluded.started_at)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["release", "name"],
                set_={
                    "status": stmt.excluded.status,
                    "started_at": started,
                    "completed_at": stmt.excluded.completed_at,
                    "log": stmt.excluded.log,
                    "run_id": stmt.excluded.run_id,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )

    async def runs(
        self, release: ReleaseVersion | str, *, task: str | None = None, limit: int = 50
    ) -> list[RunInfo]:
        """The history of runs, newest first."""
        query = select(ReleaseTaskRunRecord).where(
            ReleaseTaskRunRecord.release == release_text(release)
        )
        if task is not None:
            query = query.where(ReleaseTaskRunRecord.task == task_name(task))
        query = query.order_by(ReleaseTaskRunRecord.id.desc()).limit(limit)
        async with self.db.session() as session:
            rows = (await session.scalars(query)).all()
        return [_run_info(r) for r in rows]

    async def first_run(
        self, release: ReleaseVersion | str, task: str, *, status: TaskStatus | str
    ) -> RunInfo | None:
        """The oldest run of ``task`` that ended with ``status`` (None when there is none)."""
        query = (
            select(ReleaseTaskRunRecord)
            .where(
                ReleaseTaskRunRecord.release == release_text(release),
                ReleaseTaskRunRecord.task == task_name(task),
                ReleaseTaskRunRecord.status == task_status(status).value,
            )
            .order_by(ReleaseTaskRunRecord.id)
            .limit(1)
        )
        async with self.db.session() as session:
            row = await session.scalar(query)
        return None if row is None else _run_info(row)

    # --- issues --------------------------------------------------------------------------
    async def add_issue(
        self,
        release: ReleaseVersion | str,
        text: str,
        *,
        blocker: bool = True,
        related_tasks: Sequence[str] = (),
        actor: str,
    ) -> IssueInfo:
        """Report an issue; the same text while still unresolved returns the existing one."""
        release_name = release_text(release)
        cleaned, key = issue_identity(text)
        tasks = [task_name(t) for t in related_tasks]
        now = utcnow()
        async with self.db.transaction() as session:
            await self._ensure(session, release_name, None)
            stmt = insert_for(self.db.dialect, ReleaseIssueRecord).values(
                release=release_name,
                text=mask_emails(cleaned),
                key=key,
                blocker=blocker,
                related_tasks=tasks,
                reported_at=now,
                reported_by=actor,
                resolved=False,
            )
            await session.execute(
                stmt.on_conflict_do_nothing(
                    index_elements=["release", "key"], index_where=sql_text("NOT resolved")
                )
            )
            row = await session.scalar(
                select(ReleaseIssueRecord).where(
                    ReleaseIssueRecord.release == release_name,
                    ReleaseIssueRecord.key == key,
                    ~ReleaseIssueRecord.resolved,
                )
            )
            await self._changed(session, release_name, now)
        assert row is not None
        log.info("release.issue.added", release=release_name, issue_id=row.id, blocker=blocker)
        return _issue_info(row)

    async def resolve_issue(
        self, release: ReleaseVersion | str, issue_id: int, resolution: str, *, actor: str
    ) -> IssueInfo:
        """Resolve an issue (once: resolving it again keeps the first resolution)."""
        release_name = release_text(release)
        now = utcnow()
        async with self.db.transaction() as session:
            await session.execute(
                update(ReleaseIssueRecord)
                .where(
                    ReleaseIssueRecord.id == issue_id,
                    ReleaseIssueRecord.release == release_name,
                    ~ReleaseIssueRecord.resolved,
                )
                .values(
                    resolved=True,
                    resolution=mask_emails(resolution.strip()) or "resolved",
                    resolved_at=now,
                    resolved_by=actor,
                )
            )
            await self._changed(session, release_name, now)
            row = await session.scalar(
                select(ReleaseIssueRecord).where(
                    ReleaseIssueRecord.id == issue_id, ReleaseIssueRecord.release == release_name
                )
            )
        if row is None:
            raise ReleaseIssueNotFoundError(release_name, issue_id)
        log.info("release.issue.resolved", release=release_name, issue_id=issue_id)
        return _issue_info(row)

    async def set_metadata(self, release: ReleaseVersion | str, key: str, value: Any) -> None:
        """Set one key of the release's metadata (``shipment``: is-shipped's last verdict),
        the other keys kept; the release is created if missing."""
        name = release_text(release)
        async with self.db.transaction() as session:
            await self._ensure(session, name, None)
            row = await session.get(ReleaseRecord, name)
            assert row is not None  # just ensured
            row.meta = {**(row.meta or {}), key: value}
            await self._changed(session, name, utcnow())
        log.info("release.metadata.set", release=name, key=key)

    # --- bugs ----------------------------------------------------------------------------
    async def record_bugs(
        self, release: ReleaseVersion | str, bugs: Sequence[Bug], *, attached: Iterable[str]
    ) -> BugListUpdate:
        """Record what update-bug-list saw (``bugs`` read from Jira, ``attached`` every key
        on the release) in one transaction; returns the list and what changed
        (:func:`oar.release.buglist.merge`)."""
        name = release_text(release)
        async with self.db.transaction() as session:
            await self._ensure(session, name, None)
            now = utcnow()
            update = await bugstate.record(
                session, self.db.dialect, name, bugs, attached=attached, now=now
            )
            await self._changed(session, name, now)
        log.info(
            "release.bugs.recorded",
            release=name,
            bugs=len(update.records),
            written=len(update.written),
            changes=len(update.changes),
        )
        return update

    async def bugs(self, release: ReleaseVersion | str) -> list[BugRecord]:
        """The release's recorded bugs, in key order (detached ones included)."""
        name = release_text(release)
        async with self.db.session() as session:
            if await session.get(ReleaseRecord, name) is None:
                raise ReleaseNotFoundError(name)
            return await bugstate.load(session, name)


def _keep_final(status: Any, column: Any, value: Any) -> Any:
    """``column`` where ``status`` is final (Pass, Fail, Cancelled), else ``value``
    (recording In Progress)."""
    final = tuple(s.value for s in FINAL_STATUSES)
    return case((status.in_(final), column), else_=value)


def _appended(column: Any, text: str | None) -> Any:
    """SQL for ``column`` with ``text`` appended on a new line (or ``text`` if empty)."""
    if text is None:
        return column
    return case(
        (or_(column.is_(None), column == ""), text),
        else_=column + _LOG_SEPARATOR + text,
    )


def _utc(value: Any) -> datetime:
    from oar.db.types import UTCDateTime

    converted = UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]
    assert converted is not None
    return converted


def _task_info(row: ReleaseTaskRecord) -> TaskInfo:
    return TaskInfo(
        name=row.name,
        status=task_status(row.status),
        started_at=row.started_at,
        completed_at=row.completed_at,
        log=row.log,
        run_id=row.run_id,
        updated_at=row.updated_at,
    )


def _run_info(row: ReleaseTaskRunRecord) -> RunInfo:
    return RunInfo(
        id=row.id,
        release=row.release,
        task=row.task,
        status=task_status(row.status),
        started_at=row.started_at,
        ended_at=row.ended_at,
        log=row.log,
        actor=row.actor,
        interface=row.interface,
        slack_channel=row.slack_channel,
        slack_thread=row.slack_thread,
    )


def _issue_info(row: ReleaseIssueRecord) -> IssueInfo:
    return IssueInfo(
        id=row.id,
        release=row.release,
        text=row.text,
        blocker=row.blocker,
        related_tasks=list(row.related_tasks or []),
        reported_at=row.reported_at,
        reported_by=row.reported_by,
        resolved=row.resolved,
        resolution=row.resolution,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
    )
