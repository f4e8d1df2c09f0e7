"""Durable follows: check something every interval until it is done or a deadline passes.

A *follow* has a **kind** (a registered plugin: its name, a check answering pending or
done, a finish step, and its texts), a **key** (at most one running follow per key, held
by a partial unique index in the database, so two callers at the same instant, in any
processes, start one and the other joins it), an interval and a deadline.

:meth:`Follows.start` inserts the follow's row and enqueues its task (``release.follow``,
key = the follow ID) in one transaction. The task is a durable workflow on the engine:

1. ``follow.begin`` fixes the deadline from the recorded start, once (a resumed workflow
   reads the stored one: a restart never extends it);
2. ``follow.check.<n>`` asks the kind; pending → it waits for a message (``check-now``
   wakes it at once) with the interval as timeout, and checks again; the deadline ends it
   as timed out;
3. ``follow.finish`` runs the kind's finish step when a check answered done;
4. ``follow.record`` records the outcome: the follow's row, then every release-state run
   waiting on it (the one that started it and those that joined it) with the full log;
5. ``follow.notify.summary`` / ``follow.notify.thread``: the summary to the release
   channel, the full log to the originating Slack thread, through the notifier port.

The outcome is recorded before any notification, so a Slack failure loses nothing.

Kinds get their ports at worker start-up: :func:`follow_runtime` (entered by the
:class:`~oar.service.Service` of a worker) builds each registered kind once from the
settings, with the notifier, and the workflow's steps use those; no step builds an
adapter. Watches started before follows existed (task ``release.approval-watch``) resume
on the same loop under their old step names.
"""

from __future__ import annotations

import builtins
import contextlib
import enum
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from oar.db import Database, insert_for
from oar.db.models import FollowRecord
from oar.db.types import utcnow
from oar.engine import TaskContext, TaskManager, registry
from oar.errors import EngineNotRunningError, FollowNotFoundError, OarError
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.checklist import TaskStatus
from oar.release.state import ReleaseState

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

log = get_logger(__name__)

FOLLOW_TASK = "release.follow"
# The approval watch's task before follows existed: its running workflows resume here.
LEGACY_WATCH_TASK = "release.approval-watch"
CHECK_NOW = "follow.check-now"  # the message topic that wakes a waiting follow
# The task's own timeout must outlast the longest follow; the follow's deadline is the real one.
TASK_TIMEOUT = 7 * 24 * 3600.0


class FollowStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    CANCELLED = "cancelled"


def follow_id(key: str, generation: int = 1) -> str:
    """The follow's (and its workflow's) ID: the key, then ``<key>:<n>``."""
    return key if generation <= 1 else f"{key}:{generation}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, kw_only=True)
class FollowRequest:
    """What a new follow needs: its kind and key, what it follows, where to report, who."""

    kind: str
    key: str
    subject: str
    started_by: str
    release: str | None = None
    task: str | None = None  # the checklist task its runs are finished on
    channel: str | None = None  # the release channel (summary)
    interface: str = "cli"
    slack_channel: str | None = None
    slack_thread: str | None = None
    run_id: int | None = None
    interval: float = 1800.0
    deadline: float = 172800.0
    data: dict[str, JSON] = field(default_factory=dict)
    # The message topic that wakes the follow between checks (default: check-now's); a
    # follow of an approval waits on the approval's topic, so a decision wakes it at once.
    wake_topic: str | None = None


