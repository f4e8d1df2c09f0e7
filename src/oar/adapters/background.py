"""Durable work a CLI command leaves behind keeps running after the command exits.

A command that starts a durable task (``oar change-advisory-status`` and its watch) calls
:func:`ensure_worker`: when no live worker will run the task, it starts a detached
``oarctl worker --exit-when-idle`` (with the executor ID that holds the task, when one
does), so the work continues and the process goes away once nothing is left to do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from oar.logs import get_logger
from oar.release.handover import SLACK_VARIABLES
from oar.service import Service
from oar.settings import Settings

log = get_logger(__name__)

WORKER_ROLES = frozenset({"worker", "serve"})
# The background worker outlives the watch by this much, then exits: no stray processes.
IDLE_EXIT_SECONDS = 300.0

# The workers this process started and has not seen exit: holding them reaps them when
# they exit before this process does (no zombies under a long-lived caller).
_children: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class StartedWorker:
    """A detached ``oarctl worker`` a command started for its durable work; ``resumes`` is
    the executor ID whose crashed work it takes over, None for a fresh worker."""

    pid: int
    resumes: str | None
    log_file: Path

    def text(self) -> str:
        which = f" as executor {self.resumes}" if self.resumes else ""
        return f"started a background worker{which} (pid {self.pid}, log {self.log_file})"


async def ensure_worker(service: Service, settings: Settings, task_id: str) -> StartedWorker | None:
    """Make sure a live worker runs (or will take) task ``task_id``; start one if not.

    A queued task needs any live worker; a running one needs the executor that holds it,
    since only a process with that executor ID resumes its workflow (after a kill -9, say).
    The worker is started detached, as ``oarctl worker`` with that executor ID, and writes
    to a file under the data directory, never to this process's pipes, so a caller
    reading them (the Slack bot) is not held open by it. None when nothing was needed.

    The new worker's executor ID is held for it at once, before it has started: a second
    command a moment later (two Slack commands in a row) sees a live worker and starts
    none, where it would otherwise start one that fails to claim the same ID. When two
    commands race to the same ID, the one that loses stops its worker.
    """
    holder = await service.tasks.executor_of(task_id)
    alive = await service.engine.alive_workers()
    if holder is None:
        if any(w["role"] in WORKER_ROLES for w in alive):
            return None
        executor_id = settings.executor_id("worker")
    elif any(w["id"] == holder for w in alive):
        return None
    else:
        executor_id = holder
    process, started = spawn_worker(settings, executor_id, resumes=holder)
    other = await service.engine.reserve_worker(executor_id, process.pid)
    if other is None:
        return started
    process.kill()
    process.wait(timeout=10)
    _children.remove(process)
    log.info("cli.worker_not_needed", pid=process.pid, executor_id=executor_id, holder=other["pid"])
    return None


async def hand_over(service: Service, settings: Settings, executor_id: str) -> list[StartedWorker]:
    """Start a worker for the work a worker that exits when idle (``executor_id``, its
    engine stopped and its ID released) leaves behind.

    A command that enqueued a task in the moment that worker decided to exit saw it alive
    and started none; the worker's engine may also have taken such a task and been stopped
    with it. Called after the ID is released, this sees every such task: a command that
    checks later finds no live worker and starts one itself (one of the two stands down,
    see :func:`ensure_worker`). Tasks held by other executors are theirs to resume.
    """
    from oar.engine import TaskStatus

    started: list[StartedWorker] = []
    for status in (TaskStatus.PENDING, TaskStatus.RUNNING):
        for task in await service.tasks.list(status=status, limit=1000):
            if await service.tasks.executor_of(task.id) not in (None, executor_id):
                continue
            worker = await ensure_worker(service, settings, task.id)
            if worker is not None:
                started.append(worker)
    return started


def spawn_worker(
    settings: Settings, executor_id: str, *, resumes: str | None
) -> tuple[subprocess.Popen[bytes], StartedWorker]:
    """Start ``oarctl worker`` as ``executor_id`` in its own session (it outlives this
    process)."""
    logs = settings.ensure_data_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"worker-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}.log"
    env = dict(os.environ)
    env["OAR_EXECUTOR_ID"] = executor_id
    if settings.plugins:  # the task handlers this process runs, however it was told of them
        env["OAR_PLUGINS"] = ",".join(settings.plugins)
    if settings.github_app_module:
        env["OAR_GITHUB_APP"] = settings.github_app_module
    # The Slack thread and person of this command are not the worker's: it serves every watch.
    for name in SLACK_VARIABLES:
        env.pop(name, None)
    _children[:] = [child for child in _children if child.poll() is None]
    with log_file.open("ab") as out:
        argv = [sys.executable, "-m", "oar.cli.oarctl", "worker"]
        argv += ["--exit-when-idle", f"{IDLE_EXIT_SECONDS:g}"]
        process = subprocess.Popen(  # noqa: S603  (our own interpreter's argv, no shell)
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives this CLI and its process group
            close_fds=True,
        )
    _children.append(process)
    started = StartedWorker(pid=process.pid, resumes=resumes, log_file=log_file)
    log.info("cli.worker_started", pid=process.pid, executor_id=executor_id, log_file=str(log_file))
    return process, started
