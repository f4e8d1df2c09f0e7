"""Workers as real processes: kill -9 and restart, graceful shutdown, two workers."""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from oar.adapters.background import ensure_worker, hand_over
from oar.db.models import ExecutorRecord
from oar.db.types import utcnow
from oar.engine import TaskStatus
from oar.service import Service
from oar.settings import Settings
from tests.acceptance.conftest import PLUGIN, OarProcess, kill9, wait_for, wait_for_worker

Spawn = Callable[..., OarProcess]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_a_killed_worker_resumes_a_multistep_task_without_rerunning_completed_steps(
    client: Service, spawn: Spawn, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.txt"
    worker = spawn("worker", "--plugin", PLUGIN, name="worker-1")
    await wait_for_worker(client, "test-executor", worker)

    task_id = await client.tasks.enqueue(
        "acceptance.multistep", {"journal": str(journal), "hang_seconds": 60}
    )
    await wait_for(lambda: "start 2" in _lines(journal), timeout=60, what="step 2 to start")
    worker.kill9()  # mid-step: step 1 is checkpointed, step 2 is not

    restarted = spawn("worker", "--plugin", PLUGIN, name="worker-2")
    info = await client.tasks.wait(task_id, timeout=60)

    assert info.status is TaskStatus.SUCCEEDED, restarted.output()
    assert info.result == "sum=6"
    assert info.attempts == 1  # the same attempt resumed, not a retry
    assert Counter(_lines(journal)) == Counter(
        {"start 1": 1, "end 1": 1, "start 2": 2, "end 2": 1, "start 3": 1, "end 3": 1, "done": 1}
    )


async def test_sigterm_lets_running_tasks_finish_within_the_grace_period(
    client: Service, spawn: Spawn, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.txt"
    worker = spawn("worker", "--plugin", PLUGIN, env={"OAR_SHUTDOWN_GRACE": "20"})
    await wait_for_worker(client, "test-executor", worker)
    task_id = await client.tasks.enqueue(
        "acceptance.sleep", {"journal": str(journal), "seconds": 2}
    )
    await wait_for(
        lambda: _status(client, task_id, TaskStatus.RUNNING), timeout=30, what="the task to run"
    )

    assert worker.terminate(timeout=30) == 0, worker.output()

    info = await client.tasks.get(task_id)
    assert info.status is TaskStatus.SUCCEEDED
    assert len(_lines(journal)) == 1


async def test_work_cut_off_by_shutdown_resumes_at_the_next_start(
    client: Service, spawn: Spawn, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.txt"
    worker = spawn("worker", "--plugin", PLUGIN, env={"OAR_SHUTDOWN_GRACE": "1"})
    await wait_for_worker(client, "test-executor", worker)
    task_id = await client.tasks.enqueue(
        "acceptance.sleep", {"journal": str(journal), "seconds": 60, "once": True}
    )
    await wait_for(
        lambda: _status(client, task_id, TaskStatus.RUNNING), timeout=30, what="the task to run"
    )
    assert worker.terminate(timeout=30) == 0, worker.output()
    assert (await client.tasks.get(task_id)).status is TaskStatus.RUNNING  # interrupted, kept

    spawn("worker", "--plugin", PLUGIN, name="worker-2")
    info = await client.tasks.wait(task_id, timeout=60)
    assert info.status is TaskStatus.SUCCEEDED
    assert [line.split()[0] for line in _lines(journal)] == ["interrupted", "finished"]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_workers_on_postgres_drain_one_queue_without_running_a_task_twice(
    client: Service, spawn: Spawn, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.txt"
    first = spawn("worker", "--plugin", PLUGIN, env={"OAR_EXECUTOR_ID": "w1"}, name="w1")
    second = spawn("worker", "--plugin", PLUGIN, env={"OAR_EXECUTOR_ID": "w2"}, name="w2")
    # Both must be up before the work arrives, or the first one started drains it alone.
    await wait_for_worker(client, "w1", first)
    await wait_for_worker(client, "w2", second)
    # One transaction: the backlog (150) exceeds one worker's cap (OAR_TASK_CONCURRENCY=50),
    # so the second worker must take some of it.
    async with client.db.transaction() as session:
        ids = [
            await client.tasks.enqueue(
                "acceptance.record", {"journal": str(journal), "seconds": 0.5}, session=session
            )
            for _ in range(150)
        ]

    async def drained() -> bool:
        return (await client.tasks.counts())["succeeded"] == len(ids)

    await wait_for(drained, timeout=120, what="all tasks to succeed")
    rows = [line.split() for line in _lines(journal)]
    assert sorted(task for task, _ in rows) == sorted(ids)  # each exactly once
    assert {int(pid) for _, pid in rows} == {first.pid, second.pid}  # both took work


async def test_cancelling_from_another_process_interrupts_the_running_attempt(
    client: Service, spawn: Spawn, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.txt"
    worker = spawn("worker", "--plugin", PLUGIN)
    await wait_for_worker(client, "test-executor", worker)
    task_id = await client.tasks.enqueue(
        "acceptance.sleep", {"journal": str(journal), "seconds": 120}
    )
    await wait_for(
        lambda: _status(client, task_id, TaskStatus.RUNNING), timeout=30, what="the task to run"
    )
    cancelled = await client.tasks.cancel(task_id, actor="ops", interface="cli")
    assert cancelled.status is TaskStatus.CANCELLED
    await wait_for(
        lambda: f"interrupted {task_id}" in _lines(journal), timeout=10, what="the interruption"
    )
    info = await client.tasks.get(task_id)
    assert info.status is TaskStatus.CANCELLED
    assert info.attempt_log[-1].status.value == "cancelled"


async def test_a_second_process_cannot_take_a_live_executor_id(
    client: Service, spawn: Spawn
) -> None:
    worker = spawn("worker", "--plugin", PLUGIN, name="first")
    await wait_for_worker(client, "test-executor", worker)
    clash = spawn("worker", "--plugin", PLUGIN, name="clash")
    assert clash.proc is not None
    assert clash.proc.wait(timeout=60) == 2
    assert "executor ID 'test-executor' is in use by pid" in clash.output()
    assert worker.proc is not None
    assert worker.proc.poll() is None
    worker.proc.send_signal(signal.SIGTERM)


async def test_a_live_worker_keeps_its_executor_id_however_late_its_heartbeat(
    client: Service, spawn: Spawn
) -> None:
    """A stopped (or merely slow) process is alive: its ID is not handed to a second one,
    which would run its tasks a second time."""
    worker = spawn("worker", "--plugin", PLUGIN, name="first")
    await wait_for_worker(client, "test-executor", worker)
    await wait_for(
        lambda: "worker test-executor running" in worker.output(), timeout=60, what="the worker"
    )

    async def heartbeat_age() -> timedelta:
        async with client.db.session() as session:
            row = await session.get(ExecutorRecord, "test-executor")
        assert row is not None
        return utcnow() - row.heartbeat_at

    os.kill(worker.pid, signal.SIGSTOP)
    try:
        # OAR_HEARTBEAT_INTERVAL=1: presumed dead by the heartbeat rule after 3s.
        await wait_for(
            lambda: _older(heartbeat_age(), 4), timeout=30, what="the heartbeat to go stale"
        )
        alive = await client.engine.alive_workers()
        assert [(w["id"], w["pid"]) for w in alive] == [("test-executor", worker.pid)]

        clash = spawn("worker", "--plugin", PLUGIN, name="clash")
        assert clash.proc is not None
        assert clash.proc.wait(timeout=60) == 2, clash.output()
        assert f"executor ID 'test-executor' is in use by pid {worker.pid}" in clash.output()
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    # Running again (a fresh heartbeat), it stops cleanly.
    await wait_for(lambda: _younger(heartbeat_age(), 1.5), timeout=30, what="a fresh heartbeat")
    assert worker.terminate(timeout=30) == 0, worker.output()


async def _older(age: Awaitable[timedelta], seconds: float) -> bool:
    return await age > timedelta(seconds=seconds)


async def _younger(age: Awaitable[timedelta], seconds: float) -> bool:
    return await age < timedelta(seconds=seconds)


async def _status(client: Service, task_id: str, status: TaskStatus) -> bool:
    return (await client.tasks.get(task_id)).status is status


async def test_a_worker_told_to_exit_when_idle_finishes_its_work_first(
    client: Service, spawn: Spawn, tmp_path: Path
) -> None:
    """The background worker `oar change-advisory-status` starts: gone once work is done."""
    journal = tmp_path / "journal.txt"
    task_id = await client.tasks.enqueue(
        "acceptance.sleep", {"journal": str(journal), "seconds": 2}
    )
    worker = spawn("worker", "--plugin", PLUGIN, "--exit-when-idle", "1")

    info = await client.tasks.wait(task_id, timeout=60)
    assert info.status is TaskStatus.SUCCEEDED, worker.output()
    assert worker.proc is not None
    assert worker.proc.wait(timeout=60) == 0, worker.output()
    assert "no work for 1s: worker exits" in worker.output()
    assert await client.engine.alive_workers() == []


async def test_two_commands_in_a_row_start_one_background_worker(
    client: Service,
    settings: Settings,
    subprocess_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two commands a moment apart (two Slack commands in a row) both find no worker: the
    first starts one, and the second, asking before that worker has even started, sees
    it as alive and starts none (it used to start a second that failed to claim the ID)."""
    _environment_of_a_command(monkeypatch, subprocess_env)
    journal = tmp_path / "journal.txt"
    task_id = await client.tasks.enqueue(
        "acceptance.sleep", {"journal": str(journal), "seconds": 1}
    )

    first = await ensure_worker(client, settings, task_id)
    second = await ensure_worker(client, settings, task_id)

    assert first is not None
    assert second is None
    try:
        info = await client.tasks.wait(task_id, timeout=60)
        assert info.status is TaskStatus.SUCCEEDED, first.log_file.read_text()
        assert [w["pid"] for w in await client.engine.alive_workers()] == [first.pid]
    finally:
        with contextlib.suppress(ProcessLookupError):
            kill9(first.pid)


async def test_a_worker_exiting_when_idle_hands_over_work_that_arrived_as_it_stopped(
    client: Service,
    settings: Settings,
    subprocess_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command that enqueued a task in the moment a worker decided to exit saw it alive
    and started none: the exiting worker, its ID released, starts one for that task."""
    _environment_of_a_command(monkeypatch, subprocess_env)
    journal = tmp_path / "journal.txt"
    task_id = await client.tasks.enqueue(
        "acceptance.sleep", {"journal": str(journal), "seconds": 1}
    )

    started = await hand_over(client, settings, settings.executor_id("worker"))

    assert len(started) == 1
    try:
        info = await client.tasks.wait(task_id, timeout=60)
        assert info.status is TaskStatus.SUCCEEDED, started[0].log_file.read_text()
        assert await hand_over(client, settings, settings.executor_id("worker")) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            kill9(started[0].pid)


def _environment_of_a_command(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """This process's environment as a CLI command's on the test's database (the worker it
    starts inherits it), with the test plugin's task handlers."""
    for name in [n for n in os.environ if n.startswith("OAR_")]:
        monkeypatch.delenv(name)
    for name, value in {**env, "OAR_PLUGINS": PLUGIN}.items():
        monkeypatch.setenv(name, value)
