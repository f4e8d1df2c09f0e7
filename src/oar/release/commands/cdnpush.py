"""``push-to-cdn-staging``: push every advisory to CDN stage and follow the push jobs.

The rules are :mod:`oar.release.pushes`'. This body proves the Errata Tool credential,
collects the advisories (blockers first) and their pushes. All complete: Pass at once.
Otherwise it starts the release's push follow — or joins the one running, and then
triggers nothing — pushes the advisories whose blockers are complete (the follow pushes
the others when theirs complete), tells the QE release channel the jobs' links, and
returns In Progress: the follow records Pass when every push job is complete, or Fail
with the failed job's log link.
"""

from __future__ import annotations

from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.approval import movable
from oar.release.commands.following import follow, reported_in, request_for
from oar.release.pushes import (
    KIND,
    follow_key,
    push_ready,
    push_set,
    survey,
    triggered_message,
    unpushable,
)
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)


async def push_to_cdn_staging(ctx: ReleaseContext) -> Outcome:
    """Push the release's advisories to CDN stage (see the module's docstring)."""
    config, ports, settings = ctx.config, ctx.ports, ctx.settings
    advisories = movable(config.advisories())
    await ctx.prove("errata", advisories=advisories)
    found = await push_set(ports.errata, advisories)
    held = unpushable(found.states)
    if held:  # nothing is pushed while an advisory is not ready: the original raised here
        return Outcome.failed(
            "advisories in NEW_FILES cannot be pushed to CDN stage: "
            + ", ".join(map(str, held))
            + "; move them to QE (take-ownership reports them as a blocker), then run again",
            data={**found.data(), "new_files": list(held)},
        )
    for name in found.unknown_blockers:
        log.warning("push.blocker_unknown", release=ctx.release, blocker=name)
    plan, baseline = await survey(ports.errata, found.advisories, found.blockers)
    log.info("push.surveyed", release=ctx.release, plan=plan.text())
    data: dict[str, JSON] = {**found.data(), "dropped": list(found.dropped)}
    request = request_for(
        ctx,
        kind=KIND,
        key=follow_key(ctx.release),
        interval=settings.cdn_push_interval,
        deadline=settings.cdn_push_deadline,
        data={**found.data(), "baseline": {str(a): n for a, n in baseline.items()}},
    )
    # A follow that runs decides (and reports) the outcome: this run joins it.
    if plan.complete and await ports.follows.running(request.key) is None:
        text = "push jobs of every advisory are complete: " + (
            ", ".join(map(str, found.advisories)) or "no advisory to push"
        )
        return Outcome.passed(text, data=data)

    following = await follow(ctx, request)
    data.update(following.data())
    if not following.created:
        return Outcome.in_progress(following.text("", reported_in=""), data=data)

    pushed = await push_ready(ports.errata, plan, baseline, ctx.did)
    triggered = pushed.jobs
    data["triggered"] = {
        str(a): [{"id": j.id, "target": j.target} for j in jobs] for a, jobs in triggered.items()
    }
    data["refused"] = {str(a): error for a, error in pushed.refused.items()}
    what = (
        "pushed advisories "
        + (", ".join(map(str, triggered)) or "none (pushes already running)")
        + " to CDN stage"
    )
    if pushed.refused:
        what += "; Errata Tool refused to push " + ", ".join(
            f"{a} ({error})" for a, error in pushed.refused.items()
        )
        what += ": the follow tries again at each check"
    if plan.waiting:
        what += "; " + ", ".join(
            f"{a} waits for {', '.join(map(str, b))}" for a, b in plan.waiting.items()
        )
    if triggered:
        notifier = ports.notifier
        text = triggered_message(
            triggered,
            plan.waiting,
            release=ctx.release,
            group=await notifier.group_mention(config.qe_leads_group()),
            errata_url=settings.errata_url,
        )
        delivery = await notifier.summary(
            config.qe_release_channel(), text, source=following.follow.id
        )
        if not delivery.ok:
            what += f"; the message to {delivery.channel} failed: {delivery.error}"
    return Outcome.in_progress(following.text(what, reported_in=reported_in(ctx)), data=data)