@dataclass(frozen=True, kw_only=True)
class FollowInfo:
    id: str
    kind: str
    key: str
    subject: str
    release: str | None
    task: str | None
    channel: str | None
    status: FollowStatus
    started_at: datetime
    deadline_at: datetime | None
    interval_seconds: float
    started_by: str
    interface: str
    slack_channel: str | None
    slack_thread: str | None
    checks: int
    last_check_at: datetime | None
    next_check_at: datetime | None
    error: str | None
    log: list[str]
    finished_at: datetime | None
    data: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None  # the release-state run of the command that started it
    joined_runs: tuple[int, ...] = ()  # runs of later commands that found it running

    @property
    def y_stream(self) -> str:
        """What the follow follows (for the approval watch: its y-stream)."""
        return self.subject

    def deadline_text(self) -> str:
        if self.deadline_at is None:
            return "its deadline"
        return f"{self.deadline_at:%Y-%m-%d %H:%M:%S} UTC"

    def already_text(self, noun: str = "follow") -> str:
        thread = (
            f" (Slack thread {self.slack_channel}/{self.slack_thread})" if self.slack_thread else ""
        )
        return (
            f"already scheduled: {noun} {self.id} for {self.subject} runs since"
            f" {self.started_at:%Y-%m-%d %H:%M:%S} UTC, started by {self.started_by} via"
            f" {self.interface}{thread}; {self.checks} check(s) made"
        )

    def to_dict(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "subject": self.subject,
            "release": self.release,
            "task": self.task,
            "channel": self.channel,
            "status": self.status.value,
            "started_at": _iso(self.started_at),
            "deadline_at": _iso(self.deadline_at),
            "interval_seconds": self.interval_seconds,
            "started_by": self.started_by,
            "interface": self.interface,
            "slack_channel": self.slack_channel,
            "slack_thread": self.slack_thread,
            "checks": self.checks,
            "last_check_at": _iso(self.last_check_at),
            "next_check_at": _iso(self.next_check_at),
            "error": self.error,
            "log": list(self.log),
            "finished_at": _iso(self.finished_at),
            "data": dict(self.data),
            "run_id": self.run_id,
            "joined_runs": list(self.joined_runs),
        }


def _info(row: FollowRecord) -> FollowInfo:
    return FollowInfo(
        id=row.id,
        kind=row.kind,
        key=row.key,
        subject=row.subject,
        release=row.release,
        task=row.task,
        channel=row.channel,
        status=FollowStatus(row.status),
        started_at=row.started_at,
        deadline_at=row.deadline_at,
        interval_seconds=row.interval_seconds,
        started_by=row.started_by,
        interface=row.interface,
        slack_channel=row.slack_channel,
        slack_thread=row.slack_thread,
        checks=row.checks,
        last_check_at=row.last_check_at,
        next_check_at=row.next_check_at,
        error=row.error,
        log=list(row.log or []),
        finished_at=row.finished_at,
        data=dict(row.data or {}),
        run_id=row.run_id,
        joined_runs=tuple(row.joined_runs or ()),
    )


# --- kinds ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Check:
    """A check's answer: pending, or done; ``line`` goes to the follow's log, ``data``
    is merged into the follow's data (kept for its next checks) and given to its finish."""

    done: bool
    line: str
    data: dict[str, JSON] = field(default_factory=dict)

    @classmethod
    def pending(cls, line: str, **data: JSON) -> Check:
        return cls(done=False, line=line, data=data)

    @classmethod
    def finished(cls, line: str, **data: JSON) -> Check:
        return cls(done=True, line=line, data=data)


@dataclass(frozen=True, kw_only=True)
class Finished:
    """What the finish step did: succeeded (with a log line), or failed with the error."""

    ok: bool
    line: str
    error: str | None = None


class FollowKind(Protocol):
    """A kind of follow, bound to its ports. Its methods run in a worker's workflow steps.

    ``check`` and ``finish`` may raise :class:`~oar.errors.OarError`: a check's error is
    logged and counts as pending, a finish's error is the follow's failure.
    """

    name: str
    noun: str  # how its texts call one follow ("watch" for the approval watch)

    def started_line(self, follow: FollowInfo) -> str: ...

    async def check(self, follow: FollowInfo, number: int) -> Check: ...

    async def finish(self, follow: FollowInfo, check: Check) -> Finished: ...

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str: ...

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str: ...


# Builds a kind with its ports from the settings, once per worker process.
KindFactory = Callable[["Settings"], AbstractAsyncContextManager[FollowKind]]


async def group_mention(notifier: Notifier, handle: str) -> str:
    """How a kind's summary mentions a Slack user group: ``<!subteam^ID>``, or ``@handle``
    when Slack cannot say (the summary still goes out; the original sent nothing then)."""
    try:
        return await notifier.group_mention(handle)
    except OarError as exc:
        log.warning("follow.group_unknown", group=handle, error=exc.message)
        return f"@{handle.lstrip('@')}"


