"""``oar -r X image-consistency-check`` as a release engineer runs it, against the sandbox:
the command returns at once and a detached worker follows the Prow job it triggered. One
test walks the scenarios on one sandbox: a job that fails → Fail with the reason; a new
run → a second invocation joins (one job) → the worker is killed with -9 mid-follow → the
command again restarts it → the job succeeds → the image health check comments on the
shipment MR → Pass, and the Slack thread and the release channel get the outcome. A
second test runs it from Slack, across a service restart."""

from __future__ import annotations

import pytest

from oar.release.checklist import TaskStatus
from oar.release.follows import Follows, FollowStatus
from oar.release.imagecheck import JOB, follow_key
from oar.sandbox import seed
from oar.sandbox.registry import Sandbox
from oar.service import Service
from tests.acceptance.conftest import oar, wait_for
from tests.acceptance.follow_world import (
    channel_texts,
    control,
    env,
    finished,
    from_thread,
    kill_workers,
    runs_end,
    sandbox,
)
from tests.acceptance.test_change_advisory_status import (
    LEAD,
    LEAD_NAME,
    bot_service,
)
from tests.approval_world import thread_text

__all__ = ["env", "sandbox"]

TASK = "image-consistency-check"
KEY = follow_key(seed.RELEASE)
PAYLOAD = f"quay.io/openshift-release-dev/ocp-release:{seed.RELEASE}-x86_64"


@pytest.fixture
def command_settings() -> dict[str, str]:
    """Checks every second."""
    return {"OAR_IMAGE_CONSISTENCY_INTERVAL": "1", "OAR_IMAGE_CONSISTENCY_DEADLINE": "120"}


async def triggered_jobs(sandbox: Sandbox) -> list[dict[str, object]]:
    """The image consistency runs Gangway received (the seed's runs left out)."""
    jobs = (await control(sandbox, "prow", "prow/jobs"))["jobs"]
    return [j for j in jobs if j["job"] == JOB]


async def job_number(sandbox: Sandbox, count: int) -> str:
    async def there() -> bool:
        return len(await triggered_jobs(sandbox)) >= count

    await wait_for(there, timeout=60, what=f"Prow run #{count} of {JOB}")
    return str((await triggered_jobs(sandbox))[count - 1]["id"])


def mr_notes(sandbox: Sandbox) -> list[str]:
    gitlab = sandbox.servers["gitlab"].gitlab  # type: ignore[attr-defined]
    return [n.body for n in gitlab.project(seed.SHIPMENT_PROJECT).notes[seed.SHIPMENT_MR_IID]]


