"""``oar -r X drive`` against the sandbox: the whole checklist as one durable workflow.

One walk on one sandbox release (Konflux flow), the stand-ins' jobs succeeding (bugs
verified, Prow job, stage release and Jenkins build succeeding, payload promoted and
signed, metadata live), the service (web, worker, Slack bot) in an ``oarctl serve``
subprocess; only change-advisory-status is gated (``OAR_MCP_GATED``). Checkpoints: a dry
run changes nothing; running it again (CLI, MCP tool) joins the drive; the sandbox's
missing CVE tracker fails check-cve-tracker-bug with a blocker that holds
push-to-cdn-staging; the analysis tasks wait for a person; the worker is killed with -9
while the drive waits and the blocker is resolved meanwhile: a new worker resumes the
drive; the gate on change-advisory-status holds until approved in the drive's Slack
thread; every command ran once, each after the tasks it needs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from oar.release.checklist import TaskStatus
from oar.release.drive import drive_key
from oar.release.driveplan import MANUAL_TASKS, PRECONDITIONS
from oar.release.follows import FollowInfo, Follows, FollowStatus
from oar.release.state import ReleaseState
from oar.sandbox import releaseconfig, seed
from oar.sandbox.registry import Sandbox
from oar.sandbox.slack import SlackStandIn
from oar.service import Service
from tests.acceptance.conftest import OarProcess, oar, wait_for
from tests.acceptance.follow_world import control
from tests.acceptance.test_cli import free_port
from tests.acceptance.test_mcp import call, mcp_session
from tests.approval_world import set_metadata

RELEASE = seed.RELEASE
OWNER = seed.RELEASE_OWNER
KEY = drive_key(RELEASE)
QE_RELEASE = seed.SLACK_CHANNELS["team-qe-release"]
ALICE = "U0ALICE002"
APPROVE = "oar_approval_approve"
TOKEN = "drive-acceptance-token-0123456789"


@pytest.fixture
async def sandbox() -> Any:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
def env(sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_MCP_GATED": "change-advisory-status",
        "OAR_API_TOKEN": TOKEN,
        "OAR_LOG_LEVEL": "INFO",
        "OAR_CDN_PUSH_INTERVAL": "1",
        "OAR_STAGE_TESTING_INTERVAL": "1",
        "OAR_SIGNATURE_CHECK_INTERVAL": "1",
        "OAR_IMAGE_CONSISTENCY_INTERVAL": "1",
        "OAR_APPROVAL_WATCH_INTERVAL": "1",
    }


async def everything_succeeds(sandbox: Sandbox) -> None:
    jira = sandbox.servers["jira"].jira  # type: ignore[attr-defined]
    for key, issue in list(jira.issues.items()):
        if key.startswith("OCPBUGS-"):
            jira.issues[key] = dataclasses.replace(issue, status="Verified")
    await control(sandbox, "prow", "prow/timing", {"pending_after": 0.1, "complete_after": 0.5})
    await control(sandbox, "gitlab", "gitlab/stage-release", {"status": "success"})
    releases = "release-controller/releases"
    await control(sandbox, "release-controller", releases, {"stream": "4-stable", "name": RELEASE})
    await control(sandbox, "signatures", "signatures", {"release": RELEASE})
    await set_metadata(sandbox, live=True)


async def run(env: dict[str, str], *args: str) -> str:
    code, stdout, stderr = await oar("-r", RELEASE, *args, env=env)
    assert code == 0, stderr + stdout
    return stdout


async def drive(env: dict[str, str], *more: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(await run(env, "drive", "--json", "--interval", "1", *more))
    return answer


async def ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.TransportError:
        return False


def thread(slack: SlackStandIn, follow: FollowInfo) -> str:
    assert follow.slack_thread is not None
    return "\n".join(str(m.get("text", "")) for m in slack.thread(QE_RELEASE, follow.slack_thread))


async def test_drive_walks_the_checklist_through_a_blocker_a_kill_and_the_gate(
    env: dict[str, str], sandbox: Sandbox, spawn: Any, client: Service
) -> None:
    slack: SlackStandIn = sandbox.servers["slack"]  # type: ignore[assignment]
    follows = Follows(client.db, client.tasks)
    state = ReleaseState(client.db)
    await everything_succeeds(sandbox)
    port = free_port()
    serve = ("serve", "--port", str(port), "--role", "web", "--role", "worker", "--role", "bot")
    worker: OarProcess = spawn(*serve, env=env, name="worker-1")

    async def log_says(text: str) -> bool:
        return text in "\n".join((await follows.get(KEY)).log)

    try:
        await slack.wait_for(lambda: slack.connections > 0, 60, "the bot's socket")
        await wait_for(lambda: ready(port), timeout=60, what="oarctl serve to be ready")
        planned = await run(env, "drive", "--dry-run")
        assert "next     create-test-report" in planned
        assert not await state.exists(RELEASE)  # a dry run changes nothing
        started = await drive(env, "-e", OWNER)
        assert started["joined"] is False
        assert (await drive(env))["joined"] is True  # again: joins the running drive
        async with mcp_session(f"http://127.0.0.1:{port}/mcp", TOKEN) as session:
            joined = await call(session, "oar_drive", release=RELEASE)  # the MCP tool too
            assert (joined["joined"], joined["drive"]["id"]) == (True, KEY)
            plan = await call(session, "oar_drive", release=RELEASE, dry_run=True)
            assert plan["done"][0] == "create-test-report"

        # The sandbox's elliott reports a CVE tracker attached to nothing: the check fails
        # with a blocker, which holds push-to-cdn-staging and everything after it.
        await wait_for(
            lambda: log_says("push-to-cdn-staging waits on blocker"),
            timeout=90,
            what="the drive to stop at the blocker",
        )
        for task in sorted(MANUAL_TASKS):
            await run(env, "task", task, "--status", "pass", "--note", "analysed")

        # kill -9 of the worker while the drive waits; meanwhile ART attaches the tracker,
        # QE marks the check and resolves the blocker.
        worker.kill9()
        info = await state.get(RELEASE)
        blocker = next(i for i in info.issues if i.blocker and not i.resolved)
        assert blocker.related_tasks == ["check-cve-tracker-bug"]
        await run(env, "task", "check-cve-tracker-bug", "--status", "pass", "--note", "attached")
        await run(env, "issue", "resolve", str(blocker.id), "--resolution", "ART attached it")
        spawn(*serve, env=env, name="worker-2")

        # It resumes, and holds at the gate until a person approves in the thread.
        await wait_for(
            lambda: log_says("change-advisory-status is gated"),
            timeout=120,
            what="the drive to reach the gate",
        )
        follow = await follows.get(KEY)
        gate = str(follow.data["gates"]["change-advisory-status"])
        assert follow.slack_thread is not None
        await wait_for(
            lambda: any(
                gate in json.dumps(m.get("blocks", []))
                for m in slack.thread(QE_RELEASE, str(follow.slack_thread))
            ),
            timeout=30,
            what="the approval in the drive's thread",
        )
        assert await state.runs(RELEASE, task="change-advisory-status") == []
        message = next(
            m
            for m in slack.thread(QE_RELEASE, follow.slack_thread)
            if gate in json.dumps(m.get("blocks", []))
        )
        await slack.click(QE_RELEASE, message["ts"], ALICE, APPROVE, gate)

        async def ended() -> bool:
            return (await follows.get(KEY)).status is not FollowStatus.RUNNING

        await wait_for(ended, timeout=120, what="the drive to finish")
        done = await follows.get(KEY)
        assert done.status is FollowStatus.SUCCEEDED, done.log
        info = await state.get(RELEASE)
        assert all(t.status is TaskStatus.PASS for t in info.tasks), info.tasks
        runs = []
        for task in info.tasks:
            runs += await state.runs(RELEASE, task=task.name)
        runs.sort(key=lambda r: r.id)
        driven = [r.task for r in runs if r.interface == "drive"]
        # Each command ran once, each after the tasks it needs (the graph's order; a task
        # held by the blocker let later independent ones run first).
        assert sorted(driven) == sorted(t.name for t in info.tasks if t.name not in MANUAL_TASKS)
        for task in driven:
            needs = [n for n in PRECONDITIONS[task] if n not in MANUAL_TASKS]
            assert all(driven.index(n) < driven.index(task) for n in needs), (task, driven)
        assert "drive: change-advisory-status: Pass" in thread(slack, done)
    except BaseException:
        print("\n".join((await follows.get(KEY)).log))
        print(worker.output()[-5000:])
        raise
