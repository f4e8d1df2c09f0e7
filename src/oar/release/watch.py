"""The release-approval watch: the ``approval`` kind of durable follow (:mod:`oar.release.follows`).

:class:`Watches` starts, reads and cancels approval watches: one running watch per
y-stream (key ``approve-release:<y>``, which is also the first watch's ID; later ones are
``approve-release:<y>:<n>``). Each check asks whether the y-stream's payload metadata URL
is accessible; when it is, the finish step looks again for a stop-ship RHCOS kernel and
moves the QE advisories to REL_PREP. The texts are the original's (reference §1.7).

The kind's ports (Errata Tool, Brew, the payload inspector) are built once per worker
from the settings (:func:`approval_kind`, registered below), never inside a step.
"""

from __future__ import annotations

import builtins
import contextlib
import shutil
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from oar.db import Database
from oar.engine import TaskManager
from oar.errors import OarError
from oar.integrations.brew import Brew, BrewClient
from oar.integrations.errata import Errata, ErrataClient
from oar.integrations.payloads import HttpPayloadInspector, OcPayloadInspector, PayloadInspector
from oar.logs import get_logger
from oar.release.approval import (
    APPROVAL_TASK,
    WatchRequest,
    move_to_rel_prep,
    stop_ship_kernel,
)
from oar.release.follows import (
    Check,
    Finished,
    FollowInfo,
    FollowRequest,
    Follows,
    FollowStatus,
    follow_id,
    group_mention,
    kinds,
)

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

log = get_logger(__name__)

KIND = "approval"
WatchStatus = FollowStatus  # the approval watch's statuses are a follow's
WatchInfo = FollowInfo

__all__ = [
    "APPROVAL_TASK",
    "KIND",
    "ApprovalKind",
    "WatchInfo",
    "WatchRequest",
    "WatchStatus",
    "Watches",
    "approval_kind",
    "payload_inspector",
    "summary_for",
    "summary_text",
    "watch_key",
]


def watch_key(y_stream: str, generation: int = 1) -> str:
    """The watch's (and its workflow's) ID: ``approve-release:4.19``, then ``…:4.19:2``."""
    return follow_id(f"approve-release:{y_stream}", generation)


def summary_text(
    outcome: FollowStatus, *, group: str, release: str, error: str | None = None
) -> str:
    """The release channel's summary: the original's three exact texts (reference §1.7)."""
    if outcome is FollowStatus.SUCCEEDED:
        return (
            f"Hello {group}, Release approval completed for {release}. Payload metadata URL"
            " is now accessible and advisories have been moved to REL_PREP."
        )
    if outcome is FollowStatus.TIMED_OUT:
        return (
            f"Hello {group}, Release approval timeout for {release}. Payload metadata URL"
            " still not accessible"
        )
    return f"Hello {group}, Release approval failed for {release}. Error: {error}"


async def summary_for(
    notifier: Any, outcome: FollowStatus, group: str, release: str, error: str | None = None
) -> str:
    """The summary text, mentioning the QE-lead group (its handle if Slack does not know it:
    the original sent nothing then; we still report)."""
    mention = await group_mention(notifier, group)
    return summary_text(outcome, group=mention, release=release, error=error)


def payload_inspector(settings: Settings) -> PayloadInspector:
    """``oc adm release info`` when ``oc`` is installed, else the controller's details."""
    if shutil.which("oc"):
        return OcPayloadInspector.from_settings(settings)
    return HttpPayloadInspector.from_settings(settings)


def _request(request: WatchRequest) -> FollowRequest:
    return FollowRequest(
        kind=KIND,
        key=watch_key(request.y_stream),
        subject=request.y_stream,
        release=request.release,
        task=APPROVAL_TASK,
        channel=request.channel,
        started_by=request.started_by,
        interface=request.interface,
        slack_channel=request.slack_channel,
        slack_thread=request.slack_thread,
        run_id=request.run_id,
        interval=request.interval,
        deadline=request.deadline,
        data={
            "advisories": {str(k): int(v) for k, v in request.advisories.items()},
            "group": request.group,
        },
    )


