"""The Prow port's contract: the fake and the Gangway adapter against the stand-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from oar.errors import IntegrationNotFoundError, InvalidArgumentError
from oar.integrations.fakes.prow import FakeProwJobs
from oar.integrations.prow import (
    GangwayProwJobs,
    ProwJobs,
    ProwJobState,
    ProwJobStatus,
    gangway_envs,
)
from oar.sandbox import releasetests, seed
from oar.sandbox.prow import SANDBOX_PROW_TOKEN, ProwStandIn
from tests.contract.support import quick_policy

JOB = releasetests.NIGHTLY_JOBS[1]
UPGRADE_JOB = releasetests.NIGHTLY_UPGRADE_JOBS[0]
STABLE = "quay.io/openshift-release-dev/ocp-release:4.19.2-x86_64"


def seeded_fake() -> FakeProwJobs:
    return FakeProwJobs(
        [
            ProwJobStatus(
                job_id=run.job_id,
                job_name=run.job_name,
                state=ProwJobState(run.state),
                url=run.url if run.state != "triggered" else None,
                start_time=run.start_time,
                completion_time=run.completion_time,
            )
            for run in releasetests.PROW_RUNS
        ]
    )


@dataclass
class Subject:
    jobs: ProwJobs
    set_state: Callable[[str, ProwJobState], Awaitable[None]]


def gangway(url: str) -> GangwayProwJobs:
    return GangwayProwJobs(
        gangway_url=url,
        prow_url=url,
        token=SANDBOX_PROW_TOKEN,
        policy=quick_policy("Prow", "APITOKEN"),
    )


@pytest.fixture(params=["fake", "stand-in"])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "fake":
        fake = seeded_fake()

        async def set_fake(job_id: str, state: ProwJobState) -> None:
            fake.set_state(job_id, state)

        yield Subject(fake, set_fake)
        return
    stand_in = ProwStandIn(pending_after=3600, complete_after=7200)
    async with stand_in.serving() as url, httpx.AsyncClient(base_url=url) as control:

        async def set_remote(job_id: str, state: ProwJobState) -> None:
            answer = await control.post(f"/_sandbox/prow/jobs/{job_id}", json={"state": state})
            answer.raise_for_status()

        yield Subject(gangway(url), set_remote)


async def test_a_triggered_job_is_followed_to_completion(subject: Subject) -> None:
    job_id = await subject.jobs.trigger(JOB, payload=seed.CANDIDATE_BUILDS["x86_64"])
    status = await subject.jobs.status(job_id)
    assert status.job_id == job_id
    assert status.job_name == JOB
    assert status.state is ProwJobState.TRIGGERED
    assert not status.completed

    await subject.set_state(job_id, ProwJobState.FAILURE)
    status = await subject.jobs.status(job_id)
    assert status.state is ProwJobState.FAILURE
    assert status.completed
    assert status.url is not None
    assert status.completion_time is not None
    assert status.build_id


async def test_seeded_runs_match_the_test_result_files(subject: Subject) -> None:
    run = releasetests.ARTIFACT_RUN
    status = await subject.jobs.status(run.job_id)
    assert status.job_name == run.job_name
    assert status.state is ProwJobState.SUCCESS
    assert status.build_id == run.build_id
    assert status.start_time == run.start_time
    assert status.completion_time == run.completion_time


async def test_an_unknown_job_id_is_not_found(subject: Subject) -> None:
    with pytest.raises(IntegrationNotFoundError):
        await subject.jobs.status("00000000-0000-4000-8000-000000000000")


async def test_contradictory_payloads_are_refused(subject: Subject) -> None:
    with pytest.raises(InvalidArgumentError, match="payload"):
        await subject.jobs.trigger(JOB, payload=STABLE, upgrade_to=STABLE)
    with pytest.raises(InvalidArgumentError, match="upgrade_to"):
        await subject.jobs.trigger(UPGRADE_JOB, upgrade_from=STABLE)


async def test_gangway_receives_the_documented_environment() -> None:
    stand_in = ProwStandIn()
    async with stand_in.serving() as url:
        jobs = gangway(url)
        nightly = seed.CANDIDATE_BUILDS["aarch64"]
        job_id = await jobs.trigger(UPGRADE_JOB, upgrade_from=STABLE, upgrade_to=nightly)
        request = stand_in.calls(path="/v1/executions/", method="POST")[-1]
        assert request.headers["authorization"] == f"Bearer {SANDBOX_PROW_TOKEN}"
        assert stand_in.runs[job_id].envs == gangway_envs(upgrade_from=STABLE, upgrade_to=nightly)
        assert stand_in.runs[job_id].envs == {
            "RELEASE_IMAGE_ARM64_LATEST": STABLE,
            "RELEASE_IMAGE_ARM64_TARGET": nightly,
        }


async def test_runs_advance_on_the_stand_in_clock() -> None:
    async with ProwStandIn(pending_after=0.1, complete_after=0.4).serving() as url:
        jobs = gangway(url)
        job_id = await jobs.trigger(JOB)
        seen = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = await jobs.status(job_id)
            seen.add(status.state)
            if status.completed:
                break
            await asyncio.sleep(0.05)
        assert status.state is ProwJobState.SUCCESS
        assert ProwJobState.PENDING in seen
        assert status.url is not None
        assert status.url.endswith(f"/logs/{JOB}/{status.build_id}")