class FollowKinds:
    """The registered kinds (by name) and, in a worker, each bound to its ports."""

    def __init__(self) -> None:
        self._factories: dict[str, KindFactory] = {}
        self._nouns: dict[str, str] = {}

    def register(self, name: str, factory: KindFactory, *, noun: str = "follow") -> None:
        """Register kind ``name``; ``factory`` builds it with its ports in each worker."""
        existing = self._factories.get(name)
        if existing is not None and _qualname(existing) != _qualname(factory):
            raise ValueError(f"follow kind {name!r} is already registered to {_qualname(existing)}")
        self._factories[name] = factory
        self._nouns[name] = noun

    def unregister(self, name: str) -> None:
        self._factories.pop(name, None)
        self._nouns.pop(name, None)

    def noun(self, name: str) -> str:
        """How the kind's texts call one follow (``watch`` for the approval watch)."""
        return self._nouns.get(name, "follow")

    def names(self) -> builtins.list[str]:
        return sorted(self._factories)

    def factories(self) -> dict[str, KindFactory]:
        return dict(self._factories)


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


kinds = FollowKinds()


@dataclass(kw_only=True)
class FollowRuntime:
    """What a worker's follow steps use: the database, the notifier, the bound kinds."""

    db: Database
    notifier: Notifier
    bound: dict[str, FollowKind]
    problems: dict[str, str]  # kinds that could not be bound here, and why
    # Opens a release command's ports (the composition's oar.adapters.open_ports), for a
    # kind whose finish runs a command; None in a worker composed without it.
    # (Typed loosely: the ports module imports this one; the shape is tracking.PortsOpener.)
    open_ports: Callable[..., AbstractAsyncContextManager[Any]] | None = None

    def kind(self, name: str) -> FollowKind:
        found = self.bound.get(name)
        if found is not None:
            return found
        if name in self.problems:
            raise OarError(
                f"follow kind {name!r} is not available in this worker: {self.problems[name]}"
            )
        known = ", ".join(self.bound) or "none"
        raise OarError(
            f"unknown follow kind {name!r} in this worker (known: {known}; load the module"
            " that registers it with OAR_PLUGINS)"
        )


_runtime: FollowRuntime | None = None


def runtime() -> FollowRuntime:
    if _runtime is None:
        raise EngineNotRunningError("no follow runtime in this process (not a worker)")
    return _runtime


@contextlib.asynccontextmanager
async def follow_runtime(
    settings: Settings,
    db: Database,
    notifier: Notifier,
    open_ports: Callable[..., AbstractAsyncContextManager[Any]] | None = None,
) -> AsyncIterator[FollowRuntime]:
    """Bind every registered kind to its ports for this worker process (until exit)."""
    global _runtime  # noqa: PLW0603  (one worker per process, like the engine's executor)
    async with contextlib.AsyncExitStack() as stack:
        bound: dict[str, FollowKind] = {}
        problems: dict[str, str] = {}
        for name, factory in kinds.factories().items():
            try:
                bound[name] = await stack.enter_async_context(factory(settings))
            except OarError as exc:
                problems[name] = exc.message
                log.warning("follow.kind_unavailable", kind=name, error=exc.message)
        _runtime = FollowRuntime(
            db=db, notifier=notifier, bound=bound, problems=problems, open_ports=open_ports
        )
        try:
            yield _runtime
        finally:
            _runtime = None


# --- the store (any process) ------------------------------------------------------------------


