"""The release detector and the test-result checker as an operator runs them: schedules in
``oarctl serve``, pushes delivered by the GitHub stand-in to the agents' GitHub App, a
restart, and the one-shot ``oarctl`` commands — against the sandbox stand-ins.

One scenario (each process start costs seconds): a rejected nightly is announced once, and
stays announced once across a restart and a CLI run; the detector creates 4.19.3's report
once from its schedule's ticks, and 4.18.40's once from a push to ART's 4.18 file (its
schedule is off), a second push changing nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from oar.agents import detector, resultchecker
from oar.agents.detector import DetectionStatus, DetectionStore
from oar.release.checklist import TaskStatus
from oar.release.state import ReleaseState
from oar.sandbox import releaseconfig, releasetests, seed
from oar.sandbox.github import SANDBOX_TOKEN
from oar.sandbox.registry import Sandbox
from oar.service import Service
from tests.acceptance.conftest import OarProcess, oar, wait_for
from tests.acceptance.test_cli import free_port
from tests.approval_world import summaries

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

Spawn = Callable[..., OarProcess]
SECRET = "agents-acceptance-secret"
CHECKER_CHANNEL = "#forum-qe"
REJECTED = f"_releases/ocp-test-result-{releasetests.REJECTED_NIGHTLY}-amd64.json"
PROMOTED = f"_releases/ocp-test-result-{releasetests.PROMOTED_NIGHTLY}-amd64.json"
DETECTOR_419 = detector.schedule_name(seed.Y_STREAM)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
def env(sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_LOG_LEVEL": "INFO",
        "OAR_RESULT_CHECKER_CHANNEL": CHECKER_CHANNEL,
        "OAR_RESULT_CHECKER_INTERVAL": "2s",
        "OAR_RELEASE_DETECTOR_Y_STREAMS": f"{seed.Y_STREAM},{seed.ERRATA_Y_STREAM}",
        "OAR_RELEASE_DETECTOR_INTERVAL": "2s",
        # 4.18 is watched through GitHub's pushes only.
        "OAR_SCHEDULES": f"{detector.schedule_name(seed.ERRATA_Y_STREAM)}=off",
        "GITHUBAPP_WEBHOOK_SECRET": SECRET,
    }


async def _serve(spawn: Spawn, env: dict[str, str], port: int, name: str) -> OarProcess:
    server = spawn(
        "serve", "--port", str(port), "--github-app", "oar.github.agents:app", name=name, env=env
    )

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await wait_for(ready, timeout=60, what=f"{name} to be ready")
    except BaseException:
        print(server.output())
        raise
    return server


def announcements(sandbox: Sandbox) -> list[str]:
    slack = sandbox.servers["slack"]
    return [
        m["text"]
        for m in slack.channel_messages(CHECKER_CHANNEL)  # type: ignore[attr-defined]
        if m["text"].startswith("Rejected build detected")
    ]


def reports(sandbox: Sandbox, release: str) -> list[str]:
    return [text for text in summaries(sandbox) if f"new report for {release} " in text]


async def _touch_art_file(sandbox: Sandbox, y_stream: str, note: str) -> None:
    """Commit a change to ART's z-stream file through the GitHub API (a push follows)."""
    base = sandbox.urls["github"]
    url = f"{base}/repos/{releasetests.REPO}/contents/_releases/{y_stream}/{y_stream}.z.yaml"
    headers = {"Authorization": f"token {SANDBOX_TOKEN}"}
    async with httpx.AsyncClient(timeout=30) as http:
        current = (await http.get(url, params={"ref": "z-stream"}, headers=headers)).json()
        text = base64.b64decode(current["content"]).decode() + f"# {note}\n"
        answer = await http.put(
            url,
            headers=headers,
            json={
                "message": note,
                "content": base64.b64encode(text.encode()).decode(),
                "sha": current["sha"],
                "branch": "z-stream",
            },
        )
    assert answer.status_code == 200, answer.text


async def _ticks_after(client: Service, name: str, count: int) -> None:
    """Wait for ``count`` more finished runs of schedule ``name``."""
    first = await client.schedules.get(name)
    seen = {first.last_run.workflow_id} if first.last_run else set()

    async def ran() -> bool:
        info = await client.schedules.get(name)
        last = info.last_run
        if last is not None and last.status.value == "succeeded":
            seen.add(last.workflow_id)
        return len(seen) > count

    await wait_for(ran, timeout=60, what=f"{count} more runs of {name}")


