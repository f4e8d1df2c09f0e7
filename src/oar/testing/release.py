"""In-memory stand-ins for release work: a :class:`~oar.release.ports.Ports` of fakes
and the release state.

Unit tests of a release command build ``fake_ports()`` (every port a fake from
:mod:`oar.integrations.fakes`, the approval watches in memory), seed the fakes, and run
the body with a :class:`~oar.release.tracking.ReleaseContext` whose state is a
:class:`FakeReleaseStore` (or through ``run_tracked(..., store=FakeReleaseStore())``) —
no database, no network.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from oar.errors import ReleaseIssueNotFoundError, ReleaseNotFoundError
from oar.integrations.fakes import (
    FakeBrew,
    FakeBuildData,
    FakeDirectory,
    FakeElliott,
    FakeErrata,
    FakeGitLab,
    FakeJenkins,
    FakeJira,
    FakeNotifier,
    FakePayloadInspector,
    FakeProwJobs,
    FakePyxis,
    FakeReleaseStreams,
    FakeRepositoryFiles,
    FakeSignatures,
)
from oar.release.buglist import BugListUpdate, BugRecord, merge
from oar.release.bugs import Bug, key_order
from oar.release.checklist import (
    FINAL_STATUSES,
    TASKS,
    Flow,
    ReleaseMetadata,
    TaskStatus,
    mask_emails,
    task_name,
    task_status,
)
from oar.release.dropapprovals import DropRequest, WaitingDrop, drop_key
from oar.release.follows import FollowInfo, FollowRequest, FollowStatus, follow_id
from oar.release.ports import Ports
from oar.release.records import IssueInfo, ReleaseInfo, RunInfo, TaskInfo
from oar.release.state import issue_identity, release_text
from oar.release.versions import ReleaseVersion
from oar.release.watch import KIND, WatchInfo, WatchRequest, WatchStatus, watch_key


class FakeWatches:
    """The approval-watch port in memory: one running watch per y-stream, joined by later
    starts; ``keep_alive`` records the watch IDs a worker was asked for."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        self.watches: dict[str, WatchInfo] = {}
        self.kept_alive: list[str] = []

    async def running(self, y_stream: str) -> WatchInfo | None:
        return next(
            (
                w
                for w in self.watches.values()
                if w.y_stream == y_stream and w.status is WatchStatus.RUNNING
            ),
            None,
        )

    async def start(self, request: WatchRequest) -> tuple[WatchInfo, bool]:
        running = await self.running(request.y_stream)
        if running is not None:
            return running, False
        generation = 1 + sum(1 for w in self.watches.values() if w.y_stream == request.y_stream)
        watch = WatchInfo(
            id=watch_key(request.y_stream, generation),
            kind=KIND,
            key=watch_key(request.y_stream),
            subject=request.y_stream,
            release=request.release,
            task="change-advisory-status",
            channel=request.channel,
            status=WatchStatus.RUNNING,
            started_at=self.now,
            deadline_at=self.now + timedelta(seconds=request.deadline),
            interval_seconds=request.interval,
            started_by=request.started_by,
            interface=request.interface,
            slack_channel=request.slack_channel,
            slack_thread=request.slack_thread,
            checks=0,
            last_check_at=None,
            next_check_at=self.now,
            error=None,
            log=[],
            finished_at=None,
            run_id=request.run_id,
        )
        self.watches[watch.id] = watch
        return watch, True

    async def keep_alive(self, watch_id: str) -> str | None:
        self.kept_alive.append(watch_id)
        return None


