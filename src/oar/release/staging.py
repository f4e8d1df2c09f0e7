"""Stage testing: the ``stage-testing`` kind of durable follow (:mod:`oar.release.follows`).

One follow per release (key ``stage-testing:<release>``) in two phases, so one key, one
deadline and one outcome cover the whole wait and a second ``oar stage-testing`` joins
whichever phase is running:

1. **the precondition**: in the Konflux flow, the shipment MR's stage release (the job of
   stage ``stage-release-triggers`` in the MR's latest pipeline, reference §10.6) must
   succeed; in the errata flow, ``push-to-cdn-staging`` must have passed (the errata
   branch's rule). Until then each check says what it waits for; a stage release that
   failed ends the follow as Fail (nothing was triggered);
2. **the build**: the Jenkins job ``zstreams/Stage-Pipeline`` with ``VERSION``,
   ``PULL_SPEC`` and, when the release has one, ``METADATA_AD`` (§10.3) — unless a build
   for this payload is already queued or running, which is followed instead (so a worker
   killed between the trigger and its checkpoint never triggers twice) — then the build,
   to SUCCESS (Pass) or FAILURE / ABORTED / UNSTABLE / NOT_BUILT (Fail).

``-n BUILD`` starts the follow at the build of phase 2. What a check learnt (the queue
item, the build) is kept on the follow for its next checks.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from oar.errors import ConfigurationError, OarError
from oar.integrations.gitlab import (
    STAGE_RELEASE_LABEL,
    STAGE_RELEASE_STAGE,
    GitLab,
    PipelineJob,
    PipelineStatus,
    merge_request_ref,
)
from oar.integrations.jenkins import (
    STAGE_PIPELINE,
    BuildResult,
    Jenkins,
    JenkinsBuild,
    JenkinsClient,
    QueueItem,
)
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.checklist import TaskStatus
from oar.release.follows import (
    Check,
    Finished,
    FollowInfo,
    FollowStatus,
    group_mention,
    kinds,
    runtime,
)
from oar.release.state import ReleaseState

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

log = get_logger(__name__)

KIND = "stage-testing"
TASK = "stage-testing"
CDN_TASK = "push-to-cdn-staging"
JOB_SHORT = STAGE_PIPELINE.removeprefix("zstreams/")
STABLE_PAYLOAD = "quay.io/openshift-release-dev/ocp-release"
# Reads the status of a release's checklist task (the errata flow's precondition).
TaskStatusReader = Callable[[str, str], Awaitable[TaskStatus]]


class Verdict(enum.StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


_STAGE_PENDING = frozenset(
    {
        PipelineStatus.CREATED,
        PipelineStatus.WAITING_FOR_RESOURCE,
        PipelineStatus.PREPARING,
        PipelineStatus.PENDING,
        PipelineStatus.RUNNING,
        PipelineStatus.MANUAL,
        PipelineStatus.SCHEDULED,
    }
)


def stage_release_status(jobs: Sequence[PipelineJob]) -> PipelineStatus | None:
    """The status of the pipeline's stage release job (the first of stage
    ``stage-release-triggers``, jobs newest first); None when it has none."""
    job = next((j for j in jobs if j.stage == STAGE_RELEASE_STAGE), None)
    return None if job is None else job.status


def stage_release_verdict(status: PipelineStatus | None) -> Verdict:
    """success → passed; failed, canceled, skipped → failed; not there yet, or created,
    pending, running, manual, scheduled… → pending."""
    if status is PipelineStatus.SUCCESS:
        return Verdict.PASSED
    if status is None or status in _STAGE_PENDING:
        return Verdict.PENDING
    return Verdict.FAILED


def build_verdict(build: JenkinsBuild) -> Verdict:
    """Building → pending; SUCCESS → passed; FAILURE, ABORTED, UNSTABLE, NOT_BUILT → failed."""
    if build.building or build.result is None:
        return Verdict.PENDING
    return Verdict.PASSED if build.result is BuildResult.SUCCESS else Verdict.FAILED


def cdn_verdict(status: TaskStatus) -> Verdict:
    """The errata flow's precondition: push-to-cdn-staging Pass → passed; else pending."""
    return Verdict.PASSED if status is TaskStatus.PASS else Verdict.PENDING