class Follows:
    """Start, read, cancel and wake follows (any process)."""

    def __init__(self, db: Database, tasks: TaskManager) -> None:
        self.db = db
        self.tasks = tasks

    async def start(self, request: FollowRequest) -> tuple[FollowInfo, bool]:
        """Start a follow for the key; ``(the running one, False)`` when one runs (the
        caller's run joins it and is finished with it)."""
        if request.kind not in kinds.names():
            raise OarError(
                f"unknown follow kind {request.kind!r} (known: {', '.join(kinds.names())})"
            )
        for _ in range(3):
            running = await self.running(request.key)
            if running is not None and await self._join(running.id, request.run_id):
                return await self.get(running.id), False
            try:
                new_id = await self._create(request)
            except IntegrityError:  # another process started one at this instant
                continue
            if new_id is not None:
                log.info("follow.started", follow_id=new_id, kind=request.kind, key=request.key)
                started = await self.get(new_id)
                if started.deadline_at is None:  # fixed by its first step, from the same sum
                    deadline = started.started_at + timedelta(seconds=request.deadline)
                    started = replace(started, deadline_at=deadline)
                return started, True
        raise OarError(f"could not start or join a follow for {request.key}; try again")

    async def _join(self, follow_id_: str, run_id: int | None) -> bool:
        """Attach a caller's run to a running follow; False when it finished meanwhile."""
        async with self.db.transaction() as session:
            row = await session.get(FollowRecord, follow_id_, with_for_update=True)
            if row is None or row.status != FollowStatus.RUNNING.value:
                return False
            if run_id is not None:
                row.joined_runs = [*(row.joined_runs or []), run_id]
        return True

    async def _create(self, request: FollowRequest) -> str | None:
        async with self.db.transaction() as session:
            count = await session.scalar(
                select(func.count()).where(FollowRecord.key == request.key)
            )
            new_id = follow_id(request.key, int(count or 0) + 1)
            stmt = (
                insert_for(self.db.dialect, FollowRecord)
                .values(
                    id=new_id,
                    kind=request.kind,
                    key=request.key,
                    subject=request.subject,
                    release=request.release,
                    task=request.task,
                    channel=request.channel,
                    status=FollowStatus.RUNNING.value,
                    started_at=utcnow(),
                    deadline_at=None,
                    interval_seconds=request.interval,
                    started_by=request.started_by,
                    interface=request.interface,
                    slack_channel=request.slack_channel,
                    slack_thread=request.slack_thread,
                    run_id=request.run_id,
                    checks=0,
                    log=[],
                    data={
                        **request.data,
                        **({"wake_topic": request.wake_topic} if request.wake_topic else {}),
                    },
                )
                .on_conflict_do_nothing()
            )
            result = await session.execute(stmt)
            if not getattr(result, "rowcount", 0):
                return None
            payload: dict[str, JSON] = {"follow_id": new_id, "deadline": request.deadline}
            if request.wake_topic:
                payload["topic"] = request.wake_topic
            await self.tasks.enqueue(
                FOLLOW_TASK,
                payload,
                key=new_id,
                source=request.interface,
                session=session,
                allow_internal=True,
            )
        return new_id

    async def get(self, follow_id_: str) -> FollowInfo:
        async with self.db.session() as session:
            row = await session.get(FollowRecord, follow_id_)
            if row is None:
                raise FollowNotFoundError(follow_id_)
            return _info(row)

    async def running(self, key: str) -> FollowInfo | None:
        async with self.db.session() as session:
            row = await session.scalar(
                select(FollowRecord).where(
                    FollowRecord.key == key, FollowRecord.status == FollowStatus.RUNNING.value
                )
            )
            return None if row is None else _info(row)

    async def list(
        self, *, kind: str | None = None, status: FollowStatus | None = None, limit: int = 50
    ) -> builtins.list[FollowInfo]:
        query = select(FollowRecord).order_by(FollowRecord.started_at.desc(), FollowRecord.id)
        if kind is not None:
            query = query.where(FollowRecord.kind == kind)
        if status is not None:
            query = query.where(FollowRecord.status == FollowStatus(status).value)
        async with self.db.session() as session:
            return [_info(r) for r in (await session.scalars(query.limit(limit))).all()]

    async def cancel(self, follow_id_: str, *, actor: str, interface: str = "cli") -> FollowInfo:
        """Stop a running follow: its workflow is cancelled, its runs record Cancelled
        (stopped on purpose: not a failure of the task)."""
        follow = await self.get(follow_id_)
        if follow.status is not FollowStatus.RUNNING:
            return follow
        await self.tasks.cancel(follow_id_, actor=actor, interface=interface)
        line = f"{kinds.noun(follow.kind)} cancelled by {actor} via {interface}"
        changed = await _finish_row(
            self.db, follow_id_, FollowStatus.CANCELLED, error=line, line=line
        )
        final = await self.get(follow_id_)
        if changed:
            await _finish_runs(ReleaseState(self.db), final, "Cancelled", changed=True)
        log.info("follow.cancelled", follow_id=follow_id_, actor=actor)
        return final

    async def check_now(
        self, follow_id_: str, *, actor: str, interface: str = "cli"
    ) -> tuple[FollowInfo, bool]:
        """Run the next check of a running follow at once; ``(follow, False)`` when it is
        not waiting in a worker yet (queued: its first check runs as soon as one takes it)."""
        follow = await self.get(follow_id_)
        if follow.status is not FollowStatus.RUNNING:
            return follow, False
        topic = str(follow.data.get("wake_topic") or CHECK_NOW)
        sent = await self.tasks.send_message(
            follow_id_, topic, {"actor": actor, "interface": interface}
        )
        if sent:
            await _append(self.db, follow_id_, f"check now asked by {actor} via {interface}")
            log.info("follow.check_now", follow_id=follow_id_, actor=actor)
        return await self.get(follow_id_), sent


