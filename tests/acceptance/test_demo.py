"""``oarctl demo`` (what ``make run`` runs), as a newcomer uses it: it starts the stand-ins
and the service, the dashboard shows the three seeded releases, the seeded approval watch
finishes within its short interval, a command typed in the Slack page runs in a thread,
the CI gate's schedules accept the new nightly (its failed job retried) on /tests/4.19,
SIGTERM stops everything, and a second start records nothing twice."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from oar.sandbox import seed
from tests.waiting import eventually

OARCTL = str(Path(sys.executable).parent / "oarctl")
QE = seed.SLACK_CHANNELS["team-qe-release"]


class RunningDemo:
    def __init__(self, process: asyncio.subprocess.Process, output: list[str]) -> None:
        self.process = process
        self.output = output

    def url(self, label: str) -> str:
        line = next(line for line in self.output if line.startswith(label))
        return line.split()[-1]

    async def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        stdout, _ = await asyncio.wait_for(self.process.communicate(), timeout=45)
        self.output.extend(stdout.decode().splitlines())
        assert self.process.returncode is not None
        return self.process.returncode


@asynccontextmanager
async def demo(data_dir: Path) -> AsyncIterator[RunningDemo]:
    env = dict(os.environ)  # scrubbed of OAR_* and credentials by the autouse fixture
    process = await asyncio.create_subprocess_exec(
        OARCTL,
        "demo",
        "--port",
        "0",
        "--base-port",
        "0",
        "--data-dir",
        str(data_dir),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        while not (output and output[-1].startswith("ready")):
            line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
            if not line:
                pytest.fail("oarctl demo exited early:\n" + "\n".join(output))
            output.append(line.decode().rstrip("\n"))
        yield RunningDemo(process, output)
    finally:
        if process.returncode is None:  # a failed test: stop it as a user would, then kill
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.communicate(), timeout=45)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await asyncio.wait_for(process.communicate(), timeout=30)


@pytest.mark.timeout(300)  # two starts of the whole demo, a watch of ~25 s, the gate's ~40 s
async def test_the_demo_serves_seeded_releases_finishes_its_watch_and_stops(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "demo"
    async with demo(data_dir) as running:
        dashboard = running.url("dashboard")
        slack_page = running.url("Slack page")
        assert any(f"source {data_dir / 'demo.env'}" in line for line in running.output)
        assert (data_dir / "demo.env").exists()
        async with httpx.AsyncClient(base_url=dashboard, timeout=10) as http:
            overview = (await http.get("/")).text
            for release in ("4.18.41", "4.18.40", "4.19.3"):
                assert release in overview
            created = (await http.get("/api/releases/4.18.41")).json()
            started = [t["name"] for t in created["tasks"] if t["status"] != "Not Started"]
            assert started == ["create-test-report"]
            blocked = (await http.get("/api/releases/4.18.40")).json()
            assert [i for i in blocked["issues"] if i["blocker"] and not i["resolved"]]
            waiting = (await http.get("/api/follows/approve-release:4.19")).json()
            assert waiting["status"] == "running"
            assert waiting["release"] == "4.19.3"

        async with httpx.AsyncClient(base_url=slack_page.split("/channels/")[0]) as slack:
            assert (await slack.get(f"/channels/{QE}")).status_code == 200
            posted = await slack.post(
                "/_sandbox/slack/messages",
                json={"channel": QE, "user": "mlead", "text": "oar -r 4.19.3 status"},
            )
            ts = posted.json()["ts"]

            async def answered() -> bool:
                thread = (await slack.get(f"/_sandbox/slack/threads/{QE}/{ts}")).json()
                return any("finished" in m["text"] for m in thread["messages"][1:])

            await eventually(answered, 30, what="the bot's answer in the thread", interval=0.5)

        # The approval watch of 4.19.3 ends within its short interval, and the CI gate
        # accepts the new nightly once its failed job's retries pass.
        gate_line = next(line for line in running.output if line.startswith("CI gate"))
        nightly = gate_line.split()[3]
        async with httpx.AsyncClient(base_url=dashboard, timeout=10) as http:

            async def nightly_accepted() -> bool:
                page = (await http.get(running.url("CI gate"))).text
                row = re.search(rf'<tr data-build="{re.escape(nightly)}">(.*?)</tr>', page, re.S)
                return bool(row and 'data-state="Accepted"' in row[1] and "retry 2" in row[1])

            async def watch_done() -> dict[str, object] | None:
                follow = (await http.get("/api/follows/approve-release:4.19")).json()
                return follow if follow["status"] != "running" else None

            # Both waits at once: neither adds to the other's time.
            follow, _ = await asyncio.gather(
                eventually(watch_done, 60, what="the 4.19 approval watch", interval=1),
                eventually(nightly_accepted, 120, what=f"{nightly} Accepted", interval=1),
            )
            assert follow["status"] == "succeeded"
            assert follow["interval_seconds"] <= 10

        assert await running.stop() == 0
        assert "demo stopped" in running.output
        assert not (data_dir / "demo.env").exists()

    # Started again on the same data: every seeded step is already recorded.
    async with demo(data_dir) as again:
        seeded = [line for line in again.output if line.startswith("  ")]
        assert len(seeded) == 9
        assert all("already recorded" in line for line in seeded), seeded
        assert await again.stop() == 0
