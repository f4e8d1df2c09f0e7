"""``jobctl job get-results ID --poll``: a Prow run followed durably (a ``prow-job`` follow).

One follow per run (key ``prow-job:<id>``): every check asks Prow for the run's state; a
completed run ends it, succeeded when the run succeeded. The follow survives the command
(Ctrl-C, a closed terminal, a restarted worker); running the command again joins it. Its
outcome goes to the Slack thread the command came from, when the bot started it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from oar.integrations.prow import GangwayProwJobs, ProwJobs, ProwJobState
from oar.release.follows import Check, Finished, FollowInfo, FollowStatus, kinds

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

KIND = "prow-job"


def follow_key(job_id: str) -> str:
    return f"{KIND}:{job_id}"


class ProwJobKind:
    """Checks a run's state until it completes."""

    name = KIND
    noun = "follow"

    def __init__(self, prow: ProwJobs) -> None:
        self.prow = prow

    def started_line(self, follow: FollowInfo) -> str:
        return f"Following Prow run {follow.subject} until it completes."

    async def check(self, follow: FollowInfo, number: int) -> Check:
        status = await self.prow.status(follow.subject)
        data = {
            "jobID": status.job_id,
            "jobName": status.job_name,
            "jobState": str(status.state),
            "jobURL": status.url,
            "jobStartTime": status.start_time,
            "jobCompletionTime": status.completion_time,
        }
        line = f"{status.job_name}: {status.state}" + (f" ({status.url})" if status.url else "")
        if status.completed:
            return Check.finished(line, **data)
        return Check.pending(line, **data)

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        state = str(check.data.get("jobState"))
        if state == ProwJobState.SUCCESS:
            return Finished(ok=True, line=check.line)
        return Finished(ok=False, line=check.line, error=f"the run ended {state}")

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        name = follow.data.get("jobName") or follow.subject
        if status is FollowStatus.SUCCEEDED:
            return f"Prow run {follow.subject} of {name} succeeded."
        if status is FollowStatus.TIMED_OUT:
            return f"Prow run {follow.subject} of {name} had not completed by the deadline."
        return f"Prow run {follow.subject} of {name} failed: {error}"

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        url = follow.data.get("jobURL")
        return self.final_line(follow, status, error) + (f" {url}" if url else "")


@contextlib.asynccontextmanager
async def prow_job_kind(settings: Settings) -> AsyncIterator[ProwJobKind]:
    yield ProwJobKind(GangwayProwJobs.from_settings(settings))


kinds.register(KIND, prow_job_kind)
