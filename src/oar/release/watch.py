"""The release-approval watch: a durable workflow per y-stream, not a detached process.

``Watches.start`` inserts the watch row and enqueues its task (key = the watch ID,
``approve-release:<y>``) in one transaction; a partial unique index allows one running
watch per y-stream, so two callers at the same instant, in any processes, start one.

The workflow (task ``release.approval-watch``, ``durable=True``) checks the payload
metadata URL at once, then every ``interval`` seconds until it answers or the deadline
passes. The deadline is computed once, in a checkpointed step, from the recorded start:
a restarted worker replays it. Then, each a checkpointed step: move the QE advisories to
REL_PREP, record Pass/Fail in the release state, send the channel summary, send the
thread log. The outcome is recorded before any notification, so none can lose it.
"""

from __future__ import annotations

import enum
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from oar.db import Database, insert_for
from oar.db.models import ApprovalWatchRecord
from oar.db.types import utcnow
from oar.engine import TaskContext, TaskManager, registry
from oar.engine.runtime import current_worker
from oar.errors import OarError, WatchNotFoundError
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.settings import Settings

if TYPE_CHECKING:
    from oar.release.state import ReleaseState

log = get_logger(__name__)

WATCH_TASK = "release.approval-watch"
APPROVAL_TASK = "change-advisory-status"  # the checklist task a watch finishes
# The task's own timeout must outlast the longest watch; the watch's deadline is the real one.
TASK_TIMEOUT = 7 * 24 * 3600.0


class WatchStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    CANCELLED = "cancelled"


def watch_key(y_stream: str, generation: int = 1) -> str:
    """The watch's (and its workflow's) ID: ``approve-release:4.19``, then ``…:4.19:2``."""
    base = f"approve-release:{y_stream}"
    return base if generation <= 1 else f"{base}:{generation}"


def summary_text(
    outcome: WatchStatus, *, group: str, release: str, error: str | None = None
) -> str:
    """The release channel's summary: the original's three exact texts (reference §1.7)."""
    if outcome is WatchStatus.SUCCEEDED:
        return (
            f"Hello {group}, Release approval completed for {release}. Payload metadata URL"
            " is now accessible and advisories have been moved to REL_PREP."
        )
    if outcome is WatchStatus.TIMED_OUT:
        return (
            f"Hello {group}, Release approval timeout for {release}. Payload metadata URL"
            " still not accessible"
        )
    return f"Hello {group}, Release approval failed for {release}. Error: {error}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, kw_only=True)
class WatchRequest:
    """What a new watch needs: the release, its advisories, where to report, and who."""

    release: str
    y_stream: str
    advisories: Mapping[str, int]
    channel: str
    group: str
    started_by: str
    interface: str = "cli"
    slack_channel: str | None = None
    slack_thread: str | None = None
    run_id: int | None = None
    interval: float = 1800.0
    deadline: float = 172800.0


@dataclass(frozen=True, kw_only=True)
class WatchInfo:
    id: str
    y_stream: str
    release: str
    status: WatchStatus
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
    run_id: int | None = None  # the release-state run of the command that started it
    joined_runs: tuple[int, ...] = ()  # runs of later commands that found it running

    def deadline_text(self) -> str:
        if self.deadline_at is None:
            return "its deadline"
        return f"{self.deadline_at:%Y-%m-%d %H:%M:%S} UTC"

    def already_text(self) -> str:
        thread = (
            f" (Slack thread {self.slack_channel}/{self.slack_thread})" if self.slack_thread else ""
        )
        return (
            f"already scheduled: watch {self.id} for {self.y_stream} runs since"
            f" {self.started_at:%Y-%m-%d %H:%M:%S} UTC, started by {self.started_by} via"
            f" {self.interface}{thread}; {self.checks} check(s) made"
        )

    def to_dict(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "y_stream": self.y_stream,
            "release": self.release,
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
            "run_id": self.run_id,
            "joined_runs": list(self.joined_runs),
        }


def _info(row: ApprovalWatchRecord) -> WatchInfo:
    return WatchInfo(
        id=row.id,
        y_stream=row.y_stream,
        release=row.release,
        status=WatchStatus(row.status),
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
        run_id=row.run_id,
        joined_runs=tuple(row.joined_runs or ()),
    )


