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


@dataclass(frozen=True)
class StartedWorker:
    """A detached ``oarctl worker`` a command started for its durable work."""

    pid: int
    executor_id: str | None
    log_file: Path

    def text(self) -> str:
        which = f" as executor {self.executor_id}" if self.executor_id else ""
        return f"started a background worker{which} (pid {self.pid}, log {self.log_file})"


async def ensure_worker(service: Service, settings: Settings, task_id: str) -> StartedWorker | None:
    """Make sure a live worker runs (or will take) task ``task_id``; start one if not.

    A queued task needs any live worker; a running one needs the executor that holds it,
    since only a process with that executor ID resumes its workflow (after a kill -9, say).
    The worker is started detached, as ``oarctl worker`` with that executor ID, and writes
    to a file under the data directory, never to this process's pipes, so a caller
    reading them (the Slack bot) is not held open by it. None when nothing was needed.
    """
    holder = await service.tasks.executor_of(task_id)
    alive = await service.engine.alive_workers()
    if holder is None:
        if not any(w["role"] in WORKER_ROLES for w in alive):
            return spawn_worker(settings, None)
        return None
    if any(w["id"] == holder for w in alive):
        return None
    return spawn_worker(settings, holder)


def spawn_worker(settings: Settings, executor_id: str | None) -> StartedWorker:
    """Start ``oarctl worker`` in its own session (it outlives this process)."""
    logs = settings.ensure_data_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"worker-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}.log"
    env = dict(os.environ)
    if executor_id is not None:
        env["OAR_EXECUTOR_ID"] = executor_id
    # The Slack thread and person of this command are not the worker's: it serves every watch.
    for name in SLACK_VARIABLES:
        env.pop(name, None)
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
    started = StartedWorker(pid=process.pid, executor_id=executor_id, log_file=log_file)
    log.info("cli.worker_started", pid=process.pid, executor_id=executor_id, log_file=str(log_file))
    return started
