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
from datetime import datetime, timedelta
from typing import Any

import psutil
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from oar import __version__
from oar.db import Database
from oar.db.models import ExecutorRecord
from oar.db.types import utcnow
from oar.errors import ConfigurationError
from oar.logs import get_logger

log = get_logger(__name__)

# A worker of another host that has not written a heartbeat for this many intervals is
# presumed dead. On this host the process table answers instead: a heartbeat can be late
# while its process lives (a blocked event loop, SIGSTOP, a loaded machine), and taking
# a live process's ID makes two processes run the same durable work.
STALE_AFTER_INTERVALS = 3
# Linux gives the boot time (the base of a process's start time) in whole seconds.
_START_TIME_SLACK = 2.0


def _holder_alive(pid: int, claimed_at: datetime) -> bool:
    """Whether the process of this host that claimed a row at ``claimed_at`` still runs.

    Its pid must be alive (a killed, unreaped zombie is not) and must have started before
    the claim: a process that reused the pid later is someone else.
    """
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        started: float = process.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # exists, owned by someone else
        return True
    return started <= claimed_at.timestamp() + _START_TIME_SLACK


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

    def _holds(self, row: ExecutorRecord, *, host: str, now: datetime) -> bool:
        """Whether the process recorded in ``row`` (not stopped) still holds its ID."""
        if row.hostname == host:
            return _holder_alive(row.pid, row.started_at)
        return now - row.heartbeat_at < self.stale_after

    async def claim(self, executor_id: str, *, role: str) -> None:
        """Record this process as ``executor_id``; refuse if a live process holds it."""
        holder = await self._claim_for(executor_id, role=role, pid=os.getpid())
        if holder is not None:
            raise ConfigurationError(
                f"executor ID {executor_id!r} is in use by pid {holder['pid']} on"
                f" {holder['hostname']} (last heartbeat {holder['heartbeat_at']:%H:%M:%S} UTC);"
                " give each worker process its own OAR_EXECUTOR_ID",
                variables=["OAR_EXECUTOR_ID"],
            )
        self._id = executor_id
        log.info("executor.claimed", executor_id=executor_id, role=role, pid=os.getpid())

    async def reserve(self, executor_id: str, *, role: str, pid: int) -> dict[str, Any] | None:
        """Claim ``executor_id`` for process ``pid`` of this host, which this process has
        just started and which claims the ID itself once its engine runs.

        Until then the ID counts as held by a live process, so a second command that asks
        "is a worker alive?" in that moment is told yes instead of starting another worker
        that would fail to claim the same ID. Returns the live holder (``pid``,
        ``hostname``, ``heartbeat_at``) when another process holds the ID, else None.
        """
        holder = await self._claim_for(executor_id, role=role, pid=pid)
        if holder is None:
            log.info("executor.reserved", executor_id=executor_id, role=role, pid=pid)
        return holder

    async def _claim_for(self, executor_id: str, *, role: str, pid: int) -> dict[str, Any] | None:
        try:
            return await self._claim(executor_id, role=role, pid=pid)
        except IntegrityError:  # another process inserted the same new ID at this instant
            return await self._claim(executor_id, role=role, pid=pid)

    async def _claim(self, executor_id: str, *, role: str, pid: int) -> dict[str, Any] | None:
        host, now = socket.gethostname(), utcnow()
        async with self.db.transaction() as session:
            row = await session.get(ExecutorRecord, executor_id, with_for_update=True)
            if (
                row is not None
                and row.stopped_at is None
                and (row.hostname, row.pid) != (host, pid)
                and self._holds(row, host=host, now=now)
            ):
                return {"pid": row.pid, "hostname": row.hostname, "heartbeat_at": row.heartbeat_at}
            if row is None:
                row = ExecutorRecord(id=executor_id)
                session.add(row)
            row.role, row.hostname, row.pid, row.version = role, host, pid, __version__
            row.started_at = row.heartbeat_at = now
            row.stopped_at = None
        return None

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
        """The executors that hold their ID: on this host, a live process (however late
        its heartbeat); elsewhere, a fresh heartbeat."""
        async with self.db.session() as session:
            rows = (
                await session.scalars(
                    select(ExecutorRecord)
                    .where(ExecutorRecord.stopped_at.is_(None))
                    .order_by(ExecutorRecord.id)
                )
            ).all()
        host, now = socket.gethostname(), utcnow()
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
            if self._holds(r, host=host, now=now)
        ]