class Watches:
    """Start, read and cancel release-approval watches (any process)."""

    def __init__(self, db: Database, tasks: TaskManager) -> None:
        self.db = db
        self.tasks = tasks

    async def start(self, request: WatchRequest) -> tuple[WatchInfo, bool]:
        """Start a watch for the y-stream; ``(the running one, False)`` if one runs."""
        for _ in range(3):
            running = await self.running(request.y_stream)
            if running is not None and await self._join(running.id, request.run_id):
                return await self.get(running.id), False
            try:
                watch_id = await self._create(request)
            except IntegrityError:  # another process started one at this instant
                continue
            if watch_id is not None:
                log.info("watch.started", watch_id=watch_id, y_stream=request.y_stream)
                return await self.get(watch_id), True
        raise OarError(f"could not start or join a watch for {request.y_stream}; try again")

    async def _join(self, watch_id: str, run_id: int | None) -> bool:
        """Attach a caller's release-state run to a running watch, which finishes it too.

        False when the watch finished in the meantime (the caller then starts a new one).
        """
        async with self.db.transaction() as session:
            row = await session.get(ApprovalWatchRecord, watch_id, with_for_update=True)
            if row is None or row.status != WatchStatus.RUNNING.value:
                return False
            if run_id is not None:
                row.joined_runs = [*(row.joined_runs or []), run_id]
        return True

    async def _create(self, request: WatchRequest) -> str | None:
        async with self.db.transaction() as session:
            count = await session.scalar(
                select(func.count()).where(ApprovalWatchRecord.y_stream == request.y_stream)
            )
            watch_id = watch_key(request.y_stream, int(count or 0) + 1)
            now = utcnow()
            stmt = (
                insert_for(self.db.dialect, ApprovalWatchRecord)
                .values(
                    id=watch_id,
                    y_stream=request.y_stream,
                    release=request.release,
                    status=WatchStatus.RUNNING.value,
                    started_at=now,
                    deadline_at=None,
                    interval_seconds=request.interval,
                    started_by=request.started_by,
                    interface=request.interface,
                    slack_channel=request.slack_channel,
                    slack_thread=request.slack_thread,
                    run_id=request.run_id,
                    checks=0,
                    log=[],
                )
                .on_conflict_do_nothing()
            )
            result = await session.execute(stmt)
            if not getattr(result, "rowcount", 0):
                return None
            payload: dict[str, Any] = {
                "watch_id": watch_id,
                "release": request.release,
                "y_stream": request.y_stream,
                "advisories": {str(k): int(v) for k, v in request.advisories.items()},
                "channel": request.channel,
                "group": request.group,
                "slack_channel": request.slack_channel,
                "slack_thread": request.slack_thread,
                "run_id": request.run_id,
                "interval": request.interval,
                "deadline": request.deadline,
            }
            await self.tasks.enqueue(
                WATCH_TASK,
                payload,
                key=watch_id,
                source=request.interface,
                session=session,
                allow_internal=True,
            )
        return watch_id

    async def get(self, watch_id: str) -> WatchInfo:
        async with self.db.session() as session:
            row = await session.get(ApprovalWatchRecord, watch_id)
            if row is None:
                raise WatchNotFoundError(watch_id)
            return _info(row)

    async def running(self, y_stream: str) -> WatchInfo | None:
        async with self.db.session() as session:
            row = await session.scalar(
                select(ApprovalWatchRecord).where(
                    ApprovalWatchRecord.y_stream == y_stream,
                    ApprovalWatchRecord.status == WatchStatus.RUNNING.value,
                )
            )
            return None if row is None else _info(row)

    async def list(self, *, status: WatchStatus | None = None, limit: int = 50) -> list[WatchInfo]:
        query = select(ApprovalWatchRecord).order_by(ApprovalWatchRecord.started_at.desc())
        if status is not None:
            query = query.where(ApprovalWatchRecord.status == WatchStatus(status).value)
        async with self.db.session() as session:
            return [_info(r) for r in (await session.scalars(query.limit(limit))).all()]

    async def cancel(self, watch_id: str, *, actor: str, interface: str = "cli") -> WatchInfo:
        """Stop a running watch: its workflow is cancelled and the release task records Fail."""
        from oar.release.state import ReleaseState

        watch = await self.get(watch_id)
        if watch.status is not WatchStatus.RUNNING:
            return watch
        await self.tasks.cancel(watch_id, actor=actor, interface=interface)
        line = f"watch cancelled by {actor} via {interface}"
        changed = await _finish_row(self.db, watch_id, WatchStatus.CANCELLED, error=line, line=line)
        final = await self.get(watch_id)
        if changed:
            await _finish_runs(ReleaseState(self.db), final, "Fail", changed=True)
        log.info("watch.cancelled", watch_id=watch_id, actor=actor)
        return final


