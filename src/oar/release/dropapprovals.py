"""Drop approvals: a high-severity bug is dropped only after its owner says yes.

:class:`Drops` requests a durable human approval (:mod:`oar.engine.approvals`, announced in
Slack with Approve / Reject buttons, the owner mentioned) and starts a follow of kind
``bug-drop`` keyed by release and bug (one running per bug: re-running the command finds
it and asks nobody twice). The follow waits on the approval's own message topic, so a
decision wakes it at once, and survives restarts; its finish step — run once,
checkpointed — drops the bug when approved (:func:`oar.release.drops.drop_bugs`), keeps it
when rejected, expired or cancelled, and, once no drop of the release waits for a decision
any more, passes the release's drop-bugs runs still In Progress. The follow reports to the
release channel and the originating Slack thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from oar.db import Database
from oar.db.models import FollowRecord
from oar.engine import TaskManager
from oar.engine.approvals import ApprovalManager, ApprovalStatus, approval_topic
from oar.engine.runtime import current_worker, current_workflow_id
from oar.errors import ApprovalNotFoundError, OarError
from oar.integrations.errata import Errata, ErrataClient
from oar.integrations.gitlab import GitLab, GitLabClient
from oar.integrations.jira import Jira, JiraClient
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.bugs import Attachment, Bug, is_finished
from oar.release.checklist import TaskStatus
from oar.release.drops import (
    Approvers,
    attachment_data,
    attachment_of,
    drop_bugs,
    tell_approvers,
    where_text,
)
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
from oar.release.state import ReleaseState

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

log = get_logger(__name__)

KIND = "bug-drop"
DROP_TASK = "drop-bugs"  # the checklist task whose runs wait on the drops
APPROVAL_TYPE = "drop-bug"
# A decision wakes the follow at once; this is only the fallback between looks.
CHECK_INTERVAL = 300.0
# How long after the approval's deadline the follow may still look (to see it expired).
DEADLINE_MARGIN = 120.0


@dataclass(frozen=True, kw_only=True)
class DropRequest:
    """A high-severity bug to drop once its owner approves."""

    release: str
    bug: str
    summary: str
    reasons: tuple[str, ...]
    owner: str | None  # e-mail of the QA contact, else the assignee
    mention: str  # how Slack names the owner (<@U…>, or the e-mail)
    attachment: Attachment
    shipment_mr: str | None
    channel: str  # where the approval is posted
    thread: str | None  # … in this thread (the command's Slack thread)
    release_channel: str  # where the outcome is announced
    approvers: Approvers | None = None  # told when a drop takes doc/prodsec approvals
    requested_by: str
    interface: str = "cli"
    slack_channel: str | None = None
    slack_thread: str | None = None
    timeout: float = 172800.0


@dataclass(frozen=True, kw_only=True)
class WaitingDrop:
    """A bug's drop approval and the follow that acts on it: waiting for the owner's
    decision (``decision`` None), or decided (approved, rejected, expired, cancelled)."""

    bug: str
    approval_id: str
    follow_id: str
    owner: str | None
    created: bool = False
    decision: str | None = None
    decided_by: str | None = None
    acting: bool = False  # decided, and its follow is carrying the decision out

    @property
    def pending(self) -> bool:
        return self.decision is None


def drop_key(release: str, bug: str) -> str:
    """The follow's key: one running drop per release and bug."""
    return f"drop-bug:{release}:{bug}"


def approval_message(request: DropRequest) -> str:
    """The question the owner sees in Slack (mrkdwn; the mention notifies them). Pure."""
    why = ", ".join(request.reasons)
    return (
        f"[{request.release}] Hello {request.mention}, *{request.bug}* ({why}) is not verified."
        f" May OAR drop it from {where_text(request.attachment)}?"
        f" *Approve* drops it; *Reject* keeps it in the release.\n> {request.summary}"
    )


def _waiting(follow: FollowInfo, created: bool = False) -> WaitingDrop:
    return WaitingDrop(
        bug=follow.subject,
        approval_id=str(follow.data.get("approval_id")),
        follow_id=follow.id,
        owner=follow.data.get("owner"),
        created=created,
    )


