"""The aggregator: collect job results, retry failed required jobs, accept and label (§5.8).

One pass reads every ``ocp-test-result-*-<arch>.json`` on the record branch:

* a nightly the release controller no longer has (recycled) has its file deleted;
* an aggregated file is left alone;
* otherwise each run still going is asked of Prow, a completed run gets its QE summary
  from GCS, a required job whose first run failed gets its retries (claimed in the
  database like every trigger, so a pass killed mid-way never starts them twice);
* the build is accepted when every required job passed (first run, or a majority of all
  runs from its retries); an accepted or manually promoted build's ReleasePayload is
  labelled ``qe_state=Accepted``; once every job completed the file is marked aggregated.

A job the registry no longer lists still counts, as an optional job: the original skipped
it and its file could never be aggregated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from oar.agents.controller import GatePorts, JobController, write_json
from oar.agents.jobregistry import TestJob, TestJobRegistry
from oar.agents.testresults import (
    RECORD_DIR,
    JobResult,
    ResultFile,
    build_key,
    metrics,
    parse_result_name,
)
from oar.db.types import utcnow
from oar.errors import (
    ConfigurationError,
    IntegrationAuthError,
    IntegrationConflictError,
    IntegrationError,
    IntegrationNotFoundError,
    JobRegistryError,
    OarError,
)
from oar.integrations.prow import ProwJobStatus
from oar.integrations.releasecontroller import Release
from oar.logs import get_logger

log = get_logger(__name__)

CLAIM_PREFIX = "claim-"
LOST = "lost"
# How long a claimed run may go without its prowjob ID before it is reported lost (a
# Gangway call takes seconds; a pass that died between the call and the database leaves it).
CLAIM_GRACE = timedelta(minutes=10)


def claim_id(attempt: int) -> str:
    return f"{CLAIM_PREFIX}{attempt}"


def claim_attempt(job_id: str) -> int | None:
    """The attempt a placeholder stands for, or None for a real prowjob ID."""
    tail = job_id.removeprefix(CLAIM_PREFIX)
    return int(tail) if job_id.startswith(CLAIM_PREFIX) and tail.isdigit() else None


@dataclass(kw_only=True)
class BuildOutcome:
    build: str
    metrics: str = ""
    retried: list[str] = field(default_factory=list)
    labelled: bool = False
    aggregated: bool = False
    accepted: bool | None = None
    deleted: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "build": self.build,
            "metrics": self.metrics,
            "retried": self.retried,
            "labelled": self.labelled,
            "aggregated": self.aggregated,
            "accepted": self.accepted,
            "deleted": self.deleted,
            "error": self.error,
        }


def apply_status(run: dict[str, Any], status: ProwJobStatus) -> dict[str, Any]:
    """A run's entry updated with what Prow says (the original's field names)."""
    updated = dict(run)
    updated["jobID"] = status.job_id
    updated["jobState"] = str(status.state)
    if status.start_time:
        updated["jobStartTime"] = status.start_time
    if status.url:
        updated["jobURL"] = status.url
    if status.completion_time:
        updated["jobCompletionTime"] = status.completion_time
    return updated


class Aggregator:
    def __init__(self, ports: GatePorts, *, claim_grace: timedelta = CLAIM_GRACE) -> None:
        self.ports = ports
        self.claim_grace = claim_grace
        self.controller = JobController(ports)
        self._registries: dict[str, TestJobRegistry | None] = {}

    async def check_credentials(self, arch: str) -> None:
        """Before labelling or writing: GitHub answers, and the payload API takes the token."""
        await self.controller.check_credentials()
        await self.ports.payloads.check_access(arch=arch)

    async def run(self, *, arch: str) -> list[BuildOutcome]:
        await self.check_credentials(arch)
        entries = await self.ports.files.list_dir(RECORD_DIR, ref=self.ports.record_branch)
        found = [f for e in entries if (f := parse_result_name(e.name, arch)) is not None]
        found.sort(key=lambda f: build_key(f.build))
        outcomes = []
        for result_file in found:
            try:
                outcomes.append(await self.aggregate(result_file))
            except (ConfigurationError, IntegrationAuthError):
                raise  # every other build would fail the same way
            except OarError as exc:  # one bad file does not hold up the others
                log.warning("aggregator.build_failed", build=result_file.build, error=exc.message)
                outcomes.append(BuildOutcome(build=result_file.build, error=exc.message))
        return outcomes

    async def _registry(self, y_stream: str, arch: str) -> TestJobRegistry | None:
        key = f"{y_stream}/{arch}"
        if key not in self._registries:
            try:
                self._registries[key] = await self.controller.registry(y_stream, arch)
            except JobRegistryError as exc:
                log.warning("aggregator.no_registry", y_stream=y_stream, arch=arch, error=str(exc))
                self._registries[key] = None
        return self._registries[key]

    async def aggregate(self, result_file: ResultFile) -> BuildOutcome:
        ports = self.ports
        build, arch = result_file.build, result_file.arch
        outcome = BuildOutcome(build=build)
        found = await ports.files.get_file(result_file.path, ref=ports.record_branch)
        if found is None:
            return outcome
        if result_file.nightly and await self._recycled(result_file, found.sha):
            outcome.deleted = True
            return outcome
        try:
            document: dict[str, Any] = json.loads(found.content)
        except ValueError:
            raise OarError(f"{result_file.path} is not JSON") from None
        if document.get("aggregated"):
            await ports.runs.record_build(document, build=build, arch=arch)
            outcome.aggregated = True
            outcome.accepted = bool(document.get("accepted"))
            return outcome
        registry = await self._registry(result_file.y_stream, arch)
        jobs: list[JobResult] = []
        entries = []
        for raw in document.get("result", []):
            entry = dict(raw)
            name = str(entry.get("jobName", ""))
            meta = registry.job(name, nightly=result_file.nightly) if registry else None
            if meta is None:
                log.warning("aggregator.unregistered_job", build=build, job=name)
            entry["firstJob"] = await self._refresh(name, dict(entry.get("firstJob") or {}))
            entry["retriedJobs"] = [
                await self._refresh(name, await self._resolve(name, dict(r), result_file))
                for r in entry.get("retriedJobs") or []
            ]
            job = JobResult.of(
                entry,
                optional=meta.optional if meta else True,
                retries=meta.retries if meta else 0,
            )
            if job.needs_retry and meta is not None:
                release = _release_of(document, build)
                entry["retriedJobs"] = await self._retry(release, meta, result_file)
                outcome.retried.append(name)
                job = JobResult.of(entry, optional=meta.optional, retries=meta.retries)
            entries.append(entry)
            jobs.append(job)
        document["result"] = entries
        summary = metrics(jobs)
        outcome.metrics = str(summary)
        if summary.qe_accepted or "manual_promotion" in document:
            outcome.labelled = await self._label(build, arch)
        if summary.all_completed:
            document["aggregated"] = True
            document["accepted"] = summary.qe_accepted
            outcome.aggregated = True
            outcome.accepted = summary.qe_accepted
        try:
            await write_json(
                ports.files, result_file.path, document, branch=ports.record_branch, sha=found.sha
            )
        except IntegrationConflictError:
            # Another pass (or a person) wrote it since: the next pass starts from theirs.
            log.info("aggregator.write_conflict", build=build, arch=arch)
            return outcome
        await ports.runs.record_build(document, build=build, arch=arch)
        log.info("aggregator.build", build=build, arch=arch, metrics=outcome.metrics)
        return outcome

    async def _recycled(self, result_file: ResultFile, sha: str) -> bool:
        """Delete the file of a nightly the release controller no longer has."""
        ports = self.ports
        build, arch = result_file.build, result_file.arch
        release = await ports.streams.release(result_file.y_stream, build, nightly=True, arch=arch)
        if release is not None:
            return False
        await ports.files.delete_file(
            result_file.path, message="delete file", sha=sha, branch=ports.record_branch
        )
        await ports.runs.forget_build(build=build, arch=arch)
        log.info("aggregator.recycled", build=build, arch=arch)
        return True

    async def _refresh(self, job_name: str, run: dict[str, Any]) -> dict[str, Any]:
        job_id = str(run.get("jobID") or "")
        if not job_id or claim_attempt(job_id) is not None:
            return run
        if "jobCompletionTime" not in run:
            try:
                status = await self.ports.prow.status(job_id)
            except IntegrationError as exc:
                log.warning("aggregator.status_failed", job_id=job_id, error=str(exc))
                return run
            run = apply_status(run, status)
            await self.ports.runs.observed(job_id, state=str(status.state), url=status.url)
        if "jobCompletionTime" in run and run.get("jobURL") and "testResultSummary" not in run:
            run_id = str(run["jobURL"]).rstrip("/").rsplit("/", 1)[-1]
            try:
                summary = await self.ports.artifacts.test_results(job_name, run_id)
            except IntegrationError as exc:
                log.warning("aggregator.artifacts_failed", job_id=job_id, error=str(exc))
                summary = None
            if summary is not None:
                run["testResultSummary"] = summary
        return run

    async def _retry(
        self, release: Release, job: TestJob, result_file: ResultFile
    ) -> list[dict[str, Any]]:
        retried = []
        for attempt in range(1, job.retries + 1):
            job_id = await self.controller.start_run(
                release, job, arch=result_file.arch, attempt=attempt, nightly=result_file.nightly
            )
            # A retry another pass claimed and has not recorded yet keeps its place, so a
            # job is never judged on fewer runs than its retries (:meth:`_resolve`).
            retried.append({"jobID": job_id if job_id is not None else claim_id(attempt)})
        return retried

    async def _resolve(
        self, job_name: str, run: dict[str, Any], result_file: ResultFile
    ) -> dict[str, Any]:
        """A retry's placeholder replaced by its prowjob ID once its claim has one; marked
        ``lost`` when the claim outlived the grace (:data:`CLAIM_GRACE`) without one: the
        process died between Gangway and the database, and a person replaces it with
        ``jobctl update-retried-job-run --current-job-id claim-<n>``."""
        attempt = claim_attempt(str(run.get("jobID") or ""))
        if attempt is None:
            return run
        claim = await self.ports.runs.get(
            build=result_file.build, arch=result_file.arch, job_name=job_name, attempt=attempt
        )
        if claim is not None and claim.job_id:
            return {"jobID": claim.job_id}
        if claim is None or utcnow() - claim.created_at > self.claim_grace:
            log.warning(
                "aggregator.lost_run", build=result_file.build, job=job_name, attempt=attempt
            )
            return {**run, "jobState": LOST}
        return run

    async def _label(self, build: str, arch: str) -> bool:
        try:
            await self.ports.payloads.accept(build, arch=arch)
        except IntegrationNotFoundError:
            log.warning("aggregator.no_payload", build=build, arch=arch)
            return False
        log.info("aggregator.labelled", build=build, arch=arch)
        return True


def _release_of(document: dict[str, Any], build: str) -> Release:
    data = document.get("build") or {}
    if not isinstance(data, dict) or not data.get("pullSpec"):
        raise OarError(f"the result file of {build} has no build.pullSpec to retry jobs with")
    return Release.from_json({"name": build, **data})


# --- manual operations (§5.10) -----------------------------------------------------------


async def edit_result(
    ports: GatePorts, build: str, arch: str, edit: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """Read a build's result file, apply ``edit`` (a pure function), write it back."""
    from oar.agents.testresults import result_path
    from oar.errors import TestResultNotFoundError

    path = result_path(build, arch)
    found = await ports.files.get_file(path, ref=ports.record_branch)
    if found is None:
        raise TestResultNotFoundError(build, arch)
    try:
        document = json.loads(found.content)
    except ValueError:
        raise OarError(f"{path} is not JSON") from None
    updated: dict[str, Any] = edit(document)
    await write_json(ports.files, path, updated, branch=ports.record_branch, sha=found.sha)
    await ports.runs.record_build(updated, build=build, arch=arch)
    return updated