async def _finish_row(
    db: Database, watch_id: str, status: WatchStatus, *, error: str | None, line: str
) -> bool:
    """Compare-and-set a running watch to its final status; False if it was not running."""
    async with db.transaction() as session:
        row = await session.get(ApprovalWatchRecord, watch_id, with_for_update=True)
        if row is None or row.status != WatchStatus.RUNNING.value:
            return False
        row.status = status.value
        row.error = error
        row.finished_at = utcnow()
        row.next_check_at = None
        row.log = [*(row.log or []), _line(line)]
    return True


def _line(text: str, at: datetime | None = None) -> str:
    return f"{(at or utcnow()):%Y-%m-%dT%H:%M:%SZ}: {text}"


# --- the workflow's steps (run in the worker; each is checkpointed) ---------------------------


async def _append(watch_id: str, *lines: str, **values: Any) -> None:
    db = current_worker().db
    async with db.transaction() as session:
        row = await session.get(ApprovalWatchRecord, watch_id, with_for_update=True)
        if row is None:
            return
        row.log = [*(row.log or []), *(_line(t) for t in lines)]
        for key, value in values.items():
            setattr(row, key, value)


async def _begin(watch_id: str, deadline_seconds: float) -> str:
    """Fix the deadline from the recorded start (once; replayed after a restart)."""
    db = current_worker().db
    async with db.transaction() as session:
        row = await session.get(ApprovalWatchRecord, watch_id, with_for_update=True)
        if row is None:
            raise WatchNotFoundError(watch_id)
        if row.deadline_at is None:
            row.deadline_at = row.started_at + timedelta(seconds=deadline_seconds)
            row.log = [
                *(row.log or []),
                _line(
                    f"watch started for {row.y_stream}: checking every"
                    f" {row.interval_seconds:g}s until {row.deadline_at:%Y-%m-%d %H:%M:%S} UTC"
                    " or until the payload metadata URL is accessible"
                ),
            ]
        return row.deadline_at.isoformat()


def payload_inspector(settings: Settings) -> Any:
    """``oc adm release info`` when ``oc`` is installed, else the controller's details."""
    from oar.integrations.payloads import HttpPayloadInspector, OcPayloadInspector

    if shutil.which("oc"):
        return OcPayloadInspector.from_settings(settings)
    return HttpPayloadInspector.from_settings(settings)


async def _check(watch_id: str, number: int, y_stream: str, interval: float) -> dict[str, Any]:
    """One check of the metadata URL; records it; returns whether it answered, and when."""
    settings = current_worker().settings
    live, note = False, ""
    try:
        inspector = payload_inspector(settings)
        url = await inspector.metadata_url(y_stream)
        live = url is not None and await inspector.is_accessible(url)
        if url is None:
            note = " (no stable payload yet)"
    except OarError as exc:
        note = f" (check failed: {exc.message})"
    now = utcnow()
    text = (
        f"check #{number}: payload metadata URL is now accessible"
        if live
        else f"check #{number}: payload metadata URL still not accessible{note}"
    )
    log.info("watch.checked", watch_id=watch_id, check=number, live=live)
    await _append(
        watch_id,
        text,
        checks=number,
        last_check_at=now,
        next_check_at=None if live else now + timedelta(seconds=interval),
    )
    return {"live": live, "now": now.isoformat()}


async def _move(release: str, advisories: dict[str, int], watch_id: str) -> dict[str, Any]:
    """Move the QE advisories; an error (stop-ship kernel, blocking alert, Errata failure)
    is the outcome."""
    from oar.integrations.brew import BrewClient
    from oar.integrations.errata import ErrataClient
    from oar.release.approval import move_to_rel_prep, stop_ship_kernel

    settings = current_worker().settings
    try:
        async with ErrataClient.from_settings(settings) as errata:
            # A kernel may have been stop-shipped while the watch waited: look again.
            await stop_ship_kernel(errata, BrewClient.from_settings(settings), release, advisories)
            moved = await move_to_rel_prep(errata, release, advisories)
    except OarError as exc:
        await _append(watch_id, f"moving the advisories failed: {exc.message}")
        return {"ok": False, "error": exc.message}
    await _append(watch_id, f"advisories {moved}")
    return {"ok": True, "moved": moved}


async def _record(payload: dict[str, Any], outcome: str, error: str | None) -> list[str]:
    """Record the outcome: watch row final, release task Pass/Fail with the watch log."""
    from oar.release.state import ReleaseState

    db = current_worker().db
    status = WatchStatus(outcome)
    final = {
        WatchStatus.SUCCEEDED: "Release approval completed. Payload metadata URL is now"
        " accessible and advisories have been moved to REL_PREP.",
        WatchStatus.TIMED_OUT: "Release approval timeout. Payload metadata URL still not"
        " accessible.",
    }.get(status, f"Release approval failed with error: {error}")
    changed = await _finish_row(db, payload["watch_id"], status, error=error, line=final)
    async with db.session() as session:
        row = await session.get(ApprovalWatchRecord, payload["watch_id"])
        if row is None:
            raise WatchNotFoundError(payload["watch_id"])
        watch = _info(row)
    await _finish_runs(
        ReleaseState(db),
        watch,
        "Pass" if status is WatchStatus.SUCCEEDED else "Fail",
        changed=changed,
    )
    log.info("watch.finished", watch_id=payload["watch_id"], outcome=status.value)
    return watch.log