async def test_image_consistency_check_fails_then_passes_across_a_kill_9_with_one_job(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    # Prow runs stay pending until the test says how they end.
    await control(sandbox, "prow", "prow/timing", {"pending_after": 0.2, "complete_after": 3600})
    follows = Follows(client.db, client.tasks)

    # 1. Triggered; the job fails: Fail, with the reason.
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert f"started: image consistency check of {seed.RELEASE}" in stdout
    first_job = await job_number(sandbox, 1)
    (run,) = await triggered_jobs(sandbox)
    assert run["envs"] == {
        "MULTISTAGE_PARAM_OVERRIDE_PAYLOAD_URL": PAYLOAD,
        "MULTISTAGE_PARAM_OVERRIDE_MERGE_REQUEST_ID": str(seed.SHIPMENT_MR_IID),
    }
    await control(sandbox, "prow", f"prow/jobs/{first_job}", {"state": "failure"})
    failed = await finished(client, KEY)
    assert failed.status is FollowStatus.FAILED
    assert failed.error is not None
    assert failed.error.startswith(f"Prow job {first_job} ended with state 'failure'")
    await runs_end(client, seed.RELEASE, TASK, [TaskStatus.FAIL])

    # 2. Run again from a Slack thread (the bot's hand-over variables): a new job.
    channel = seed.SLACK_CHANNELS["team-qe-release"]
    slack = sandbox.servers["slack"]
    root = await slack.post_message(channel, LEAD, "checking image consistency")  # type: ignore[attr-defined]
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=from_thread(env, channel, root))
    assert code == 0, stderr
    assert "I will report in this thread" in stdout
    second = f"{KEY}:2"
    second_job = await job_number(sandbox, 2)

    # A second invocation while it runs joins it and triggers nothing.
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert f"already scheduled: follow {second}" in stdout
    assert "joined it, nothing triggered" in stdout

    async def announced() -> bool:
        return "triggered Prow job" in thread_text(sandbox, channel, root)

    await wait_for(announced, timeout=30, what="the job's URL in the thread")

    # kill -9 of the worker mid-follow (between two checks), then the job succeeds.
    async def checked_twice() -> bool:
        return (await follows.get(second)).checks >= 2

    await wait_for(checked_twice, timeout=30, what="the follow's second check")
    before = await follows.get(second)
    kill_workers(env)
    await control(sandbox, "prow", f"prow/jobs/{second_job}", {"state": "success"})

    # The command again: the follow is still running, its worker dead: one is restarted.
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert "joined it, nothing triggered" in stdout
    assert "started a background worker" in stdout
    code, stdout, stderr = await oar(
        "follows", "check-now", second, "--json", env=env, program="oarctl"
    )
    assert code == 0, stderr

    done = await finished(client, second)
    assert done.status is FollowStatus.SUCCEEDED, done.log
    assert (done.started_at, done.deadline_at) == (before.started_at, before.deadline_at)
    log = "\n".join(done.log)
    assert log.count("Triggered image consistency check Prow job") == 1
    assert "image health check passed: all 3 images are graded A or B" in log
    assert len(await triggered_jobs(sandbox)) == 2  # one per follow, none on rejoin
    assert mr_notes(sandbox)[-1].startswith("Images scanned: 3.  \n")
    # The run that started it and the two that joined it pass with it.
    await runs_end(client, seed.RELEASE, TASK, [TaskStatus.FAIL, *[TaskStatus.PASS] * 3])

    def outcome_in_thread() -> bool:
        return "Image consistency check passed" in thread_text(sandbox, channel, root)

    await wait_for(outcome_in_thread, timeout=30, what="the outcome in the Slack thread")
    text = thread_text(sandbox, channel, root)
    assert text.count(f"triggered Prow job [{JOB}], url is") == 1
    passed = [s for s in channel_texts(sandbox) if "image consistency check passed" in s]
    assert len(passed) == 1


async def test_from_slack_started_reply_and_completion_in_the_thread_across_a_restart(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    await control(sandbox, "prow", "prow/timing", {"pending_after": 0.2, "complete_after": 3600})
    channel = seed.SLACK_CHANNELS["team-qe-release"]

    async with bot_service(sandbox, env) as (_, slack):
        root = await slack.post_message(channel, LEAD, f"oar -r {seed.RELEASE} {TASK}")

        def started() -> bool:
            return "started: image consistency check" in thread_text(sandbox, channel, root)

        await slack.wait_for(started, 60, "the started reply in the thread")
        job = await job_number(sandbox, 1)
        await slack.wait_for(
            lambda: "triggered Prow job" in thread_text(sandbox, channel, root),
            30,
            "the job's URL in the thread",
        )
    # The service stops (a deploy, a crash) while the job runs; the job succeeds meanwhile.
    await control(sandbox, "prow", f"prow/jobs/{job}", {"state": "success"})

    async with bot_service(sandbox, env) as (service, slack):

        def completed() -> bool:
            return "Image consistency check passed" in thread_text(sandbox, channel, root)

        await slack.wait_for(completed, 60, "the completion in the same thread")
        follow = await Follows(service.db, service.tasks).get(KEY)
        assert follow.status is FollowStatus.SUCCEEDED
        assert (follow.slack_channel, follow.slack_thread) == (channel, root)
        assert (follow.started_by, follow.interface) == (LEAD_NAME, "slack")
        assert len(await triggered_jobs(sandbox)) == 1
