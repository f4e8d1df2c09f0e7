"""The job controller: test each new accepted build of a release stream once (reference §5.5).

One pass compares the stream's latest accepted build with the tracked one
(``record/_releases/ocp-latest-<y>-<nightly|stable>-<arch>.json``); a newer build gets the
registry's jobs triggered through Gangway, the result file
(``ocp-test-result-<build>-<arch>.json``) written, and then the tracking file. Every
trigger is claimed in the database first (:mod:`oar.agents.jobruns`), so two overlapping
passes — two workers, a schedule and a person — start each (build, job) once, and a pass
killed half-way is finished by the next without a duplicate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from oar.agents.jobregistry import TestJob, TestJobRegistry, load_registry
from oar.agents.jobruns import JobRuns
from oar.agents.testresults import is_newer, result_path, tracking_path, y_stream_of
from oar.errors import (
    ConfigurationError,
    IntegrationAuthError,
    IntegrationConflictError,
    InvalidArgumentError,
    OarError,
)
from oar.integrations.gcs import JobArtifacts
from oar.integrations.github import RepositoryFiles
from oar.integrations.prow import ProwJobs
from oar.integrations.releasecontroller import Release, ReleaseStreams
from oar.integrations.releasepayloads import ReleasePayloads
from oar.logs import get_logger

log = get_logger(__name__)

_WRITE_ATTEMPTS = 3


@dataclass(frozen=True, kw_only=True)
class GatePorts:
    """What the controller and the aggregator talk to (injected; fakes in unit tests)."""

    streams: ReleaseStreams
    prow: ProwJobs
    files: RepositoryFiles
    artifacts: JobArtifacts
    payloads: ReleasePayloads
    runs: JobRuns
    record_branch: str = "record"
    registry_branch: str = "main"


@dataclass(kw_only=True)
class ControllerOutcome:
    y_stream: str
    arch: str
    nightly: bool
    latest: str | None
    tracked: str | None
    new_build: bool = False
    triggered: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "y_stream": self.y_stream,
            "arch": self.arch,
            "nightly": self.nightly,
            "latest": self.latest,
            "tracked": self.tracked,
            "new_build": self.new_build,
            "triggered": self.triggered,
            "reused": self.reused,
            "skipped": self.skipped,
        }


def dump(document: Any) -> str:
    """The original's serialisation (``json.dumps(indent=2)``)."""
    return json.dumps(document, indent=2)


async def write_json(
    files: RepositoryFiles, path: str, document: Any, *, branch: str, sha: str | None
) -> str:
    message = "update file content" if sha else "create new file"
    return await files.put_file(path, dump(document), message=message, sha=sha, branch=branch)


def _definitely_not_started(exc: BaseException) -> bool:
    """Gangway refused (no token, bad token, bad job): nothing ran, the claim can go."""
    return isinstance(exc, (ConfigurationError, IntegrationAuthError, InvalidArgumentError))


