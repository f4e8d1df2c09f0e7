"""Tell this process, at once, when any process changes an approval or cancels a task.

Three paths, fastest first:

* a change made in this process is dispatched right after its commit (same-process
  waiters wake in microseconds, with the new state in hand);
* on PostgreSQL the writing transaction also sends ``NOTIFY oar_changes``; one ``LISTEN``
  connection per process receives it (milliseconds, any machine);
* a batched poll of the tables' ``updated_at`` — the path on SQLite, and a slow safety net
  on PostgreSQL — runs only while someone in this process waits or watches that kind.

Waiting costs no thread and no query per waiter: one listener and at most one poll query
per kind and interval serve them all. Kinds: ``approval`` (every status change),
``task`` (cancellations, which interrupt a running attempt wherever it runs) and
``release`` (any write to a release's state: the row ``id`` is the release, the status its
new ``updated_at``; the dashboard re-renders on it), ``operation`` (any write to a
background task's or a follow's row, or to a schedule's — added, removed, paused, resumed,
its cadence changed, a run enqueued, started or finished, in the engine's own tables: the
``id`` is ``task:<id>``, ``follow:<id>`` or ``schedule:<name>``, for the dashboard's
operations page; polled, on PostgreSQL too, only while a page watches) and
``tests`` (a build's test results recorded by the CI gate: the ``id`` is the y-stream, the
status the row's ``updated_at``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
from sqlalchemy import Select, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from oar.db import Database
from oar.db.models import (
    ApprovalRecord,
    FollowRecord,
    JobBuildRecord,
    ReleaseRecord,
    TaskRecord,
)
from oar.db.types import utcnow
from oar.engine.systemtables import on_system_schema, workflow_schedules, workflow_status
from oar.logs import get_logger

log = get_logger(__name__)

CHANNEL = "oar_changes"
Kind = Literal["approval", "task", "release", "operation", "tests"]
KINDS: tuple[Kind, ...] = ("approval", "task", "release", "operation", "tests")
# The safety-net poll on PostgreSQL, where NOTIFY does the real work.
_PG_SAFETY_POLL = 5.0
# Cancellations need not be heard within a tenth of a second (SQLite polls them less often).
_TASK_POLL = 1.0
# Task and follow rows send no NOTIFY: a watched operations page polls them on PostgreSQL
# too, often enough that a follow's check shows within a second.
_OPERATION_POLL = 0.5
_SEEN_TTL = 600.0


@dataclass(frozen=True, kw_only=True)
class Change:
    """Row ``id`` of ``kind`` reached ``status``.

    ``state`` carries the new state itself when the change was made in this process, so a
    local waiter need not read it back.
    """

    kind: Kind
    id: str
    status: str
    state: Any = None


class Watch:
    """What a waiter holds: an event set on every change, and the latest local state."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.state: Any = None


Subscriber = Callable[[Change], None]


async def announce(session: AsyncSession, db: Database, change: Change) -> None:
    """Inside the writing transaction: tell other processes when it commits (PostgreSQL)."""
    if not db.is_sqlite:
        payload = json.dumps({"kind": change.kind, "id": change.id, "status": change.status})
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )


