"""``stage-testing``: wait for the stage release, run the Jenkins stage pipeline, follow it.

The body checks what can be refused before anything starts (an errata-flow release
without a metadata advisory, Jenkins' credential, a build given with ``-n`` that is not
this release's), then starts the release's ``stage-testing`` follow
(:mod:`oar.release.staging`) — or joins the running one, which triggers nothing — and
returns at once: the follow waits for the precondition (Konflux: the shipment MR's stage
release; errata: push-to-cdn-staging passed), triggers ``zstreams/Stage-Pipeline`` unless a
build for this payload is already queued or running, and follows the build to its result.
"""

from __future__ import annotations

from oar.errors import IntegrationNotFoundError, InvalidArgumentError, OarError
from oar.integrations.jenkins import STAGE_PIPELINE
from oar.jsonvalue import JSON
from oar.release.checklist import TaskStatus
from oar.release.commands import following
from oar.release.follows import FollowInfo
from oar.release.staging import (
    KIND,
    TASK,
    follow_key,
    is_for_release,
    parameters,
)
from oar.release.tracking import Outcome, ReleaseContext


def started_text(follow: FollowInfo, *, created: bool, build: int | None, thread: bool) -> str:
    where = (
        "I will report in this thread"
        if thread
        else f"the outcome is recorded on the task and announced in {follow.channel}"
    )
    if not created:
        return f"{follow.already_text()}; joined it, nothing triggered; {where}"
    if build is not None:
        what = f"following build {build} of {STAGE_PIPELINE}"
    elif follow.data.get("konflux"):
        what = f"waiting for the shipment MR's stage release, then triggering {STAGE_PIPELINE}"
    else:
        what = f"waiting for push-to-cdn-staging to pass, then triggering {STAGE_PIPELINE}"
    return (
        f"started: stage testing of {follow.release} ({KIND} follow {follow.id}): {what},"
        f" checking every {follow.interval_seconds:g}s until {follow.deadline_text()}; {where}"
    )


async def stage_testing(ctx: ReleaseContext, *, build_number: int | None = None) -> Outcome:
    """Start (or join) the stage-testing follow (see the module's docstring)."""
    config, ports, settings = ctx.config, ctx.ports, ctx.settings
    key = follow_key(ctx.release)
    if build_number is None and await ports.follows.running(key) is None:
        info = await ctx.state.get(ctx.release)
        if info.task(TASK).status is TaskStatus.PASS:
            return Outcome.passed(
                "stage testing already passed, no need to trigger again (give -n BUILD to"
                " check a build again)"
            )
    metadata = config.advisories().get("metadata")
    if not config.is_konflux and metadata is None:
        raise OarError("call stage pipeline job failed: metadata advisory not found")
    await ctx.prove("jenkins", *(("gitlab",) if config.is_konflux else ()))
    data: dict[str, JSON] = {
        "konflux": config.is_konflux,
        "shipment_mr": config.shipment_mr(),
        "group": config.qe_leads_group(),
        "parameters": dict(
            parameters(y_stream=config.y_stream, release=ctx.release, metadata_advisory=metadata)
        ),
    }
    if build_number is not None:
        try:
            build = await ports.jenkins.build(STAGE_PIPELINE, build_number)
        except IntegrationNotFoundError:
            raise InvalidArgumentError(
                "-n/--build_number", f"{STAGE_PIPELINE} has no build {build_number}"
            ) from None
        if not is_for_release(build.parameters, ctx.release):
            raise InvalidArgumentError(
                "-n/--build_number",
                f"please make sure this build {STAGE_PIPELINE}/{build_number} is triggered"
                f" for {ctx.release}, cannot find {ctx.release} in payload url"
                f" {build.parameters.get('PULL_SPEC') or build.parameters.get('PAYLOAD_URL')}",
            )
        data |= {"build": build_number, "precondition_passed": True}
    request = following.request_for(
        ctx,
        kind=KIND,
        key=key,
        interval=settings.stage_testing_interval,
        deadline=settings.stage_testing_deadline,
        data=data,
    )
    started = await following.follow(ctx, request)
    if started.created:
        ctx.did(f"started follow {started.follow.id}, which triggers and follows {STAGE_PIPELINE}")
    message = started_text(
        started.follow, created=started.created, build=build_number, thread=bool(ctx.slack_thread)
    ) + (f"\n{started.worker}" if started.worker else "")
    return Outcome.in_progress(
        message, data={"follow": started.follow.to_dict(), "created": started.created}
    )
