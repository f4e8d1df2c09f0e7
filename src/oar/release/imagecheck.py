"""The image consistency check: the ``image-consistency-check`` kind of durable follow
(:mod:`oar.release.follows`).

One follow per release (key ``image-consistency-check:<release>``). Its first check
triggers the Prow job ``periodic-ci-openshift-release-tests-main-image-consistency-check``
through Gangway with the release payload and the shipment MR (reference §8.1), unless
the command was given a job to attach to (``-i``); every check reads the job's state and
maps it (:func:`prow_verdict`). When the job succeeded, the finish step runs the image
health check (:mod:`oar.release.imagehealth`) on the shipment's images, comments its
summary on the shipment MR, and the follow records Pass (every image healthy) or Fail
with the grades table. A job that failed, aborted or errored is a Fail with that reason
(the original re-triggered an aborted job on the next plain run: here the next run starts
a new follow, which triggers a new job).

The job's URL is announced to the release channel (and the originating Slack thread)
as soon as Prow gives it, as the original did right after triggering.
"""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from oar.errors import ConfigurationError, InvalidArgumentError, OarError
from oar.integrations.gitlab import GitLab, merge_request_ref
from oar.integrations.prow import GangwayProwJobs, ProwJobs, ProwJobState
from oar.integrations.pyxis import Pyxis, PyxisClient
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release import imagehealth
from oar.release.follows import (
    Check,
    Finished,
    FollowInfo,
    FollowStatus,
    group_mention,
    kinds,
    runtime,
)
from oar.release.imagehealth import HealthReport, ShipmentImage

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

log = get_logger(__name__)

KIND = "image-consistency-check"
TASK = "image-consistency-check"
JOB = "periodic-ci-openshift-release-tests-main-image-consistency-check"
STABLE_PAYLOAD = "quay.io/openshift-release-dev/ocp-release"
_PAYLOAD = re.compile(r"^quay\.io/openshift-release-dev/ocp-release:\d+\.\d+\.\d+.*-x86_64$")


class Verdict(enum.StrEnum):
    """What a job's state means for its follow."""

    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


def prow_verdict(state: ProwJobState) -> Verdict:
    """triggered, pending → pending; success → passed (then the image health check);
    failure, aborted, error → failed."""
    if state in (ProwJobState.TRIGGERED, ProwJobState.PENDING):
        return Verdict.PENDING
    if state is ProwJobState.SUCCESS:
        return Verdict.PASSED
    return Verdict.FAILED


def follow_key(release: str) -> str:
    return f"{KIND}:{release}"


def payload_of(release: str) -> str:
    """The release's x86_64 payload, checked as the original did (§8.1.5)."""
    payload = f"{STABLE_PAYLOAD}:{release}-x86_64"
    if not _PAYLOAD.match(payload):
        raise InvalidArgumentError("payload", f"Invalid payload URL: {payload}")
    return payload


def merge_request_id(shipment_mr: str) -> int:
    """The shipment MR's iid (> 0)."""
    _, iid = merge_request_ref(shipment_mr)
    if iid <= 0:
        raise InvalidArgumentError("shipment MR", f"invalid merge request id {iid}")
    return iid


def job_envs(payload: str, mr_id: int) -> dict[str, str]:
    """The job's parameters, as Gangway's multistage overrides (§8.1.6)."""
    return {
        "MULTISTAGE_PARAM_OVERRIDE_PAYLOAD_URL": payload,
        "MULTISTAGE_PARAM_OVERRIDE_MERGE_REQUEST_ID": str(mr_id),
    }


def triggered_text(release: str, group: str, url: str) -> str:
    """The original's trigger announcement (reference §12)."""
    return f"[{release}] Hello {group}, triggered Prow job [{JOB}], url is {url}"


async def shipment_images(
    gitlab: GitLab, shipment_mr: str
) -> tuple[list[ShipmentImage], list[str]]:
    """The images of the shipment MR's changed shipment files (FBC files left out), and
    the files read."""
    project, iid = merge_request_ref(shipment_mr)
    mr = await gitlab.get_merge_request(project, iid)
    changed = [c.path for c in await gitlab.changed_files(project, iid) if not c.deleted_file]
    paths = imagehealth.scanned_paths(changed)
    images: list[ShipmentImage] = []
    for path in paths:
        text = await gitlab.file_content(project, path, ref=mr.source_branch)
        if text is not None:
            images.extend(imagehealth.shipment_images(text))
    return images, paths


