"""Tell this process, at once, when any process changes an approval.

Three paths, fastest first:

* a change made in this process is dispatched right after its commit (same-process
  waiters wake in microseconds);
* on PostgreSQL the writing transaction also sends ``NOTIFY oar_approvals``; one
  ``LISTEN`` connection per process receives it (milliseconds, any machine);
* a batched poll of ``oar_approvals.updated_at`` — the path on SQLite, and a slow safety
  net on PostgreSQL — runs only while someone in this process is waiting or watching.

Waiting costs no thread and no query per waiter: one listener and at most one poll query
per interval serve them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from oar.db import Database
from oar.db.models import ApprovalRecord
from oar.db.types import utcnow
from oar.logs import get_logger

log = get_logger(__name__)

CHANNEL = "oar_approvals"
# The safety-net poll on PostgreSQL, where NOTIFY does the real work.
_PG_SAFETY_POLL = 5.0
_SEEN_TTL = 600.0


@dataclass(frozen=True, kw_only=True)
class ApprovalChange:
    """An approval reached ``status`` (``pending`` when it was just requested).

    ``state`` carries the approval itself when the change was made in this process, so a
    local waiter need not read it back.
    """

    approval_id: str
    status: str
    state: Any = None


class Watch:
    """What a waiter holds: an event set on every change, and the latest local state."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.state: Any = None


Subscriber = Callable[[ApprovalChange], None]


async def announce(session: AsyncSession, db: Database, change: ApprovalChange) -> None:
    """Inside the writing transaction: tell other processes when it commits (PostgreSQL)."""
    if not db.is_sqlite:
        payload = json.dumps({"id": change.approval_id, "status": change.status})
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )


class ApprovalFeed:
    """Dispatches approval changes from every process to this process's subscribers."""

    def __init__(self, db: Database, *, poll_interval: float) -> None:
        self.db = db
        self.poll_interval = poll_interval if db.is_sqlite else _PG_SAFETY_POLL
        self._subscribers: set[Subscriber] = set()
        self._waiters: dict[str, set[Watch]] = {}
        self._seen: dict[tuple[str, str], float] = {}
        self._listener: asyncpg.Connection[Any] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._cursor = utcnow() - timedelta(seconds=1)

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Start dispatching; the LISTEN connection opens when someone first watches."""
        self._poller = asyncio.create_task(self._poll_loop(), name="oar-approval-feed")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._listener is not None:
            listener, self._listener = self._listener, None
            with contextlib.suppress(Exception):  # closing a dead connection may fail
                await listener.close(timeout=5)

    async def _listen(self) -> None:
        try:
            self._listener = await asyncpg.connect(self.db.url, timeout=10)
            await self._listener.add_listener(CHANNEL, self._on_notify)
            self._listener.add_termination_listener(self._on_listener_lost)
        except (OSError, asyncpg.PostgresError) as exc:
            self._listener = None
            log.warning("approval_feed.listen_failed", error=str(exc))

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            self.dispatch(ApprovalChange(approval_id=str(data["id"]), status=str(data["status"])))
        except (ValueError, KeyError, TypeError):
            log.warning("approval_feed.bad_notification", payload=payload[:200])

    def _on_listener_lost(self, _conn: Any) -> None:
        log.warning("approval_feed.listener_lost")
        self._listener = None
        self._wake.set()  # the poll loop reconnects and catches up

    # --- subscriptions --------------------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` for every change; returns the unsubscribe function."""
        self._subscribers.add(subscriber)
        self._wake.set()
        return lambda: self._subscribers.discard(subscriber)

    @contextlib.contextmanager
    def watching(self, approval_id: str) -> Iterator[Watch]:
        """A :class:`Watch` signalled whenever ``approval_id`` changes (while in the block)."""
        watch = Watch()
        self._waiters.setdefault(approval_id, set()).add(watch)
        self._wake.set()
        try:
            yield watch
        finally:
            waiters = self._waiters.get(approval_id)
            if waiters is not None:
                waiters.discard(watch)
                if not waiters:
                    del self._waiters[approval_id]

    @property
    def active(self) -> bool:
        return bool(self._subscribers or self._waiters)

    def dispatch(self, change: ApprovalChange) -> None:
        """Deliver a change once to waiters and subscribers (duplicates are dropped)."""
        key = (change.approval_id, change.status)
        if key in self._seen:
            return
        self._seen[key] = time.monotonic()
        for watch in self._waiters.get(change.approval_id, ()):
            if change.state is not None:
                watch.state = change.state
            watch.event.set()
        for subscriber in list(self._subscribers):
            try:
                subscriber(change)
            except Exception as exc:  # one broken subscriber must not starve the others
                log.warning("approval_feed.subscriber_failed", error=str(exc))

    # --- polling ------------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while True:
            if not self.active:
                self._wake.clear()
                await self._wake.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            self._wake.clear()
            if not self.db.is_sqlite and self._listener is None:
                await self._listen()
            try:
                await self.poll_once()
            except Exception as exc:  # the database may be briefly unavailable; keep going
                log.warning("approval_feed.poll_failed", error=str(exc))
            self._forget_old()

    async def poll_once(self) -> None:
        """Dispatch every approval changed since the last poll (with overlap, deduplicated)."""
        overlap = timedelta(seconds=1 if self.db.is_sqlite else 30)
        since = self._cursor - overlap
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(ApprovalRecord.id, ApprovalRecord.status, ApprovalRecord.updated_at)
                    .where(ApprovalRecord.updated_at >= since)
                    .order_by(ApprovalRecord.updated_at)
                    .limit(5000)
                )
            ).all()
        for approval_id, status, updated_at in rows:
            self.dispatch(ApprovalChange(approval_id=approval_id, status=status))
            self._cursor = max(self._cursor, updated_at)

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - _SEEN_TTL
        for key in [k for k, at in self._seen.items() if at < cutoff]:
            del self._seen[key]
