"""The Jenkins port's contract: the fake and python-jenkins against the stand-in agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from oar.errors import IntegrationNotFoundError
from oar.integrations.jenkins import (
    STAGE_PIPELINE,
    BuildResult,
    Jenkins,
    JenkinsBuild,
    JenkinsClient,
    wait_for_build_number,
)
from oar.sandbox.jenkins import SANDBOX_TOKEN, SANDBOX_USER, JenkinsStandIn, seed_jenkins

PARAMETERS = {"VERSION": "4.19", "PULL_SPEC": "quay.io/openshift-release-dev/ocp-release:4.19.3"}


@pytest.fixture(params=["fake", "stand-in"])
async def jenkins(request: pytest.FixtureRequest) -> AsyncIterator[Jenkins]:
    if request.param == "fake":
        yield seed_jenkins(build_seconds=0.5, queue_delay=0.2)
        return
    stand_in = JenkinsStandIn(build_seconds=0.5, queue_delay=0.2)
    async with (
        stand_in.serving() as url,
        JenkinsClient(url, user=SANDBOX_USER, token=SANDBOX_TOKEN) as client,
    ):
        yield client


async def _finished(jenkins: Jenkins, number: int) -> JenkinsBuild:
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        build = await jenkins.build(STAGE_PIPELINE, number)
        if not build.building or asyncio.get_running_loop().time() > deadline:
            return build
        await asyncio.sleep(0.1)


async def test_stage_pipeline_runs_from_queue_to_success(jenkins: Jenkins) -> None:
    assert await jenkins.recent_builds(STAGE_PIPELINE) == []
    queue_id = await jenkins.trigger(STAGE_PIPELINE, PARAMETERS)
    item = await jenkins.queue_item(queue_id)
    assert item.job == STAGE_PIPELINE
    assert item.build_number is None
    assert dict(item.parameters) == PARAMETERS
    assert [(q.id, dict(q.parameters)) for q in await jenkins.queued(STAGE_PIPELINE)] == [
        (queue_id, PARAMETERS)
    ]
    number = await wait_for_build_number(jenkins, queue_id, timeout=10, interval=0.05)
    assert await jenkins.queued(STAGE_PIPELINE) == []
    build = await _finished(jenkins, number)
    assert not build.building
    assert build.result is BuildResult.SUCCESS
    assert dict(build.parameters) == PARAMETERS
    assert build.url.endswith(f"/job/zstreams/job/Stage-Pipeline/{number}/")
    (recent,) = await jenkins.recent_builds(STAGE_PIPELINE)
    assert (recent.number, recent.result, dict(recent.parameters)) == (
        number,
        BuildResult.SUCCESS,
        PARAMETERS,
    )


async def test_unknown_job_and_build_are_not_found(jenkins: Jenkins) -> None:
    with pytest.raises(IntegrationNotFoundError):
        await jenkins.trigger("zstreams/No-Such-Job", PARAMETERS)
    with pytest.raises(IntegrationNotFoundError):
        await jenkins.build(STAGE_PIPELINE, 9999)