class FakeFollows:
    """The follows port in memory: one running follow per key, joined by later starts
    (their runs are recorded); ``keep_alive`` records the follow IDs a worker was asked
    for; :meth:`finish` ends a follow as a worker would."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        self.follows: dict[str, FollowInfo] = {}
        self.requests: list[FollowRequest] = []
        self.kept_alive: list[str] = []

    async def running(self, key: str) -> FollowInfo | None:
        return self._running(key)

    def _running(self, key: str) -> FollowInfo | None:
        return next(
            (f for f in self.follows.values() if f.key == key and f.status is FollowStatus.RUNNING),
            None,
        )

    async def start(self, request: FollowRequest) -> tuple[FollowInfo, bool]:
        self.requests.append(request)
        running = self._running(request.key)
        if running is not None:
            joined = (*running.joined_runs, *([request.run_id] if request.run_id else []))
            running = dataclasses.replace(running, joined_runs=joined)
            self.follows[running.id] = running
            return running, False
        generation = 1 + sum(1 for f in self.follows.values() if f.key == request.key)
        follow = FollowInfo(
            id=follow_id(request.key, generation),
            kind=request.kind,
            key=request.key,
            subject=request.subject,
            release=request.release,
            task=request.task,
            channel=request.channel,
            status=FollowStatus.RUNNING,
            started_at=self.now,
            deadline_at=self.now + timedelta(seconds=request.deadline),
            interval_seconds=request.interval,
            started_by=request.started_by,
            interface=request.interface,
            slack_channel=request.slack_channel,
            slack_thread=request.slack_thread,
            checks=0,
            last_check_at=None,
            next_check_at=self.now,
            error=None,
            log=[],
            finished_at=None,
            data=dict(request.data),
            run_id=request.run_id,
        )
        self.follows[follow.id] = follow
        return follow, True

    async def keep_alive(self, follow_id_: str) -> str | None:
        self.kept_alive.append(follow_id_)
        return None

    def finish(self, follow_id_: str, status: FollowStatus) -> FollowInfo:
        follow = dataclasses.replace(self.follows[follow_id_], status=status, finished_at=self.now)
        self.follows[follow_id_] = follow
        return follow


class FakeDrops:
    """The bug-drop port in memory: one waiting drop per release and bug (a second
    request returns it); ``requests`` keeps what was asked, ``kept_alive`` the follows a
    worker was asked for. :meth:`decide` ends a drop as a worker would after a decision."""

    def __init__(self) -> None:
        self.requests: list[DropRequest] = []
        self.drops: dict[tuple[str, str], WaitingDrop] = {}
        self.kept_alive: list[str] = []

    async def recorded(self, release: str) -> dict[str, WaitingDrop]:
        return {bug: w for (rel, bug), w in self.drops.items() if rel == release}

    async def request(self, request: DropRequest) -> WaitingDrop:
        found = self.drops.get((request.release, request.bug))
        if found is not None and found.pending:
            return dataclasses.replace(found, created=False)
        self.requests.append(request)
        waiting = WaitingDrop(
            bug=request.bug,
            approval_id=f"approval-{len(self.requests)}",
            follow_id=drop_key(request.release, request.bug),
            owner=request.owner,
            created=True,
        )
        self.drops[(request.release, request.bug)] = waiting
        return waiting

    def decide(self, release: str, bug: str, decision: str, by: str = "slack:U0LEAD0001") -> None:
        """The owner decided (``approved``, ``rejected``) or the approval ``expired``."""
        found = self.drops[(release, bug)]
        self.drops[(release, bug)] = dataclasses.replace(found, decision=decision, decided_by=by)

    async def keep_alive(self, follow_id: str) -> str | None:
        self.kept_alive.append(follow_id)
        return None


def fake_ports(**overrides: Any) -> Ports:
    """A :class:`Ports` with a fresh fake behind every port; ``overrides`` replace some."""
    ports: dict[str, Any] = {
        "errata": FakeErrata(),
        "jira": FakeJira(),
        "gitlab": FakeGitLab(),
        "github": FakeRepositoryFiles(),
        "brew": FakeBrew(),
        "builddata": FakeBuildData({}),
        "payloads": FakePayloadInspector(),
        "notifier": FakeNotifier(),
        "ldap": FakeDirectory(),
        "elliott": FakeElliott(),
        "watches": FakeWatches(),
        "prow": FakeProwJobs(),
        "jenkins": FakeJenkins(),
        "pyxis": FakePyxis(),
        "follows": FakeFollows(),
        "releases": FakeReleaseStreams(),
        "signatures": FakeSignatures(),
        "drops": FakeDrops(),
    }
    ports.update(overrides)
    return Ports(**ports)


# --- the release state ----------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _appended(log: str | None, text: str | None) -> str | None:
    if text is None:
        return log
    return text if not log else f"{log}\n{text}"


def _stored(metadata: ReleaseMetadata) -> dict[str, Any]:
    """The metadata as the database gives it back (JSON)."""
    stored: dict[str, Any] = json.loads(json.dumps(metadata.to_dict()))
    return stored


_FINAL = FINAL_STATUSES


def _kept(current: TaskStatus, new: TaskStatus) -> TaskStatus:
    """Recording In Progress never undoes a Pass or Fail."""
    return new if new.finished or current not in _FINAL else current


def _final(run: RunInfo) -> bool:
    return run.status in _FINAL


@dataclass
class _Release:
    y_stream: str
    flow: Flow | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class FakeReleaseStore:
    """The release state in memory, behaving as :class:`oar.release.state.ReleaseState`
    does for what release commands and the tracking layer call (releases and their
    metadata, runs and task outcomes, issues: one unresolved issue per text, e-mails
    masked); ``tests/integration/test_release_store_contract.py`` holds both to it."""

    def __init__(self, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.clock = clock
        self.releases: dict[str, _Release] = {}
        self.tasks: dict[tuple[str, str], TaskInfo] = {}
        self.run_list: list[RunInfo] = []
        self.issues: list[IssueInfo] = []
        self._keys: dict[int, str] = {}  # an issue's identity: its text before masking
        self.bug_records: dict[tuple[str, str], BugRecord] = {}  # (release, key)

    # --- releases ------------------------------------------------------------------------
    async def ensure_release(
        self, release: ReleaseVersion | str, metadata: ReleaseMetadata | None = None
    ) -> None:
        self._ensure(release_text(release), metadata)

    def _ensure(self, release: str, metadata: ReleaseMetadata | None) -> None:
        now = self.clock()
        row = self.releases.get(release)
        if row is None:
            self.releases[release] = _Release(
                y_stream=ReleaseVersion.parse(release).y_stream,
                flow=None if metadata is None else metadata.flow,
                metadata={} if metadata is None else _stored(metadata),
                created_at=now,
                updated_at=now,
            )
        elif metadata is not None:
            row.flow, row.updated_at = metadata.flow, now
            row.metadata = {**row.metadata, **_stored(metadata)}

    async def exists(self, release: ReleaseVersion | str) -> bool:
        return release_text(release) in self.releases

    async def get(self, release: ReleaseVersion | str, *, hint: str = "") -> ReleaseInfo:
        name = release_text(release)
        row = self.releases.get(name)
        if row is None:
            raise ReleaseNotFoundError(name, hint)
        tasks = {n: t for (r, n), t in self.tasks.items() if r == name}
        ordered = [tasks.pop(n, TaskInfo(name=n, status=TaskStatus.NOT_STARTED)) for n in TASKS]
        ordered.extend(tasks.values())
        issues = [i for i in self.issues if i.release == name]
        updated = max(
            [row.updated_at]
            + [t.updated_at for t in ordered if t.updated_at is not None]
            + [i.resolved_at or i.reported_at for i in issues]
        )
        return ReleaseInfo(
            release=name,
            y_stream=row.y_stream,
            flow=row.flow,
            metadata=json.loads(json.dumps(row.metadata)),
            created_at=row.created_at,
            updated_at=updated,
            tasks=ordered,
            issues=issues,
        )

    # --- tasks and runs ------------------------------------------------------------------
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
        release_name, name = release_text(release), task_name(name)
        now = at or self.clock()
        self._ensure(release_name, None)
        run = RunInfo(
            id=len(self.run_list) + 1,
            release=release_name,
            task=name,
            status=TaskStatus.IN_PROGRESS,
            started_at=now,
            ended_at=None,
            log=None,
            actor=actor,
            interface=interface,
            slack_channel=slack_channel,
            slack_thread=slack_thread,
        )
        self.run_list.append(run)
        self.tasks[(release_name, name)] = TaskInfo(
            name=name,
            status=TaskStatus.IN_PROGRESS,
            started_at=now,
            run_id=run.id,
            updated_at=now,
        )
        return run.id

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
        release_name, name = release_text(release), task_name(name)
        status = task_status(status)
        now = at or self.clock()
        masked = None if log_text is None else mask_emails(log_text)
        if run_id is None:
            running = [
                r.id
                for r in self.run_list
                if (r.release, r.task, r.status) == (release_name, name, TaskStatus.IN_PROGRESS)
            ]
            run_id = max(running, default=None)
        if run_id is not None:
            index = next((i for i, r in enumerate(self.run_list) if r.id == run_id), None)
            if index is not None:
                run = self.run_list[index]
                self.run_list[index] = dataclasses.replace(
                    run,
                    status=_kept(run.status, status),
                    ended_at=now if status.finished else (run.ended_at if _final(run) else None),
                    log=_appended(run.log, masked),
                )
        task = self.tasks.get((release_name, name))
        if task is not None and (run_id is None or task.run_id in (None, run_id)):
            self.tasks[(release_name, name)] = dataclasses.replace(
                task,
                status=_kept(task.status, status),
                started_at=task.started_at or now,
                completed_at=now
                if status.finished
                else (task.completed_at if task.status in _FINAL else None),
                log=_appended(task.log, masked),
                updated_at=now,
            )
        elif task is None and run_id is None:
            self._ensure(release_name, None)
            self.tasks[(release_name, name)] = TaskInfo(
                name=name,
                status=status,
                started_at=now,
                completed_at=now if status.finished else None,
                log=masked,
                updated_at=now,
            )
        return run_id

    async def runs(
        self, release: ReleaseVersion | str, *, task: str | None = None, limit: int = 50
    ) -> list[RunInfo]:
        name = release_text(release)
        wanted = None if task is None else task_name(task)
        found = [r for r in self.run_list if r.release == name and wanted in (None, r.task)]
        return sorted(found, key=lambda r: r.id, reverse=True)[:limit]

    async def first_run(
        self, release: ReleaseVersion | str, task: str, *, status: TaskStatus | str
    ) -> RunInfo | None:
        key = (release_text(release), task_name(task), task_status(status))
        return next((r for r in self.run_list if (r.release, r.task, r.status) == key), None)

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
        release_name = release_text(release)
        cleaned, key = issue_identity(text)
        tasks = [task_name(t) for t in related_tasks]
        self._ensure(release_name, None)
        for issue in self.issues:
            if issue.release == release_name and not issue.resolved and self._keys[issue.id] == key:
                return issue
        issue = IssueInfo(
            id=len(self.issues) + 1,
            release=release_name,
            text=mask_emails(cleaned),
            blocker=blocker,
            related_tasks=tasks,
            reported_at=self.clock(),
            reported_by=actor,
            resolved=False,
            resolution=None,
            resolved_at=None,
            resolved_by=None,
        )
        self.issues.append(issue)
        self._keys[issue.id] = key
        return issue

    # --- bugs ----------------------------------------------------------------------------
    async def set_metadata(self, release: ReleaseVersion | str, key: str, value: Any) -> None:
        name = release_text(release)
        self._ensure(name, None)
        row = self.releases[name]
        row.metadata, row.updated_at = {**row.metadata, key: value}, self.clock()

    async def record_bugs(
        self, release: ReleaseVersion | str, bugs: Sequence[Bug], *, attached: Iterable[str]
    ) -> BugListUpdate:
        name = release_text(release)
        self._ensure(name, None)
        previous = [r for (r_name, _), r in self.bug_records.items() if r_name == name]
        update = merge(previous, bugs, attached=attached, release=name, now=self.clock())
        for written in update.written:
            self.bug_records[(name, written.key)] = written
        return update

    async def bugs(self, release: ReleaseVersion | str) -> list[BugRecord]:
        name = release_text(release)
        if name not in self.releases:
            raise ReleaseNotFoundError(name)
        found = [r for (r_name, _), r in self.bug_records.items() if r_name == name]
        return sorted(found, key=lambda r: key_order(r.key))

    async def resolve_issue(
        self, release: ReleaseVersion | str, issue_id: int, resolution: str, *, actor: str
    ) -> IssueInfo:
        release_name = release_text(release)
        for index, issue in enumerate(self.issues):
            if (issue.id, issue.release) != (issue_id, release_name):
                continue
            if not issue.resolved:
                self.issues[index] = dataclasses.replace(
                    issue,
                    resolved=True,
                    resolution=mask_emails(resolution.strip()) or "resolved",
                    resolved_at=self.clock(),
                    resolved_by=actor,
                )
            return self.issues[index]
        raise ReleaseIssueNotFoundError(release_name, issue_id)
