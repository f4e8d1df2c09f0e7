"""How a release command hands its wait to a durable follow and says so.

A command that triggers something long (CDN pushes, a signature being published) starts a
follow keyed by its release (:mod:`oar.release.follows`), or joins the one running, makes
sure a worker runs it, and returns at once with where the outcome will be reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from oar.jsonvalue import JSON
from oar.release.follows import FollowInfo, FollowRequest
from oar.release.tracking import ReleaseContext


def request_for(
    ctx: ReleaseContext,
    *,
    kind: str,
    key: str,
    interval: float,
    deadline: float,
    data: dict[str, JSON],
) -> FollowRequest:
    """The follow of ``ctx``'s run: it reports to the QE release channel (and to the
    Slack thread the command came from) and finishes the run with its outcome."""
    return FollowRequest(
        kind=kind,
        key=key,
        subject=ctx.release,
        release=ctx.release,
        task=ctx.task,
        channel=ctx.config.qe_release_channel(),
        started_by=ctx.actor,
        interface=ctx.interface,
        slack_channel=ctx.slack_channel,
        slack_thread=ctx.slack_thread,
        run_id=ctx.run_id,
        interval=interval,
        deadline=deadline,
        data={"group": ctx.config.qe_leads_group(), **data},
    )


@dataclass(frozen=True, kw_only=True)
class Following:
    """The follow a command started or joined, and the worker started for it."""

    follow: FollowInfo
    created: bool
    worker: str | None

    def text(self, what: str, *, reported_in: str) -> str:
        """``started: …`` or ``already running: …``, where the outcome goes, the worker."""
        if self.created:
            lines = [
                f"started: {what}; follow {self.follow.id} checks every"
                f" {self.follow.interval_seconds:g}s until {self.follow.deadline_text()}"
                f" and I will report in {reported_in}"
            ]
        else:
            lines = [
                f"{self.follow.already_text()}; this run joined it and triggered nothing;"
                " it finishes with the follow"
            ]
        if self.worker:
            lines.append(self.worker)
        return "\n".join(lines)

    def data(self) -> dict[str, JSON]:
        return {"follow": self.follow.to_dict(), "joined": not self.created}


async def follow(ctx: ReleaseContext, request: FollowRequest) -> Following:
    """Start (or join) the follow and make sure a worker runs it."""
    info, created = await ctx.ports.follows.start(request)
    worker = await ctx.ports.follows.keep_alive(info.id)
    return Following(follow=info, created=created, worker=worker)


def reported_in(ctx: ReleaseContext) -> str:
    """Where the follow's outcome goes: this Slack thread and the release channel."""
    channel = ctx.config.qe_release_channel()
    return f"this thread and {channel}" if ctx.slack_thread else channel