class ChangeFeed:
    """Dispatches changes from every process to this process's subscribers and waiters."""

    def __init__(self, db: Database, *, poll_interval: float) -> None:
        self.db = db
        self.poll_interval = poll_interval if db.is_sqlite else _PG_SAFETY_POLL
        self._subscribers: dict[Kind, set[Subscriber]] = {kind: set() for kind in KINDS}
        self._passive: dict[Kind, set[Subscriber]] = {kind: set() for kind in KINDS}
        self._waiters: dict[tuple[Kind, str], set[Watch]] = {}
        self._seen: dict[tuple[Kind, str, str], float] = {}
        self._cursors: dict[Kind, datetime] = {
            kind: utcnow() - timedelta(seconds=1) for kind in KINDS
        }
        self._listener: asyncpg.Connection[Any] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._intervals: dict[Kind, float] = {
            "approval": self.poll_interval,
            "task": max(self.poll_interval, _TASK_POLL),
            "release": self.poll_interval,
            "operation": min(poll_interval, _OPERATION_POLL),
            "tests": self.poll_interval,
        }
        self._next_poll: dict[Kind, float] = dict.fromkeys(KINDS, 0.0)
        # Schedules, for the operations kind: their runs since this time (the engine's
        # milliseconds), and the schedules' rows as last read (None: not read yet).
        self._schedule_runs_since = _epoch_ms(utcnow()) - 1000
        self._schedules: dict[str, tuple[str, str, str]] | None = None
        self._schedule_changes = 0

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Start dispatching; the LISTEN connection opens when someone first watches."""
        self._poller = asyncio.create_task(self._poll_loop(), name="oar-change-feed")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._listener is not None:
            listener, self._listener = self._listener, None
            listener.remove_termination_listener(self._on_listener_lost)
            with contextlib.suppress(Exception):  # closing a dead connection may fail
                await listener.close(timeout=5)

    async def _listen(self) -> None:
        try:
            self._listener = await asyncpg.connect(self.db.url, timeout=10)
            await self._listener.add_listener(CHANNEL, self._on_notify)
            self._listener.add_termination_listener(self._on_listener_lost)
        except (OSError, asyncpg.PostgresError) as exc:
            self._listener = None
            log.warning("changes.listen_failed", error=str(exc))

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            kind = data["kind"]
            if kind not in KINDS:
                raise ValueError(kind)
            self.dispatch(Change(kind=kind, id=str(data["id"]), status=str(data["status"])))
        except (ValueError, KeyError, TypeError):
            log.warning("changes.bad_notification", payload=payload[:200])

    def _on_listener_lost(self, _conn: Any) -> None:
        log.warning("changes.listener_lost")
        self._listener = None
        self._wake.set()  # the poll loop reconnects and catches up

    # --- subscriptions --------------------------------------------------------------------
    def subscribe(
        self, kind: Kind, subscriber: Subscriber, *, passive: bool = False
    ) -> Callable[[], None]:
        """Call ``subscriber`` for every change of ``kind``; returns the unsubscribe function.

        A ``passive`` subscriber hears what reaches this process anyway but does not, by
        itself, keep the poll running (it has its own slower way to catch up).
        """
        group = (self._passive if passive else self._subscribers)[kind]
        if kind == "operation" and not self.active(kind):
            # A page re-reads what it shows once it is subscribed: the rows written while
            # nobody watched need not be replayed to it (thousands of tasks, one by one).
            self._cursors[kind] = max(self._cursors[kind], utcnow())
            self._schedule_runs_since = max(self._schedule_runs_since, _epoch_ms(utcnow()))
            self._schedules = None
        group.add(subscriber)
        self._wake.set()
        return lambda: group.discard(subscriber)

    @contextlib.contextmanager
    def watching(self, kind: Kind, row_id: str) -> Iterator[Watch]:
        """A :class:`Watch` signalled whenever row ``row_id`` changes (while in the block)."""
        watch = Watch()
        key = (kind, row_id)
        self._waiters.setdefault(key, set()).add(watch)
        self._wake.set()
        try:
            yield watch
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(watch)
                if not waiters:
                    del self._waiters[key]

    def active(self, kind: Kind) -> bool:
        return bool(self._subscribers[kind]) or any(k == kind for k, _ in self._waiters)

    def dispatch(self, change: Change) -> None:
        """Deliver a change once to waiters and subscribers (duplicates are dropped)."""
        key = (change.kind, change.id, change.status)
        if key in self._seen:
            return
        self._seen[key] = time.monotonic()
        for watch in self._waiters.get((change.kind, change.id), ()):
            if change.state is not None:
                watch.state = change.state
            watch.event.set()
        for subscriber in [*self._subscribers[change.kind], *self._passive[change.kind]]:
            try:
                subscriber(change)
            except Exception as exc:  # one broken subscriber must not starve the others
                log.warning("changes.subscriber_failed", error=str(exc))

    # --- polling ------------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while True:
            if not any(self.active(kind) for kind in KINDS):
                self._wake.clear()
                await self._wake.wait()
            timeout = min(
                [self._intervals[kind] for kind in KINDS if self.active(kind)]
                or [self.poll_interval]
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            self._wake.clear()
            if not self.db.is_sqlite and self._listener is None:
                await self._listen()
            now = time.monotonic()
            for kind in KINDS:
                if not self.active(kind):
                    self._next_poll[kind] = 0.0  # the first watcher gets an immediate look
                    continue
                if now < self._next_poll[kind]:
                    continue
                self._next_poll[kind] = now + self._intervals[kind]
                try:
                    await self.poll_once(kind)
                except Exception as exc:  # the database may be briefly unavailable; go on
                    log.warning("changes.poll_failed", kind=kind, error=str(exc))
            self._forget_old()

    async def poll_once(self, kind: Kind) -> None:
        """Dispatch every change of ``kind`` since the last poll (with overlap, deduplicated)."""
        overlap = timedelta(seconds=1 if self.db.is_sqlite else 30)
        since = self._cursors[kind] - overlap
        if kind == "operation":
            await self._poll_operations(since, overlap)
            return
        query: Select[str, Any, datetime]
        if kind == "approval":
            query = select(
                ApprovalRecord.id, ApprovalRecord.status, ApprovalRecord.updated_at
            ).where(ApprovalRecord.updated_at >= since)
        elif kind == "release":
            query = select(
                ReleaseRecord.release,
                ReleaseRecord.updated_at.label("status"),
                ReleaseRecord.updated_at,
            ).where(ReleaseRecord.updated_at >= since)
        elif kind == "tests":
            query = select(
                JobBuildRecord.y_stream,
                JobBuildRecord.updated_at.label("status"),
                JobBuildRecord.updated_at,
            ).where(JobBuildRecord.updated_at >= since)
        else:
            query = select(TaskRecord.id, TaskRecord.status, TaskRecord.updated_at).where(
                TaskRecord.status == "cancelled", TaskRecord.updated_at >= since
            )
        # A bare connection, not an ORM session: this runs every tenth of a second on SQLite.
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query.order_by("updated_at").limit(5000))).all()
        for row_id, status, updated_at in rows:
            self.dispatch(Change(kind=kind, id=row_id, status=_status_text(status)))
            self._cursors[kind] = max(self._cursors[kind], updated_at)

    async def _poll_operations(self, since: datetime, overlap: timedelta) -> None:
        queries: list[tuple[str, Select[str, Any, Any]]] = [
            (
                "task",
                select(TaskRecord.id, TaskRecord.status, TaskRecord.updated_at).where(
                    TaskRecord.updated_at >= since
                ),
            ),
            (
                "follow",
                select(
                    FollowRecord.id,
                    FollowRecord.status,
                    FollowRecord.updated_at.label("updated_at"),
                ).where(FollowRecord.updated_at >= since),
            ),
        ]
        async with self.db.engine.connect() as conn:
            for prefix, query in queries:
                rows = (await conn.execute(query.order_by("updated_at").limit(5000))).all()
                for row_id, status, updated_at in rows:
                    if updated_at is None:
                        continue
                    self.dispatch(
                        Change(
                            kind="operation",
                            id=f"{prefix}:{row_id}",
                            status=f"{status} {release_status(updated_at)}",
                        )
                    )
                    self._cursors["operation"] = max(self._cursors["operation"], updated_at)
            await self._poll_schedules(conn, overlap_ms=int(overlap.total_seconds() * 1000))

    async def _poll_schedules(self, conn: AsyncConnection, *, overlap_ms: int) -> None:
        """Dispatch ``schedule:<name>`` for every schedule whose row changed (added,
        removed, paused, resumed, its cadence) or one of whose runs was enqueued, started or
        finished, reading the engine's tables (:mod:`oar.engine.systemtables`)."""
        conn = await on_system_schema(conn, sqlite=self.db.is_sqlite)
        since = self._schedule_runs_since - overlap_ms
        ws = workflow_status.c
        runs = (
            select(ws.schedule_name, ws.status, ws.updated_at)
            .where(
                ws.schedule_name.is_not(None),
                # Each indexed: a run's enqueueing, start and end (cancellation included).
                or_(
                    ws.created_at >= since,
                    ws.started_at_epoch_ms >= since,
                    ws.completed_at >= since,
                ),
            )
            .order_by(ws.updated_at)
            .limit(5000)
        )
        for name, status, updated_at in (await conn.execute(runs)).all():
            self.dispatch(
                Change(kind="operation", id=f"schedule:{name}", status=f"{status} {updated_at}")
            )
            self._schedule_runs_since = max(self._schedule_runs_since, int(updated_at))
        sc = workflow_schedules.c
        rows = await conn.execute(select(sc.schedule_name, sc.status, sc.schedule, sc.context))
        now = {name: (status, cron, context) for name, status, cron, context in rows.all()}
        before, self._schedules = self._schedules, now
        for name in sorted(set(before or {}) | set(now)):
            # The first look (since a page subscribed) tells of every schedule: a change
            # made before it, and after the page read them, is not missed.
            if before is None or before.get(name) != now.get(name):
                # Paused then resumed is the same row twice: a count keeps each change new.
                self._schedule_changes += 1
                state = now[name][0] if name in now else "removed"
                self.dispatch(
                    Change(
                        kind="operation",
                        id=f"schedule:{name}",
                        status=f"{state} #{self._schedule_changes}",
                    )
                )

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - _SEEN_TTL
        for key in [k for k, at in self._seen.items() if at < cutoff]:
            del self._seen[key]


def release_status(at: datetime) -> str:
    """A release change's status: its new ``updated_at``, the same text whether a NOTIFY or
    the poll reports it (so :meth:`ChangeFeed.dispatch` drops the second)."""
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


def _epoch_ms(at: datetime) -> int:
    """``at`` as the engine keeps times: milliseconds since the epoch."""
    return int(at.timestamp() * 1000)


def _status_text(value: object) -> str:
    return release_status(value) if isinstance(value, datetime) else str(value)
