"""What the acceptance tests of the commands that hand their wait to a follow share: the
sandbox's control API over HTTP, the release channel's messages, and waiting for a
follow (push-to-cdn-staging, image-signed-check)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
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
from tests.acceptance.conftest import wait_for
from tests.acceptance.test_change_advisory_status import background_workers

QE_RELEASE = seed.SLACK_CHANNELS["team-qe-release"]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@contextlib.asynccontextmanager
async def command_env(
    sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path, **settings: str
) -> AsyncIterator[dict[str, str]]:
    """The CLI's environment; afterwards every worker its commands started is killed."""
    yield {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_LOG_LEVEL": "INFO",
        **settings,
    }
    for pid in background_workers(subprocess_env["OAR_DATABASE_URL"]):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def control(sandbox: Sandbox, stand_in: str, path: str, body: dict[str, Any]) -> Any:
    """POST to a stand-in's control API, as a person driving the demo would."""
    async with httpx.AsyncClient(base_url=sandbox.urls[stand_in], timeout=10) as http:
        response = await http.post(path, json=body)
        response.raise_for_status()
        return response.json()


def channel_texts(sandbox: Sandbox, channel: str = QE_RELEASE) -> list[str]:
    slack = sandbox.servers["slack"]
    return [m["text"] for m in slack.channel_messages(channel)]  # type: ignore[attr-defined]


async def follow_where(
    client: Service, follow_id: str, predicate: Callable[[FollowInfo], bool], what: str
) -> FollowInfo:
    follows = Follows(client.db, client.tasks)

    async def reached() -> bool:
        return predicate(await follows.get(follow_id))

    await wait_for(reached, timeout=90, what=what)
    return await follows.get(follow_id)


async def finished(client: Service, follow_id: str) -> FollowInfo:
    return await follow_where(
        client, follow_id, lambda f: f.status is not FollowStatus.RUNNING, f"{follow_id} to end"
    )


async def runs_end(
    client: Service, release: str, task: str, status: TaskStatus, count: int
) -> None:
    """Every run of the task (the starting one and those that joined) ends ``status``."""
    state = ReleaseState(client.db)

    async def ended() -> bool:
        return [r.status for r in await state.runs(release, task=task)] == [status] * count

    await wait_for(ended, timeout=30, what=f"{count} run(s) of {task} to record {status}")


async def eventually_true(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    await wait_for(predicate, timeout=30, what=what)