def payload_of(release: str) -> str:
    return f"{STABLE_PAYLOAD}:{release}-x86_64"


def parameters(*, y_stream: str, release: str, metadata_advisory: int | None) -> dict[str, str]:
    """The Stage-Pipeline's parameters (§10.3): ``VERSION`` (no ``v``), ``PULL_SPEC``, and
    ``METADATA_AD`` only when the release has a metadata advisory."""
    params = {"VERSION": y_stream, "PULL_SPEC": payload_of(release)}
    if metadata_advisory is not None:
        params["METADATA_AD"] = str(metadata_advisory)
    return params


def build_payload(build_parameters: Mapping[str, str]) -> str:
    """The payload a build or queue item was started for (``PAYLOAD_URL`` or ``PULL_SPEC``)."""
    return build_parameters.get("PAYLOAD_URL") or build_parameters.get("PULL_SPEC") or ""


def is_for_release(build_parameters: Mapping[str, str], release: str) -> bool:
    """Whether a build was started for ``release`` (§8.10: its payload names it)."""
    payload = build_payload(build_parameters)
    return f":{release}-" in payload or payload.endswith(f":{release}")


def existing_run(
    queued: Sequence[QueueItem], builds: Sequence[JenkinsBuild], payload: str
) -> dict[str, JSON] | None:
    """A queue item or running build of the Stage-Pipeline for ``payload`` (the follow
    adopts it instead of triggering another one), as follow data; None if there is none."""
    for item in queued:
        if build_payload(item.parameters) == payload and not item.cancelled:
            found: dict[str, JSON] = {"queue_id": item.id}
            if item.build_number is not None:
                found["build"] = item.build_number
            return found
    for build in builds:
        if build.building and build_payload(build.parameters) == payload:
            return {"build": build.number}
    return None


def triggered_text(release: str, group: str, url: str) -> str:
    """The original's trigger announcement (reference §12)."""
    return f"[{release}] Hello {group}, triggered jenkins build for job [{JOB_SHORT}], url is {url}"


def follow_key(release: str) -> str:
    return f"{KIND}:{release}"


