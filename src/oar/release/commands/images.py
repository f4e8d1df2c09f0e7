"""``image-consistency-check``: trigger the Prow image consistency job and follow it.

The body checks what can be refused before anything starts (the Konflux shipment MR and
the payload, GitLab's credential on the MR the summary will be commented on, a job given
with ``-i``), then starts the release's ``image-consistency-check`` follow
(:mod:`oar.release.imagecheck`) — or joins the running one, which triggers nothing — and
returns at once: the follow triggers the job, announces its URL, follows it, runs the
image health check and records Pass or Fail.
"""

from __future__ import annotations

from oar.errors import IntegrationNotFoundError, OarError
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.checklist import TaskStatus
from oar.release.commands import following
from oar.release.follows import FollowInfo
from oar.release.imagecheck import (
    JOB,
    KIND,
    TASK,
    follow_key,
    merge_request_id,
    payload_of,
)
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)


def started_text(follow: FollowInfo, *, created: bool, job_id: str | None, thread: bool) -> str:
    """What the person who ran the command reads: started (or joined), and where the
    outcome will be reported."""
    where = (
        "I will report in this thread"
        if thread
        else f"the outcome is recorded on the task and announced in {follow.channel}"
    )
    if not created:
        return f"{follow.already_text()}; joined it, nothing triggered; {where}"
    what = f"following Prow job {job_id}" if job_id else f"triggering Prow job [{JOB}]"
    return (
        f"started: image consistency check of {follow.release} ({KIND} follow {follow.id}):"
        f" {what}, checking every {follow.interval_seconds:g}s until {follow.deadline_text()};"
        f" {where}"
    )


async def image_consistency_check(ctx: ReleaseContext, *, job_id: str | None = None) -> Outcome:
    """Start (or join) the image consistency follow (see the module's docstring)."""
    config, ports, settings = ctx.config, ctx.ports, ctx.settings
    shipment_mr = config.shipment_mr()
    if not shipment_mr:
        raise OarError(
            f"No shipment MR found for release {ctx.release}. Image consistency check"
            " requires Konflux flow with a shipment MR."
        )
    key = follow_key(ctx.release)
    if job_id is None and await ports.follows.running(key) is None:
        info = await ctx.state.get(ctx.release)
        if info.task(TASK).status is TaskStatus.PASS:
            return Outcome.passed(
                "Image consistency check already passed, skipping (give -i JOB_ID to check"
                " a job again)"
            )
    payload, mr_id = payload_of(ctx.release), merge_request_id(shipment_mr)
    # The follow comments on the shipment MR: GitLab's credential is proven before.
    await ctx.prove("gitlab")
    data: dict[str, JSON] = {
        "payload": payload,
        "mr_id": mr_id,
        "shipment_mr": shipment_mr,
        "group": config.qe_leads_group(),
    }
    if job_id is not None:
        try:
            status = await ports.prow.status(job_id)
        except IntegrationNotFoundError:
            raise OarError(f"Job {job_id} not found or Prow API error") from None
        data["job_id"] = job_id
        log.info("imagecheck.attach", release=ctx.release, job_id=job_id, state=status.state)
    request = following.request_for(
        ctx,
        kind=KIND,
        key=key,
        interval=settings.image_consistency_interval,
        deadline=settings.image_consistency_deadline,
        data=data,
    )
    started = await following.follow(ctx, request)
    if started.created:
        ctx.did(f"started follow {started.follow.id}, which triggers and follows the Prow job")
    message = started_text(
        started.follow, created=started.created, job_id=job_id, thread=bool(ctx.slack_thread)
    ) + (f"\n{started.worker}" if started.worker else "")
    return Outcome.in_progress(
        message, data={"follow": started.follow.to_dict(), "created": started.created}
    )
