"""The test-result checker (reference §6): each rejected build announced once in Slack.

One pass lists ``_releases`` on the ``record`` branch, reads the result files it has not
read at their current blob sha (an unchanged file costs no request), records each file's
verdict in ``oar_result_files``, and announces every rejected build not announced yet in
the configured channel, with a link to its file. Rows replace the original's notified-files
text file: unique per repository, branch and file (one build on one architecture), so
overlapping passes, restarts and a second run announce nothing twice.

An announcement is claimed (``notice = announcing``) before it is posted and recorded
after; a post Slack refused is ``failed`` and tried again by later passes, up to
:data:`MAX_ATTEMPTS`. A worker killed between Slack's answer and the record resumes the
pass and posts that one message again (at least once, never silently lost).

The first pass (nothing recorded for the branch) announces at most ``limit`` rejected
builds and records the rest as skipped (:func:`oar.agents.rejections.select`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from oar.agents import rejections
from oar.agents.rejections import Verdict
from oar.db import Database
from oar.db.models import ResultFileRecord
from oar.db.types import utcnow
from oar.engine.schedules import ScheduleRegistry, ScheduleRun
from oar.errors import ConfigurationError
from oar.integrations.github import GitHubRepositoryFiles, RepositoryFiles
from oar.integrations.slack import Notifier
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.notifications import RecordingNotifier
from oar.settings import Settings

log = get_logger(__name__)

AGENT = "test-result-checker"
MAX_ATTEMPTS = 3


class Notice(enum.StrEnum):
    NONE = "none"
    ANNOUNCING = "announcing"
    ANNOUNCED = "announced"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, kw_only=True)
class Known:
    sha: str | None
    verdict: Verdict
    notice: Notice


class ResultFileStore:
    """``oar_result_files`` for one repository and branch."""

    def __init__(
        self, db: Database, *, repo: str, branch: str, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.repo = repo
        self.branch = branch
        self.clock = clock

    def _mine(self) -> list[ColumnElement[bool]]:
        return [ResultFileRecord.repo == self.repo, ResultFileRecord.branch == self.branch]

    async def known(self) -> dict[str, Known]:
        async with self.db.session() as session:
            rows = (await session.scalars(select(ResultFileRecord).where(*self._mine()))).all()
        return {
            r.path: Known(sha=r.sha, verdict=Verdict(r.verdict), notice=Notice(r.notice))
            for r in rows
        }

    async def record(self, path: str, *, build: str, arch: str, sha: str, verdict: Verdict) -> None:
        """The file's verdict at ``sha`` (first sight inserts, later ones update)."""
        now = self.clock()
        table = ResultFileRecord
        try:
            async with self.db.transaction() as session:
                session.add(
                    ResultFileRecord(
                        repo=self.repo,
                        branch=self.branch,
                        path=path,
                        build=build,
                        arch=arch,
                        sha=sha,
                        verdict=verdict.value,
                        notice=Notice.NONE.value,
                        attempts=0,
                        first_seen=now,
                        checked_at=now,
                    )
                )
            return
        except IntegrityError:
            pass  # seen before (or by an overlapping pass): update it
        async with self.db.transaction() as session:
            await session.execute(
                update(table)
                .where(*self._mine(), table.path == path)
                .values(sha=sha, verdict=verdict.value, checked_at=now)
            )

    async def unannounced(self) -> list[str]:
        """Rejected files not announced (nor skipped), within the attempt bound."""
        table = ResultFileRecord
        async with self.db.session() as session:
            rows = await session.scalars(
                select(table.path).where(
                    *self._mine(),
                    table.verdict == Verdict.REJECTED.value,
                    or_(
                        table.notice == Notice.NONE.value,
                        (table.notice == Notice.FAILED.value) & (table.attempts < MAX_ATTEMPTS),
                    ),
                )
            )
            return list(rows.all())

    async def skip(self, paths: list[str]) -> None:
        if not paths:
            return
        table = ResultFileRecord
        async with self.db.transaction() as session:
            await session.execute(
                update(table)
                .where(*self._mine(), table.path.in_(paths), table.notice == Notice.NONE.value)
                .values(notice=Notice.SKIPPED.value, noticed_at=self.clock())
            )

    async def claim(self, path: str, *, by: str) -> bool:
        """Hold ``path``'s announcement for ``by`` (compare-and-set); a resumed pass
        (same ``by``) may take its own claim again."""
        table = ResultFileRecord
        async with self.db.transaction() as session:
            result = await session.execute(
                update(table)
                .where(
                    *self._mine(),
                    table.path == path,
                    table.verdict == Verdict.REJECTED.value,
                    or_(
                        table.notice == Notice.NONE.value,
                        (table.notice == Notice.FAILED.value) & (table.attempts < MAX_ATTEMPTS),
                        (table.notice == Notice.ANNOUNCING.value) & (table.claimed_by == by),
                    ),
                )
                .values(notice=Notice.ANNOUNCING.value, claimed_by=by, attempts=table.attempts + 1)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def announced(
        self, path: str, *, by: str, channel: str, ts: str | None, error: str | None
    ) -> None:
        table = ResultFileRecord
        async with self.db.transaction() as session:
            await session.execute(
                update(table)
                .where(*self._mine(), table.path == path, table.claimed_by == by)
                .values(
                    notice=(Notice.FAILED if error else Notice.ANNOUNCED).value,
                    channel=channel,
                    message_ts=ts,
                    error=error,
                    noticed_at=self.clock(),
                )
            )

    async def counts(self) -> dict[str, int]:
        table = ResultFileRecord
        async with self.db.session() as session:
            rows = await session.execute(
                select(table.notice, func.count()).where(*self._mine()).group_by(table.notice)
            )
            return {str(notice): int(count) for notice, count in rows.all()}


@dataclass(frozen=True, kw_only=True)
class CheckReport:
    """What one pass read and announced."""

    files: int
    read: int
    rejected: int
    first_run: bool
    announced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, JSON]:
        return {
            "files": self.files,
            "read": self.read,
            "rejected": self.rejected,
            "first_run": self.first_run,
            "announced": list(self.announced),
            "skipped": list(self.skipped),
            "failed": dict(self.failed),
        }


