"""The job controller and the aggregator over the ports' fakes and a real database (SQLite
and PostgreSQL): the rules a pass applies, each shown once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from oar.agents.aggregator import Aggregator, edit_result
from oar.agents.controller import GatePorts, JobController
from oar.agents.jobruns import JobRuns
from oar.agents.testresults import promote, registry_path, result_path, tracking_path
from oar.db import Database
from oar.errors import ConfigurationError, InvalidArgumentError, TestResultNotFoundError
from oar.integrations.fakes.gcs import FakeJobArtifacts
from oar.integrations.fakes.github import FakeRepositoryFiles
from oar.integrations.fakes.prow import FakeProwJobs
from oar.integrations.fakes.releasecontroller import FakeReleaseStreams
from oar.integrations.fakes.releasepayloads import FakeReleasePayloads
from oar.integrations.prow import ProwJobState
from oar.integrations.releasecontroller import Release
from oar.settings import Settings

Y = "4.19"
PREFIX = "periodic-ci-openshift-openshift-tests-private-release-4.19-automated-release"
E2E = f"{PREFIX}-aws-ipi-f999"
OPTIONAL = f"{PREFIX}-azure-ipi-f999"
DISABLED = f"{PREFIX}-vsphere-ipi-f999"
UPGRADE_Y = f"{PREFIX}-nightly-4.19-upgrade-from-stable-4.19-aws-ipi-f999"
UPGRADE_X = f"{PREFIX}-stable-4.19-upgrade-from-stable-4.18-gcp-ipi-f999"
OLD = "4.19.0-0.nightly-2026-11-17-000000"
NEW = "4.19.0-0.nightly-2026-11-18-000000"
STABLE = "quay.io/openshift-release-dev/ocp-release:4.19.2-x86_64"


def nightly(name: str) -> Release:
    body = {"name": name, "phase": "Accepted", "pullSpec": f"registry.ci/ocp/release:{name}"}
    return Release.from_json(body)


@dataclass
class World:
    ports: GatePorts
    files: FakeRepositoryFiles
    streams: FakeReleaseStreams
    prow: FakeProwJobs
    payloads: FakeReleasePayloads

    def record(self, path: str) -> dict[str, Any] | None:
        content = self.files.files.get(("record", path))
        return None if content is None else json.loads(content)

    def triggered(self, name: str) -> list[dict[str, str]]:
        return [envs for job, envs in self.prow.triggered if job == name]


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    registry = {
        "nightly": [
            {"prowJob": E2E},
            {"prowJob": OPTIONAL, "optional": True},
            {"prowJob": DISABLED, "disabled": True},
            {"prowJob": UPGRADE_Y, "upgrade": True},
            {"prowJob": UPGRADE_X, "upgrade": True},
        ],
        "stable": [],
    }
    files = FakeRepositoryFiles({registry_path(Y, "amd64"): json.dumps(registry)})
    files.files[("record", tracking_path(Y, nightly=True, arch="amd64"))] = json.dumps(
        {"name": OLD}
    )
    files.files[("record", tracking_path(Y, nightly=False, arch="amd64"))] = json.dumps(
        {"name": "4.19.2", "pullSpec": STABLE}
    )
    streams = FakeReleaseStreams({("amd64", "4.19.0-0.nightly"): [nightly(NEW), nightly(OLD)]})
    prow = FakeProwJobs()
    payloads = FakeReleasePayloads()
    payloads.add(NEW)
    async with Database(settings.database_url) as db:
        await db.upgrade()
        ports = GatePorts(
            streams=streams,
            prow=prow,
            files=files,
            artifacts=FakeJobArtifacts(),
            payloads=payloads,
            runs=JobRuns(db),
        )
        yield World(ports=ports, files=files, streams=streams, prow=prow, payloads=payloads)


def job_ids(world: World, build: str, name: str) -> list[str]:
    document = world.record(result_path(build, "amd64"))
    assert document is not None
    entry = next(e for e in document["result"] if e["jobName"] == name)
    return [entry["firstJob"]["jobID"]] + [r["jobID"] for r in entry["retriedJobs"]]


async def test_a_new_build_triggers_enabled_jobs_with_the_right_payloads_once(
    world: World,
) -> None:
    controller = JobController(world.ports)
    outcome = await controller.run(Y, nightly=True, arch="amd64")
    assert outcome.new_build
    assert sorted(outcome.triggered) == sorted([E2E, OPTIONAL, UPGRADE_Y, UPGRADE_X])
    assert outcome.skipped == [DISABLED]
    pull_spec = nightly(NEW).pull_spec
    assert world.triggered(E2E) == [{"RELEASE_IMAGE_LATEST": pull_spec}]
    # A nightly's upgrade-from-stable-<y> job upgrades from the tracked latest stable.
    assert world.triggered(UPGRADE_Y) == [
        {"RELEASE_IMAGE_LATEST": STABLE, "RELEASE_IMAGE_TARGET": pull_spec}
    ]
    assert world.triggered(UPGRADE_X) == [{"RELEASE_IMAGE_TARGET": pull_spec}]
    assert world.record(tracking_path(Y, nightly=True, arch="amd64"))["name"] == NEW  # type: ignore[index]
    document = world.record(result_path(NEW, "amd64"))
    assert document is not None
    assert document["build"]["name"] == NEW
    assert document["result"][0] == {
        "jobName": E2E,
        "firstJob": {"jobID": job_ids(world, NEW, E2E)[0]},
        "retriedJobs": [],
    }
    # Asked again (a person, after losing the tracking file): nothing twice.
    del world.files.files[("record", tracking_path(Y, nightly=True, arch="amd64"))]
    again = await controller.run(Y, nightly=True, arch="amd64")
    assert again.triggered == []
    assert len(world.prow.triggered) == 4
    by_hand = await controller.trigger_for_build(NEW, arch="amd64", skip_existing=False)
    assert by_hand.triggered == []
    assert len(world.prow.triggered) == 4


async def test_an_older_build_than_the_tracked_one_is_not_tested(world: World) -> None:
    world.files.files[("record", tracking_path(Y, nightly=True, arch="amd64"))] = json.dumps(
        {"name": "4.19.0-0.nightly-2026-11-20-000000"}
    )
    outcome = await JobController(world.ports).run(Y, nightly=True, arch="amd64")
    assert not outcome.new_build
    assert world.prow.triggered == []


async def test_a_build_not_on_its_stream_is_refused(world: World) -> None:
    with pytest.raises(InvalidArgumentError, match="not on its release stream"):
        await JobController(world.ports).trigger_for_build(
            "4.19.0-0.nightly-2026-01-01-000000", arch="amd64"
        )


async def test_a_refused_trigger_leaves_no_claim_behind(world: World) -> None:
    class NoToken(FakeProwJobs):
        async def trigger(self, job_name: str, **kwargs: Any) -> str:
            raise ConfigurationError("APITOKEN is not set", variables=["APITOKEN"])

    refusing = GatePorts(**{**world.ports.__dict__, "prow": NoToken()})
    with pytest.raises(ConfigurationError):
        await JobController(refusing).run(Y, nightly=True, arch="amd64")
    assert await world.ports.runs.runs(build=NEW, arch="amd64") == []
    outcome = await JobController(world.ports).run(Y, nightly=True, arch="amd64")
    assert len(outcome.triggered) == 4


async def test_aggregation_retries_a_failed_required_job_then_accepts_and_labels(
    world: World,
) -> None:
    await JobController(world.ports).run(Y, nightly=True, arch="amd64")
    first = {name: job_ids(world, NEW, name)[0] for name in (E2E, OPTIONAL, UPGRADE_Y, UPGRADE_X)}
    world.prow.set_state(first[E2E], ProwJobState.FAILURE)
    world.prow.set_state(first[OPTIONAL], ProwJobState.FAILURE)
    for name in (UPGRADE_Y, UPGRADE_X):
        world.prow.set_state(first[name], ProwJobState.SUCCESS)
    aggregator = Aggregator(world.ports)

    [outcome] = await aggregator.run(arch="amd64")
    assert outcome.retried == [E2E]  # the optional job is never retried
    assert not outcome.labelled
    assert len(world.triggered(E2E)) == 3
    retries = job_ids(world, NEW, E2E)[1:]
    assert len(retries) == 2
    for job_id in retries:
        world.prow.set_state(job_id, ProwJobState.SUCCESS)

    [outcome] = await aggregator.run(arch="amd64")
    assert outcome.labelled
    assert (outcome.aggregated, outcome.accepted) == (True, True)
    assert world.payloads.labelled == [("amd64", NEW)]
    document = world.record(result_path(NEW, "amd64"))
    assert document is not None
    assert (document["aggregated"], document["accepted"]) == (True, True)
    assert len(world.triggered(E2E)) == 3  # nothing twice

    # An aggregated file is left alone; a manual promotion re-opens it and labels again.
    [outcome] = await aggregator.run(arch="amd64")
    assert not outcome.labelled
    await edit_result(world.ports, NEW, "amd64", promote)
    [outcome] = await Aggregator(world.ports).run(arch="amd64")
    assert outcome.labelled
    builds = await world.ports.runs.builds(Y)
    assert [(b.build, b.state) for b in builds] == [(NEW, "Accepted (manually promoted)")]


async def test_a_rejected_build_is_aggregated_not_accepted_and_not_labelled(
    world: World,
) -> None:
    await JobController(world.ports).run(Y, nightly=True, arch="amd64")
    for name in (E2E, OPTIONAL, UPGRADE_Y, UPGRADE_X):
        world.prow.set_state(job_ids(world, NEW, name)[0], ProwJobState.SUCCESS)
    world.prow.set_state(job_ids(world, NEW, UPGRADE_X)[0], ProwJobState.FAILURE)
    aggregator = Aggregator(world.ports)
    await aggregator.run(arch="amd64")
    retries = job_ids(world, NEW, UPGRADE_X)[1:]
    world.prow.set_state(retries[0], ProwJobState.SUCCESS)
    world.prow.set_state(retries[1], ProwJobState.FAILURE)
    [outcome] = await aggregator.run(arch="amd64")
    assert (outcome.aggregated, outcome.accepted, outcome.labelled) == (True, False, False)
    assert world.payloads.labelled == []


async def test_a_recycled_nightly_loses_its_result_file(world: World) -> None:
    await JobController(world.ports).run(Y, nightly=True, arch="amd64")
    world.streams.streams[("amd64", "4.19.0-0.nightly")] = [nightly(OLD)]
    [outcome] = await Aggregator(world.ports).run(arch="amd64")
    assert outcome.deleted
    assert world.record(result_path(NEW, "amd64")) is None
    assert "delete file" in world.files.commits


async def test_a_job_no_longer_registered_counts_as_optional(world: World) -> None:
    await JobController(world.ports).run(Y, nightly=True, arch="amd64")
    path = result_path(NEW, "amd64")
    document = world.record(path)
    assert document is not None
    document["result"].append(
        {"jobName": f"{PREFIX}-retired-f999", "firstJob": {"jobID": "gone"}, "retriedJobs": []}
    )
    world.files.files[("record", path)] = json.dumps(document)
    for name in (E2E, OPTIONAL, UPGRADE_Y, UPGRADE_X):
        world.prow.set_state(job_ids(world, NEW, name)[0], ProwJobState.SUCCESS)
    [outcome] = await Aggregator(world.ports).run(arch="amd64")
    assert outcome.accepted is None  # the unknown run never completes: still pending
    assert outcome.labelled  # but the required jobs passed: accepted and labelled


async def test_manual_edits_need_the_result_file(world: World) -> None:
    with pytest.raises(TestResultNotFoundError, match=r"no test result file for build 4\.19\.9"):
        await edit_result(world.ports, "4.19.9", "amd64", promote)


async def test_a_retry_claimed_elsewhere_keeps_its_place_until_it_has_an_id(
    world: World,
) -> None:
    """A pass never judges a job on fewer runs than its retries: a retry another pass has
    claimed (and not recorded yet) is a placeholder; one whose pass died is reported lost."""
    await JobController(world.ports).run(Y, nightly=True, arch="amd64")
    for name in (E2E, OPTIONAL, UPGRADE_Y, UPGRADE_X):
        world.prow.set_state(job_ids(world, NEW, name)[0], ProwJobState.SUCCESS)
    world.prow.set_state(job_ids(world, NEW, E2E)[0], ProwJobState.FAILURE)
    runs = world.ports.runs
    assert await runs.claim(build=NEW, arch="amd64", job_name=E2E, attempt=2)  # elsewhere

    [outcome] = await Aggregator(world.ports).run(arch="amd64")
    assert outcome.retried == [E2E]
    assert len(world.triggered(E2E)) == 2  # attempt 1 only: attempt 2 is someone else's
    first_retry, placeholder = job_ids(world, NEW, E2E)[1:]
    assert placeholder == "claim-2"
    world.prow.set_state(first_retry, ProwJobState.SUCCESS)
    [outcome] = await Aggregator(world.ports).run(arch="amd64")
    assert outcome.accepted is None  # one passing retry of two is not enough yet
    assert not outcome.labelled

    # The other pass records its ID: the placeholder becomes the run.
    await runs.triggered(build=NEW, arch="amd64", job_name=E2E, attempt=2, job_id="late-run")
    world.prow.jobs["late-run"] = world.prow.jobs[first_retry].__class__(
        job_id="late-run",
        job_name=E2E,
        state=ProwJobState.SUCCESS,
        url="https://prow.invalid/view/gs/bucket/logs/e2e/9",
        completion_time="2026-11-19T02:00Z",
    )
    [outcome] = await Aggregator(world.ports).run(arch="amd64")
    assert job_ids(world, NEW, E2E)[2] == "late-run"
    assert (outcome.accepted, outcome.labelled) == (True, True)


async def test_a_claim_whose_pass_died_is_reported_lost(world: World) -> None:
    await JobController(world.ports).run(Y, nightly=True, arch="amd64")
    world.prow.set_state(job_ids(world, NEW, E2E)[0], ProwJobState.FAILURE)
    await world.ports.runs.claim(build=NEW, arch="amd64", job_name=E2E, attempt=1)
    await world.ports.runs.claim(build=NEW, arch="amd64", job_name=E2E, attempt=2)
    await Aggregator(world.ports).run(arch="amd64")
    assert world.triggered(E2E) == [world.triggered(E2E)[0]]  # never triggered twice
    await Aggregator(world.ports, claim_grace=timedelta(0)).run(arch="amd64")
    document = world.record(result_path(NEW, "amd64"))
    assert document is not None
    entry = next(e for e in document["result"] if e["jobName"] == E2E)
    assert [r["jobState"] for r in entry["retriedJobs"]] == ["lost", "lost"]
    assert "aggregated" not in document  # waits for a person: update-retried-job-run


async def test_one_unreadable_result_file_does_not_hold_up_the_others(world: World) -> None:
    await JobController(world.ports).run(Y, nightly=True, arch="amd64")
    world.files.files[("record", result_path("4.19.1", "amd64"))] = "{not json"
    for name in (E2E, OPTIONAL, UPGRADE_Y, UPGRADE_X):
        world.prow.set_state(job_ids(world, NEW, name)[0], ProwJobState.SUCCESS)
    outcomes = {o.build: o for o in await Aggregator(world.ports).run(arch="amd64")}
    assert outcomes["4.19.1"].error == f"{result_path('4.19.1', 'amd64')} is not JSON"
    assert outcomes[NEW].accepted is True
