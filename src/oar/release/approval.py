"""Release approval (``oar change-advisory-status``): approve now, or watch durably.

``ApprovalOperator.approve_release()`` returns at once with one of three outcomes
(seed 000, reference §1.2): approved now (the y-stream's payload metadata URL answers, or
the errata flow, which has no metadata check), scheduled (a durable watch was started: a
follow of kind ``approval``, see :mod:`oar.release.watch`), or already scheduled (a watch
for the y-stream runs: who started it, when, from which Slack thread; the command's run
joins it and is finished with it). Unlike the original, a running watch is looked for
before the URL: the watch alone moves the advisories and reports, so nothing is moved
or announced twice. Before that, in the Konflux flow, the QE approval is added to the
open shipment MR; the QE Jira subtasks are closed by the command whatever the outcome,
as the original did.

Before anything moves, :func:`stop_ship_kernel` refuses when the kernel inside the RHCOS
build of the image or rhcos advisory carries Brew's ``early-kernel-stop-ship`` tag
(reference §1.10), in both flows, as the original did.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from oar.errors import ApprovalRefusedError, IntegrationError
from oar.integrations.brew import STOP_SHIP_TAG, Brew, kernel_nvr
from oar.integrations.errata import CREDENTIAL as ERRATA_CREDENTIAL
from oar.integrations.errata import AdvisoryState, Errata
from oar.integrations.gitlab import CREDENTIAL as GITLAB_CREDENTIAL
from oar.integrations.gitlab import GitLab, MergeRequestState
from oar.integrations.jira import CREDENTIAL as JIRA_CREDENTIAL
from oar.integrations.jira import Jira
from oar.integrations.payloads import PayloadInspector
from oar.logs import get_logger
from oar.release.advisories import EXCLUDED_IMPETUS
from oar.release.credentials import AccessCheck
from oar.release.follows import FollowInfo

log = get_logger(__name__)

# The ART ticket's subtasks QE closes when it approves (JIRA_QE_TASK_SUMMARIES).
QE_SUBTASK_SUMMARIES = (
    "[Fri/Mon] QE moves advisories to REL_PREP",
    "[Wed-Fri] QE does release verification",
    "[Mon-Wed] QE notifies ON_QA bugzilla owners and analyze ci failures",
)
APPROVAL_TASK = "change-advisory-status"  # the checklist task a watch finishes
_MR_URL = re.compile(r"^https?://[^/]+/(?P<project>.+?)/-/merge_requests/(?P<iid>\d+)/?$")


class ApprovalResult(enum.StrEnum):
    """What ``approve_release`` did."""

    APPROVED = "approved"
    SCHEDULED = "scheduled"
    ALREADY_SCHEDULED = "already-scheduled"


@dataclass(frozen=True, kw_only=True)
class WatchRequest:
    """What a new approval watch needs: the release, its advisories, where to report, who."""

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


class WatchStore(Protocol):
    """Where the operator schedules approval watches (:class:`oar.release.watch.Watches`)."""

    async def running(self, y_stream: str) -> FollowInfo | None: ...

    async def start(self, request: WatchRequest) -> tuple[FollowInfo, bool]: ...


@dataclass(frozen=True, kw_only=True)
class Approval:
    """The outcome of one ``approve_release`` call, with the watch when there is one."""

    result: ApprovalResult
    message: str
    watch: FollowInfo | None = None


def parse_merge_request_url(url: str) -> tuple[str, int]:
    """``https://host/group/project/-/merge_requests/7`` → ``("group/project", 7)``."""
    match = _MR_URL.match(url.strip())
    if match is None:
        raise ApprovalRefusedError(
            "?", f"the shipment MR URL {url!r} is not a GitLab merge request URL"
        )
    return match["project"], int(match["iid"])


def movable(advisories: Mapping[str, int]) -> dict[str, int]:
    """The advisories the approval moves: every impetus but microshift."""
    return {k: v for k, v in advisories.items() if k not in EXCLUDED_IMPETUS}


Done = Callable[[str], None]


def _nothing(step: str) -> None:
    """The default :data:`Done` callback: the caller does not track steps."""