class Drops:
    """Request drop approvals and follow them (any process)."""

    def __init__(self, db: Database, tasks: TaskManager, approvals: ApprovalManager) -> None:
        self.follows = Follows(db, tasks)
        self.approvals = approvals

    async def recorded(self, release: str) -> dict[str, WaitingDrop]:
        """The release's drop approvals by bug key, the latest of each bug: waiting, or
        decided (with the decision)."""
        found: dict[str, WaitingDrop] = {}
        for follow in await self.follows.list(kind=KIND, limit=1000):  # newest first
            if follow.release != release or follow.subject in found:
                continue
            waiting = _waiting(follow)
            running = follow.status is FollowStatus.RUNNING
            try:
                info = await self.approvals.get(waiting.approval_id)
            except ApprovalNotFoundError:
                continue
            if info.status is not ApprovalStatus.PENDING:
                decision = info.resolution.value if info.resolution else info.status.value
                waiting = replace(
                    waiting, decision=decision, decided_by=info.resolved_by, acting=running
                )
            elif not running:  # the follow ended before a decision (timed out, cancelled)
                waiting = replace(waiting, decision=FollowStatus(follow.status).value)
            found[follow.subject] = waiting
        return found

    async def request(self, request: DropRequest) -> WaitingDrop:
        """Ask the owner (once per bug: a running drop is returned as it is)."""
        key = drop_key(request.release, request.bug)
        running = await self.follows.running(key)
        if running is not None:
            return _waiting(running)
        context: dict[str, JSON] = {
            "message": approval_message(request),
            "release": request.release,
            "bug": request.bug,
            "summary": request.summary,
            "reasons": list(request.reasons),
            "owner": request.owner,
            "attached": attachment_data(request.attachment),
        }
        approval_id = await self.approvals.request_approval(
            f"{request.release} {request.bug}",
            APPROVAL_TYPE,
            context,
            request.timeout,
            requested_by=request.requested_by,
            interface=request.interface,
            announce_channel=request.channel,
            announce_thread=request.thread,
        )
        follow, created = await self.follows.start(
            FollowRequest(
                kind=KIND,
                key=key,
                subject=request.bug,
                release=request.release,
                channel=request.release_channel,
                started_by=request.requested_by,
                interface=request.interface,
                slack_channel=request.slack_channel,
                slack_thread=request.slack_thread,
                interval=CHECK_INTERVAL,
                deadline=request.timeout + DEADLINE_MARGIN,
                data={
                    "approval_id": approval_id,
                    "owner": request.owner,
                    "reasons": list(request.reasons),
                    "attached": attachment_data(request.attachment),
                    "shipment_mr": request.shipment_mr,
                    "approvers": request.approvers.to_dict() if request.approvers else None,
                },
                wake_topic=approval_topic(approval_id),
            )
        )
        if not created:  # another run asked at the same instant: keep its question only
            await self.approvals.cancel_approval(
                approval_id, cancelled_by="oar", interface="system"
            )
        log.info("drops.requested", bug=request.bug, approval_id=approval_id, follow=follow.id)
        return _waiting(follow, created)


def _who(resolved_by: str | None) -> str:
    if resolved_by and resolved_by.startswith("slack:"):
        return f"<@{resolved_by.removeprefix('slack:')}>"
    return resolved_by or "someone"


