"""``oarctl schedules`` against a real worker process: pause, run-now, kill -9, list, resume.

Few CLI calls on purpose (each is a process start): the rules are in the integration tests.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oar.service import Service
from tests.acceptance.conftest import OarProcess, oar, wait_for, wait_for_worker

PLUGIN = "tests.acceptance.plugin_schedules"
NAME = "acceptance.beat"


def _runs(journal: Path) -> list[tuple[str, str, int]]:
    lines = journal.read_text().splitlines() if journal.exists() else []
    return [(kind, wid, int(pid)) for kind, wid, pid in (line.split() for line in lines)]


async def _oarctl(env: dict[str, str], *args: str) -> str:
    code, stdout, stderr = await oar("schedules", *args, env=env, program="oarctl")
    assert code == 0, stderr
    return stdout


async def _beat(env: dict[str, str]) -> dict[str, Any]:
    listed = json.loads(await _oarctl(env, "list", "--json"))
    return next(s for s in listed if s["name"] == NAME)


async def test_oarctl_schedules_lists_pauses_runs_now_and_resumes_a_worker_s_schedule(
    client: Service,
    spawn: Callable[..., OarProcess],
    subprocess_env: dict[str, str],
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.txt"
    env = {**subprocess_env, "OAR_TEST_SCHEDULE_JOURNAL": str(journal)}
    worker = spawn("worker", "--plugin", PLUGIN, env=env, name="worker-1")
    await wait_for_worker(client, "test-executor", worker)
    await wait_for(lambda: _runs(journal), timeout=30, what="a first tick")

    assert "paused" in await _oarctl(env, "pause", NAME)
    started = json.loads(await _oarctl(env, "run-now", NAME, "--json"))
    await wait_for(
        lambda: ("manual", started["workflow_id"], worker.pid) in _runs(journal),
        timeout=30,
        what="the run-now, while paused",
    )

    worker.kill9()
    restarted = spawn("worker", "--plugin", PLUGIN, env=env, name="worker-2")
    await wait_for_worker(client, "test-executor", restarted)
    # The CLI lists the schedule the worker started, without loading its plugin.
    beat = await _beat(env)
    assert beat["state"] == "paused", "the pause did not survive the restart"
    assert beat["every"] == "1s"
    assert beat["description"] == "Write which tick ran, in which process."
    last = beat["last_run"]
    # (a tick fired in the instant before the worker saw the pause is listed as skipped)
    assert (last["workflow_id"], last["status"]) == (started["workflow_id"], "succeeded") or (
        last["status"] == "skipped"
    )
    assert beat["next_run"] is None

    resumed = json.loads(await _oarctl(env, "resume", NAME, "--json"))
    assert resumed["state"] == "active"
    assert resumed["next_run"] is not None
    await wait_for(
        lambda: any(kind == "tick" and pid == restarted.pid for kind, _, pid in _runs(journal)),
        timeout=30,
        what="a tick in the restarted worker",
    )
    ticks = Counter(wid for _, wid, _ in _runs(journal))
    assert [wid for wid, n in ticks.items() if n > 1] == [], "a tick ran twice"