async def test_agents_announce_and_report_once_across_ticks_webhooks_restarts_and_the_cli(
    sandbox: Sandbox, env: dict[str, str], client: Service, spawn: Spawn
) -> None:
    port = free_port()
    server = await _serve(spawn, env, port, "serve")
    async with httpx.AsyncClient() as http:
        hook = await http.post(
            f"{sandbox.urls['github']}/_sandbox/github/hooks",
            json={"url": f"http://127.0.0.1:{port}/webhooks/github", "secret": SECRET},
        )
    assert hook.status_code == 201
    state = ReleaseState(client.db)
    detections = DetectionStore(client.db)

    # The checker's schedule announces the rejected nightly, not the promoted one.
    await wait_for(lambda: announcements(sandbox), timeout=60, what="the rejected build's notice")
    (notice,) = announcements(sandbox)
    assert f"blob/record/{REJECTED}|" in notice
    assert PROMOTED.rsplit("/", 1)[-1] not in notice

    # The detector's 4.19 schedule finds 4.19.3 (ART) ahead of 4.19.2 (4-stable).
    async def created(release: str) -> bool:
        found = await detections.get(release)
        return found is not None and found.status is DetectionStatus.CREATED

    await wait_for(lambda: created(seed.RELEASE), timeout=90, what="4.19.3's report")
    await _ticks_after(client, DETECTOR_419, 1)
    await _ticks_after(client, resultchecker.SCHEDULE, 1)
    runs = await state.runs(seed.RELEASE, task=detector.TASK)
    assert [(r.status, r.actor, r.interface) for r in runs] == [
        (TaskStatus.PASS, detector.AGENT, "agent")
    ]
    assert len(reports(sandbox, seed.RELEASE)) == 1
    found = await detections.get(seed.RELEASE)
    assert found is not None
    assert (found.trigger, found.stable) == ("schedule", "4.19.2")

    # A push to ART's 4.18 file: its schedule is off, the webhook runs the detector.
    assert await detections.get(seed.ERRATA_RELEASE) is None
    await _touch_art_file(sandbox, seed.ERRATA_Y_STREAM, "touched once")
    await wait_for(lambda: created(seed.ERRATA_RELEASE), timeout=90, what="4.18.40's report")
    found = await detections.get(seed.ERRATA_RELEASE)
    assert found is not None
    assert found.trigger == "webhook"
    await _touch_art_file(sandbox, seed.ERRATA_Y_STREAM, "touched twice")

    def delivered() -> list[int]:
        github = sandbox.servers["github"]
        return [d.get("status_code", 0) for d in github.hook_deliveries]  # type: ignore[attr-defined]

    await wait_for(lambda: len(delivered()) == 2, timeout=30, what="the second push")
    assert delivered() == [202, 202]

    # A restart: the schedules resume from the database, nothing is announced again.
    assert server.terminate() == 0
    await _serve(spawn, env, port, "serve-again")
    await _ticks_after(client, resultchecker.SCHEDULE, 1)
    await _ticks_after(client, DETECTOR_419, 1)

    # The one-shot commands find everything done.
    code, stdout, stderr = await oar("check-test-results", "--json", env=env, program="oarctl")
    assert code == 0, stderr
    assert json.loads(stdout)["announced"] == []
    code, stdout, stderr = await oar(
        "start-release-detector", "-r", seed.ERRATA_Y_STREAM, env=env, program="oarctl"
    )
    assert code == 0, stderr
    assert "already created" in stdout
    code, stdout, stderr = await oar(
        "releases", "active", "--keep-days", "36500", "--json", env=env, program="oarctl"
    )
    assert code == 0, stderr
    listed = [(v["release"], v["release_date"]) for v in json.loads(stdout)]
    assert listed == [(seed.ERRATA_RELEASE, "2026-11-25"), (seed.RELEASE, "2026-11-26")]
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"http://127.0.0.1:{port}/api/releases",
            params={"active": "true", "keep_days": 36500, "y_stream": seed.Y_STREAM},
        )
    assert [v["release"] for v in answer.json()["releases"]] == [seed.RELEASE]

    assert len(announcements(sandbox)) == 1
    assert len(reports(sandbox, seed.RELEASE)) == 1
    assert len(reports(sandbox, seed.ERRATA_RELEASE)) == 1
    assert len(await state.runs(seed.ERRATA_RELEASE, task=detector.TASK)) == 1
