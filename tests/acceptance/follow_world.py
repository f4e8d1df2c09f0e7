"""What the acceptance tests of the commands that hand their wait to a follow share
(push-to-cdn-staging, image-signed-check, image-consistency-check, stage-testing): the
sandbox, the CLI's environment with each test's settings, the stand-ins' control API,
the release channel's messages (a thread's are ``tests.approval_world.thread_text``), the
follows and the runs they end."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from oar.release.checklist import TaskStatus
from oar.release.follows import FollowInfo, Follows, FollowStatus
from oar.release.state import ReleaseState
from oar.sandbox import releaseconfig, seed
from oar.sandbox.registry import Sandbox
from oar.service import Service
from tests.acceptance.conftest import kill9, wait_for
from tests.acceptance.test_change_advisory_status import LEAD, LEAD_NAME, background_workers

QE_RELEASE = seed.SLACK_CHANNELS["team-qe-release"]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
async def env(
    sandbox: Sandbox,
    subprocess_env: dict[str, str],
    tmp_path: Path,
    command_settings: dict[str, str],
) -> AsyncIterator[dict[str, str]]:
    """The CLI's environment with the test module's ``command_settings`` fixture (its
    command's interval and deadline); afterwards every worker its commands started is
    killed."""
    yield {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_LOG_LEVEL": "INFO",
        **command_settings,
    }
    for pid in background_workers(subprocess_env["OAR_DATABASE_URL"]):
        with contextlib.suppress(ProcessLookupError):
            kill9(pid)


def from_thread(env: dict[str, str], channel: str, root: str) -> dict[str, str]:
    """The environment the Slack bot hands a command the lead runs in the thread ``root``."""
    return {
        **env,
        "OAR_SLACK_CHANNEL": channel,
        "OAR_SLACK_THREAD": root,
        "OAR_SLACK_USER": LEAD,
        "OAR_SLACK_USER_NAME": LEAD_NAME,
    }


def kill_workers(env: dict[str, str]) -> None:
    """kill -9 of every background worker the commands started (at least one runs)."""
    pids = background_workers(env["OAR_DATABASE_URL"])
    assert pids, "no worker runs the follow"
    for pid in pids:
        kill9(pid)


async def control(sandbox: Sandbox, stand_in: str, path: str, body: Any = None) -> Any:
    """A call to a stand-in's control API (``/_sandbox/<path>``), as a person driving the
    demo would: a GET without ``body``, a POST of it with one."""
    async with httpx.AsyncClient(base_url=sandbox.urls[stand_in], timeout=10) as http:
        if body is None:
            response = await http.get(f"/_sandbox/{path}")
        else:
            response = await http.post(f"/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()


def channel_texts(sandbox: Sandbox, channel: str = QE_RELEASE) -> list[str]:
    """The channel's top-level messages, oldest first."""
    slack = sandbox.servers["slack"]
    return [m["text"] for m in slack.channel_messages(channel)]  # type: ignore[attr-defined]


async def follow_where(
    client: Service, follow_id: str, predicate: Callable[[FollowInfo], bool], what: str
) -> FollowInfo:
    """The follow, once ``predicate`` holds for it."""
    follows = Follows(client.db, client.tasks)

    async def reached() -> bool:
        return predicate(await follows.get(follow_id))

    await wait_for(reached, timeout=90, what=what)
    return await follows.get(follow_id)


async def finished(client: Service, follow_id: str) -> FollowInfo:
    return await follow_where(
        client, follow_id, lambda f: f.status is not FollowStatus.RUNNING, f"{follow_id} to end"
    )


async def run_statuses(client: Service, release: str, task: str) -> list[TaskStatus]:
    """The statuses of the task's runs, oldest first."""
    runs = await ReleaseState(client.db).runs(release, task=task)
    return [r.status for r in sorted(runs, key=lambda r: r.id)]


async def runs_end(client: Service, release: str, task: str, statuses: list[TaskStatus]) -> None:
    """The task's runs (the starting ones and those that joined them) end ``statuses``,
    oldest first."""

    async def ended() -> bool:
        return await run_statuses(client, release, task) == statuses

    await wait_for(ended, timeout=30, what=f"the runs of {task} to record {statuses}")