async def _finish_row(
    db: Database, follow_id_: str, status: FollowStatus, *, error: str | None, line: str
) -> bool:
    """Compare-and-set a running follow to its final status; False if it was not running."""
    async with db.transaction() as session:
        row = await session.get(FollowRecord, follow_id_, with_for_update=True)
        if row is None or row.status != FollowStatus.RUNNING.value:
            return False
        row.status = status.value
        row.error = error
        row.finished_at = utcnow()
        row.next_check_at = None
        row.log = [*(row.log or []), _line(line)]
        if row.release is not None:  # what waits on the release's follows hears at once
            await ReleaseState(db).mark_changed(session, row.release)
    return True


# The task status a follow's outcome records on the runs waiting on it.
_TASK_OUTCOME = {FollowStatus.SUCCEEDED: "Pass", FollowStatus.CANCELLED: "Cancelled"}


def _line(text: str, at: datetime | None = None) -> str:
    return f"{(at or utcnow()):%Y-%m-%dT%H:%M:%SZ}: {text}"


async def _append(db: Database, follow_id_: str, *lines: str, **values: Any) -> None:
    async with db.transaction() as session:
        row = await session.get(FollowRecord, follow_id_, with_for_update=True)
        if row is None:
            return
        row.log = [*(row.log or []), *(_line(t) for t in lines)]
        for key, value in values.items():
            setattr(row, key, value)


async def _finish_runs(
    state: ReleaseState, follow: FollowInfo, status: str, *, changed: bool
) -> None:
    """Finish the runs waiting on this follow: the one that started it, and those that
    joined it. Only runs still In Progress are touched, so running this again after a
    crash finishes what was left and changes nothing else."""
    if follow.task is None or follow.release is None:
        return
    waiting = {follow.run_id, *follow.joined_runs} - {None}
    text = "\n".join(follow.log)
    if not waiting:
        if changed:  # started outside a tracked command: record on the task itself
            await state.finish_task(follow.release, follow.task, status, log_text=text)
        return
    for run in await state.runs(follow.release, task=follow.task, limit=200):
        if run.id in waiting and run.status is TaskStatus.IN_PROGRESS:
            await state.finish_task(
                follow.release, follow.task, status, log_text=text, run_id=run.id
            )


# --- the workflow's steps (run in a worker; each is checkpointed) ----------------------------


async def _read(db: Database, follow_id_: str) -> FollowInfo:
    async with db.session() as session:
        row = await session.get(FollowRecord, follow_id_)
        if row is None:
            raise FollowNotFoundError(follow_id_)
        return _info(row)