async def move_to_rel_prep(
    errata: Errata, release: str, advisories: Mapping[str, int], *, done: Done = _nothing
) -> str:
    """Move the release's QE advisories to REL_PREP; a blocking security alert refuses all.

    Advisories in DROPPED_NO_SHIP are left out, others not in QE are skipped with a
    warning (reference §1.2). Every alert is checked before anything moves, so a refusal
    never leaves the release half-approved. Each move is reported to ``done`` as it
    happens. Returns a one-line summary.
    """
    targets = []
    for impetus, advisory_id in sorted(movable(advisories).items()):
        advisory = await errata.get_advisory(advisory_id)
        if advisory.state is AdvisoryState.DROPPED_NO_SHIP:
            log.info("approval.advisory_dropped", advisory=advisory_id, impetus=impetus)
            continue
        alerts = await errata.security_alerts(advisory_id)
        if alerts.blocking:
            names = ", ".join(alerts.alerts) or "unnamed alert"
            raise ApprovalRefusedError(
                release,
                f"advisory {advisory_id} ({impetus}) has a blocking security alert: {names}",
            )
        targets.append((impetus, advisory))
    moved, skipped = [], []
    for impetus, advisory in targets:
        if advisory.state is not AdvisoryState.QE:
            log.warning(
                "approval.advisory_skipped",
                advisory=advisory.id,
                impetus=impetus,
                state=advisory.state.value,
            )
            skipped.append(f"{advisory.id} ({advisory.state.value})")
            continue
        await errata.change_state(advisory.id, AdvisoryState.REL_PREP)
        done(f"moved advisory {advisory.id} ({impetus}) to REL_PREP")
        log.info("approval.advisory_moved", advisory=advisory.id, impetus=impetus)
        moved.append(str(advisory.id))
    text = f"moved to REL_PREP: {', '.join(moved) or 'none'}"
    return text + (f"; skipped (not in QE): {', '.join(skipped)}" if skipped else "")


KERNEL_IMPETUS = ("image", "rhcos")  # the advisories that carry an RHCOS build


async def stop_ship_kernel(
    errata: Errata, brew: Brew, release: str, advisories: Mapping[str, int]
) -> list[str]:
    """Refuse when an RHCOS kernel of the release is tagged ``early-kernel-stop-ship``.

    For the image and rhcos advisories: the ``rhcos-x86…`` build they list, the kernel in
    that build's Brew ``metadata.json``, and that kernel's Brew tags. An advisory with no
    RHCOS build, or a build without metadata, is skipped with a warning (as the
    original). Returns what was checked, one line per kernel.
    """
    checked = []
    for impetus in KERNEL_IMPETUS:
        advisory_id = advisories.get(impetus)
        if advisory_id is None:
            continue
        builds = [b.nvr for b in await errata.builds(advisory_id)]
        rhcos = next((nvr for nvr in builds if nvr.startswith("rhcos-x86")), None)
        if rhcos is None:
            log.warning("approval.kernel_no_rhcos_build", advisory=advisory_id, impetus=impetus)
            continue
        metadata = await brew.build_metadata(rhcos)
        kernel = None if metadata is None else kernel_nvr(metadata)
        if kernel is None:
            log.warning("approval.kernel_not_found", build=rhcos, advisory=advisory_id)
            continue
        tags = await brew.build_tags(kernel)
        log.info("approval.kernel_tags", kernel=kernel, build=rhcos, tags=tags)
        if STOP_SHIP_TAG in tags:
            raise ApprovalRefusedError(
                release,
                f"kernel {kernel} in {rhcos} (advisory {advisory_id}, {impetus}) is tagged"
                f" {STOP_SHIP_TAG}: advisories are not moved",
            )
        checked.append(f"{kernel} in {rhcos}: not {STOP_SHIP_TAG}")
    return checked


async def close_qe_subtasks(jira: Jira, ticket: str, *, done: Done = _nothing) -> list[str]:
    """Close the ART ticket's QE subtasks that are still open; return their keys."""
    closed = []
    for sub in await jira.subtasks(ticket):
        if sub.summary in QE_SUBTASK_SUMMARIES and sub.status.casefold() != "closed":
            try:
                await jira.transition(sub.key, "Closed")
            except IntegrationError:
                # Another invocation may have closed it since we read it: that is done.
                if (await jira.get_issue(sub.key)).status.casefold() != "closed":
                    raise
                continue
            done(f"closed QE subtask {sub.key}")
            log.info("approval.subtask_closed", issue=sub.key, ticket=ticket)
            closed.append(sub.key)
    return closed


