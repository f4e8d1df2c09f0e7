"""A follow in real worker processes: killed with -9 between two checks, it resumes in the
restarted worker (same executor ID), keeps its deadline, is woken by ``oarctl follows
check-now`` and finishes exactly once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from oar.release.follows import Follows, FollowStatus
from oar.service import Service
from tests.acceptance.conftest import OarProcess, oar, wait_for, wait_for_worker
from tests.follow_kinds import flag_request, journal

KINDS = "tests.follow_kinds"


async def test_a_follow_killed_between_checks_resumes_and_finishes_once(
    client: Service,
    spawn: Callable[..., OarProcess],
    subprocess_env: dict[str, str],
    tmp_path: Path,
) -> None:
    worker = spawn("worker", "--plugin", KINDS, name="worker-1")
    await wait_for_worker(client, "test-executor", worker)
    follows = Follows(client.db, client.tasks)
    follow, created = await follows.start(flag_request(tmp_path))  # checks every 600 s
    assert created

    async def checked_once() -> bool:
        return (await follows.get(follow.id)).checks == 1

    await wait_for(checked_once, timeout=60, what="the first check")
    before = await follows.get(follow.id)
    worker.kill9()  # waiting between checks 1 and 2
    (tmp_path / "flag").touch()

    restarted = spawn("worker", "--plugin", KINDS, name="worker-2")
    await wait_for_worker(client, "test-executor", restarted)
    # The resumed follow would wait out its interval: check-now runs the next check now.
    code, stdout, stderr = await oar(
        "follows",
        "check-now",
        follow.id,
        "--json",
        env={**subprocess_env, "OAR_LOG_LEVEL": "INFO"},
        program="oarctl",
    )
    assert code == 0, stderr
    assert json.loads(stdout)["woken"] is True, stderr

    async def finished() -> bool:
        return (await follows.get(follow.id)).status is not FollowStatus.RUNNING

    await wait_for(finished, timeout=60, what="the follow to finish")
    done = await follows.get(follow.id)
    assert done.status is FollowStatus.SUCCEEDED, restarted.output()
    assert (done.started_at, done.deadline_at) == (before.started_at, before.deadline_at)
    assert done.checks == 2
    assert journal(tmp_path / "journal.txt") == ["check 1", "check 2", "finished"]
    code, stdout, _ = await oar("follows", "show", follow.id, env=subprocess_env, program="oarctl")
    assert code == 0
    assert "succeeded" in stdout
    assert "check now asked by" in stdout


async def test_serve_stops_at_once_with_a_follow_sleeping_and_resumes_it_at_the_next_start(
    client: Service,
    spawn: Callable[..., OarProcess],
    subprocess_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """A follow waiting an hour for its next check does not hold up `oarctl serve`'s
    shutdown (a 30 s grace is for work in progress, not for durable waits): SIGTERM stops
    it within 5 s, and the next start resumes the follow with its deadline unchanged."""
    serve = ("serve", "--port", "0", "--plugin", KINDS)
    graceful = {"OAR_SHUTDOWN_GRACE": "30"}
    first = spawn(*serve, env=graceful, name="serve-1")
    await wait_for_worker(client, "test-executor", first)
    follows = Follows(client.db, client.tasks)
    follow, _ = await follows.start(flag_request(tmp_path, interval=3600.0, deadline=7200.0))

    async def checked_once() -> bool:
        return (await follows.get(follow.id)).checks == 1

    await wait_for(checked_once, timeout=60, what="the first check")
    before = await follows.get(follow.id)

    started = time.monotonic()
    assert first.terminate(timeout=30) == 0, first.output()
    stopped_in = time.monotonic() - started
    assert stopped_in < 5, first.output()
    assert "engine.stop.suspending" in first.output()  # it says what it leaves for later
    assert (await follows.get(follow.id)).status is FollowStatus.RUNNING

    second = spawn(*serve, env=graceful, name="serve-2")
    await wait_for_worker(client, "test-executor", second)
    (tmp_path / "flag").touch()

    async def woken() -> bool:  # True once the resumed follow waits in the new process
        return (await follows.check_now(follow.id, actor="tester"))[1]

    await wait_for(woken, timeout=60, what="the resumed follow to wait for its next check")

    async def finished() -> bool:
        return (await follows.get(follow.id)).status is not FollowStatus.RUNNING

    await wait_for(finished, timeout=60, what="the follow to finish")
    done = await follows.get(follow.id)
    assert done.status is FollowStatus.SUCCEEDED, second.output()
    assert (done.started_at, done.deadline_at) == (before.started_at, before.deadline_at)
    assert done.checks == 2
    assert journal(tmp_path / "journal.txt") == ["check 1", "check 2", "finished"]
