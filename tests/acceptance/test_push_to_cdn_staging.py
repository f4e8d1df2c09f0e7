"""``oar -r X push-to-cdn-staging`` as the QE release lead runs it, on one running sandbox:
real ``oar`` processes returning at once, the detached worker they start, kill -9 of that
worker mid-follow, and the Errata stand-in's push jobs made to hang, complete or fail
through its control API."""

from __future__ import annotations

import pytest

from oar.release.checklist import TaskStatus
from oar.release.follows import FollowStatus
from oar.release.pushes import follow_key
from oar.release.state import ReleaseState
from oar.sandbox import seed
from oar.sandbox.registry import Sandbox
from oar.service import Service
from tests.acceptance.conftest import oar
from tests.acceptance.follow_world import (
    channel_texts,
    control,
    env,
    finished,
    follow_where,
    kill9,
    runs_end,
    sandbox,
)
from tests.acceptance.test_change_advisory_status import started_worker

__all__ = ["env", "sandbox"]

TASK = "push-to-cdn-staging"
ERRATA = seed.ADVISORIES[seed.ERRATA_RELEASE]
KONFLUX = seed.ADVISORIES[seed.RELEASE]
PUSHES = "errata/pushes"


@pytest.fixture
def command_settings() -> dict[str, str]:
    """Checks every second."""
    return {"OAR_CDN_PUSH_INTERVAL": "1", "OAR_CDN_PUSH_DEADLINE": "120"}


def pushed(sandbox: Sandbox) -> list[int]:
    """The advisories pushed to stage, one entry per push request Errata Tool received."""
    calls = sandbox.servers["errata"].calls(path=r"/push$", method="POST")  # type: ignore[attr-defined]
    return [int(c.path.split("/")[-2]) for c in calls]


async def test_pushes_are_followed_to_pass_across_a_kill_and_a_failed_job_fails(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    key = follow_key(seed.ERRATA_RELEASE)
    await control(sandbox, "errata", PUSHES, {"outcome": "hang"})

    # Triggered: every advisory whose blockers are complete; image waits for rpm.
    code, stdout, stderr = await oar("-r", seed.ERRATA_RELEASE, TASK, env=env)

    assert code == 0, stderr
    assert stdout.startswith("started: pushed advisories"), stdout
    worker = started_worker(stdout)
    first = {ERRATA[i] for i in ("extras", "metadata", "rpm", "rhcos")}
    assert sorted(pushed(sandbox)) == sorted(first)
    (triggered,) = channel_texts(sandbox)
    assert triggered.startswith(
        f"[{seed.ERRATA_RELEASE}] Hello <!subteam^S0418QELDS>, triggered push jobs to CDN"
        " stage, urls are <"
    )
    assert triggered.count("/push/push_results/") == 8

    # A second invocation while the follow runs joins it: nothing is pushed again.
    code, stdout, stderr = await oar("-r", seed.ERRATA_RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert "this run joined it and triggered nothing" in stdout
    assert "background worker" not in stdout  # the first one's worker runs it
    assert len(pushed(sandbox)) == 4

    # kill -9 of the worker mid-follow; the jobs complete meanwhile.
    before = await follow_where(client, key, lambda f: f.checks >= 1, "the first check")
    kill9(worker)
    await control(sandbox, "errata", PUSHES, {"outcome": "complete"})
    # Run again: it joins, and restarts a worker with the dead one's executor ID.
    code, stdout, stderr = await oar("-r", seed.ERRATA_RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert started_worker(stdout) != worker

    follow = await finished(client, key)

    assert follow.status is FollowStatus.SUCCEEDED, follow.log
    assert (follow.started_at, follow.deadline_at) == (before.started_at, before.deadline_at)
    log = "\n".join(follow.log)
    assert log.count("check #1:") == 1
    assert f"pushed to stage now (blockers complete): {ERRATA['image']}:" in log
    assert sorted(pushed(sandbox)) == sorted([*first, ERRATA["image"]])  # each once
    await runs_end(client, seed.ERRATA_RELEASE, TASK, [TaskStatus.PASS] * 3)
    summary = f"[{seed.ERRATA_RELEASE}] Hello <!subteam^S0418QELDS>, push to CDN stage completed"

    def summaries() -> list[str]:
        return [t for t in channel_texts(sandbox) if t.startswith(summary)]

    await follow_where(client, key, lambda _: bool(summaries()), "the summary")
    (said,) = summaries()  # once, though a worker died and the command ran three times
    assert said.count("/advisory/") == 5
    assert ERRATA["microshift"] not in pushed(sandbox)

    # A job that fails: Fail with the failed job's log link (the Konflux flow's advisories).
    await control(sandbox, "errata", PUSHES, {"outcome": "fail", "advisory": KONFLUX["rhcos"]})
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert stdout.startswith("started: pushed advisories"), stdout

    failed = await finished(client, follow_key(seed.RELEASE))

    assert failed.status is FollowStatus.FAILED
    assert failed.error is not None
    assert f"of advisory {KONFLUX['rhcos']} is FAILED: " in failed.error
    assert "/push/push_results/" in failed.error
    await runs_end(client, seed.RELEASE, TASK, [TaskStatus.FAIL])
    (run,) = await ReleaseState(client.db).runs(seed.RELEASE, task=TASK)
    assert failed.error in (run.log or "")
    said = f"[{seed.RELEASE}] Hello <!subteam^S0419QELDS>, push to CDN stage failed: {failed.error}"
    await follow_where(
        client, failed.id, lambda _: said in channel_texts(sandbox), "the failure's summary"
    )
