"""Which processes execute durable work, and are they alive.

DBOS recovers a crashed process's workflows only in the process that restarts with the
same executor ID, and two live processes sharing an ID would each recover the other's
work. This registry makes the second case impossible (a live ID cannot be claimed twice)
and answers "is any worker alive?" for the CLI, which starts one when none is.
"""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from oar import __version__
from oar.db import Database
from oar.db.models import ExecutorRecord
from oar.db.types import utcnow
from oar.errors import ConfigurationError
from oar.logs import get_logger

log = get_logger(__name__)

# A worker that has not written a heartbeat for this many intervals is presumed dead.
STALE_AFTER_INTERVALS = 3


def _pid_alive(pid: int) -> bool:
    """Whether a process of this host runs with that pid (a killed, unreaped one does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that has exited but not been reaped yet (Linux; False elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) state …": comm may hold spaces and parentheses; the state follows the last ")"
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


class ExecutorRegistry:
    """Claims an executor ID for this process and keeps its heartbeat fresh."""

    def __init__(self, db: Database, *, heartbeat_interval: float = 5.0) -> None:
        self.db = db
        self.interval = heartbeat_interval
        self._id: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.interval * STALE_AFTER_INTERVALS)

    async def claim(self, executor_id: str, *, role: str) -> None:
        """Record this process as ``executor_id``; refuse if a live process holds it."""
        try:
            await self._claim(executor_id, role=role)
        except IntegrityError:  # another process inserted the same new ID at this instant
            await self._claim(executor_id, role=role)
        self._id = executor_id
        log.info("executor.claimed", executor_id=executor_id, role=role, pid=os.getpid())

    async def _claim(self, executor_id: str, *, role: str) -> None:
        host, pid, now = socket.gethostname(), os.getpid(), utcnow()
        async with self.db.transaction() as session:
            row = await session.get(ExecutorRecord, executor_id, with_for_update=True)
            if (
                row is not None
                and row.stopped_at is None
                and (row.hostname, row.pid) != (host, pid)
            ):
                fresh = now - row.heartbeat_at < self.stale_after
                alive = fresh and (row.hostname != host or _pid_alive(row.pid))
                if alive:
                    raise ConfigurationError(
                        f"executor ID {executor_id!r} is in use by pid {row.pid} on"
                        f" {row.hostname} (last heartbeat {row.heartbeat_at:%H:%M:%S} UTC);"
                        " give each worker process its own OAR_EXECUTOR_ID",
                        variables=["OAR_EXECUTOR_ID"],
                    )
            if row is None:
                row = ExecutorRecord(id=executor_id)
                session.add(row)
            row.role, row.hostname, row.pid, row.version = role, host, pid, __version__
            row.started_at = row.heartbeat_at = now
            row.stopped_at = None

    def start_heartbeat(self) -> None:
        if self._task is None and self._id is not None:
            self._task = asyncio.create_task(self._beat(), name=f"oar-heartbeat-{self._id}")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                async with self.db.transaction() as session:
                    await session.execute(
                        update(ExecutorRecord)
                        .where(ExecutorRecord.id == self._id)
                        .values(heartbeat_at=utcnow())
                    )
            except Exception as exc:  # keep beating through transient database errors
                log.warning("executor.heartbeat_failed", executor_id=self._id, error=str(exc))

    async def release(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._id is None:
            return
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(ExecutorRecord)
                    .where(ExecutorRecord.id == self._id, ExecutorRecord.pid == os.getpid())
                    .values(stopped_at=utcnow())
                )
        except Exception as exc:  # shutting down: the heartbeat going stale says the same
            log.warning("executor.release_failed", executor_id=self._id, error=str(exc))
        self._id = None

    async def alive(self) -> list[dict[str, Any]]:
        """The executors with a fresh heartbeat (and, on this host, a live process)."""
        cutoff = utcnow() - self.stale_after
        async with self.db.session() as session:
            rows = (
                await session.scalars(
                    select(ExecutorRecord)
                    .where(
                        ExecutorRecord.stopped_at.is_(None), ExecutorRecord.heartbeat_at > cutoff
                    )
                    .order_by(ExecutorRecord.id)
                )
            ).all()
        host = socket.gethostname()
        return [
            {
                "id": r.id,
                "role": r.role,
                "hostname": r.hostname,
                "pid": r.pid,
                "version": r.version,
                "started_at": r.started_at.isoformat(),
                "heartbeat_at": r.heartbeat_at.isoformat(),
            }
            for r in rows
            # A process of this host killed without stopping is known dead at once.
            if r.hostname != host or _pid_alive(r.pid)
        ]