@dataclass(kw_only=True)
class ApprovalOperator:
    """Approves a release: the ports it needs and the watch store it schedules on."""

    release: str
    y_stream: str
    advisories: Mapping[str, int]
    shipment_mr: str | None
    errata: Errata
    gitlab: GitLab | None
    payloads: PayloadInspector
    watches: WatchStore
    request: WatchRequest
    done: Done = _nothing  # told of each irreversible step as it happens

    def access_checks(
        self, jira: Jira | None = None, ticket: str | None = None
    ) -> list[AccessCheck]:
        """One cheap authenticated read per credential the approval will use to change
        something: Errata Tool (an advisory it moves), GitLab (the shipment MR it approves)
        and, when the ticket's subtasks will be closed, Jira (the ticket)."""
        checks = []
        targets = sorted(movable(self.advisories).items())
        if targets:
            impetus, advisory_id = targets[0]
            checks.append(
                AccessCheck(
                    variable=ERRATA_CREDENTIAL,
                    what=f"read advisory {advisory_id} ({impetus})",
                    call=lambda: self.errata.get_advisory(advisory_id),
                )
            )
        if self.shipment_mr is not None and self.gitlab is not None:
            project, iid = parse_merge_request_url(self.shipment_mr)
            gitlab = self.gitlab
            checks.append(
                AccessCheck(
                    variable=GITLAB_CREDENTIAL,
                    what=f"read shipment MR !{iid}",
                    call=lambda: gitlab.get_merge_request(project, iid),
                )
            )
        if jira is not None and ticket:
            checks.append(
                AccessCheck(
                    variable=JIRA_CREDENTIAL,
                    what=f"read {ticket}",
                    call=lambda: jira.get_issue(ticket),
                )
            )
        return checks

    async def add_qe_approval(self) -> str:
        """Approve the open shipment MR (Konflux flow); a merged or closed one is skipped."""
        assert self.shipment_mr is not None
        assert self.gitlab is not None
        project, iid = parse_merge_request_url(self.shipment_mr)
        mr = await self.gitlab.get_merge_request(project, iid)
        if mr.state is not MergeRequestState.OPENED:
            log.info("approval.mr_not_open", mr=iid, state=mr.state.value)
            return f"shipment MR !{iid} is {mr.state.value}: QE approval skipped"
        added = await self.gitlab.approve(project, iid)
        if added:
            self.done(f"added the QE approval to shipment MR !{iid}")
        log.info("approval.mr_approved", mr=iid, added=added)
        return f"shipment MR !{iid}: QE approval {'added' if added else 'already given'}"

    async def metadata_live(self) -> bool:
        """Whether the y-stream's payload metadata URL answers now (errors: not yet)."""
        try:
            url = await self.payloads.metadata_url(self.y_stream)
            live = url is not None and await self.payloads.is_accessible(url)
        except IntegrationError as exc:
            log.warning("approval.metadata_check_failed", error=exc.message)
            return False
        log.info("approval.metadata_checked", y_stream=self.y_stream, url=url, live=live)
        return live

    async def approve_release(self) -> Approval:
        """Approve now, schedule a durable watch, or report the watch already running."""
        if self.shipment_mr is None:  # errata flow: no metadata check (reference §10.1)
            moved = await move_to_rel_prep(
                self.errata, self.release, self.advisories, done=self.done
            )
            return Approval(result=ApprovalResult.APPROVED, message=f"release approved; {moved}")
        await self.add_qe_approval()
        # While a watch runs it alone moves the advisories (and reports once); the command
        # joins it instead of racing it, even when the URL answers now.
        running = await self.watches.running(self.y_stream)
        if running is None and await self.metadata_live():
            moved = await move_to_rel_prep(
                self.errata, self.release, self.advisories, done=self.done
            )
            return Approval(
                result=ApprovalResult.APPROVED,
                message=f"payload metadata URL of {self.y_stream} is live; {moved}",
            )
        watch, created = await self.watches.start(self.request)
        self.done(f"{'started' if created else 'joined'} the approval watch {watch.id}")
        if created:
            return Approval(
                result=ApprovalResult.SCHEDULED,
                watch=watch,
                message=(
                    f"scheduled: payload metadata URL of {self.y_stream} not live yet; watch"
                    f" {watch.id} checks every {watch.interval_seconds:g}s until"
                    f" {watch.deadline_text()} and moves the advisories when it answers"
                ),
            )
        return Approval(
            result=ApprovalResult.ALREADY_SCHEDULED,
            watch=watch,
            message=watch.already_text("watch"),
        )
