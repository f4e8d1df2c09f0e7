"""What the acceptance tests of the follow commands (image-consistency-check,
stage-testing) share: the stand-ins' control API, the workers the commands start, and
reads of the stand-ins and the follows. Their fixtures are in ``follow_fixtures``."""

from __future__ import annotations

import os
import re
import signal
from typing import Any

import httpx

from oar.release.follows import FollowInfo, Follows, FollowStatus
from oar.release.state import ReleaseState
from oar.sandbox import seed
from oar.sandbox.registry import Sandbox
from oar.service import Service
from tests.acceptance.conftest import wait_for

RELEASE_CHANNEL = "#team-qe-release"
_PID = re.compile(r"\(pid (\d+),")


def started_worker(stdout: str) -> int:
    match = _PID.search(stdout)
    assert match, f"no background worker started:\n{stdout}"
    return int(match[1])


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


async def control(sandbox: Sandbox, stand_in: str, path: str, body: Any = None) -> Any:
    """A call to a stand-in's control API."""
    async with httpx.AsyncClient() as http:
        base = sandbox.urls[stand_in]
        if body is None:
            response = await http.get(f"{base}/_sandbox/{path}")
        else:
            response = await http.post(f"{base}/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()


async def finished(client: Service, follow_id: str, timeout: float = 90) -> FollowInfo:
    follows = Follows(client.db, client.tasks)

    async def done() -> bool:
        return (await follows.get(follow_id)).status is not FollowStatus.RUNNING

    await wait_for(done, timeout=timeout, what=f"follow {follow_id} to finish")
    return await follows.get(follow_id)


async def run_statuses(client: Service, task: str) -> list[str]:
    """The task's runs' statuses, oldest first."""
    runs = await ReleaseState(client.db).runs(seed.RELEASE, task=task, limit=50)
    return [r.status.value for r in sorted(runs, key=lambda r: r.id)]


def summaries(sandbox: Sandbox) -> list[str]:
    slack = sandbox.servers["slack"]
    return [m["text"] for m in slack.channel_messages(RELEASE_CHANNEL)]  # type: ignore[attr-defined]


def thread_text(sandbox: Sandbox, channel: str, ts: str) -> str:
    slack = sandbox.servers["slack"]
    return "\n".join(m["text"] for m in slack.thread(channel, ts))  # type: ignore[attr-defined]
