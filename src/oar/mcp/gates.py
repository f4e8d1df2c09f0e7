"""Human gates on MCP calls: a gated command runs only after a person approves in Slack.

:class:`GatedCalls` requests a durable approval (:mod:`oar.engine.approvals`: who asked,
through which MCP client, which release, the exact command line and what it does),
announced in the release's QE channel with Approve / Reject, and starts a follow of kind
``mcp-call`` keyed by the approval. The follow waits on the approval's own message topic,
so a decision wakes it at once, across restarts; its finish step — checkpointed, so it
runs once however often Approve is clicked — runs the command through
:func:`oar.release.invocations.run_command` when approved, and refuses it when rejected, expired or
cancelled. The outcome and the run's log are kept on the follow (the status tool reads
them; the Slack thread gets the follow's log and the outcome, the release channel the
outcome). An agent operation (:mod:`oar.mcp.operations`: ``operation`` set, no
release) takes the same way; its approval is announced in ``OAR_SLACK_APPROVALS_CHANNEL``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oar.db import Database
from oar.db.models import FollowRecord
from oar.engine import TaskManager
from oar.engine.approvals import (
    ANNOUNCING,
    ApprovalInfo,
    ApprovalManager,
    ApprovalStatus,
    approval_topic,
)
from oar.engine.runtime import current_worker, current_workflow_id
from oar.errors import FollowNotFoundError, InvalidArgumentError, OarError
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.mcp.tools import INTERFACE
from oar.release.commands import command, command_line
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
from oar.release.versions import ReleaseVersion

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

log = get_logger(__name__)

KIND = "mcp-call"
APPROVAL_TYPE = "mcp-call"
# A decision wakes the follow at once; this is only the fallback between looks.
CHECK_INTERVAL = 300.0
# How long after the approval's deadline the follow may still look (to see it expired).
DEADLINE_MARGIN = 60.0


@dataclass(frozen=True, kw_only=True)
class GatedCall:
    """A command an MCP client asked to run, waiting for a person's approval."""

    release: str  # "" for an agent operation
    command: str  # the release command, or the operation's name
    options: dict[str, JSON]
    requested_by: str  # the authenticated actor ("mcp:api-token")
    client: str  # the MCP client's name and version
    channel: str | None  # the release's QE channel (or the approvals channel)
    timeout: float
    operation: bool = False  # an agent operation, not a release command


@dataclass(frozen=True, kw_only=True)
class _Described:
    line: str
    summary: str
    what_it_does: str
    irreversible: bool


def _describe(call: GatedCall) -> _Described:
    """The command line, summary and help of a call (a release command or an operation)."""
    if call.operation:
        from oar.mcp.operations import operation

        op = operation(call.command)
        line = op.command_line(call.options)
        return _Described(
            line=line, summary=op.summary, what_it_does=op.summary, irreversible=op.irreversible
        )
    spec = command(call.command)
    return _Described(
        line=command_line(spec, call.release, call.options),
        summary=spec.summary,
        what_it_does=spec.help,
        irreversible=spec.irreversible,
    )


def call_key(approval_id: str) -> str:
    return f"{KIND}:{approval_id}"


def approval_message(call: GatedCall) -> str:
    """The question in Slack (mrkdwn). Pure."""
    described = _describe(call)
    where = f"[{call.release}] " if call.release else ""
    return (
        f"{where}The MCP client *{call.client}* (authenticated as"
        f" {call.requested_by}) asks to run `{described.line}`.\n> {described.summary}\n"
        "*Approve* runs it once; *Reject* refuses it."
    )