async def _begin(follow_id_: str, deadline_seconds: float) -> dict[str, Any]:
    """Fix the deadline from the recorded start (once; a resumed follow keeps it)."""
    rt = runtime()
    async with rt.db.transaction() as session:
        row = await session.get(FollowRecord, follow_id_, with_for_update=True)
        if row is None:
            raise FollowNotFoundError(follow_id_)
        if row.deadline_at is None:
            row.deadline_at = row.started_at + timedelta(seconds=deadline_seconds)
            kind = rt.bound.get(row.kind)
            text = (
                kind.started_line(_info(row))
                if kind is not None
                else f"follow started for {row.subject}: checking every"
                f" {row.interval_seconds:g}s until {row.deadline_at:%Y-%m-%d %H:%M:%S} UTC"
            )
            row.log = [*(row.log or []), _line(text)]
        return {"deadline": row.deadline_at.isoformat(), "interval": row.interval_seconds}


async def _check(follow_id_: str, number: int) -> dict[str, Any]:
    """One check by the kind; recorded; returns whether it is done, and when."""
    rt = runtime()
    follow = await _read(rt.db, follow_id_)
    try:
        check = await rt.kind(follow.kind).check(follow, number)
    except OarError as exc:
        check = Check.pending(f"check #{number}: check failed: {exc.message}")
    except Exception as exc:  # a kind's bug must not strand the follow as running
        log.error("follow.check_crashed", follow_id=follow_id_, kind=follow.kind, exc_info=True)
        check = Check.pending(f"check #{number}: check failed: {type(exc).__name__}: {exc}")
    now = utcnow()
    log.info("follow.checked", follow_id=follow_id_, check=number, done=check.done)
    # A check's data is kept on the follow (merged): what a kind learnt (a job it
    # triggered, a build number) is there for its next check, in any worker.
    kept = {"data": {**follow.data, **check.data}} if check.data else {}
    await _append(
        rt.db,
        follow_id_,
        check.line,
        **kept,
        checks=number,
        last_check_at=now,
        next_check_at=None
        if check.done
        else min(
            now + timedelta(seconds=follow.interval_seconds),
            follow.deadline_at or now + timedelta(seconds=follow.interval_seconds),
        ),
    )
    return {"done": check.done, "line": check.line, "data": check.data, "now": now.isoformat()}