class ResultChecker:
    """One checker pass per call, with its ports injected."""

    def __init__(
        self,
        *,
        files: RepositoryFiles,
        notifier: Notifier,
        store: ResultFileStore,
        channel: str,
        directory: str = rejections.DIRECTORY,
    ) -> None:
        self.files = files
        self.notifier = notifier
        self.store = store
        self.channel = channel
        self.directory = directory

    async def run(self, *, limit: int, by: str) -> CheckReport:
        store = self.store
        entries = await self.files.list_dir(self.directory, ref=store.branch)
        results = [
            (entry, name)
            for entry in entries
            if entry.type == "file" and (name := rejections.parse_name(entry.name)) is not None
        ]
        known = await store.known()
        first_run = not known
        read = 0
        for entry, name in results:
            seen = known.get(entry.path)
            if seen is not None and seen.sha == entry.sha:
                continue  # unchanged since it was read
            found = await self.files.get_file(entry.path, ref=store.branch)
            if found is None:
                continue  # deleted since the listing (a recycled nightly)
            read += 1
            verdict = rejections.verdict_of_text(found.content)
            if verdict is Verdict.INVALID:
                log.warning("checker.invalid_file", path=entry.path)
            await store.record(
                entry.path, build=name.build, arch=name.arch, sha=found.sha, verdict=verdict
            )
        pending = await store.unannounced()
        selection = rejections.select(pending, first_run=first_run, limit=limit)
        await store.skip(selection.skip)
        announced: list[str] = []
        failed: dict[str, str] = {}
        for path in selection.announce:
            if not await store.claim(path, by=by):
                continue  # an overlapping pass holds it, or announced it
            text = rejections.announcement(self.store.repo, store.branch, path)
            delivery = await self.notifier.post(
                self.channel, text, kind="rejected-build", source=f"{AGENT}:{path}"
            )
            error = None if delivery.ok else (delivery.error or "not delivered")
            await store.announced(path, by=by, channel=self.channel, ts=delivery.ts, error=error)
            if error:
                failed[path] = error
                log.warning("checker.announce_failed", path=path, error=error)
            else:
                announced.append(path)
                log.info("checker.announced", path=path, channel=self.channel)
        return CheckReport(
            files=len(results),
            read=read,
            rejected=len(pending),
            first_run=first_run,
            announced=announced,
            skipped=selection.skip,
            failed=failed,
        )


async def check(
    settings: Settings,
    db: Database,
    notifier: Notifier,
    *,
    by: str,
    limit: int | None = None,
    channel: str | None = None,
) -> dict[str, JSON]:
    """One pass with the real GitHub adapter and ``notifier``."""
    target = channel or settings.result_checker_channel
    if not target:
        raise ConfigurationError(
            "the test-result checker needs a Slack channel: set OAR_RESULT_CHECKER_CHANNEL"
            " (or pass --channel)",
            variables=["OAR_RESULT_CHECKER_CHANNEL"],
        )
    checker = ResultChecker(
        files=GitHubRepositoryFiles.from_settings(settings),
        notifier=notifier,
        store=ResultFileStore(db, repo=settings.github_repo, branch=rejections.BRANCH),
        channel=target,
    )
    chosen = settings.result_checker_limit if limit is None else limit
    return (await checker.run(limit=chosen, by=by)).to_dict()


# --- the schedule -------------------------------------------------------------------------------

SCHEDULE = "test-result-checker"


async def check_with_notifier(settings: Settings, db: Database, *, by: str) -> dict[str, JSON]:
    """One pass announcing through the recording Slack notifier (every message recorded)."""
    notifier = RecordingNotifier.from_settings(settings, db)
    try:
        return await check(settings, db, notifier, by=by)
    finally:
        await notifier.close()


def register_schedule(registry: ScheduleRegistry, settings: Settings, db: Database) -> list[str]:
    """The ``test-result-checker`` schedule when ``OAR_RESULT_CHECKER_CHANNEL`` is set,
    every ``OAR_RESULT_CHECKER_INTERVAL``; none otherwise. Called when the service is
    composed."""
    if not settings.result_checker_channel:
        registry.unregister(SCHEDULE)
        return []

    async def tick(run: ScheduleRun) -> JSON:
        result: JSON = await run.step(
            "check", check_with_notifier, settings, db, by=run.workflow_id
        )
        return result

    registry.register(
        SCHEDULE,
        tick,
        every=settings.result_checker_interval,
        description=f"Rejected builds announced in {settings.result_checker_channel}, once each.",
    )
    return [SCHEDULE]
