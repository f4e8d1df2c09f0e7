"""In-memory Prow jobs (the port is :mod:`oar.integrations.prow`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from oar.errors import IntegrationNotFoundError
from oar.integrations.prow import (
    SYSTEM,
    ProwJobState,
    ProwJobStatus,
    check_job_name,
    job_envs,
)


class FakeProwJobs:
    """In memory: triggered runs stay ``triggered`` until :meth:`set_state`."""

    def __init__(self, jobs: list[ProwJobStatus] | None = None) -> None:
        self.jobs: dict[str, ProwJobStatus] = {job.job_id: job for job in jobs or []}
        self.triggered: list[tuple[str, dict[str, str]]] = []

    async def trigger(
        self,
        job_name: str,
        *,
        payload: str | None = None,
        upgrade_from: str | None = None,
        upgrade_to: str | None = None,
        envs: Mapping[str, str] | None = None,
    ) -> str:
        environment = job_envs(
            payload=payload, upgrade_from=upgrade_from, upgrade_to=upgrade_to, envs=envs
        )
        job_id = str(uuid.uuid4())
        self.triggered.append((check_job_name(job_name), environment))
        self.jobs[job_id] = ProwJobStatus(
            job_id=job_id, job_name=job_name, state=ProwJobState.TRIGGERED
        )
        return job_id

    async def status(self, job_id: str) -> ProwJobStatus:
        found = self.jobs.get(job_id)
        if found is None:
            raise IntegrationNotFoundError(SYSTEM, f"no prowjob {job_id}", status_code=404)
        return found

    def set_state(self, job_id: str, state: ProwJobState, *, url: str | None = None) -> None:
        job = self.jobs[job_id]
        if url is None and job.url is None and state is not ProwJobState.TRIGGERED:
            url = f"https://prow.invalid/view/gs/bucket/logs/{job.job_name}/{len(self.jobs)}"
        self.jobs[job_id] = ProwJobStatus(
            job_id=job_id,
            job_name=job.job_name,
            state=state,
            url=url or job.url,
            start_time=job.start_time or "2026-11-19T00:00:00Z",
            completion_time="2026-11-19T01:00:00Z" if state.completed else None,
        )