class BugDropKind:
    """The ``bug-drop`` follow kind, bound to its ports (built once per worker)."""

    name = KIND
    noun = "drop"

    def __init__(
        self,
        *,
        errata: Errata | None,
        gitlab: GitLab | None,
        jira: Jira | None,
        problems: Sequence[str] = (),
        approvals: Callable[[], ApprovalManager] | None = None,
        db: Callable[[], Database] | None = None,
        workflow: Callable[[], str | None] = current_workflow_id,
        notifier: Callable[[], Notifier] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.errata = errata
        self.gitlab = gitlab
        self.jira = jira
        self.problems = tuple(problems)
        self._approvals = approvals or (lambda: current_worker().service(ApprovalManager))
        self._db = db or (lambda: runtime().db)
        self._workflow = workflow
        self._notifier = notifier or (lambda: runtime().notifier)
        self._clock = clock

    def started_line(self, follow: FollowInfo) -> str:
        return (
            f"waiting for the owner's decision on dropping {follow.subject}"
            f" (approval {follow.data.get('approval_id')}) until {follow.deadline_text()}"
        )

    async def check(self, follow: FollowInfo, number: int) -> Check:
        approvals = self._approvals()
        approval_id = str(follow.data.get("approval_id"))
        # The follow's workflow (its task's attempt) is told of the decision, on the
        # approval's topic: the decision wakes it at once.
        await approvals.set_waiter(approval_id, self._workflow() or follow.id)
        info = await approvals.get(approval_id)
        if info.status is ApprovalStatus.PENDING:
            return Check.pending(f"check #{number}: approval {approval_id} still pending")
        decision = info.resolution.value if info.resolution else info.status.value
        return Check.finished(
            f"check #{number}: approval {approval_id} {decision} by {info.resolved_by}",
            decision=decision,
            by=info.resolved_by,
        )

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        """Act on the decision (once: the step is checkpointed), then, when no other drop of
        the release waits for a decision, let the release's drop-bugs runs pass."""
        finished = await self.act(follow, check)
        if finished.ok and follow.release:
            await self._settle_runs(follow, finished.line)
        return finished

    async def _settle_runs(self, follow: FollowInfo, line: str) -> None:
        db = self._db()
        approvals = self._approvals()
        async with db.session() as session:
            others = (
                await session.scalars(
                    select(FollowRecord).where(
                        FollowRecord.kind == KIND,
                        FollowRecord.status == FollowStatus.RUNNING.value,
                        FollowRecord.release == follow.release,
                        FollowRecord.id != follow.id,
                    )
                )
            ).all()
        for other in others:
            approval_id = str((other.data or {}).get("approval_id"))
            with contextlib.suppress(ApprovalNotFoundError):
                if (await approvals.get(approval_id)).status is ApprovalStatus.PENDING:
                    return  # someone still has to decide: the runs stay In Progress
        state = ReleaseState(db)
        release = str(follow.release)
        for run in await state.runs(release, task=DROP_TASK, limit=200):
            if run.status is TaskStatus.IN_PROGRESS:
                await state.finish_task(
                    release,
                    DROP_TASK,
                    TaskStatus.PASS,
                    log_text=f"every drop approval is decided; the last: {line}",
                    run_id=run.id,
                )
                log.info("drops.run_settled", release=release, run_id=run.id)

    async def act(self, follow: FollowInfo, check: Check) -> Finished:
        """Drop the bug when approved; keep it otherwise (and say why)."""
        bug = follow.subject
        decision = str(check.data.get("decision", ""))
        who = _who(str(check.data.get("by") or ""))
        if decision == ApprovalStatus.EXPIRED.value:
            return Finished(ok=True, line=f"{bug} kept: nobody decided before the approval expired")
        if decision == ApprovalStatus.CANCELLED.value:
            return Finished(ok=True, line=f"{bug} kept: the approval was cancelled")
        if decision == "rejected":
            return Finished(ok=True, line=f"{bug} kept: {who} rejected dropping it")
        if self.errata is None:
            problem = "; ".join(self.problems) or "Errata Tool is not configured"
            return Finished(ok=False, line=f"{bug} not dropped: {problem}", error=problem)
        if self.jira is not None:  # verified while the owner decided: nothing to drop
            now_bug = Bug.of(await self.jira.get_issue(bug))
            if is_finished(now_bug):
                return Finished(
                    ok=True, line=f"{bug} kept: it is {now_bug.status} now (approved by {who})"
                )
        attachment = attachment_of(bug, follow.data.get("attached") or {})
        shipment_mr = follow.data.get("shipment_mr")
        now = self._clock() if self._clock else datetime.now().astimezone()
        dropped = await drop_bugs(
            errata=self.errata,
            gitlab=self.gitlab,
            release=str(follow.release),
            shipment_mr=str(shipment_mr) if shipment_mr else None,
            attachments=[attachment],
            now=now,
        )
        where = "; ".join(dropped.places[bug]) or "nowhere (it was no longer attached)"
        again = f" ({text})" if (text := dropped.reapproval.text()) else ""
        raw = follow.data.get("approvers")
        if again and isinstance(raw, dict):
            told = await tell_approvers(
                self._notifier(),
                Approvers.of(raw),
                release=str(follow.release),
                reapproval=dropped.reapproval,
                source=follow.id,
            )
            again = f" ({text}; {told})"
        return Finished(
            ok=True, line=f"{bug} dropped after {who} approved: removed from {where}{again}"
        )

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        if status is FollowStatus.SUCCEEDED:
            return f"drop of {follow.subject} decided"
        if status is FollowStatus.TIMED_OUT:
            return f"{follow.subject} kept: the approval was not decided in time"
        return f"drop of {follow.subject} {status.value}" + (f": {error}" if error else "")

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        bug = follow.subject
        outcome = next(
            (
                line.split(": ", 1)[-1]
                for line in reversed(follow.log)
                if f"{bug} dropped after" in line or f"{bug} kept:" in line
            ),
            None,
        )
        if outcome is None:
            outcome = self.final_line(follow, status, error)
        return f"[{follow.release}] {outcome}"


@contextlib.asynccontextmanager
async def bug_drop_kind(settings: Settings) -> AsyncIterator[BugDropKind]:
    """The kind with its ports, once per worker. A missing credential does not stop the
    worker: the drop then fails with the reason (and the bug is kept)."""
    problems: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        errata: Errata | None = None
        gitlab: GitLab | None = None
        jira: Jira | None = None
        try:
            errata = await stack.enter_async_context(ErrataClient.from_settings(settings))
        except OarError as exc:
            problems.append(exc.message)
        with contextlib.suppress(OarError):  # the errata flow needs no GitLab
            gitlab = await stack.enter_async_context(GitLabClient.from_settings(settings))
        with contextlib.suppress(OarError):  # without Jira the status is not looked at again
            jira = await stack.enter_async_context(JiraClient.from_settings(settings))
        yield BugDropKind(errata=errata, gitlab=gitlab, jira=jira, problems=problems)


kinds.register(KIND, bug_drop_kind, noun="drop")


__all__ = [
    "APPROVAL_TYPE",
    "KIND",
    "BugDropKind",
    "DropRequest",
    "Drops",
    "WaitingDrop",
    "approval_message",
    "bug_drop_kind",
    "drop_key",
]
