"""``oar -r X stage-testing`` as a release engineer runs it, against the sandbox: the command
returns at once and a detached worker follows the stage release, then the Jenkins build
it triggered. One test walks the scenarios on one sandbox: the follow waits while the
stage release runs, triggers the Stage-Pipeline when it succeeds, and the build fails →
Fail with the reason; a new run → a second invocation joins (one build) → the worker is
killed with -9 mid-follow → the command again restarts it → the build succeeds → Pass,
and the Slack thread and the release channel get the outcome. A second, short test: the
errata flow waits for push-to-cdn-staging to pass and sends the metadata advisory."""

from __future__ import annotations

from typing import Any

import pytest

from oar.integrations.jenkins import STAGE_PIPELINE
from oar.release.checklist import TaskStatus
from oar.release.follows import Follows, FollowStatus
from oar.release.staging import follow_key
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
from tests.acceptance.test_change_advisory_status import LEAD
from tests.approval_world import thread_text

__all__ = ["env", "sandbox"]

TASK = "stage-testing"
KEY = follow_key(seed.RELEASE)
PARAMETERS = {
    "VERSION": seed.Y_STREAM,
    "PULL_SPEC": f"quay.io/openshift-release-dev/ocp-release:{seed.RELEASE}-x86_64",
}


@pytest.fixture
def command_settings() -> dict[str, str]:
    """Checks every second."""
    return {"OAR_STAGE_TESTING_INTERVAL": "1", "OAR_STAGE_TESTING_DEADLINE": "120"}


async def builds(sandbox: Sandbox) -> list[dict[str, Any]]:
    found = (await control(sandbox, "jenkins", "jenkins/builds"))["builds"]
    return sorted((b for b in found if b["job"] == STAGE_PIPELINE), key=lambda b: b["number"])


async def build_number(sandbox: Sandbox, count: int) -> int:
    async def there() -> bool:
        return len(await builds(sandbox)) >= count

    await wait_for(there, timeout=60, what=f"build #{count} of {STAGE_PIPELINE}")
    return int((await builds(sandbox))[count - 1]["number"])


async def end_build(sandbox: Sandbox, number: int, result: str) -> None:
    await control(
        sandbox, "jenkins", f"jenkins/builds/{STAGE_PIPELINE}/{number}", {"result": result}
    )


async def test_stage_testing_waits_fails_then_passes_across_a_kill_9_with_one_build(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    follows = Follows(client.db, client.tasks)
    # Builds run until the test says how they end; the stage release is still running.
    await control(sandbox, "jenkins", f"jenkins/jobs/{STAGE_PIPELINE}", {"hold": True})
    await control(sandbox, "gitlab", "gitlab/stage-release", {"status": "running"})

    # 1. Waits for the stage release, triggers the pipeline, the build fails: Fail.
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert "waiting for the shipment MR's stage release" in stdout

    async def waited() -> bool:
        return any(
            "stage release pipeline is running" in line for line in (await follows.get(KEY)).log
        )

    await wait_for(waited, timeout=60, what="a check that waits for the stage release")
    assert await builds(sandbox) == []
    await control(sandbox, "gitlab", "gitlab/stage-release", {"status": "success"})
    first = await build_number(sandbox, 1)
    assert (await builds(sandbox))[0]["parameters"] == PARAMETERS
    await end_build(sandbox, first, "FAILURE")
    failed = await finished(client, KEY)
    assert failed.status is FollowStatus.FAILED, failed.log
    assert failed.error is not None
    assert failed.error.endswith(f"/{first}/ ended with FAILURE")
    await runs_end(client, seed.RELEASE, TASK, [TaskStatus.FAIL])

    # 2. Again, from a Slack thread (the bot's hand-over variables): a new build.
    channel = seed.SLACK_CHANNELS["team-qe-release"]
    slack = sandbox.servers["slack"]
    root = await slack.post_message(channel, LEAD, "stage testing, again")  # type: ignore[attr-defined]
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=from_thread(env, channel, root))
    assert code == 0, stderr
    assert "I will report in this thread" in stdout
    second = f"{KEY}:2"
    number = await build_number(sandbox, 2)

    # A second invocation while it runs joins it and triggers nothing.
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert f"already scheduled: follow {second}" in stdout

    # kill -9 of the worker mid-follow (the build runs), then the build succeeds.
    async def announced_and_checked() -> bool:
        follow = await follows.get(second)
        return bool(follow.data.get("announced")) and follow.checks >= 3

    await wait_for(announced_and_checked, timeout=30, what="the build followed")
    before = await follows.get(second)
    kill_workers(env)
    await end_build(sandbox, number, "SUCCESS")

    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert "joined it, nothing triggered" in stdout
    assert "started a background worker" in stdout
    code, _, stderr = await oar("follows", "check-now", second, "--json", env=env, program="oarctl")
    assert code == 0, stderr

    done = await finished(client, second)
    assert done.status is FollowStatus.SUCCEEDED, done.log
    assert (done.started_at, done.deadline_at) == (before.started_at, before.deadline_at)
    assert len(await builds(sandbox)) == 2  # one per follow, none on rejoin or restart
    await runs_end(client, seed.RELEASE, TASK, [TaskStatus.FAIL, *[TaskStatus.PASS] * 3])

    def outcome_in_thread() -> bool:
        return "Stage testing passed." in thread_text(sandbox, channel, root)

    await wait_for(outcome_in_thread, timeout=30, what="the outcome in the Slack thread")
    text = thread_text(sandbox, channel, root)
    assert text.count("triggered jenkins build for job [Stage-Pipeline], url is") == 1
    assert len([s for s in channel_texts(sandbox) if "stage testing passed" in s]) == 1
    assert len([s for s in channel_texts(sandbox) if "stage testing failed" in s]) == 1


async def test_errata_flow_waits_for_push_to_cdn_staging_and_sends_the_metadata_advisory(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    release = seed.ERRATA_RELEASE
    key = follow_key(release)
    follows = Follows(client.db, client.tasks)
    await control(sandbox, "jenkins", f"jenkins/jobs/{STAGE_PIPELINE}", {"hold": True})

    code, stdout, stderr = await oar("-r", release, TASK, env=env)
    assert code == 0, stderr
    assert "waiting for push-to-cdn-staging to pass" in stdout

    async def waited() -> bool:
        log = (await follows.get(key)).log
        return any("push-to-cdn-staging is Not Started" in line for line in log)

    await wait_for(waited, timeout=60, what="a check that waits for push-to-cdn-staging")
    assert await builds(sandbox) == []
    code, _, stderr = await oar("-r", release, "task", "push-to-cdn-staging", "-s", "pass", env=env)
    assert code == 0, stderr

    number = await build_number(sandbox, 1)
    (build,) = await builds(sandbox)
    assert build["parameters"] == {
        "VERSION": seed.ERRATA_Y_STREAM,
        "PULL_SPEC": f"quay.io/openshift-release-dev/ocp-release:{release}-x86_64",
        "METADATA_AD": str(seed.ADVISORIES[release]["metadata"]),
    }
    await end_build(sandbox, number, "SUCCESS")
    done = await finished(client, key)
    assert done.status is FollowStatus.SUCCEEDED, done.log
