"""``oar -r X image-signed-check`` as the QE release lead runs it, on one running sandbox:
the release not promoted yet, then promoted (release-controller control), then signed
(signature stand-in control) while the worker is killed with -9 and restarted; a
signature that never appears fails at the deadline. ``oarctl follows check-now`` moves
the follow on instead of waiting out its interval."""

from __future__ import annotations

import json

import pytest

from oar.release.checklist import TaskStatus
from oar.release.follows import FollowInfo, Follows, FollowStatus
from oar.release.signing import follow_key
from oar.sandbox import seed
from oar.sandbox.registry import Sandbox
from oar.sandbox.releasecontroller import payload_digest
from oar.service import Service
from tests.acceptance.conftest import oar, wait_for
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

TASK = "image-signed-check"
KEY = follow_key(seed.RELEASE)
RELEASES = "release-controller/releases"


@pytest.fixture
def command_settings() -> dict[str, str]:
    """A long interval: the test moves the follow on with `oarctl follows check-now`."""
    return {"OAR_SIGNATURE_CHECK_INTERVAL": "600", "OAR_SIGNATURE_CHECK_DEADLINE": "900"}


async def check_now(env: dict[str, str], client: Service, follow_id: str, checks: int) -> None:
    """Wake the follow (once a worker waits on it) and wait for its check number ``checks``."""

    async def woken() -> bool:
        code, stdout, stderr = await oar(
            "follows", "check-now", follow_id, "--json", env=env, program="oarctl"
        )
        assert code == 0, stderr
        return bool(json.loads(stdout)["woken"])

    await wait_for(woken, timeout=60, what=f"{follow_id} to wait in a worker")
    await follow_where(client, follow_id, lambda f: f.checks >= checks, f"check #{checks}")


def last_check(follow: FollowInfo) -> str:
    return [line for line in follow.log if ": check #" in line][-1]


async def test_the_signature_is_followed_to_pass_across_a_kill_and_a_missing_one_fails(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    # 4.19.3 is not in 4-stable yet: no digest to look for; the follow starts.
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)

    assert code == 0, stderr
    assert stdout.startswith("started: the release controller has no stable build 4.19.3 yet")
    worker = started_worker(stdout)

    # A second invocation while the follow runs joins it.
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert "this run joined it and triggered nothing" in stdout
    assert "background worker" not in stdout  # the first one's worker runs it

    # Promoted: the next check finds the digest, not the signature (the original's lost
    # retry result: here the follow simply reads the controller again).
    await control(sandbox, "release-controller", RELEASES, {"stream": "4-stable", "name": "4.19.3"})
    await check_now(env, client, KEY, 2)
    digest = payload_digest("amd64", seed.RELEASE)
    follow = await Follows(client.db, client.tasks).get(KEY)
    assert f"check #2: the signature of {digest} is not published yet" in last_check(follow)

    # kill -9 of the worker mid-follow; the signature is published meanwhile.
    kill9(worker)
    await control(sandbox, "signatures", "signatures", {"release": seed.RELEASE})
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)
    assert code == 0, stderr
    assert started_worker(stdout) != worker  # joined, and a worker restarted for the follow
    await check_now(env, client, KEY, 3)

    done = await finished(client, KEY)

    assert done.status is FollowStatus.SUCCEEDED, done.log
    assert (done.started_at, done.deadline_at) == (follow.started_at, follow.deadline_at)
    assert "\n".join(done.log).count("check #1:") == 1
    await runs_end(client, seed.RELEASE, TASK, [TaskStatus.PASS] * 3)
    passed = (
        f"[{seed.RELEASE}] Hello <!subteam^S0419QELDS>, image signed check passed: the payload"
        f" {digest} is signed: {env['OAR_SIGNATURE_URL']}sha256={digest[7:]}/signature-1"
    )
    await follow_where(client, KEY, lambda _: passed in channel_texts(sandbox), "the summary")
    assert channel_texts(sandbox).count(passed) == 1

    # Errata flow, promoted but never signed: Fail at the deadline, with the reason.
    await control(
        sandbox, "release-controller", RELEASES, {"stream": "4-stable", "name": "4.18.40"}
    )
    short = {**env, "OAR_SIGNATURE_CHECK_INTERVAL": "1", "OAR_SIGNATURE_CHECK_DEADLINE": "3"}
    code, stdout, stderr = await oar("-r", seed.ERRATA_RELEASE, TASK, env=short)
    assert code == 0, stderr
    assert stdout.startswith("started: the signature of sha256:")

    missing = await finished(client, follow_key(seed.ERRATA_RELEASE))

    assert missing.status is FollowStatus.TIMED_OUT
    await runs_end(client, seed.ERRATA_RELEASE, TASK, [TaskStatus.FAIL])
    failed = (
        f"[{seed.ERRATA_RELEASE}] Hello <!subteam^S0418QELDS>, image signed check failed: no"
        " signature by the deadline (the signature of "
        f"{payload_digest('amd64', seed.ERRATA_RELEASE)} is not published yet"
    )
    await follow_where(
        client,
        missing.id,
        lambda _: any(t.startswith(failed) for t in channel_texts(sandbox)),
        "the failure's summary",
    )
