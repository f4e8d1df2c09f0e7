"""``push-to-cdn-staging``'s rules on fake ports: each push job state, the blocking order,
the command's start / join / pass at once, and the follow kind's checks and texts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oar.errors import CredentialsRefusedError, IntegrationAuthError, IntegrationUnavailableError
from oar.integrations.errata import AdvisoryState, PushJob, PushStatus
from oar.integrations.fakes import FakeErrata, FakeNotifier
from oar.integrations.fakes.errata import PushOutcome
from oar.release.checklist import TaskStatus
from oar.release.commands.cdnpush import push_to_cdn_staging
from oar.release.follows import Check, FollowInfo, FollowStatus
from oar.release.pushes import (
    AdvisoryPush,
    CdnPushKind,
    PushState,
    advisory_push,
    blocker_ids,
    follow_key,
    job_state,
    job_url,
    latest_jobs,
    plan_pushes,
)
from oar.release.tracking import ReleaseContext
from oar.sandbox import seed
from oar.sandbox.errata import seed_errata
from oar.testing.release import FakeFollows
from tests.unit.release_world import release_context, running_follow, seeded_ports

ERRATA_URL = "https://errata.example.com"
ERRATA = seed.ADVISORIES[seed.ERRATA_RELEASE]
KONFLUX = seed.ADVISORIES[seed.RELEASE]
QE_RELEASE = "#team-qe-release"
GROUP = "<!subteam^S0418QELDS>"


def job(job_id: int, status: PushStatus, target: str = "cdn_stage") -> PushJob:
    return PushJob(id=job_id, target=target, status=status)


# --- each Errata push job state -------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "state"),
    [
        (PushStatus.READY, PushState.RUNNING),
        (PushStatus.QUEUED, PushState.RUNNING),
        (PushStatus.RUNNING, PushState.RUNNING),
        (PushStatus.WAITING_ON_PUB, PushState.RUNNING),
        (PushStatus.COMPLETE, PushState.COMPLETE),
        (PushStatus.FAILED, PushState.FAILED),
    ],
)
def test_every_push_job_status_means_running_complete_or_failed(
    status: PushStatus, state: PushState
) -> None:
    assert job_state(status) is state


@pytest.mark.parametrize("status", list(PushStatus))
def test_one_job_of_this_follow_gives_its_state_to_the_advisory(status: PushStatus) -> None:
    push = advisory_push(7, [job(10, status)], baseline=9)
    assert push.state is job_state(status)
    assert push.failed == (job(10, status) if status is PushStatus.FAILED else None)


def test_no_stage_job_is_not_pushed_and_live_targets_do_not_count() -> None:
    assert advisory_push(7, []).state is PushState.NOT_PUSHED
    assert advisory_push(7, [job(3, PushStatus.COMPLETE, "cdn")]).state is PushState.NOT_PUSHED


def test_the_latest_job_per_target_decides() -> None:
    jobs = [
        job(1, PushStatus.FAILED),
        job(4, PushStatus.COMPLETE),
        job(2, PushStatus.COMPLETE, "cdn_docker_stage"),
        job(3, PushStatus.RUNNING, "cdn"),
    ]
    assert latest_jobs(jobs) == {
        "cdn_docker_stage": job(2, PushStatus.COMPLETE, "cdn_docker_stage"),
        "cdn_stage": job(4, PushStatus.COMPLETE),
    }
    assert advisory_push(7, jobs, baseline=4).state is PushState.COMPLETE


def test_complete_needs_every_stage_target_complete() -> None:
    jobs = [job(1, PushStatus.COMPLETE), job(2, PushStatus.QUEUED, "cdn_docker_stage")]
    assert advisory_push(7, jobs, baseline=0).state is PushState.RUNNING


def test_a_failure_from_before_the_follow_is_pushed_again_not_failed() -> None:
    stale = [job(5, PushStatus.FAILED), job(6, PushStatus.COMPLETE, "cdn_docker_stage")]
    assert advisory_push(7, stale, baseline=6).state is PushState.NOT_PUSHED
    # ... but not while another target still runs: Errata Tool refuses a second push.
    running = [job(5, PushStatus.FAILED), job(6, PushStatus.RUNNING, "cdn_docker_stage")]
    assert advisory_push(7, running, baseline=6).state is PushState.RUNNING
    fresh = advisory_push(7, [*stale, job(8, PushStatus.FAILED)], baseline=6)
    assert (fresh.state, fresh.failed) == (PushState.FAILED, job(8, PushStatus.FAILED))


# --- the blocking order ---------------------------------------------------------------------
def pushes(**states: PushState) -> dict[int, AdvisoryPush]:
    return {int(k[1:]): AdvisoryPush(advisory=int(k[1:]), state=s) for k, s in states.items()}


def test_an_advisory_is_pushed_only_when_its_blockers_are_complete() -> None:
    blockers = {2: (1,)}
    waiting = plan_pushes(pushes(a1=PushState.NOT_PUSHED, a2=PushState.NOT_PUSHED), blockers)
    assert (waiting.trigger, dict(waiting.waiting)) == ((1,), {2: (1,)})
    running = plan_pushes(pushes(a1=PushState.RUNNING, a2=PushState.NOT_PUSHED), blockers)
    assert (running.trigger, dict(running.waiting)) == ((), {2: (1,)})
    ready = plan_pushes(pushes(a1=PushState.COMPLETE, a2=PushState.NOT_PUSHED), blockers)
    assert (ready.trigger, dict(ready.waiting)) == ((2,), {})
    assert not ready.complete
    done = plan_pushes(pushes(a1=PushState.COMPLETE, a2=PushState.COMPLETE), blockers)
    assert done.complete
    assert done.trigger == ()


def test_a_failed_advisory_fails_the_plan() -> None:
    plan = plan_pushes(pushes(a1=PushState.FAILED, a2=PushState.COMPLETE), {})
    assert [p.advisory for p in plan.failed] == [1]
    assert not plan.complete


def test_blockers_are_ids_or_names_errata_tool_knows() -> None:
    ids, unknown = blocker_ids(["140204", "RHBA-2026:10201", "RHSA-2026:1"], {"RHBA-2026:10201": 9})
    assert (ids, unknown) == ([140204, 9], ["RHSA-2026:1"])


# --- the command ------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def errata_world() -> tuple[FakeErrata, Clock]:
    errata = seed_errata(push_seconds=10.0)
    clock = Clock()
    errata.clock = clock
    return errata, clock


async def context(tmp_path: Path, release: str, errata: FakeErrata, **ports: Any) -> ReleaseContext:
    notifier = FakeNotifier(groups={"4.18-qe-leads": "S0418QELDS", "4.19-qe-leads": "S0419QELDS"})
    opened = seeded_ports(
        **{"errata": errata, "notifier": notifier, "follows": FakeFollows(), **ports}
    )
    return await release_context(
        tmp_path, release, opened, task="push-to-cdn-staging", OAR_ERRATA_URL=ERRATA_URL
    )


def targets(errata: FakeErrata, advisory: int) -> dict[str, PushStatus]:
    return {j.target: j.status for j in errata.pushes().get(advisory, [])}


async def test_the_errata_flow_pushes_blockers_first_and_hands_the_rest_to_a_follow(
    tmp_path: Path,
) -> None:
    errata, _ = errata_world()
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, errata)

    outcome = await push_to_cdn_staging(ctx)

    assert outcome.status is TaskStatus.IN_PROGRESS
    assert outcome.message.startswith("started: pushed advisories ")
    assert f"{ERRATA['image']} waits for {ERRATA['rpm']}" in outcome.message
    pushed = {a for a in ERRATA.values() if errata.pushes().get(a)}
    assert pushed == {ERRATA[i] for i in ("extras", "metadata", "rpm", "rhcos")}  # not image
    assert ERRATA["microshift"] not in outcome.data["advisories"]  # type: ignore[operator]
    assert len(ctx.done) == 4
    follows: FakeFollows = ctx.ports.follows  # type: ignore[assignment]
    (request,) = follows.requests
    assert (request.kind, request.key, request.task) == (
        "cdn-push",
        follow_key(seed.ERRATA_RELEASE),
        "push-to-cdn-staging",
    )
    advisories = request.data["advisories"]
    assert isinstance(advisories, list)
    assert advisories.index(ERRATA["rpm"]) < advisories.index(ERRATA["image"])
    assert request.data["blockers"] == {str(ERRATA["image"]): [ERRATA["rpm"]]}
    assert follows.kept_alive == [follow_key(seed.ERRATA_RELEASE)]
    notifier: FakeNotifier = ctx.ports.notifier  # type: ignore[assignment]
    (message,) = notifier.channel_messages(QE_RELEASE)
    assert message.text.startswith(
        f"[{seed.ERRATA_RELEASE}] Hello {GROUP}, triggered push jobs to CDN stage, urls are"
        f" <{ERRATA_URL}/push/push_results/"
    )
    assert message.text.count("/push/push_results/") == 8
    assert f"{ERRATA['image']} (after {ERRATA['rpm']})" in message.text


async def test_a_second_run_while_the_follow_runs_joins_it_and_pushes_nothing(
    tmp_path: Path,
) -> None:
    errata, _ = errata_world()
    follows = FakeFollows()
    first = await context(tmp_path, seed.ERRATA_RELEASE, errata, follows=follows)
    await push_to_cdn_staging(first)
    errata.set_push_outcome(PushOutcome.FAIL)  # even failed pushes: the follow decides
    before = errata.pushes()
    second = await context(tmp_path, seed.ERRATA_RELEASE, errata, follows=follows)
    second.run_id = 2

    outcome = await push_to_cdn_staging(second)

    assert outcome.status is TaskStatus.IN_PROGRESS
    assert "this run joined it and triggered nothing" in outcome.message
    assert errata.pushes() == before
    assert second.done == []
    (follow,) = follows.follows.values()
    assert follow.joined_runs == (2,)
    notifier: FakeNotifier = second.ports.notifier  # type: ignore[assignment]
    assert notifier.messages == []


async def test_everything_complete_passes_at_once_without_a_follow(tmp_path: Path) -> None:
    errata, clock = errata_world()
    for advisory in KONFLUX.values():
        await errata.push_to_stage(advisory)
    clock.now = 60
    ctx = await context(tmp_path, seed.RELEASE, errata)

    outcome = await push_to_cdn_staging(ctx)

    assert outcome.status is TaskStatus.PASS
    assert outcome.message == (
        f"push jobs of every advisory are complete: {KONFLUX['rpm']}, {KONFLUX['rhcos']}"
    )
    follows: FakeFollows = ctx.ports.follows  # type: ignore[assignment]
    assert follows.requests == []
    assert ctx.done == []


async def test_failed_pushes_are_pushed_again_and_complete_ones_are_not(tmp_path: Path) -> None:
    errata, clock = errata_world()
    errata.set_push_outcome(PushOutcome.FAIL, KONFLUX["rpm"])
    for advisory in KONFLUX.values():
        await errata.push_to_stage(advisory)
    clock.now = 60
    assert set(targets(errata, KONFLUX["rpm"]).values()) == {PushStatus.FAILED}
    errata.set_push_outcome(PushOutcome.COMPLETE, KONFLUX["rpm"])
    ctx = await context(tmp_path, seed.RELEASE, errata)

    outcome = await push_to_cdn_staging(ctx)

    assert outcome.status is TaskStatus.IN_PROGRESS
    assert len(errata.pushes()[KONFLUX["rpm"]]) == 4  # two failed, two new
    assert len(errata.pushes()[KONFLUX["rhcos"]]) == 2  # complete: not pushed again
    assert ctx.done == [
        f"triggered the stage push of advisory {KONFLUX['rpm']}: jobs"
        f" {errata.pushes()[KONFLUX['rpm']][2].id} (cdn_stage),"
        f" {errata.pushes()[KONFLUX['rpm']][3].id} (cdn_docker_stage)"
    ]
    follows: FakeFollows = ctx.ports.follows  # type: ignore[assignment]
    (request,) = follows.requests
    baseline = request.data["baseline"]
    assert isinstance(baseline, dict)
    assert baseline[str(KONFLUX["rpm"])] == errata.pushes()[KONFLUX["rpm"]][1].id


async def test_dropped_advisories_are_not_pushed(tmp_path: Path) -> None:
    errata, _ = errata_world()
    rhcos = KONFLUX["rhcos"]
    errata.advisories[rhcos] = dataclasses.replace(
        errata.advisories[rhcos], state=AdvisoryState.DROPPED_NO_SHIP
    )
    ctx = await context(tmp_path, seed.RELEASE, errata)

    outcome = await push_to_cdn_staging(ctx)

    assert outcome.data["dropped"] == [rhcos]
    assert outcome.data["advisories"] == [KONFLUX["rpm"]]
    assert rhcos not in errata.pushes()


async def test_a_refused_token_pushes_nothing(tmp_path: Path) -> None:
    class Refusing(FakeErrata):
        async def get_advisory(self, advisory_id: int) -> Any:
            raise IntegrationAuthError("Errata Tool", "ERRATA_TOKEN", status_code=401)

    errata = Refusing()
    ctx = await context(tmp_path, seed.RELEASE, errata)

    with pytest.raises(CredentialsRefusedError, match="ERRATA_TOKEN"):
        await push_to_cdn_staging(ctx)
    assert errata.pushes() == {}


# --- the follow kind --------------------------------------------------------------------------
def follow_of(request: Any) -> FollowInfo:
    return running_follow(
        kind=request.kind,
        key=request.key,
        subject=request.subject,
        release=request.release,
        task=request.task,
        channel=request.channel,
        started_at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
        deadline=timedelta(seconds=request.deadline),
        interval=request.interval,
        data=dict(request.data),
    )


async def started(tmp_path: Path, errata: FakeErrata) -> FollowInfo:
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, errata)
    await push_to_cdn_staging(ctx)
    follows: FakeFollows = ctx.ports.follows  # type: ignore[assignment]
    return follow_of(follows.requests[0])


async def test_the_follow_pushes_a_blocked_advisory_once_its_blocker_completes(
    tmp_path: Path,
) -> None:
    errata, clock = errata_world()
    follow = await started(tmp_path, errata)
    kind = CdnPushKind(errata=errata, errata_url=ERRATA_URL)

    first = await kind.check(follow, 1)
    assert not first.done
    assert f"{ERRATA['image']} waits for blocking advisories {ERRATA['rpm']}" in first.line
    assert ERRATA["image"] not in errata.pushes()

    clock.now = 11  # the first pushes complete
    second = await kind.check(follow, 2)
    assert not second.done
    assert f"pushed to stage now (blockers complete): {ERRATA['image']}:" in second.line
    assert set(targets(errata, ERRATA["image"]).values()) == {PushStatus.RUNNING}

    clock.now = 22
    third = await kind.check(follow, 3)
    assert third == Check.finished("check #3: every push job is complete", ok=True)
    finished = await kind.finish(follow, third)
    assert finished.ok


async def test_a_failed_job_fails_the_follow_with_its_log_link(tmp_path: Path) -> None:
    errata, clock = errata_world()
    follow = await started(tmp_path, errata)
    errata.set_push_outcome(PushOutcome.FAIL, ERRATA["extras"])
    clock.now = 11
    kind = CdnPushKind(errata=errata, errata_url=ERRATA_URL)

    check = await kind.check(follow, 1)
    finished = await kind.finish(follow, check)

    assert check.done
    failed = min(j.id for j in errata.pushes()[ERRATA["extras"]])
    reason = (
        f"push job {failed} (cdn_stage) of advisory {ERRATA['extras']} is FAILED:"
        f" {job_url(ERRATA_URL, failed)}"
    )
    assert (finished.ok, finished.error) == (False, reason)
    summary = await kind.summary(
        follow, FollowStatus.FAILED, finished.error, FakeNotifier(groups={"4.18-qe-leads": "S1"})
    )
    assert summary == (
        f"[{seed.ERRATA_RELEASE}] Hello <!subteam^S1>, push to CDN stage failed: {reason}"
    )
    assert kind.final_line(follow, FollowStatus.FAILED, reason).endswith(reason)


async def test_the_outcome_texts_name_the_release_and_its_advisories(tmp_path: Path) -> None:
    errata, _ = errata_world()
    follow = await started(tmp_path, errata)
    kind = CdnPushKind(errata=errata, errata_url=ERRATA_URL)
    notifier = FakeNotifier()  # the group is unknown to Slack: its handle is used

    passed = await kind.summary(follow, FollowStatus.SUCCEEDED, None, notifier)
    assert passed.startswith(
        f"[{seed.ERRATA_RELEASE}] Hello @4.18-qe-leads, push to CDN stage completed for"
        f" advisories <{ERRATA_URL}/advisory/"
    )
    assert passed.count("/advisory/") == 5
    late = dataclasses.replace(
        follow, log=["2026-11-25T08:00:00Z: check #4: 140201 running (cdn_stage RUNNING)"]
    )
    timed_out = await kind.summary(late, FollowStatus.TIMED_OUT, None, notifier)
    assert timed_out == (
        f"[{seed.ERRATA_RELEASE}] Hello @4.18-qe-leads, push to CDN stage did not complete"
        " before the deadline: check #4: 140201 running (cdn_stage RUNNING)"
    )
    assert "timed out" in kind.final_line(follow, FollowStatus.TIMED_OUT, None)
    assert "started for the stage CDN pushes of 4.18.40" in kind.started_line(follow)


async def test_a_worker_without_an_errata_token_fails_the_follow_with_the_reason(
    tmp_path: Path,
) -> None:
    errata, _ = errata_world()
    follow = await started(tmp_path, errata)
    kind = CdnPushKind(errata=None, errata_url=ERRATA_URL, errata_problem="needs ERRATA_TOKEN")

    check = await kind.check(follow, 1)
    finished = await kind.finish(follow, check)

    assert check.done
    assert (finished.ok, finished.error) == (False, "needs ERRATA_TOKEN")


async def test_once_complete_a_run_still_joins_the_running_follow(tmp_path: Path) -> None:
    errata, clock = errata_world()
    follows = FakeFollows()
    await push_to_cdn_staging(await context(tmp_path, seed.RELEASE, errata, follows=follows))
    clock.now = 60  # every push is complete; the follow has not checked yet
    second = await context(tmp_path, seed.RELEASE, errata, follows=follows)

    outcome = await push_to_cdn_staging(second)

    assert outcome.status is TaskStatus.IN_PROGRESS  # the follow records the Pass
    assert "this run joined it" in outcome.message


async def test_an_advisory_still_in_new_files_fails_the_task_and_nothing_is_pushed(
    tmp_path: Path,
) -> None:
    errata, _ = errata_world()
    rhcos = KONFLUX["rhcos"]
    errata.advisories[rhcos] = dataclasses.replace(
        errata.advisories[rhcos], state=AdvisoryState.NEW_FILES
    )
    ctx = await context(tmp_path, seed.RELEASE, errata)

    outcome = await push_to_cdn_staging(ctx)

    assert outcome.status is TaskStatus.FAIL
    assert outcome.message.startswith(
        f"advisories in NEW_FILES cannot be pushed to CDN stage: {rhcos};"
    )
    assert errata.pushes() == {}
    follows: FakeFollows = ctx.ports.follows  # type: ignore[assignment]
    assert follows.requests == []


async def test_a_refused_push_is_said_and_the_follow_pushes_it_again(tmp_path: Path) -> None:
    class RefusingOnce(FakeErrata):
        refusals = 1

        async def push_to_stage(self, advisory_id: int) -> list[PushJob]:
            if advisory_id == KONFLUX["rhcos"] and self.refusals:
                self.refusals -= 1
                raise IntegrationUnavailableError("Errata Tool", "HTTP 503: pub is down")
            return await super().push_to_stage(advisory_id)

    seeded = seed_errata(push_seconds=10.0)
    errata = RefusingOnce(advisories=seeded.advisories, releases=seeded.releases)
    errata.clock = Clock()
    ctx = await context(tmp_path, seed.RELEASE, errata)

    outcome = await push_to_cdn_staging(ctx)

    assert outcome.status is TaskStatus.IN_PROGRESS
    assert f"pushed advisories {KONFLUX['rpm']} to CDN stage; Errata Tool refused" in (
        outcome.message
    )
    assert outcome.data["refused"] == {str(KONFLUX["rhcos"]): "Errata Tool: HTTP 503: pub is down"}
    follows: FakeFollows = ctx.ports.follows  # type: ignore[assignment]
    kind = CdnPushKind(errata=errata, errata_url=ERRATA_URL)
    follow = follow_of(follows.requests[0])
    first = await kind.check(follow, 1)  # the command pushed what it could: wait
    assert "pushed to stage now" not in first.line
    check = await kind.check(follow, 2)
    assert not check.done
    assert f"pushed to stage now (blockers complete): {KONFLUX['rhcos']}: " in check.line
    assert len(errata.pushes()[KONFLUX["rhcos"]]) == 2