class JobController:
    def __init__(self, ports: GatePorts) -> None:
        self.ports = ports

    async def check_credentials(self) -> None:
        """Before anything irreversible: the repository is readable (GitHub token)."""
        await self.ports.files.list_dir("_releases", ref=self.ports.record_branch)

    async def _read_json(self, path: str) -> tuple[dict[str, Any] | None, str | None]:
        found = await self.ports.files.get_file(path, ref=self.ports.record_branch)
        if found is None:
            return None, None
        try:
            data = json.loads(found.content)
        except ValueError:
            raise OarError(f"{path} on {self.ports.record_branch} is not JSON") from None
        return (data if isinstance(data, dict) else None), found.sha

    async def run(
        self, y_stream: str, *, nightly: bool, arch: str, trigger: bool = True
    ) -> ControllerOutcome:
        """One pass for a stream: a new build is tested, then tracked."""
        await self.check_credentials()
        latest = await self.ports.streams.latest(y_stream, nightly=nightly, arch=arch)
        path = tracking_path(y_stream, nightly=nightly, arch=arch)
        tracked_doc, tracked_sha = await self._read_json(path)
        tracked = str(tracked_doc["name"]) if tracked_doc and "name" in tracked_doc else None
        outcome = ControllerOutcome(
            y_stream=y_stream,
            arch=arch,
            nightly=nightly,
            latest=latest.name if latest else None,
            tracked=tracked,
        )
        if latest is None or latest.name == tracked:
            log.info("controller.no_diff", y_stream=y_stream, arch=arch, build=tracked)
            return outcome
        if tracked is not None and not is_newer(latest.name, tracked):
            log.warning("controller.older", y_stream=y_stream, latest=latest.name, tracked=tracked)
            return outcome
        outcome.new_build = True
        log.info("controller.new_build", y_stream=y_stream, arch=arch, build=latest.name)
        if trigger:
            await self.trigger_jobs(latest, arch=arch, nightly=nightly, outcome=outcome)
        # Tracked after triggering: a pass that dies in between is finished by the next.
        await self._track(path, latest, tracked_sha)
        return outcome

    async def _track(self, path: str, latest: Release, sha: str | None) -> None:
        """Write the tracking file; an overlapping pass that tracked the build first wins."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                await write_json(
                    self.ports.files,
                    path,
                    latest.raw or _release_body(latest),
                    branch=self.ports.record_branch,
                    sha=sha,
                )
                return
            except IntegrationConflictError:
                current, sha = await self._read_json(path)
                name = str((current or {}).get("name") or "")
                if name and not is_newer(latest.name, name):
                    return
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise

    async def trigger_for_build(
        self, build: str, *, arch: str, skip_existing: bool = True
    ) -> ControllerOutcome:
        """``jobctl trigger-jobs-for-build``: the build must be on its release stream."""
        await self.check_credentials()
        y_stream = y_stream_of(build)
        nightly = "nightly" in build
        tags = await self.ports.streams.tags(y_stream, nightly=nightly, arch=arch)
        release = next((tag for tag in tags if tag.name == build), None)
        if release is None:
            raise InvalidArgumentError("build", f"{build} is not on its release stream ({arch})")
        outcome = ControllerOutcome(
            y_stream=y_stream, arch=arch, nightly=nightly, latest=build, tracked=None
        )
        await self.trigger_jobs(
            release, arch=arch, nightly=nightly, outcome=outcome, skip_existing=skip_existing
        )
        return outcome

    async def registry(self, y_stream: str, arch: str) -> TestJobRegistry:
        return await load_registry(self.ports.files, y_stream, arch, ref=self.ports.registry_branch)

    async def trigger_jobs(
        self,
        build: Release,
        *,
        arch: str,
        nightly: bool,
        outcome: ControllerOutcome,
        skip_existing: bool = False,
    ) -> None:
        y_stream = y_stream_of(build.name)
        registry = await self.registry(y_stream, arch)
        path = result_path(build.name, arch)
        existing, _ = await self._read_json(path)
        by_name = {
            str(e.get("jobName")): e for e in (existing or {}).get("result", []) if e.get("jobName")
        }
        entries: dict[str, dict[str, Any]] = {}
        for job in registry.jobs(nightly=nightly):
            if job.disabled:
                outcome.skipped.append(job.name)
                continue
            if skip_existing and job.name in by_name:
                outcome.reused.append(job.name)
                continue
            job_id = await self.start_run(build, job, arch=arch, attempt=0, nightly=nightly)
            if job_id is None:
                outcome.skipped.append(job.name)
                continue
            listed = by_name.get(job.name) or {}
            if str((listed.get("firstJob") or {}).get("jobID")) == job_id:
                outcome.reused.append(job.name)
                continue
            entries[job.name] = {
                "jobName": job.name,
                "firstJob": {"jobID": job_id},
                "retriedJobs": [],
            }
            outcome.triggered.append(job.name)
        if entries:
            await self.merge_entries(path, build, entries)

    async def merge_entries(
        self, path: str, build: Release, entries: dict[str, dict[str, Any]]
    ) -> None:
        """Add job entries to the result file, re-reading it when someone wrote meanwhile."""
        for attempt in range(_WRITE_ATTEMPTS):
            document, sha = await self._read_json(path)
            document = dict(document or {"result": [], "build": build.raw or _release_body(build)})
            result = [e for e in document.get("result", []) if e.get("jobName") not in entries]
            document["result"] = result + list(entries.values())
            try:
                await write_json(
                    self.ports.files, path, document, branch=self.ports.record_branch, sha=sha
                )
                return
            except IntegrationConflictError:
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
                log.info("controller.write_conflict", path=path)

    async def start_run(
        self, build: Release, job: TestJob, *, arch: str, attempt: int, nightly: bool
    ) -> str | None:
        """Trigger one run (first or retry) unless it was claimed already; its prowjob ID,
        the existing one's, or None when a claim without an ID is in the way."""
        runs = self.ports.runs
        claimed = await runs.claim(build=build.name, arch=arch, job_name=job.name, attempt=attempt)
        if not claimed:
            existing = await runs.get(
                build=build.name, arch=arch, job_name=job.name, attempt=attempt
            )
            if existing is None or existing.job_id is None:
                # Another pass is triggering it now, or died doing so: never twice.
                log.info(
                    "controller.claimed_elsewhere", build=build.name, job=job.name, attempt=attempt
                )
                return None
            return existing.job_id
        payload, upgrade_from, upgrade_to = await self._payloads(
            build, job, nightly=nightly, arch=arch
        )
        try:
            job_id = await self.ports.prow.trigger(
                job.name, payload=payload, upgrade_from=upgrade_from, upgrade_to=upgrade_to
            )
        except BaseException as exc:
            if _definitely_not_started(exc):
                await runs.release(build=build.name, arch=arch, job_name=job.name, attempt=attempt)
            raise
        await runs.triggered(
            build=build.name, arch=arch, job_name=job.name, attempt=attempt, job_id=job_id
        )
        log.info(
            "controller.triggered", build=build.name, job=job.name, attempt=attempt, job_id=job_id
        )
        return job_id

    async def _payloads(
        self, build: Release, job: TestJob, *, nightly: bool, arch: str
    ) -> tuple[str | None, str | None, str | None]:
        """A run's (payload, upgrade from, upgrade to) (§5.5): an upgrade from the latest
        stable for a nightly's ``upgrade-from-stable-<y>`` job, an upgrade to the build for
        other upgrade jobs, the build itself otherwise."""
        if not job.upgrade:
            return build.pull_spec, None, None
        y_stream = y_stream_of(build.name)
        if nightly and f"upgrade-from-stable-{y_stream}" in job.name:
            stable_doc, _ = await self._read_json(tracking_path(y_stream, nightly=False, arch=arch))
            from_spec = str((stable_doc or {}).get("pullSpec") or "")
            if not from_spec:
                stable = await self.ports.streams.latest(y_stream, nightly=False, arch=arch)
                from_spec = stable.pull_spec if stable else ""
            if from_spec:
                return None, from_spec, build.pull_spec
        return None, None, build.pull_spec


def _release_body(release: Release) -> dict[str, str]:
    return {
        "name": release.name,
        "phase": release.phase,
        "pullSpec": release.pull_spec,
        "downloadURL": release.download_url,
    }
