"""Wake a waiting drive at once when something it waits on changes (worker role).

A drive (:mod:`oar.release.drive`) looks at its release every ``--interval`` seconds and
waits in between. What it waits on is recorded by other processes: a blocker resolved or
added, a task's status, a follow of the release ending (all of them change the release:
:meth:`~oar.release.state.ReleaseState.mark_changed`), an approval of its gate decided.
The :class:`DriveWaker` hears those on the change feed (:mod:`oar.engine.changes`: any
process, SQLite polling or PostgreSQL ``LISTEN``) and asks the drive of that release for
its next look now (:meth:`~oar.release.follows.Follows.check_now`, the follow's own wake
message). The interval stays the fallback: a wake missed (a worker restarting) is caught
by the next look.

It wakes only drives whose workflow waits in this process, so with several workers one
wake is sent, by the worker that runs the drive. Bursts of changes are coalesced (one
evaluation per release after ``debounce`` seconds), and a drive is never woken for what
it saw or did itself: each look records the release version it saw (after the command it
ran, if any), and a change no newer than that wakes nothing. A change that comes while the
drive's look is busy is kept and weighed again once the drive waits (so no look is
queued behind another and none is missed), and a woken drive is not woken again before
its look is recorded. While no drive runs anywhere it keeps no poll of the feed going
(it hears only what reaches its process anyway); it looks for running drives every
``presence`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from oar.db import Database
from oar.db.models import FollowRecord
from oar.engine import LocalRun, TaskManager
from oar.engine.approvals import ApprovalStatus
from oar.engine.changes import Change, ChangeFeed
from oar.errors import OarError
from oar.logs import get_logger
from oar.release.drive import KIND, SEEN, drive_key
from oar.release.follows import FollowInfo, Follows, FollowStatus

log = get_logger(__name__)

ACTOR = "a change of the release"
INTERFACE = "change-feed"


@dataclass(kw_only=True)
class _Pending:
    """What changed for one release since its drive was last weighed."""

    version: str | None = None  # the newest release change heard (its status)
    approvals: set[str] = field(default_factory=set)  # decided approvals of its gates

    def merge(self, other: _Pending) -> None:
        if other.version is not None and (self.version is None or other.version > self.version):
            self.version = other.version
        self.approvals |= other.approvals


class DriveWaker:
    """Listens to the change feed; wakes the running drive of a changed release."""

    def __init__(
        self,
        db: Database,
        tasks: TaskManager,
        feed: ChangeFeed,
        *,
        debounce: float = 0.2,
        retry: float = 0.5,
        presence: float = 2.0,
    ) -> None:
        self.db = db
        self.tasks = tasks
        self.feed = feed
        self.follows = Follows(db, tasks)
        self.debounce = debounce  # how long a burst of changes is gathered into one look
        self.retry = retry  # how often a change heard during a busy look is weighed again
        # How often it looks whether any drive runs: it listens only then (on SQLite,
        # listening is a poll of the releases and approvals).
        self.presence = presence
        self.woken = 0  # wakes sent by this process (the tests' and the logs' count)
        self._pending: dict[str, _Pending] = {}
        self._approvals: set[str] = set()
        self._woken_at: dict[str, int] = {}  # drive -> its checks when it was last woken
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._passive: list[Callable[[], None]] = []
        self._looked_at = -math.inf

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the drive waker is already started")
        # It always hears what reaches this process anyway (PostgreSQL's NOTIFY, polls
        # others asked for); it makes the feed look for changes only while a drive runs.
        self._passive = [
            self.feed.subscribe("release", self._on_release, passive=True),
            self.feed.subscribe("approval", self._on_approval, passive=True),
        ]
        self._task = asyncio.create_task(self._run(), name="oar-drive-waker")

    async def stop(self) -> None:
        self._listen(False)
        for unsubscribe in self._passive:
            unsubscribe()
        self._passive = []
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _listen(self, on: bool) -> None:
        """Keep the feed looking for changes (or not); a change heard both ways is
        merged into the same pending entry."""
        if on and not self._unsubscribe:
            self._unsubscribe = [
                self.feed.subscribe("release", self._on_release),
                self.feed.subscribe("approval", self._on_approval),
            ]
        elif not on:
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self._unsubscribe = []

    async def _any_drive(self) -> bool:
        async with self.db.session() as session:
            found = await session.scalar(
                select(FollowRecord.id)
                .where(FollowRecord.kind == KIND, FollowRecord.status == FollowStatus.RUNNING.value)
                .limit(1)
            )
        return found is not None

    # --- hearing changes (called by the feed, synchronously) -----------------------------
    def _on_release(self, change: Change) -> None:
        if change.status == "deleted":
            return  # a deleted release has no drive to wake (its follows were refused)
        self._pending.setdefault(change.id, _Pending()).merge(_Pending(version=change.status))
        self._event.set()

    def _on_approval(self, change: Change) -> None:
        if change.status != ApprovalStatus.PENDING.value:  # decided or expired
            self._approvals.add(change.id)
            self._event.set()

    # --- weighing them ------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                if time.monotonic() - self._looked_at >= self.presence:
                    self._looked_at = time.monotonic()
                    # A change made before it listened is still heard: passively, or by
                    # the feed's first poll of the kind (from where it last looked); one
                    # the drive saw already wakes nobody.
                    self._listen(bool(self._pending) or await self._any_drive())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.retry if self._pending else self.presence):
                        await self._event.wait()
                if not (self._event.is_set() or self._pending):
                    continue
                await asyncio.sleep(self.debounce)  # gather the rest of the burst
                self._event.clear()
                await self._weigh_all()
            except OarError as exc:  # the database may be briefly unavailable: go on
                log.warning("drive.wake_failed", error=exc.message)
            except Exception as exc:  # the interval is the fallback; never stop listening
                log.warning("drive.wake_failed", error=f"{type(exc).__name__}: {exc}")

    async def _weigh_all(self) -> None:
        approvals, self._approvals = self._approvals, set()
        if approvals:
            for release, decided in (await self._gated(approvals)).items():
                self._pending.setdefault(release, _Pending()).merge(_Pending(approvals=decided))
        pending, self._pending = self._pending, {}
        for release, changed in pending.items():
            if not await self._weigh(release, changed):
                self._pending.setdefault(release, _Pending()).merge(changed)

    async def _gated(self, approvals: set[str]) -> dict[str, set[str]]:
        """The releases whose running drive waits on one of these approvals."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(FollowRecord.release, FollowRecord.data).where(
                    FollowRecord.kind == KIND, FollowRecord.status == FollowStatus.RUNNING.value
                )
            )
            found: dict[str, set[str]] = {}
            for release, data in rows.all():
                gates = {str(a) for a in ((data or {}).get("gates") or {}).values()}
                if release is not None and gates & approvals:
                    found[str(release)] = gates & approvals
        return found

    async def _weigh(self, release: str, changed: _Pending) -> bool:
        """Wake the release's drive if the change is news to it; False to weigh it again
        later (its look is busy, or the look it was woken for is not recorded yet)."""
        drive = await self.follows.running(drive_key(release))
        if drive is None or not _news(drive, changed):
            return True
        here = await self.tasks.running_here(drive.id)
        if here is None:  # queued, or another worker's: it looks by itself (or its waker)
            return True
        if here is LocalRun.BUSY or self._woken_at.get(drive.id) == drive.checks:
            return False
        _, sent = await self.follows.check_now(drive.id, actor=ACTOR, interface=INTERFACE)
        if sent:
            self._woken_at[drive.id] = drive.checks
            self.woken += 1
            log.info("drive.woken", release=release, follow_id=drive.id, check=drive.checks)
        return True


def _news(drive: FollowInfo, changed: _Pending) -> bool:
    """Whether the drive has not seen this yet: a release change newer than its last look's
    version, or a decided approval its gates still wait on."""
    gates = {str(a) for a in (drive.data.get("gates") or {}).values()}
    if changed.approvals & gates:
        return True
    if changed.version is None:
        return False
    seen = drive.data.get(SEEN)
    return seen is None or changed.version > str(seen)


__all__ = ["DriveWaker"]
