"""``change-advisory-status``: approve the release, at once or through a durable watch.

The rules are :class:`oar.release.approval.ApprovalOperator`'s; this body puts them in
order on the injected ports: prove every credential the approval writes with (one cheap
read each), refuse a stop-ship RHCOS kernel, approve (add the QE approval on the shipment
MR, then move the QE advisories to REL_PREP now or start the watch), close the QE Jira
subtasks, and announce an approval made at once in the Konflux flow (as a watch would).
When a watch runs, a worker is kept alive for it so it continues after this process.
"""

from __future__ import annotations

from oar.errors import OarError
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.approval import (
    ApprovalOperator,
    ApprovalResult,
    close_qe_subtasks,
    movable,
    stop_ship_kernel,
)
from oar.release.tracking import Outcome, ReleaseContext
from oar.release.watch import WatchRequest, WatchStatus, summary_for

log = get_logger(__name__)


async def announce_approved(ctx: ReleaseContext) -> None:
    """The release channel's success summary for an approval made at once (the original
    sent it only from its background process). A Slack failure is recorded, not raised."""
    notifier, config = ctx.ports.notifier, ctx.config
    try:
        text = await summary_for(
            notifier, WatchStatus.SUCCEEDED, config.qe_leads_group(), ctx.release
        )
        await notifier.summary(config.qe_release_channel(), text, source=f"approve:{ctx.release}")
    except OarError as exc:
        log.error("approval.notify_failed", release=ctx.release, error=exc.message)


async def change_advisory_status(ctx: ReleaseContext) -> Outcome:
    """Approve the release (see the module's docstring)."""
    settings, config, ports = ctx.settings, ctx.config, ctx.ports
    konflux = config.is_konflux
    advisories = config.advisories()
    request = WatchRequest(
        release=ctx.release,
        y_stream=config.y_stream,
        advisories=advisories,
        channel=config.qe_release_channel(),
        group=config.qe_leads_group(),
        started_by=ctx.actor,
        interface=ctx.interface,
        slack_channel=ctx.slack_channel,
        slack_thread=ctx.slack_thread,
        run_id=ctx.run_id,
        interval=settings.approval_watch_interval,
        deadline=settings.approval_watch_deadline,
    )
    operator = ApprovalOperator(
        release=ctx.release,
        y_stream=config.y_stream,
        advisories=advisories,
        shipment_mr=config.shipment_mr() if konflux else None,
        errata=ports.errata,
        gitlab=ports.gitlab if konflux else None,
        payloads=ports.payloads,
        watches=ports.watches,
        request=request,
        done=ctx.did,
    )
    # Nothing changes until every credential the approval writes with is proven: Errata
    # Tool on an advisory it moves, GitLab on the shipment MR, Jira on the ticket.
    await ctx.prove(
        *(("errata", "gitlab", "jira") if konflux else ("errata", "jira")),
        advisories=movable(advisories),
    )
    kernels = await stop_ship_kernel(ports.errata, ports.brew, ctx.release, advisories)
    for line in kernels:
        log.info("approval.kernel_checked", detail=line)
    approval = await operator.approve_release()
    ticket = config.jira_ticket()
    closed: list[str] = []
    if ticket:
        closed = await close_qe_subtasks(ports.jira, ticket, done=ctx.did)
        log.info("approval.subtasks_closed", ticket=ticket, closed=closed)
    data: dict[str, JSON] = {
        "result": approval.result.value,
        "kernels": list(kernels),
        "subtasks_closed": list(closed),
        "watch": approval.watch.to_dict() if approval.watch else None,
    }
    if approval.result is ApprovalResult.APPROVED:
        if konflux:  # approved at once: the channel hears it as from a watch
            await announce_approved(ctx)
        return Outcome.passed(approval.message, data=data)
    # Scheduled, or already scheduled by a process whose worker may have died since.
    assert approval.watch is not None
    started = await ports.watches.keep_alive(approval.watch.id)
    message = approval.message + (f"\n{started}" if started else "")
    return Outcome.in_progress(message, data=data)
