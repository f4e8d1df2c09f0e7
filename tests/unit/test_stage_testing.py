"""``stage-testing`` on fake ports: the stage-release and Jenkins state mappings, the
follow kind's two phases, and the command's body."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oar.errors import InvalidArgumentError
from oar.integrations.fakes import FakeGitLab, FakeJenkins, FakeJob, FakeNotifier
from oar.integrations.gitlab import STAGE_RELEASE_STAGE, PipelineJob, PipelineStatus
from oar.integrations.jenkins import STAGE_PIPELINE, BuildResult, JenkinsBuild, QueueItem
from oar.release.checklist import TaskStatus
from oar.release.commands import command
from oar.release.commands.staging import stage_testing
from oar.release.follows import FollowInfo
from oar.release.staging import (
    StageTestingKind,
    Verdict,
    build_verdict,
    existing_run,
    follow_key,
    is_for_release,
    parameters,
    stage_release_status,
    stage_release_verdict,
    triggered_text,
)
from oar.sandbox import seed
from oar.sandbox.gitlab import STAGE_PIPELINE_ID, seed_gitlab
from oar.testing.release import FakeFollows
from tests.unit.release_world import release_context, running_follow, seeded_ports

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PAYLOAD = f"quay.io/openshift-release-dev/ocp-release:{seed.RELEASE}-x86_64"
GROUP = "4.19-qe-leads"
PARAMS = {"VERSION": "4.19", "PULL_SPEC": PAYLOAD}


# --- the mappings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (None, Verdict.PENDING),
        (PipelineStatus.CREATED, Verdict.PENDING),
        (PipelineStatus.WAITING_FOR_RESOURCE, Verdict.PENDING),
        (PipelineStatus.PREPARING, Verdict.PENDING),
        (PipelineStatus.PENDING, Verdict.PENDING),
        (PipelineStatus.RUNNING, Verdict.PENDING),
        (PipelineStatus.MANUAL, Verdict.PENDING),
        (PipelineStatus.SCHEDULED, Verdict.PENDING),
        (PipelineStatus.SUCCESS, Verdict.PASSED),
        (PipelineStatus.FAILED, Verdict.FAILED),
        (PipelineStatus.CANCELED, Verdict.FAILED),
        (PipelineStatus.SKIPPED, Verdict.FAILED),
    ],
)
def test_every_stage_release_status_maps_to_a_verdict(
    status: PipelineStatus | None, verdict: Verdict
) -> None:
    assert stage_release_verdict(status) is verdict


def test_the_stage_release_job_is_the_newest_of_its_stage() -> None:
    jobs = [
        PipelineJob(id=3, name="prod", stage="prod-release-triggers", status=PipelineStatus.MANUAL),
        PipelineJob(id=2, name="stage", stage=STAGE_RELEASE_STAGE, status=PipelineStatus.FAILED),
        PipelineJob(id=1, name="stage", stage=STAGE_RELEASE_STAGE, status=PipelineStatus.SUCCESS),
    ]
    assert stage_release_status(jobs) is PipelineStatus.FAILED
    assert stage_release_status(jobs[:1]) is None  # absent: pending, not a crash


def build(result: BuildResult | None, *, building: bool = False, **params: str) -> JenkinsBuild:
    return JenkinsBuild(
        job=STAGE_PIPELINE,
        number=7,
        building=building,
        result=result,
        url="https://jenkins.example/job/zstreams/job/Stage-Pipeline/7/",
        parameters=params or PARAMS,
    )


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        (BuildResult.SUCCESS, Verdict.PASSED),
        (BuildResult.FAILURE, Verdict.FAILED),
        (BuildResult.ABORTED, Verdict.FAILED),
        (BuildResult.UNSTABLE, Verdict.FAILED),
        (BuildResult.NOT_BUILT, Verdict.FAILED),
    ],
)
def test_every_jenkins_result_maps_to_a_verdict(result: BuildResult, verdict: Verdict) -> None:
    assert build_verdict(build(result)) is verdict


def test_a_running_build_is_pending() -> None:
    assert build_verdict(build(None, building=True)) is Verdict.PENDING


def test_parameters_carry_the_metadata_advisory_only_when_there_is_one() -> None:
    assert parameters(y_stream="4.19", release="4.19.3", metadata_advisory=None) == PARAMS
    assert parameters(y_stream="4.18", release="4.18.40", metadata_advisory=140203) == {
        "VERSION": "4.18",
        "PULL_SPEC": "quay.io/openshift-release-dev/ocp-release:4.18.40-x86_64",
        "METADATA_AD": "140203",
    }


def test_a_build_belongs_to_the_release_its_payload_names() -> None:
    assert is_for_release(PARAMS, "4.19.3")
    assert not is_for_release(PARAMS, "4.19.30")
    assert not is_for_release({"PAYLOAD_URL": "quay.io/x:4.19.2-x86_64"}, "4.19.3")
    assert is_for_release({"PAYLOAD_URL": "quay.io/x:4.19.3-x86_64"}, "4.19.3")


def test_a_queued_or_running_build_for_the_payload_is_adopted() -> None:
    other = QueueItem(id=1, job=STAGE_PIPELINE, parameters={"PULL_SPEC": "q:4.19.2-x86_64"})
    ours = QueueItem(id=2, job=STAGE_PIPELINE, parameters=PARAMS)
    assert existing_run([other, ours], [], PAYLOAD) == {"queue_id": 2}
    assert existing_run([other], [build(None, building=True)], PAYLOAD) == {"build": 7}
    assert existing_run([other], [build(BuildResult.FAILURE)], PAYLOAD) is None


# --- the follow kind -----------------------------------------------------------------------


def follow(**data: Any) -> FollowInfo:
    return running_follow(
        kind="stage-testing",
        key=follow_key(seed.RELEASE),
        subject=seed.RELEASE,
        release=seed.RELEASE,
        task="stage-testing",
        channel="#team-qe-release",
        started_at=NOW,
        deadline=timedelta(days=2),
        interval=600.0,
        started_by="lead",
        data={
            "konflux": True,
            "shipment_mr": seed.SHIPMENT_MR_URL,
            "group": GROUP,
            "parameters": dict(PARAMS),
            **data,
        },
    )


class World:
    def __init__(self, cdn: TaskStatus = TaskStatus.NOT_STARTED) -> None:
        self.clock = 0.0
        self.jenkins = FakeJenkins(
            jobs={STAGE_PIPELINE: FakeJob(hold=True, next_build=101)},
            queue_delay=1.0,
            clock=lambda: self.clock,
        )
        self.gitlab: FakeGitLab = seed_gitlab()
        self.notifier = FakeNotifier(groups={GROUP: "S0419QELDS"})
        self.cdn = cdn

        async def task_status(release: str, task: str) -> TaskStatus:
            assert task == "push-to-cdn-staging"
            return self.cdn

        self.kind = StageTestingKind(
            jenkins=self.jenkins,
            gitlab=self.gitlab,
            notifier=self.notifier,
            task_status=task_status,
        )
        self.data: dict[str, Any] = {}

    def stage_release(self, status: PipelineStatus) -> None:
        self.gitlab.set_job_status(
            seed.SHIPMENT_PROJECT, STAGE_PIPELINE_ID, STAGE_RELEASE_STAGE, status
        )

    async def check(self, number: int, **data: Any) -> Any:
        """One check, keeping what it learnt as the follow machinery does."""
        answer = await self.kind.check(follow(**{**data, **self.data}), number)
        self.data.update(answer.data)
        return answer


async def test_konflux_waits_for_the_stage_release_then_triggers_once() -> None:
    world = World()
    world.stage_release(PipelineStatus.RUNNING)
    first = await world.check(1)
    assert not first.done
    assert "stage release pipeline is running: stage test not triggered yet" in first.line
    assert await world.jenkins.queued(STAGE_PIPELINE) == []

    world.stage_release(PipelineStatus.SUCCESS)
    second = await world.check(2)
    assert not second.done
    (queued,) = await world.jenkins.queued(STAGE_PIPELINE)
    assert queued.parameters == PARAMS
    assert world.data["queue_id"] == queued.id

    world.clock = 2.0  # the build started
    third = await world.check(3)
    assert not third.done
    assert world.data["build"] == 101
    url = world.data["build_url"]
    assert [m.text for m in world.notifier.messages] == [
        triggered_text(seed.RELEASE, "<!subteam^S0419QELDS>", url)
    ]
    assert len(await world.jenkins.recent_builds(STAGE_PIPELINE)) == 1

    world.jenkins.finish_build(STAGE_PIPELINE, 101, BuildResult.SUCCESS)
    last = await world.check(4)
    assert last.done
    finished = await world.kind.finish(follow(**world.data), last)
    assert finished.ok
    assert len(world.notifier.messages) == 1  # announced once


@pytest.mark.parametrize("result", [BuildResult.FAILURE, BuildResult.ABORTED])
async def test_a_build_that_did_not_succeed_fails_with_its_result(result: BuildResult) -> None:
    world = World()
    await world.check(1)  # the seed's stage release succeeded: triggered
    world.clock = 2.0
    world.jenkins.finish_build(STAGE_PIPELINE, 101, result)
    check = await world.check(2)
    assert check.done
    finished = await world.kind.finish(follow(**world.data), check)
    assert not finished.ok
    assert finished.error == f"Jenkins build {world.data['build_url']} ended with {result.value}"


async def test_the_stage_release_success_label_is_enough() -> None:
    world = World()
    world.stage_release(PipelineStatus.RUNNING)
    mr = await world.gitlab.get_merge_request(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID)
    world.gitlab.set_merge_request(dataclasses.replace(mr, labels=("stage-release-success",)))
    check = await world.check(1)
    assert "has the label stage-release-success" in check.line
    assert len(await world.jenkins.queued(STAGE_PIPELINE)) == 1


async def test_a_failed_stage_release_fails_without_triggering() -> None:
    world = World()
    world.stage_release(PipelineStatus.FAILED)
    check = await world.check(1)
    assert check.done
    finished = await world.kind.finish(follow(), check)
    assert not finished.ok
    assert finished.error == (
        "Stage release failed with status failed: stage testing was not triggered"
    )
    assert await world.jenkins.queued(STAGE_PIPELINE) == []


async def test_a_build_already_queued_for_the_release_is_followed_not_triggered_again() -> None:
    world = World()
    queue_id = await world.jenkins.trigger(STAGE_PIPELINE, PARAMS)  # a worker died here
    await world.check(1)
    assert world.data["queue_id"] == queue_id
    assert len(await world.jenkins.queued(STAGE_PIPELINE)) == 1


async def test_errata_flow_waits_for_push_to_cdn_staging_to_pass() -> None:
    world = World(cdn=TaskStatus.IN_PROGRESS)
    check = await world.check(1, konflux=False, shipment_mr=None)
    assert not check.done
    assert "push-to-cdn-staging is In Progress: stage test not triggered yet" in check.line
    world.cdn = TaskStatus.PASS
    await world.check(2, konflux=False, shipment_mr=None)
    assert len(await world.jenkins.queued(STAGE_PIPELINE)) == 1


async def test_a_given_build_is_followed_from_the_start() -> None:
    world = World()
    await world.jenkins.trigger(STAGE_PIPELINE, PARAMS)
    world.clock = 2.0
    check = await world.check(1, build=101, precondition_passed=True)
    assert not check.done
    assert await world.jenkins.queued(STAGE_PIPELINE) == []


async def test_without_jenkins_in_the_worker_the_follow_fails_at_once_saying_why() -> None:
    kind = StageTestingKind(
        jenkins=None, gitlab=seed_gitlab(), problems={"jenkins": "Jenkins needs JENKINS_TOKEN"}
    )
    check = await kind.check(follow(), 1)
    assert check.done
    finished = await kind.finish(follow(), check)
    assert (finished.ok, finished.error) == (False, "Jenkins needs JENKINS_TOKEN")


# --- the command's body --------------------------------------------------------------------


async def run(tmp_path: Path, ports: Any, release: str = seed.RELEASE, **options: Any) -> Any:
    ctx = await release_context(tmp_path, release, ports, task="stage-testing")
    await ctx.state.ensure_release(release)
    return await stage_testing(ctx, **options), ctx


async def test_the_command_starts_the_follow_with_the_release_parameters(tmp_path: Path) -> None:
    follows, jenkins = FakeFollows(), FakeJenkins(jobs={STAGE_PIPELINE: FakeJob()})
    outcome, _ = await run(tmp_path, seeded_ports(follows=follows, jenkins=jenkins))
    assert outcome.status is TaskStatus.IN_PROGRESS
    assert "waiting for the shipment MR's stage release" in outcome.message
    (request,) = follows.requests
    assert request.key == follow_key(seed.RELEASE)
    assert request.data["parameters"] == PARAMS
    assert request.data["konflux"] is True
    assert await jenkins.queued(STAGE_PIPELINE) == []  # the follow triggers it


async def test_a_second_invocation_joins(tmp_path: Path) -> None:
    follows = FakeFollows()
    ports = seeded_ports(follows=follows, jenkins=FakeJenkins(jobs={STAGE_PIPELINE: FakeJob()}))
    await run(tmp_path, ports)
    outcome, ctx = await run(tmp_path, ports)
    assert "joined it, nothing triggered" in outcome.message
    assert len(follows.follows) == 1
    assert ctx.done == []


async def test_the_errata_flow_sends_the_metadata_advisory(tmp_path: Path) -> None:
    follows = FakeFollows()
    ports = seeded_ports(follows=follows, jenkins=FakeJenkins(jobs={STAGE_PIPELINE: FakeJob()}))
    outcome, _ = await run(tmp_path, ports, release=seed.ERRATA_RELEASE)
    assert "waiting for push-to-cdn-staging to pass" in outcome.message
    assert follows.requests[0].data["parameters"] == {
        "VERSION": seed.ERRATA_Y_STREAM,
        "PULL_SPEC": f"quay.io/openshift-release-dev/ocp-release:{seed.ERRATA_RELEASE}-x86_64",
        "METADATA_AD": str(seed.ADVISORIES[seed.ERRATA_RELEASE]["metadata"]),
    }


async def test_a_given_build_of_another_release_is_refused(tmp_path: Path) -> None:
    jenkins = FakeJenkins(jobs={STAGE_PIPELINE: FakeJob()}, queue_delay=0.0)
    queue_id = await jenkins.trigger(STAGE_PIPELINE, {"PULL_SPEC": "q:4.19.2-x86_64"})
    number = (await jenkins.queue_item(queue_id)).build_number
    assert number is not None
    with pytest.raises(InvalidArgumentError, match=r"cannot find 4\.19\.3 in payload url"):
        await run(
            tmp_path, seeded_ports(follows=FakeFollows(), jenkins=jenkins), build_number=number
        )


async def test_a_given_build_of_this_release_is_followed(tmp_path: Path) -> None:
    jenkins = FakeJenkins(jobs={STAGE_PIPELINE: FakeJob()}, queue_delay=0.0)
    queue_id = await jenkins.trigger(STAGE_PIPELINE, PARAMS)
    number = (await jenkins.queue_item(queue_id)).build_number
    follows = FakeFollows()
    outcome, _ = await run(
        tmp_path, seeded_ports(follows=follows, jenkins=jenkins), build_number=number
    )
    assert f"following build {number} of {STAGE_PIPELINE}" in outcome.message
    assert follows.requests[0].data["build"] == number


async def test_an_already_passed_stage_testing_is_not_triggered_again(tmp_path: Path) -> None:
    follows = FakeFollows()
    ctx = await release_context(
        tmp_path, seed.RELEASE, seeded_ports(follows=follows), task="stage-testing"
    )
    await ctx.state.ensure_release(seed.RELEASE)
    await ctx.state.finish_task(seed.RELEASE, "stage-testing", TaskStatus.PASS)
    outcome = await stage_testing(ctx)
    assert outcome.status is TaskStatus.PASS
    assert follows.requests == []


def test_the_command_is_registered_with_its_option() -> None:
    registered = command("stage-testing")
    assert [o.flags for o in registered.options] == [("-n", "--build_number")]
    assert "jenkins" in registered.all_ports