class GatedCalls:
    """Request gated calls and read their status (any process)."""

    def __init__(self, db: Database, tasks: TaskManager, approvals: ApprovalManager) -> None:
        self.follows = Follows(db, tasks)
        self.approvals = approvals

    async def request(self, call: GatedCall) -> str:
        """Ask for the approval and start the follow that acts on it; the approval's ID."""
        described = _describe(call)
        context: dict[str, JSON] = {
            "message": approval_message(call),
            "release": call.release or None,
            "command": call.command,
            "command_line": described.line,
            "options": dict(call.options),
            "what_it_does": described.what_it_does,
            "irreversible": described.irreversible,
            "requested_by": call.requested_by,
            "client": call.client,
            "via": "mcp",
        }
        approval_id = await self.approvals.request_approval(
            f"{call.release} {call.command}".strip(),
            APPROVAL_TYPE,
            context,
            call.timeout,
            requested_by=call.requested_by,
            interface="mcp",
            announce_channel=call.channel,
            on_behalf_of=call.client,
        )
        await self.follows.start(
            FollowRequest(
                kind=KIND,
                key=call_key(approval_id),
                subject=described.line if call.operation else call.command,
                release=call.release or None,
                channel=call.channel,
                started_by=call.requested_by,
                interface="mcp",
                interval=CHECK_INTERVAL,
                deadline=call.timeout + DEADLINE_MARGIN,
                data={
                    "approval_id": approval_id,
                    "command": call.command,
                    "options": dict(call.options),
                    "client": call.client,
                    **({"operation": True} if call.operation else {}),
                },
                wake_topic=approval_topic(approval_id),
            )
        )
        log.info(
            "mcp.call.gated", approval_id=approval_id, command=call.command, release=call.release
        )
        return approval_id

    async def status(self, approval_id: str) -> dict[str, JSON]:
        """Where a gated call stands: ``awaiting approval``, ``running`` (approved, being
        carried out), ``done`` (with the outcome and log), ``rejected``, ``expired`` or
        ``cancelled``."""
        info = await self.approvals.get(approval_id)
        if info.approval_type != APPROVAL_TYPE:
            raise InvalidArgumentError("approval_id", "is not the approval of an MCP call")
        try:
            follow: FollowInfo | None = await self.follows.get(call_key(approval_id))
        except FollowNotFoundError:
            follow = None
        data = follow.data if follow is not None else {}
        outcome = data.get("outcome")
        state = call_state(info, follow)
        lines: list[JSON] = list(follow.log) if follow is not None else []
        return {
            "approval_id": approval_id,
            "state": state,
            "release": _context(info).get("release"),
            "command": _context(info).get("command"),
            "command_line": _context(info).get("command_line"),
            "requested_by": info.requested_by,
            "decided_by": info.resolved_by,
            "outcome": outcome if isinstance(outcome, dict) else None,
            "follow": lines,
        }


def _context(info: ApprovalInfo) -> dict[str, Any]:
    return info.context if isinstance(info.context, dict) else {}


def call_state(info: ApprovalInfo, follow: FollowInfo | None) -> str:
    """One word for where the call stands. Pure."""
    if info.status is ApprovalStatus.PENDING:
        return "awaiting approval"
    if info.status is ApprovalStatus.RESOLVED and info.resolution is not None:
        if not info.resolution.approved:
            return "rejected"
        if follow is not None and "outcome" in follow.data:
            return "done"
        if follow is not None and follow.status is not FollowStatus.RUNNING:
            return "failed"
        return "running"
    return info.status.value  # expired, cancelled


def _subject(follow: FollowInfo) -> str:
    """``oar <command>``, or an operation's command line."""
    return follow.subject if follow.data.get("operation") else f"oar {follow.subject}"


def _who(resolved_by: str | None) -> str:
    if resolved_by and resolved_by.startswith("slack:"):
        return f"<@{resolved_by.removeprefix('slack:')}>"
    return resolved_by or "someone"