class ImageConsistencyKind:
    """The ``image-consistency-check`` follow kind, bound to Prow, GitLab and Pyxis."""

    name = KIND
    noun = "follow"

    def __init__(
        self,
        *,
        prow: ProwJobs,
        gitlab: GitLab | None,
        pyxis: Pyxis,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        gitlab_problem: str | None = None,
    ) -> None:
        self.prow = prow
        self.gitlab = gitlab
        self.pyxis = pyxis
        self._notifier = notifier
        self.clock = clock
        self.gitlab_problem = gitlab_problem

    @property
    def notifier(self) -> Notifier:
        """The worker's notifier (a given one in unit tests)."""
        return self._notifier if self._notifier is not None else runtime().notifier

    def started_line(self, follow: FollowInfo) -> str:
        job = follow.data.get("job_id")
        what = f"Prow job {job}" if job else f"Prow job {JOB} (triggered by the first check)"
        return (
            f"image consistency check of {follow.release}: following {what}, checking every"
            f" {follow.interval_seconds:g}s until {follow.deadline_text()}"
        )

    async def _announce(self, follow: FollowInfo, url: str) -> None:
        """The job's URL to the release channel and the originating thread."""
        notifier = self.notifier
        text = triggered_text(
            str(follow.release),
            await group_mention(notifier, str(follow.data.get("group", ""))),
            url,
        )
        if follow.channel:
            await notifier.summary(follow.channel, text, source=follow.id)
        if follow.slack_channel and follow.slack_thread:
            await notifier.post(
                follow.slack_channel, text, thread_ts=follow.slack_thread, source=follow.id
            )

    async def check(self, follow: FollowInfo, number: int) -> Check:
        try:
            return await self._check(follow, number)
        except ConfigurationError as exc:  # no check will do better: fail now, with why
            return Check.finished(
                f"check #{number}: {exc.message}", phase="configuration", error=exc.message
            )

    async def _check(self, follow: FollowInfo, number: int) -> Check:
        learnt: dict[str, JSON] = {}
        job_id = str(follow.data.get("job_id") or "")
        lines: list[str] = []
        if not job_id:
            envs = job_envs(str(follow.data["payload"]), int(follow.data["mr_id"]))
            job_id = await self.prow.trigger(JOB, envs=envs)
            learnt["job_id"] = job_id
            lines.append(f"Triggered image consistency check Prow job: {job_id}")
            log.info("imagecheck.triggered", follow_id=follow.id, job_id=job_id)
        try:
            status = await self.prow.status(job_id)
        except OarError as exc:
            if not learnt:
                raise
            # Just triggered: keep the job's ID (the next check reads it again).
            lines.append(f"its state is not known yet: {exc.message}")
            return Check.pending(f"check #{number}: " + "; ".join(lines), **learnt)
        if status.url and not follow.data.get("announced"):
            await self._announce(follow, status.url)
            learnt |= {"announced": True, "job_url": status.url}
            lines.append(f"Prow job URL: {status.url}")
        verdict = prow_verdict(status.state)
        if verdict is Verdict.PENDING:
            lines.append(f"Prow job {job_id} is {status.state.value}")
            return Check.pending(f"check #{number}: " + "; ".join(lines), **learnt)
        lines.append(f"Prow job {job_id} ended with state '{status.state.value}'")
        ended: dict[str, JSON] = {"job_id": job_id, "state": status.state.value}
        if status.url:
            ended["job_url"] = status.url
        return Check.finished(f"check #{number}: " + "; ".join(lines), **(learnt | ended))

    async def health(self, follow: FollowInfo) -> tuple[HealthReport, list[str]]:
        """The health report of the shipment's images, and the files read."""
        if self.gitlab is None:
            raise OarError(self.gitlab_problem or "GitLab is not configured")
        shipment_mr = str(follow.data["shipment_mr"])
        images, paths = await shipment_images(self.gitlab, shipment_mr)
        if not images:
            raise OarError(
                f"no container images found in the shipment files of {shipment_mr}"
                f" (read: {', '.join(paths) or 'none'})"
            )
        return await imagehealth.check_images(self.pyxis, images, self.clock()), paths

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        if check.data.get("phase") == "configuration":
            error = str(check.data.get("error"))
            return Finished(ok=False, line=error, error=error)
        state = ProwJobState(str(check.data["state"]))
        job_id = str(check.data.get("job_id") or follow.data.get("job_id"))
        url = check.data.get("job_url") or follow.data.get("job_url")
        if prow_verdict(state) is Verdict.FAILED:
            error = f"Prow job {job_id} ended with state '{state.value}'" + (
                f" ({url})" if url else ""
            )
            return Finished(ok=False, line=error, error=error)
        report, _ = await self.health(follow)
        assert self.gitlab is not None
        project, iid = merge_request_ref(str(follow.data["shipment_mr"]))
        try:
            await self.gitlab.add_note(project, iid, imagehealth.health_comment(report))
            posted = f"health summary commented on the shipment MR !{iid}"
        except OarError as exc:  # the original only logged it too: the verdict stands
            posted = f"commenting the health summary on !{iid} failed: {exc.message}"
            log.warning("imagecheck.comment_failed", follow_id=follow.id, error=exc.message)
        verdict = imagehealth.verdict(report)
        line = "\n".join([verdict, imagehealth.grades_table(report), posted])
        return Finished(ok=report.healthy, line=line, error=None if report.healthy else verdict)

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        if status is FollowStatus.SUCCEEDED:
            return (
                "Image consistency check passed: the Prow job succeeded and every image is healthy."
            )
        if status is FollowStatus.TIMED_OUT:
            return "Image consistency check timed out: the Prow job had not ended by the deadline."
        return f"Image consistency check failed: {error}"

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        group = await group_mention(notifier, str(follow.data.get("group", "")))
        url = follow.data.get("job_url") or follow.data.get("job_id") or JOB
        head = f"[{follow.release}] Hello {group}, image consistency check"
        if status is FollowStatus.SUCCEEDED:
            return f"{head} passed: Prow job {url} succeeded and every image is healthy"
        if status is FollowStatus.TIMED_OUT:
            return f"{head} timed out: Prow job {url} had not ended by {follow.deadline_text()}"
        return f"{head} failed: {error}"


@contextlib.asynccontextmanager
async def image_consistency_kind(settings: Settings) -> AsyncIterator[ImageConsistencyKind]:
    """The kind with its ports, built once per worker. Without a GitLab token the job is
    still followed; the health check then fails with the reason."""
    from oar.integrations.gitlab import GitLabClient

    prow = GangwayProwJobs.from_settings(settings)
    async with PyxisClient.from_settings(settings) as pyxis:
        try:
            gitlab = GitLabClient.from_settings(settings)
        except OarError as exc:
            yield ImageConsistencyKind(
                prow=prow, gitlab=None, pyxis=pyxis, gitlab_problem=exc.message
            )
            return
        async with gitlab:
            yield ImageConsistencyKind(prow=prow, gitlab=gitlab, pyxis=pyxis)


kinds.register(KIND, image_consistency_kind)