class StageTestingKind:
    """The ``stage-testing`` follow kind, bound to Jenkins and GitLab."""

    name = KIND
    noun = "follow"

    def __init__(
        self,
        *,
        jenkins: Jenkins | None,
        gitlab: GitLab | None,
        notifier: Notifier | None = None,
        task_status: TaskStatusReader | None = None,
        problems: Mapping[str, str] | None = None,
    ) -> None:
        self.jenkins = jenkins
        self.gitlab = gitlab
        self._notifier = notifier
        self._task_status = task_status
        self.problems = dict(problems or {})

    @property
    def notifier(self) -> Notifier:
        return self._notifier if self._notifier is not None else runtime().notifier

    async def task_status(self, release: str, task: str) -> TaskStatus:
        if self._task_status is not None:
            return await self._task_status(release, task)
        info = await ReleaseState(runtime().db).get(release)
        return info.task(task).status

    def _jenkins(self) -> Jenkins:
        if self.jenkins is None:
            raise ConfigurationError(self.problems.get("jenkins") or "Jenkins is not configured")
        return self.jenkins

    def _gitlab(self) -> GitLab:
        if self.gitlab is None:
            raise ConfigurationError(self.problems.get("gitlab") or "GitLab is not configured")
        return self.gitlab

    def started_line(self, follow: FollowInfo) -> str:
        if follow.data.get("build") is not None:
            what = f"build {follow.data['build']} of {STAGE_PIPELINE}"
        elif follow.data.get("konflux"):
            what = f"the shipment MR's stage release, then {STAGE_PIPELINE}"
        else:
            what = f"{CDN_TASK} to pass, then {STAGE_PIPELINE}"
        return (
            f"stage testing of {follow.release}: waiting for {what}, checking every"
            f" {follow.interval_seconds:g}s until {follow.deadline_text()}"
        )

    async def _announce(self, follow: FollowInfo, url: str) -> None:
        notifier = self.notifier
        group = await group_mention(notifier, str(follow.data.get("group", "")))
        text = triggered_text(str(follow.release), group, url)
        if follow.channel:
            await notifier.summary(follow.channel, text, source=follow.id)
        if follow.slack_channel and follow.slack_thread:
            await notifier.post(
                follow.slack_channel, text, thread_ts=follow.slack_thread, source=follow.id
            )

    async def _precondition(self, follow: FollowInfo) -> tuple[Verdict, str]:
        if follow.data.get("konflux"):
            project, iid = merge_request_ref(str(follow.data["shipment_mr"]))
            gitlab = self._gitlab()
            mr = await gitlab.get_merge_request(project, iid)
            if STAGE_RELEASE_LABEL in mr.labels:
                return Verdict.PASSED, f"shipment MR !{iid} has the label {STAGE_RELEASE_LABEL}"
            pipelines = await gitlab.pipelines(project, iid)
            if not pipelines:
                return Verdict.PENDING, f"shipment MR !{iid} has no pipeline yet"
            jobs = await gitlab.pipeline_jobs(project, pipelines[0].id)
            status = stage_release_status(jobs)
            verdict = stage_release_verdict(status)
            shown = status.value if status else "not started"
            if verdict is Verdict.PASSED:
                return verdict, f"stage release pipeline {pipelines[0].id} succeeded"
            if verdict is Verdict.FAILED:
                return verdict, f"Stage release failed with status {shown}"
            return verdict, f"stage release pipeline is {shown}: stage test not triggered yet"
        cdn = await self.task_status(str(follow.release), CDN_TASK)
        if cdn_verdict(cdn) is Verdict.PASSED:
            return Verdict.PASSED, f"{CDN_TASK} passed"
        return Verdict.PENDING, f"{CDN_TASK} is {cdn.value}: stage test not triggered yet"

    async def _start_build(self, follow: FollowInfo) -> tuple[dict[str, JSON], str]:
        """Adopt the queued or running build for this payload, else trigger one."""
        jenkins = self._jenkins()
        payload = payload_of(str(follow.release))
        queued = await jenkins.queued(STAGE_PIPELINE)
        builds = await jenkins.recent_builds(STAGE_PIPELINE)
        found = existing_run(queued, builds, payload)
        if found is not None:
            return found, f"a {STAGE_PIPELINE} run for {payload} is already there: following it"
        params = {str(k): str(v) for k, v in (follow.data.get("parameters") or {}).items()}
        queue_id = await jenkins.trigger(STAGE_PIPELINE, params)
        log.info("staging.triggered", follow_id=follow.id, queue_id=queue_id)
        return {"queue_id": queue_id}, f"triggered {STAGE_PIPELINE} (queue item {queue_id})"

    async def check(self, follow: FollowInfo, number: int) -> Check:
        try:
            return await self._check(follow, number)
        except ConfigurationError as exc:  # no check will do better: fail now, with why
            return Check.finished(
                f"check #{number}: {exc.message}", phase="configuration", error=exc.message
            )

    async def _check(self, follow: FollowInfo, number: int) -> Check:
        data = follow.data
        learnt: dict[str, JSON] = {}
        lines: list[str] = []
        build = data.get("build")
        if build is None and data.get("queue_id") is None:
            if not data.get("precondition_passed"):
                verdict, line = await self._precondition(follow)
                lines.append(line)
                if verdict is Verdict.PENDING:
                    return Check.pending(f"check #{number}: {line}")
                if verdict is Verdict.FAILED:
                    return Check.finished(f"check #{number}: {line}", phase="precondition")
                learnt["precondition_passed"] = True
            started, line = await self._start_build(follow)
            learnt |= started
            lines.append(line)
            build = started.get("build")
            if build is None:
                return Check.pending(f"check #{number}: " + "; ".join(lines), **learnt)
        jenkins = self._jenkins()
        if build is None:
            item = await jenkins.queue_item(int(data["queue_id"]))
            if item.cancelled:
                text = f"queue item {item.id} of {STAGE_PIPELINE} was cancelled"
                return Check.finished(f"check #{number}: {text}", phase="queue", error=text)
            if item.build_number is None:
                lines.append(f"queued: {item.why or 'waiting'}")
                return Check.pending(f"check #{number}: " + "; ".join(lines), **learnt)
            build = learnt["build"] = item.build_number
        current = await jenkins.build(STAGE_PIPELINE, int(str(build)))
        if not data.get("announced"):
            await self._announce(follow, current.url)
            learnt |= {"announced": True, "build_url": current.url}
            lines.append(f"triggered stage pipeline job: <{current.url}>")
        verdict = build_verdict(current)
        if verdict is Verdict.PENDING:
            lines.append(f"build {current.url} is running")
            return Check.pending(f"check #{number}: " + "; ".join(lines), **learnt)
        result = current.result.value if current.result else "UNKNOWN"
        lines.append(f"build {current.url} ended with {result}")
        ended: dict[str, JSON] = {"phase": "build", "result": result, "build_url": current.url}
        return Check.finished(f"check #{number}: " + "; ".join(lines), **(learnt | ended))

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        phase = check.data.get("phase")
        if phase == "precondition":
            line = check.line.partition(": ")[2] or check.line
            error = f"{line}: stage testing was not triggered"
            return Finished(ok=False, line=error, error=error)
        if phase in ("queue", "configuration"):
            error = str(check.data.get("error"))
            return Finished(ok=False, line=error, error=error)
        result, url = check.data.get("result"), check.data.get("build_url")
        if result == BuildResult.SUCCESS.value:
            return Finished(ok=True, line=f"stage testing passed: build {url} ended with SUCCESS")
        error = f"Jenkins build {url} ended with {result}"
        return Finished(ok=False, line=f"stage testing failed: {error}", error=error)

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        if status is FollowStatus.SUCCEEDED:
            return "Stage testing passed."
        if status is FollowStatus.TIMED_OUT:
            return "Stage testing timed out: it had not ended by the deadline."
        return f"Stage testing failed: {error}"

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        group = await group_mention(notifier, str(follow.data.get("group", "")))
        url = follow.data.get("build_url") or STAGE_PIPELINE
        head = f"[{follow.release}] Hello {group}, stage testing"
        if status is FollowStatus.SUCCEEDED:
            return f"{head} passed: Jenkins build {url} ended with SUCCESS"
        if status is FollowStatus.TIMED_OUT:
            return f"{head} timed out: not done by {follow.deadline_text()} ({url})"
        return f"{head} failed: {error}"


@contextlib.asynccontextmanager
async def stage_testing_kind(settings: Settings) -> AsyncIterator[StageTestingKind]:
    """The kind with its ports, built once per worker; a missing credential fails only
    the follows that need it, with the reason."""
    from oar.integrations.gitlab import GitLabClient

    problems: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        jenkins: Jenkins | None = None
        gitlab: GitLab | None = None
        try:
            jenkins = await stack.enter_async_context(JenkinsClient.from_settings(settings))
        except OarError as exc:
            problems["jenkins"] = exc.message
        try:
            gitlab = await stack.enter_async_context(GitLabClient.from_settings(settings))
        except OarError as exc:
            problems["gitlab"] = exc.message
        yield StageTestingKind(jenkins=jenkins, gitlab=gitlab, problems=problems)


kinds.register(KIND, stage_testing_kind)