class GatedCallKind:
    """The ``mcp-call`` follow kind (built once per worker)."""

    name = KIND
    noun = "gated call"

    def __init__(
        self,
        *,
        settings: Settings,
        approvals: Callable[[], ApprovalManager] | None = None,
        db: Callable[[], Database] | None = None,
        workflow: Callable[[], str | None] = current_workflow_id,
    ) -> None:
        self.settings = settings
        self._approvals = approvals or (lambda: current_worker().service(ApprovalManager))
        self._db = db or (lambda: runtime().db)
        self._workflow = workflow

    def started_line(self, follow: FollowInfo) -> str:
        return (
            f"{_subject(follow)} asked through MCP by {follow.started_by}: waiting for"
            f" approval {follow.data.get('approval_id')} until {follow.deadline_text()}"
        )

    async def check(self, follow: FollowInfo, number: int) -> Check:
        approvals = self._approvals()
        approval_id = str(follow.data.get("approval_id"))
        await approvals.set_waiter(approval_id, self._workflow() or follow.id)
        info = await approvals.get(approval_id)
        await self._thread(follow, info)
        if info.status is ApprovalStatus.PENDING:
            return Check.pending(f"check #{number}: approval {approval_id} still pending")
        decision = info.resolution.value if info.resolution else info.status.value
        return Check.finished(
            f"check #{number}: approval {approval_id} {decision} by {info.resolved_by}",
            decision=decision,
            by=info.resolved_by,
        )

    async def _thread(self, follow: FollowInfo, info: ApprovalInfo) -> None:
        """Report in the approval message's thread, once it is posted."""
        ts = info.announce_ts
        if follow.slack_thread or not info.announce_channel or not ts or ts == ANNOUNCING:
            return
        async with self._db().transaction() as session:
            row = await session.get(FollowRecord, follow.id, with_for_update=True)
            if row is not None:
                row.slack_channel = info.announce_channel
                row.slack_thread = ts

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        """Run the command when approved (once: this step is checkpointed); refuse it
        otherwise. The outcome is kept on the follow for the status tool."""
        decision = str(check.data.get("decision", ""))
        who = _who(str(check.data.get("by") or ""))
        line = (
            follow.subject
            if follow.data.get("operation")
            else f"oar -r {follow.release} {follow.subject}"
        )
        if decision == ApprovalStatus.EXPIRED.value:
            return Finished(
                ok=False, line=f"{line} refused: nobody approved in time", error="expired"
            )
        if decision == ApprovalStatus.CANCELLED.value:
            return Finished(
                ok=False, line=f"{line} refused: the approval was cancelled", error="cancelled"
            )
        if decision == "rejected":
            return Finished(ok=False, line=f"{line} refused: {who} rejected it", error="rejected")
        options = follow.data.get("options") or {}
        if follow.data.get("operation"):
            outcome = await self._operation(follow, options)
        else:
            outcome = await run_command(
                command(str(follow.data.get("command"))),
                ReleaseVersion.parse(str(follow.release)),
                options if isinstance(options, Mapping) else {},
                settings=self.settings,
                interface=INTERFACE,
                open_ports=runtime().open_ports,
                actor=follow.started_by,
                slack_channel=follow.slack_channel,
                slack_thread=follow.slack_thread,
            )
        await self._keep(follow.id, outcome)
        status = str(outcome.get("status"))
        text = f"{line} approved by {who}: {status}"
        if message := outcome.get("message"):
            text += f" — {message}"
        ok = status in ("Pass", "In Progress")
        return Finished(ok=ok, line=text, error=None if ok else str(message or status))

    async def _operation(self, follow: FollowInfo, options: Any) -> dict[str, JSON]:
        """Run an approved agent operation: ``status`` Pass with its result, or Fail."""
        from oar.mcp.operations import operation

        op = operation(str(follow.data.get("command")))
        checked = op.check(options if isinstance(options, Mapping) else {})
        try:
            result = await op.runner(self.settings, self._db(), checked, follow.started_by)
        except OarError as exc:
            return {"status": "Fail", "command": op.name, "message": exc.message}
        return {"status": "Pass", "command": op.name, "result": result}

    async def _keep(self, follow_id: str, outcome: dict[str, JSON]) -> None:
        async with self._db().transaction() as session:
            row = await session.get(FollowRecord, follow_id, with_for_update=True)
            if row is not None:
                row.data = {**(row.data or {}), "outcome": outcome}

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        if status is FollowStatus.TIMED_OUT:
            return f"{_subject(follow)} refused: the approval was not decided in time"
        if status is FollowStatus.SUCCEEDED:
            return f"gated call {_subject(follow)} done"
        return f"gated call {_subject(follow)} {status.value}" + (f": {error}" if error else "")

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        done = next(
            (
                line.split(": ", 1)[-1]
                for line in reversed(follow.log)
                if " refused: " in line or " approved by " in line
            ),
            self.final_line(follow, status, error),
        )
        where = f"[{follow.release}] " if follow.release else ""
        return f"{where}MCP call: {done}"


@contextlib.asynccontextmanager
async def gated_call_kind(settings: Settings) -> AsyncIterator[GatedCallKind]:
    yield GatedCallKind(settings=settings)


kinds.register(KIND, gated_call_kind, noun="gated call")


def options_json(options: Mapping[str, Any]) -> dict[str, JSON]:
    """Checked options as JSON (a round trip refuses anything that is not)."""
    loaded: dict[str, JSON] = json.loads(json.dumps(dict(options)))
    return loaded


__all__ = [
    "APPROVAL_TYPE",
    "KIND",
    "GatedCall",
    "GatedCallKind",
    "GatedCalls",
    "approval_message",
    "call_key",
    "call_state",
    "gated_call_kind",
    "options_json",
]