async def _finish_runs(
    state: ReleaseState, watch: WatchInfo, status: str, *, changed: bool
) -> None:
    """Finish the runs waiting on this watch: the one that started it, and those that
    found it already scheduled. Only runs still In Progress are touched, so running this
    again after a crash finishes what was left and changes nothing else."""
    from oar.release.checklist import TaskStatus

    waiting = {watch.run_id, *watch.joined_runs} - {None}
    if not waiting:
        if changed:  # started outside a tracked command: record on the task itself
            await state.finish_task(
                watch.release, APPROVAL_TASK, status, log_text="\n".join(watch.log)
            )
        return
    for run in await state.runs(watch.release, task=APPROVAL_TASK, limit=200):
        if run.id in waiting and run.status is TaskStatus.IN_PROGRESS:
            await state.finish_task(
                watch.release, APPROVAL_TASK, status, log_text="\n".join(watch.log), run_id=run.id
            )


async def summary_for(
    notifier: Any, outcome: WatchStatus, group: str, release: str, error: str | None = None
) -> str:
    """The summary text, mentioning the QE-lead group (its handle if Slack does not know it:
    the original sent nothing then; we still report)."""
    try:
        mention = await notifier.group_mention(group)
    except OarError as exc:
        log.warning("watch.group_unknown", group=group, error=exc.message)
        mention = f"@{group}"
    return summary_text(outcome, group=mention, release=release, error=error)


async def _notify(
    kind: str, payload: dict[str, Any], outcome: str, error: str | None, lines: list[str]
) -> dict[str, Any]:
    """Send one notification; a Slack failure is logged and kept, never raised.

    The outcome is already recorded, so a failed notification loses nothing; a crash
    before this step finishes runs it again.
    """
    from oar.release.notifications import RecordingNotifier as Notifier

    worker = current_worker()
    notifier = Notifier.from_settings(worker.settings, worker.db)
    source = payload["watch_id"]
    try:
        text = await summary_for(
            notifier, WatchStatus(outcome), payload["group"], str(payload["release"]), error
        )
        if kind == "summary":
            await notifier.summary(payload["channel"], text, source=source)
        else:
            await notifier.thread_log(
                payload["slack_channel"],
                payload["slack_thread"],
                "\n".join([*lines, text]),
                source=source,
            )
    except OarError as exc:
        log.error("watch.notify_failed", watch_id=source, kind=kind, error=exc.message)
        return {"sent": False, "error": exc.message}
    finally:
        await notifier.close()
    return {"sent": True}


@registry.task(WATCH_TASK, durable=True, retries=0, timeout=TASK_TIMEOUT, internal=True)
async def approval_watch(ctx: TaskContext) -> dict[str, Any]:
    """The durable watch: check, sleep, check … then move, record, notify."""
    payload: dict[str, Any] = ctx.payload  # type: ignore[assignment]  # enqueued by start()
    watch_id, y_stream = str(payload["watch_id"]), str(payload["y_stream"])
    interval = float(payload["interval"])
    deadline = datetime.fromisoformat(
        await ctx.step("watch.begin", _begin, watch_id, float(payload["deadline"]))
    )
    number, outcome, error = 0, WatchStatus.TIMED_OUT, None
    while True:
        number += 1
        check = await ctx.step(
            f"watch.check.{number}", _check, watch_id, number, y_stream, interval
        )
        if check["live"]:
            moved = await ctx.step(
                "watch.move", _move, payload["release"], payload["advisories"], watch_id
            )
            outcome = WatchStatus.SUCCEEDED if moved["ok"] else WatchStatus.FAILED
            error = moved.get("error")
            break
        remaining = (deadline - datetime.fromisoformat(check["now"])).total_seconds()
        if remaining <= 0:
            break
        await ctx.sleep(min(interval, remaining))
    lines = await ctx.step("watch.record", _record, payload, outcome.value, error)
    await ctx.step("watch.notify.summary", _notify, "summary", payload, outcome.value, error, [])
    if payload.get("slack_channel") and payload.get("slack_thread"):
        await ctx.step(
            "watch.notify.thread", _notify, "thread", payload, outcome.value, error, lines
        )
    return {"outcome": outcome.value, "checks": number, "error": error}