class Watches:
    """Start, read and cancel release-approval watches (any process): follows of kind
    ``approval``, keyed by y-stream."""

    def __init__(self, db: Database, tasks: TaskManager) -> None:
        self.follows = Follows(db, tasks)

    async def start(self, request: WatchRequest) -> tuple[FollowInfo, bool]:
        """Start a watch for the y-stream; ``(the running one, False)`` if one runs."""
        return await self.follows.start(_request(request))

    async def get(self, watch_id: str) -> FollowInfo:
        return await self.follows.get(watch_id)

    async def running(self, y_stream: str) -> FollowInfo | None:
        return await self.follows.running(watch_key(y_stream))

    async def list(
        self, *, status: FollowStatus | None = None, limit: int = 50
    ) -> builtins.list[FollowInfo]:
        return await self.follows.list(kind=KIND, status=status, limit=limit)

    async def cancel(self, watch_id: str, *, actor: str, interface: str = "cli") -> FollowInfo:
        """Stop a running watch: its workflow is cancelled, the release task records Cancelled."""
        return await self.follows.cancel(watch_id, actor=actor, interface=interface)


class ApprovalKind:
    """The ``approval`` follow kind, bound to its ports."""

    name = KIND
    noun = "watch"

    def __init__(
        self,
        *,
        errata: Errata | None,
        brew: Brew,
        payloads: PayloadInspector,
        errata_problem: str | None = None,
    ) -> None:
        self.errata = errata
        self.brew = brew
        self.payloads = payloads
        self.errata_problem = errata_problem

    def started_line(self, follow: FollowInfo) -> str:
        return (
            f"watch started for {follow.subject}: checking every"
            f" {follow.interval_seconds:g}s until {follow.deadline_text().removesuffix(' UTC')}"
            " UTC or until the payload metadata URL is accessible"
        )

    async def check(self, follow: FollowInfo, number: int) -> Check:
        live, note = False, ""
        try:
            url = await self.payloads.metadata_url(follow.subject)
            live = url is not None and await self.payloads.is_accessible(url)
            if url is None:
                note = " (no stable payload yet)"
        except OarError as exc:
            note = f" (check failed: {exc.message})"
        if live:
            return Check.finished(f"check #{number}: payload metadata URL is now accessible")
        return Check.pending(f"check #{number}: payload metadata URL still not accessible{note}")

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        """Move the QE advisories; an error (stop-ship kernel, blocking alert, Errata
        failure) is the outcome."""
        advisories = {str(k): int(v) for k, v in (follow.data.get("advisories") or {}).items()}
        release = str(follow.release)
        try:
            if self.errata is None:
                raise OarError(self.errata_problem or "Errata Tool is not configured")
            # A kernel may have been stop-shipped while the watch waited: look again.
            await stop_ship_kernel(self.errata, self.brew, release, advisories)
            moved = await move_to_rel_prep(self.errata, release, advisories)
        except OarError as exc:
            return Finished(
                ok=False, line=f"moving the advisories failed: {exc.message}", error=exc.message
            )
        return Finished(ok=True, line=f"advisories {moved}")

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        return {
            FollowStatus.SUCCEEDED: "Release approval completed. Payload metadata URL is now"
            " accessible and advisories have been moved to REL_PREP.",
            FollowStatus.TIMED_OUT: "Release approval timeout. Payload metadata URL still not"
            " accessible.",
        }.get(status, f"Release approval failed with error: {error}")

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        group = str(follow.data.get("group") or "")
        return await summary_for(notifier, status, group, str(follow.release), error)


@contextlib.asynccontextmanager
async def approval_kind(settings: Settings) -> AsyncIterator[ApprovalKind]:
    """The approval kind with its ports, built once per worker. Without an Errata Tool
    token the watch still checks; moving the advisories then fails with the reason."""
    brew, payloads = BrewClient.from_settings(settings), payload_inspector(settings)
    try:
        errata = ErrataClient.from_settings(settings)
    except OarError as exc:
        yield ApprovalKind(errata=None, brew=brew, payloads=payloads, errata_problem=exc.message)
        return
    async with errata:
        yield ApprovalKind(errata=errata, brew=brew, payloads=payloads)


kinds.register(KIND, approval_kind, noun="watch")
