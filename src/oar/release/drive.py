"""``oar drive``: the release checklist run as one durable workflow per release.

A drive is a follow of kind ``release-drive`` keyed ``drive:<release>`` (so at most one
runs per release, a database invariant: starting it again joins the running one). Each
check reads the release state, asks :func:`oar.release.driveplan.plan` what is next and does
at most one thing:

* runs the next ready task through the command layer (:func:`oar.release.invocations.run_command`:
  the registry's body, credentials first, a recorded run — as ``oar`` does), reporting the
  outcome in the drive's Slack thread;
* for a gated command (``OAR_MCP_GATED``, by default every irreversible one: the MCP
  gates' rule) asks a person first: a durable approval posted in the drive's thread; the
  command runs once approved; a rejection or an expiry stops the drive;
* otherwise waits: for a task's follow, an open blocker, a person (manual tasks, failed
  tasks), or the approval — and checks again at once when the release changes or the
  approval is decided (:mod:`oar.release.drivewaker`, as ``oarctl follows check-now``
  does), after its interval at the latest (a durable wait in the engine: a restart
  resumes it).

It finishes when every task of the drive (up to ``--until``) is done. Cancelling it is
``oarctl follows cancel drive:<release>``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from oar.db import Database
from oar.db.models import FollowRecord
from oar.db.types import utcnow
from oar.engine import TaskManager
from oar.engine.approvals import ApprovalManager, ApprovalStatus
from oar.engine.runtime import current_worker
from oar.errors import InvalidArgumentError, OarError
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.checklist import Flow, TaskStatus
from oar.release.commands import command, command_line, gated_commands
from oar.release.configstore import ConfigStore
from oar.release.driveplan import Plan, Waiting, plan
from oar.release.follows import (
    Check,
    Finished,
    FollowInfo,
    FollowRequest,
    Follows,
    FollowStatus,
    kinds,
    runtime,
)
from oar.release.invocations import run_command
from oar.release.records import ReleaseInfo
from oar.release.state import ReleaseState
from oar.release.versions import ReleaseVersion

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

log = get_logger(__name__)

KIND = "release-drive"
APPROVAL_TYPE = "drive-gate"
INTERFACE = "drive"
DEFAULT_INTERVAL = 60.0
# The follow's data key of the release version its last look saw (ReleaseState.version).
SEEN = "seen"
# Below the follow task's own timeout (7 days); a drive still waiting then is restarted.
DEADLINE = 6 * 24 * 3600.0


def drive_key(release: str) -> str:
    return f"drive:{release}"


@dataclass(frozen=True, kw_only=True)
class DriveRequest:
    """What ``oar drive`` (the MCP tool, the dashboard button) asks for."""

    release: ReleaseVersion
    until: str | None
    email: str | None  # take-ownership's owner, when the state has none yet
    actor: str
    interface: str
    interval: float = DEFAULT_INTERVAL
    # The Slack thread it was started from (the bot's `oar … drive`): it reports there.
    slack_channel: str | None = None
    slack_thread: str | None = None


async def running_follows(db: Database, release: str) -> set[str]:
    """The tasks of ``release`` a running follow (not a drive) is finishing."""
    async with db.session() as session:
        rows = await session.scalars(
            select(FollowRecord.task).where(
                FollowRecord.release == release,
                FollowRecord.status == FollowStatus.RUNNING.value,
                FollowRecord.kind != KIND,
                FollowRecord.task.is_not(None),
            )
        )
        return {str(t) for t in rows.all()}


async def current_plan(
    db: Database, release: str, until: str | None, *, flow: Flow | None = None
) -> tuple[ReleaseInfo, Plan]:
    """The release and its plan now (``--dry-run``, the status); ``flow`` is the one a
    release not tracked yet will have."""
    info = await release_info(db, release, flow)
    return info, plan(info, following=await running_follows(db, release), until=until)


async def release_info(db: Database, release: str, flow: Flow | None = None) -> ReleaseInfo:
    """The release's state; a release not tracked yet is blank (the drive starts with
    create-test-report, which records its flow)."""
    state = ReleaseState(db)
    if await state.exists(release):
        return await state.get(release)
    now = utcnow()
    version = ReleaseVersion.parse(release)
    return ReleaseInfo(
        release=release,
        y_stream=version.y_stream,
        flow=flow,
        metadata={},
        created_at=now,
        updated_at=now,
    )


def _owner(info: ReleaseInfo) -> str | None:
    owner = info.metadata.get("owner")
    return str(owner) if owner else None


async def start_drive(
    settings: Settings, db: Database, tasks: TaskManager, request: DriveRequest
) -> tuple[FollowInfo, bool]:
    """Start the release's drive, or join the running one: ``(drive, created)``. Refuses
    (InvalidArgumentError) an unknown ``--until`` and a drive that will need an owner's
    e-mail and has none."""
    release = request.release.text
    config = await _config(settings, request.release)
    info, planned = await current_plan(
        db, release, request.until, flow=config.flow if config else None
    )
    if (
        "take-ownership" in planned.tasks
        and "take-ownership" not in planned.done
        and not (request.email or _owner(info))
    ):
        raise InvalidArgumentError(
            "-e/--email", "take-ownership is still to run: give the QE owner's e-mail"
        )
    config_channel = config.qe_release_channel() if config else None
    follows = Follows(db, tasks)
    data: dict[str, JSON] = {
        "until": request.until,
        "email": request.email or _owner(info),
        "gates": {},
    }
    return await follows.start(
        FollowRequest(
            kind=KIND,
            key=drive_key(release),
            subject=f"drive {release}",
            release=release,
            channel=config_channel,
            started_by=request.actor,
            interface=request.interface,
            slack_channel=request.slack_channel if request.slack_thread else None,
            slack_thread=request.slack_thread if request.slack_channel else None,
            interval=request.interval,
            deadline=DEADLINE,
            data=data,
        )
    )


async def _config(settings: Settings, version: ReleaseVersion) -> ConfigStore | None:
    try:
        return await ConfigStore.load(settings, version)
    except OarError as exc:
        log.warning("drive.no_config", release=version.text, error=exc.message)
        return None


async def dry_run(
    settings: Settings, db: Database, version: ReleaseVersion, until: str | None
) -> tuple[ReleaseInfo, Plan]:
    """What ``--dry-run`` prints: the release and its plan; nothing is changed."""
    config = await _config(settings, version)
    return await current_plan(db, version.text, until, flow=config.flow if config else None)


class DriveKind:
    """The ``release-drive`` follow kind (built once per worker)."""

    name = KIND
    noun = "drive"

    def __init__(
        self,
        *,
        settings: Settings,
        approvals: Callable[[], ApprovalManager] | None = None,
    ) -> None:
        self.settings = settings
        self._approvals = approvals or (lambda: current_worker().service(ApprovalManager))

    def started_line(self, follow: FollowInfo) -> str:
        until = follow.data.get("until")
        return (
            f"drive of {follow.release} started by {follow.started_by} via {follow.interface}"
            + (f" (until {until})" if until else "")
            + f": checking every {follow.interval_seconds:g}s"
        )

    async def check(self, follow: FollowInfo, number: int) -> Check:
        """One look; it records the release's version it saw (``seen``: after the command
        it ran, if any), so a change it saw or made itself wakes nobody (drivewaker)."""
        state = ReleaseState(runtime().db)
        seen = await state.version(str(follow.release))  # before reading: never too new
        check, ran = await self._look(follow, number)
        if ran:
            seen = await state.version(str(follow.release))
        return dataclasses.replace(check, data={**check.data, SEEN: seen})

    async def _look(self, follow: FollowInfo, number: int) -> tuple[Check, bool]:
        """The look itself: its answer, and whether it ran a command."""
        rt = runtime()
        release = str(follow.release)
        where = await self._thread(follow, rt.db, rt.notifier)
        follow = dataclasses.replace(follow, slack_channel=where[0], slack_thread=where[1])
        gates: dict[str, JSON] = dict(follow.data.get("gates") or {})
        kept = follow.data.get("approved")
        approved: set[str] = {str(t) for t in kept} if isinstance(kept, list) else set()
        approvals = self._approvals()
        for gated_task, gate in list(gates.items()):
            approval_id = str(gate)
            info = await approvals.get(approval_id)
            if info.status is ApprovalStatus.PENDING:
                continue
            if info.resolution is not None and info.resolution.approved:
                approved.add(gated_task)
                del gates[gated_task]
                continue
            decision = info.resolution.value if info.resolution else info.status.value
            line = (
                f"{gated_task}: approval {approval_id} {decision} by {info.resolved_by or 'nobody'}"
            )
            await self._say(follow, f"drive stopped: {line}")
            stopped = Check.finished(line, stopped=line, gates=gates, approved=_listed(approved))
            return stopped, False
        info_ = await release_info(rt.db, release)
        until = follow.data.get("until")
        now = plan(
            info_,
            following=await running_follows(rt.db, release),
            gated={t: str(a) for t, a in gates.items() if t not in approved},
            until=str(until) if until else None,
        )
        if now.finished:
            done = f"check #{number}: every task done"
            return Check.finished(done, gates=gates, approved=_listed(approved)), False
        task = now.next
        if task is None:
            return await self._waiting(follow, number, now, gates), False
        spec = command(task)
        options = self._options(follow, task)
        gated = gated_commands(self.settings.mcp_gated)
        if task in gated and task not in approved:
            approval_id = await self._ask(follow, task, options)
            gates[task] = approval_id
            line = f"check #{number}: {task} is gated: approval {approval_id} asked in Slack"
            await self._say(follow, f"{task}: waiting for a person's approval (gated command)")
            return Check.pending(line, gates=gates, approved=_listed(approved), last=line), False
        approved.discard(task)  # an approval runs its command once
        await self._say(follow, f"running `{command_line(spec, release, options)}`")
        outcome = await run_command(
            spec,
            ReleaseVersion.parse(release),
            options,
            settings=self.settings,
            open_ports=rt.open_ports,
            actor=f"drive:{follow.started_by}",
            interface=INTERFACE,
            slack_channel=follow.slack_channel,
            slack_thread=follow.slack_thread,
        )
        status = str(outcome.get("status"))
        message = outcome.get("message")
        text = f"{task}: {status}" + (f" — {message}" if message else "")
        await self._say(follow, text)
        line = f"check #{number}: ran {text}"
        if status == "error":  # could not run at all (configuration): a person must act
            await self._say(follow, f"drive stopped: {task} could not run")
            return Check.finished(line, stopped=text, gates=gates, approved=_listed(approved)), True
        return Check.pending(line, gates=gates, approved=_listed(approved), last=line), True

    async def _waiting(
        self, follow: FollowInfo, number: int, now: Plan, gates: dict[str, JSON]
    ) -> Check:
        if now.release_blocked:
            waits = "release blocked by " + ", ".join(f"#{i}" for i in now.release_blocked)
        else:
            held = [w for w in now.waiting if w.on is not Waiting.PRECONDITION]
            waits = "; ".join(f"{w.task} waits on {w.on.value} ({w.reason})" for w in held)
        text = f"waiting: {waits}" if waits else "waiting"
        if follow.data.get("last") == text:  # said already: one short line per look
            return Check.pending(f"check #{number}: still waiting")
        await self._say(follow, text)
        return Check.pending(f"check #{number}: {text}", gates=gates, last=text)

    def _options(self, follow: FollowInfo, task: str) -> dict[str, Any]:
        if task == "take-ownership":
            return {"email": follow.data.get("email")}
        spec = command(task)
        return {o.name: o.default for o in spec.options if o.default is not None}

    async def _ask(self, follow: FollowInfo, task: str, options: Mapping[str, Any]) -> str:
        spec = command(task)
        release = str(follow.release)
        line = command_line(spec, release, dict(options))
        message = (
            f"[{release}] The drive started by {follow.started_by} is ready to run `{line}`."
            f"\n> {spec.summary}\n*Approve* runs it once; *Reject* stops the drive."
        )
        context: dict[str, JSON] = {
            "message": message,
            "release": release,
            "command": task,
            "command_line": line,
            "options": {
                k: v for k, v in options.items() if isinstance(v, str | int | float | bool)
            },
            "what_it_does": spec.help,
            "irreversible": spec.irreversible,
            "requested_by": follow.started_by,
            "via": INTERFACE,
        }
        approvals = self._approvals()
        approval_id = await approvals.request_approval(
            f"{release} drive {task}",
            APPROVAL_TYPE,
            context,
            self.settings.mcp_approval_timeout,
            requested_by=follow.started_by,
            interface=INTERFACE,
            announce_channel=follow.slack_channel or follow.channel,
            announce_thread=follow.slack_thread,
        )
        log.info("drive.gate", release=release, task=task, approval_id=approval_id)
        return approval_id

    async def _thread(
        self, follow: FollowInfo, db: Database, notifier: Notifier
    ) -> tuple[str | None, str | None]:
        """Open the drive's Slack thread in the release channel (once); where it is."""
        if follow.slack_thread or not follow.channel:
            return follow.slack_channel, follow.slack_thread
        until = follow.data.get("until")
        text = (
            f"[{follow.release}] Driving the release checklist"
            + (f" until {until}" if until else "")
            + f" (started by {follow.started_by} via {follow.interface}); progress in this"
            " thread."
        )
        delivery = await notifier.post(follow.channel, text, source=follow.id)
        if not delivery.ok or not delivery.ts:
            return None, None
        async with db.transaction() as session:
            row = await session.get(FollowRecord, follow.id, with_for_update=True)
            if row is not None and not row.slack_thread:
                row.slack_channel = follow.channel
                row.slack_thread = delivery.ts
        return follow.channel, delivery.ts

    async def _say(self, follow: FollowInfo, text: str) -> None:
        """A line of progress in the drive's thread (best effort, as every notice)."""
        if not follow.slack_channel or not follow.slack_thread:
            return
        await runtime().notifier.post(
            follow.slack_channel, f"drive: {text}", thread_ts=follow.slack_thread, source=follow.id
        )

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        stopped = check.data.get("stopped")
        if stopped:
            return Finished(ok=False, line=f"drive stopped: {stopped}", error=str(stopped))
        return Finished(ok=True, line=f"drive of {follow.release} done: every task passed")

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        if status is FollowStatus.SUCCEEDED:
            return f"drive of {follow.release} finished"
        return f"drive of {follow.release} {status.value}" + (f": {error}" if error else "")

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        return f"[{follow.release}] {self.final_line(follow, status, error)}"


@contextlib.asynccontextmanager
async def drive_kind(settings: Settings) -> AsyncIterator[DriveKind]:
    yield DriveKind(settings=settings)


kinds.register(KIND, drive_kind, noun="drive")


def _listed(tasks: set[str]) -> list[JSON]:
    return [*sorted(tasks)]


def plan_lines(info: ReleaseInfo, planned: Plan) -> list[str]:
    """``--dry-run``'s text: the release, then the plan."""
    statuses = {t.name: t.status for t in info.tasks}
    passed = sum(s is TaskStatus.PASS for s in statuses.values())
    head = f"{info.release}: drive plan ({passed} passed)"
    return [head, *planned.lines()]


__all__ = [
    "APPROVAL_TYPE",
    "KIND",
    "DriveKind",
    "DriveRequest",
    "current_plan",
    "drive_key",
    "dry_run",
    "plan_lines",
    "running_follows",
    "start_drive",
]
