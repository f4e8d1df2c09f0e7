"""``oar -r <release> change-advisory-status``: approve the release, at once or durably.

A thin shell over :class:`oar.release.approval.ApprovalOperator`: it builds the ports from
the settings, proves every credential it will write with (one authenticated read each),
refuses a stop-ship RHCOS kernel, runs ``approve_release``, closes the QE
Jira subtasks, and then either announces an approval made at once or makes sure a worker
runs the watch (starting a detached ``oarctl worker`` with the executor ID that holds it
when that one is not alive), so the watch continues after this process exits.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from oar.cli.background import ensure_worker
from oar.cli.release import release_command
from oar.errors import OarError
from oar.integrations.brew import BrewClient
from oar.integrations.errata import ErrataClient
from oar.integrations.gitlab import GitLabClient
from oar.integrations.jira import JiraClient
from oar.logs import get_logger
from oar.release.approval import (
    ApprovalOperator,
    ApprovalResult,
    close_qe_subtasks,
    stop_ship_kernel,
)
from oar.release.configstore import ConfigStore
from oar.release.credentials import prove_credentials
from oar.release.tracking import Outcome, ReleaseContext
from oar.release.watch import (
    Watches,
    WatchRequest,
    WatchStatus,
    payload_inspector,
    summary_for,
)
from oar.service import Service
from oar.settings import Settings

log = get_logger(__name__)


async def announce_approved(
    settings: Settings, service: Service, config: ConfigStore, release: str
) -> None:
    """The release channel's success summary for an approval made at once (the original
    sent it only from its background process). A Slack failure is recorded, not raised."""
    from oar.release.notifications import RecordingNotifier as Notifier

    notifier = Notifier.from_settings(settings, service.db)
    try:
        text = await summary_for(notifier, WatchStatus.SUCCEEDED, config.qe_leads_group(), release)
        await notifier.summary(config.qe_release_channel(), text, source=f"approve:{release}")
    except OarError as exc:
        log.error("approval.notify_failed", release=release, error=exc.message)
    finally:
        await notifier.close()


@contextlib.asynccontextmanager
async def _clients(
    settings: Settings, konflux: bool
) -> AsyncIterator[tuple[ErrataClient, GitLabClient | None, JiraClient]]:
    async with contextlib.AsyncExitStack() as stack:
        errata = await stack.enter_async_context(ErrataClient.from_settings(settings))
        gitlab = (
            await stack.enter_async_context(GitLabClient.from_settings(settings))
            if konflux
            else None
        )
        jira = await stack.enter_async_context(JiraClient.from_settings(settings))
        yield errata, gitlab, jira


@release_command(
    "change-advisory-status",
    requires=("ERRATA_TOKEN", "JIRA_TOKEN"),
    short_help="Approve the release: move QE advisories to REL_PREP, now or when live.",
)
async def change_advisory_status(ctx: ReleaseContext) -> Outcome:
    """Approve the release: refuse when the RHCOS kernel is tagged early-kernel-stop-ship,
    add the QE approval on the shipment MR, then move the QE advisories to
    REL_PREP when the y-stream's payload metadata URL answers, at once or through a
    durable watch (every OAR_APPROVAL_WATCH_INTERVAL seconds, for up to
    OAR_APPROVAL_WATCH_DEADLINE seconds). Closes the QE Jira subtasks."""
    settings, config = ctx.settings, ctx.config
    request = WatchRequest(
        release=ctx.release,
        y_stream=config.y_stream,
        advisories=config.advisories(),
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
    async with (
        Service(settings, roles=()) as service,
        _clients(settings, config.is_konflux) as (errata, gitlab, jira),
    ):
        operator = ApprovalOperator(
            release=ctx.release,
            y_stream=config.y_stream,
            advisories=config.advisories(),
            shipment_mr=config.shipment_mr(),
            errata=errata,
            gitlab=gitlab,
            payloads=payload_inspector(settings),
            watches=Watches(service.db, service.tasks),
            request=request,
            done=ctx.did,
        )
        ticket = config.jira_ticket()
        # Nothing changes until every credential the approval writes with is proven.
        await prove_credentials(
            operator.access_checks(jira, ticket), command=f"oar -r {ctx.release} {ctx.task}"
        )
        for line in await stop_ship_kernel(
            errata, BrewClient.from_settings(settings), ctx.release, config.advisories()
        ):
            log.info("approval.kernel_checked", detail=line)
        approval = await operator.approve_release()
        if ticket:
            closed = await close_qe_subtasks(jira, ticket, done=ctx.did)
            log.info("approval.subtasks_closed", ticket=ticket, closed=closed)
        if approval.result is ApprovalResult.APPROVED:
            if config.is_konflux:  # approved at once: the channel hears it as from a watch
                await announce_approved(settings, service, config, ctx.release)
            return Outcome.passed(approval.message)
        # Scheduled, or already scheduled by a process whose worker may have died since.
        assert approval.watch is not None
        started = await ensure_worker(service, settings, approval.watch.id)
        message = approval.message + (f"\n{started.text()}" if started else "")
        return Outcome.in_progress(message)