async def _finish(follow_id_: str, check: dict[str, Any]) -> dict[str, Any]:
    """The kind's finish step; an error is the outcome (failed), never raised."""
    rt = runtime()
    follow = await _read(rt.db, follow_id_)
    answer = Check(done=True, line=str(check.get("line", "")), data=check.get("data") or {})
    try:
        finished = await rt.kind(follow.kind).finish(follow, answer)
    except OarError as exc:
        finished = Finished(ok=False, line=f"finishing failed: {exc.message}", error=exc.message)
    except Exception as exc:  # a kind's bug fails the follow; it never strands it
        log.error("follow.finish_crashed", follow_id=follow_id_, kind=follow.kind, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
        finished = Finished(ok=False, line=f"finishing failed: {error}", error=error)
    await _append(rt.db, follow_id_, finished.line)
    return {"ok": finished.ok, "error": finished.error}


async def _record(follow_id_: str, outcome: str, error: str | None) -> builtins.list[str]:
    """Record the outcome: the follow's row final, its runs Pass/Fail with its log."""
    rt = runtime()
    status = FollowStatus(outcome)
    follow = await _read(rt.db, follow_id_)
    try:
        final = rt.kind(follow.kind).final_line(follow, status, error)
    except OarError:
        final = f"follow {status.value}" + (f": {error}" if error else "")
    changed = await _finish_row(rt.db, follow_id_, status, error=error, line=final)
    follow = await _read(rt.db, follow_id_)
    await _finish_runs(
        ReleaseState(rt.db),
        follow,
        _TASK_OUTCOME.get(status, "Fail"),
        changed=changed,
    )
    log.info("follow.finished", follow_id=follow_id_, outcome=status.value)
    return follow.log


async def _notify(
    where: str, follow_id_: str, outcome: str, error: str | None, lines: builtins.list[str]
) -> dict[str, Any]:
    """Send the summary (release channel) or the full log (Slack thread); a Slack
    failure is logged and kept, never raised: the outcome is already recorded."""
    rt = runtime()
    follow = await _read(rt.db, follow_id_)
    try:
        text = await rt.kind(follow.kind).summary(follow, FollowStatus(outcome), error, rt.notifier)
        if where == "summary":
            if follow.channel is None:
                return {"sent": False, "error": "no release channel"}
            await rt.notifier.summary(follow.channel, text, source=follow_id_)
        else:
            assert follow.slack_channel is not None
            assert follow.slack_thread is not None
            await rt.notifier.thread_log(
                follow.slack_channel,
                follow.slack_thread,
                "\n".join([*lines, text]),
                source=follow_id_,
            )
    except OarError as exc:
        log.error("follow.notify_failed", follow_id=follow_id_, where=where, error=exc.message)
        return {"sent": False, "error": exc.message}
    return {"sent": True}


@dataclass(frozen=True)
class _Names:
    """Step names: ``follow.*``; a watch started before follows existed replays its own."""

    prefix: str
    finish: str


_FOLLOW = _Names("follow", "follow.finish")
_LEGACY = _Names("watch", "watch.move")


async def _loop(
    ctx: TaskContext,
    follow_id_: str,
    deadline_seconds: float,
    names: _Names,
    topic: str = CHECK_NOW,
) -> dict[str, Any]:
    p = names.prefix
    begun = await ctx.step(f"{p}.begin", _begin, follow_id_, deadline_seconds)
    if isinstance(begun, str):  # a legacy watch's begin: its interval is in its payload
        begun = {"deadline": begun, "interval": ctx.payload["interval"]}  # type: ignore[index,call-overload]
    deadline, interval = datetime.fromisoformat(begun["deadline"]), float(begun["interval"])
    number, outcome, error = 0, FollowStatus.TIMED_OUT, None
    while True:
        number += 1
        check = await ctx.step(f"{p}.check.{number}", _check, follow_id_, number)
        if check.get("done", check.get("live")):  # "live": a legacy watch's answer
            finished = await ctx.step(names.finish, _finish, follow_id_, check)
            outcome = FollowStatus.SUCCEEDED if finished["ok"] else FollowStatus.FAILED
            error = finished.get("error")
            break
        remaining = (deadline - datetime.fromisoformat(check["now"])).total_seconds()
        if remaining <= 0:
            break
        wait = min(interval, remaining)
        if names is _LEGACY:
            await ctx.sleep(wait)
        else:
            await ctx.wait_message(topic, wait)
    lines = await ctx.step(f"{p}.record", _record, follow_id_, outcome.value, error)
    await ctx.step(f"{p}.notify.summary", _notify, "summary", follow_id_, outcome.value, error, [])
    follow = await _read(runtime().db, follow_id_)
    if follow.slack_channel and follow.slack_thread:
        await ctx.step(
            f"{p}.notify.thread", _notify, "thread", follow_id_, outcome.value, error, lines
        )
    return {"outcome": outcome.value, "checks": number, "error": error}


@registry.task(FOLLOW_TASK, durable=True, retries=0, timeout=TASK_TIMEOUT, internal=True)
async def follow_task(ctx: TaskContext) -> dict[str, Any]:
    """The durable follow: check, wait (or be woken), check … then finish, record, notify."""
    payload: dict[str, Any] = ctx.payload  # type: ignore[assignment]  # enqueued by start()
    topic = str(payload.get("topic") or CHECK_NOW)
    return await _loop(ctx, str(payload["follow_id"]), float(payload["deadline"]), _FOLLOW, topic)


@registry.task(LEGACY_WATCH_TASK, durable=True, retries=0, timeout=TASK_TIMEOUT, internal=True)
async def legacy_approval_watch(ctx: TaskContext) -> dict[str, Any]:
    """An approval watch started before follows existed: the same loop, its old step names."""
    payload: dict[str, Any] = ctx.payload  # type: ignore[assignment]
    return await _loop(ctx, str(payload["watch_id"]), float(payload["deadline"]), _LEGACY)
