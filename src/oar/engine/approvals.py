"""Human approvals that survive restarts, expire on time, and resolve exactly once.

This is seed 002's ``RobustApprovalManager`` with the defects of its origin fixed:

* the ``oar_approvals`` row is the truth; nothing lives only in memory;
* every transition is a compare-and-set from ``pending``: a resolution needs the deadline
  not to have passed, an expiry needs it to have passed, so a resolution racing the
  deadline ends in exactly one final state, and every waiter reports that state;
* approvals expire at their deadline even when nobody waits (the worker's sweeper, and
  every read treats a pending approval past its deadline as expired);
* a waiter wakes through :mod:`oar.engine.changes` (same process at once, other processes
  by LISTEN/NOTIFY or a batched poll), and a durable workflow waits with a DBOS ``recv``
  whose deadline survives restarts: the resolving transaction sends it a message.

Resolutions are ``approved``, ``rejected`` and ``modified``; the seed's
``{"approved": true|false}`` form maps to the first two. Every final state records who
ended it and through which interface (``http``, ``websocket``, ``slack``, ``cli``, …).

Deliberate difference from the seed: a waiter's own ``timeout_seconds`` ends *its* wait
(``ApprovalTimeoutError`` with ``expired=False``) without expiring the approval, so an
impatient long-poll cannot take the decision away from everyone else. The approval's
own deadline (``timeout_seconds`` at request) expires it.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypedDict

from dbos import DBOS
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oar import metrics
from oar.db import Database
from oar.db.models import ApprovalRecord, AuditEntry
from oar.db.types import utcnow
from oar.engine.changes import Change, ChangeFeed, announce
from oar.engine.runtime import Engine, current_worker, durable_wait
from oar.errors import (
    ApprovalExpiredError,
    ApprovalNotFoundError,
    ApprovalTimeoutError,
    InvalidResolutionError,
    TaskPayloadError,
)
from oar.jsonvalue import JSON, json_problem
from oar.logs import get_logger

log = get_logger(__name__)

MAX_TIMEOUT = 30 * 24 * 3600.0  # a month: anything longer is a mistake
_TOPIC = "oar.approval"


def approval_topic(approval_id: str) -> str:
    """The message topic on which an approval's waiting workflow is told its end."""
    return f"{_TOPIC}:{approval_id}"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    RESOLVED = "resolved"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Resolution(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    MODIFIED = "modified"

    @property
    def approved(self) -> bool:
        return self is not Resolution.REJECTED


def parse_resolution(resolution: object = None, approved: object = None) -> Resolution:
    """``resolution`` (approved/rejected/modified), or the seed's ``approved`` boolean."""
    if resolution is None and isinstance(approved, bool):
        return Resolution.APPROVED if approved else Resolution.REJECTED
    if isinstance(resolution, str):
        try:
            return Resolution(resolution)
        except ValueError:
            pass
    given = resolution if resolution is not None else approved
    raise InvalidResolutionError(given, [r.value for r in Resolution])


def check_timeout(timeout_seconds: float | None) -> None:
    if timeout_seconds is not None and not 0 < timeout_seconds <= MAX_TIMEOUT:
        raise ValueError(
            f"timeout_seconds must be more than 0 and at most {MAX_TIMEOUT:g} (30 days),"
            f" got {timeout_seconds}"
        )


class Decision(TypedDict):
    """What a waiter receives: the seed's result shape."""

    resolution: str
    feedback: str
    modifications: JSON


@dataclass(frozen=True, kw_only=True)
class ApprovalInfo:
    id: str
    run_id: str
    session_id: str | None
    approval_type: str
    context: JSON
    status: ApprovalStatus
    resolution: Resolution | None
    feedback: str | None
    modifications: JSON
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None
    requested_by: str
    requested_via: str
    resolved_by: str | None
    resolved_via: str | None
    workflow_id: str | None
    announce_channel: str | None
    announce_ts: str | None
    announce_thread: str | None = None

    @property
    def decision(self) -> Decision:
        return {
            "resolution": self.resolution.value if self.resolution else "",
            "feedback": self.feedback or "",
            "modifications": self.modifications if self.modifications is not None else {},
        }

    def to_dict(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "session_id": self.session_id,
            "approval_type": self.approval_type,
            "context": self.context,
            "status": self.status.value,
            "resolution": self.resolution.value if self.resolution else None,
            "approved": self.resolution.approved if self.resolution else None,
            "feedback": self.feedback,
            "modifications": self.modifications,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "requested_by": self.requested_by,
            "requested_via": self.requested_via,
            "resolved_by": self.resolved_by,
            "resolved_via": self.resolved_via,
            "announce": (
                {
                    "channel": self.announce_channel,
                    "thread_ts": self.announce_thread,
                    "ts": self.announce_ts,
                }
                if self.announce_channel
                else None
            ),
        }


def _info(row: ApprovalRecord, now: datetime) -> ApprovalInfo:
    status = ApprovalStatus(row.status)
    if status is ApprovalStatus.PENDING and row.expires_at <= now:
        status = ApprovalStatus.EXPIRED  # past its deadline; the sweeper will record it
    return ApprovalInfo(
        id=row.id,
        run_id=row.run_id,
        session_id=row.session_id,
        approval_type=row.approval_type,
        context=row.context,
        status=status,
        resolution=Resolution(row.resolution) if row.resolution else None,
        feedback=row.feedback,
        modifications=row.modifications,
        created_at=row.created_at,
        expires_at=row.expires_at,
        resolved_at=row.resolved_at,
        requested_by=row.requested_by,
        requested_via=row.requested_via,
        resolved_by=row.resolved_by,
        resolved_via=row.resolved_via,
        workflow_id=row.workflow_id,
        announce_channel=row.announce_channel,
        announce_ts=row.announce_ts,
        announce_thread=row.announce_thread,
    )


# Marks an approval whose announcement is being posted (claimed, no message ts yet).
ANNOUNCING = "posting"


def _details(run_id: str, on_behalf_of: str | None) -> dict[str, JSON]:
    """An audit entry's details: the run, and whom the caller claimed to act for."""
    details: dict[str, JSON] = {"run_id": run_id}
    if on_behalf_of is not None:
        details["on_behalf_of"] = on_behalf_of
    return details


class ApprovalManager:
    """Request, wait for, resolve and cancel approvals; usable from any process."""

    def __init__(
        self,
        db: Database,
        engine: Engine,
        feed: ChangeFeed,
        *,
        default_timeout: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        check_timeout(default_timeout)
        self.db = db
        self.engine = engine
        self.feed = feed
        self.default_timeout = default_timeout
        self.clock = clock

    # --- requesting ----------------------------------------------------------------------
    async def request_approval(
        self,
        run_id: str,
        approval_type: str,
        context: Any,
        timeout_seconds: float | None = None,
        session_id: str | None = None,
        *,
        requested_by: str = "system",
        interface: str = "api",
        workflow_id: str | None = None,
        announce_channel: str | None = None,
        announce_thread: str | None = None,
        on_behalf_of: str | None = None,
    ) -> str:
        """Create a pending approval; return its ID. With ``announce_channel`` the Slack
        bot posts it there (in ``announce_thread`` if given) with Approve / Reject buttons.

        ``requested_by`` is the authenticated actor; ``on_behalf_of`` whom the caller says
        it acts for, kept in the audit log as a claim, never as the actor."""
        check_timeout(timeout_seconds)
        if problem := json_problem(context, "context"):
            raise TaskPayloadError(problem)
        approval_id = str(uuid.uuid4())
        now = self.clock()
        timeout = timeout_seconds or self.default_timeout
        row = ApprovalRecord(
            id=approval_id,
            run_id=run_id,
            session_id=session_id,
            approval_type=approval_type,
            context=context,
            status=ApprovalStatus.PENDING.value,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=timeout),
            requested_by=requested_by,
            requested_via=interface,
            workflow_id=workflow_id,
            announce_channel=announce_channel,
            announce_thread=announce_thread,
        )
        async with self.db.transaction() as session:
            session.add(row)
            session.add(
                AuditEntry(
                    at=now,
                    actor=requested_by,
                    interface=interface,
                    action="approval.request",
                    subject=approval_id,
                    details=_details(run_id, on_behalf_of),
                )
            )
            await session.flush()
            await announce(
                session, self.db, Change(kind="approval", id=approval_id, status="pending")
            )
        self.feed.dispatch(Change(kind="approval", id=approval_id, status="pending"))
        log.info(
            "approval.requested",
            approval_id=approval_id,
            run_id=run_id,
            approval_type=approval_type,
            timeout_seconds=timeout,
        )
        return approval_id

    # --- reading ---------------------------------------------------------------------------
    async def get(self, approval_id: str) -> ApprovalInfo:
        async with self.db.session() as session:
            row = await session.get(ApprovalRecord, approval_id)
        if row is None:
            raise ApprovalNotFoundError(approval_id)
        return _info(row, self.clock())

    async def list(
        self,
        *,
        status: ApprovalStatus | None = None,
        run_id: str | None = None,
        session_id: str | None = None,
        limit: int = 100,
    ) -> builtins.list[ApprovalInfo]:
        now = self.clock()
        query = select(ApprovalRecord).order_by(ApprovalRecord.created_at.desc())
        if status is ApprovalStatus.PENDING:
            query = query.where(ApprovalRecord.status == "pending", ApprovalRecord.expires_at > now)
        elif status is ApprovalStatus.EXPIRED:
            query = query.where(
                (ApprovalRecord.status == "expired")
                | ((ApprovalRecord.status == "pending") & (ApprovalRecord.expires_at <= now))
            )
        elif status is not None:
            query = query.where(ApprovalRecord.status == status.value)
        if run_id is not None:
            query = query.where(ApprovalRecord.run_id == run_id)
        if session_id is not None:
            query = query.where(ApprovalRecord.session_id == session_id)
        async with self.db.session() as session:
            rows = (await session.scalars(query.limit(limit))).all()
        return [_info(row, now) for row in rows]

    async def has_pending(self, approval_id: str) -> bool:
        try:
            return (await self.get(approval_id)).status is ApprovalStatus.PENDING
        except ApprovalNotFoundError:
            return False

    async def get_pending_for_run(self, run_id: str) -> builtins.list[dict[str, JSON]]:
        return [a.to_dict() for a in await self.list(status=ApprovalStatus.PENDING, run_id=run_id)]

    async def pending_count(self) -> int:
        now = self.clock()
        async with self.db.session() as session:
            count = await session.scalar(
                select(func.count()).where(
                    ApprovalRecord.status == "pending", ApprovalRecord.expires_at > now
                )
            )
        return int(count or 0)

    # --- waiting -----------------------------------------------------------------------------
    async def wait_for_approval(
        self, approval_id: str, timeout_seconds: float | None = None
    ) -> Decision:
        """Wait until the approval is decided; return the decision.

        Raises ApprovalNotFoundError, ApprovalExpiredError (already expired or cancelled,
        or cancelled while waiting) and ApprovalTimeoutError (the approval's deadline
        passed — it is now expired — or this wait's own ``timeout_seconds`` did).
        """
        check_timeout(timeout_seconds)
        own_deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        with self.feed.watching("approval", approval_id) as watch:
            info = await self.get(approval_id)
            if info.status is ApprovalStatus.EXPIRED:
                # Past its deadline but perhaps not recorded yet: record it, then read the
                # outcome (a resolution made before the deadline may commit first).
                await self.expire(approval_id)
                info = await self.get(approval_id)
            if info.status is not ApprovalStatus.PENDING:  # decided before we came
                return self._decided(info)
            while info.status is ApprovalStatus.PENDING:
                until_expiry = (info.expires_at - self.clock()).total_seconds()
                until_own = None if own_deadline is None else own_deadline - time.monotonic()
                remaining = until_expiry if until_own is None else min(until_expiry, until_own)
                if remaining <= 0:
                    break
                watch.event.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await watch.event.wait()
                # A change made in this process brings the approval along; else read it.
                local = watch.state
                info = local if isinstance(local, ApprovalInfo) else await self.get(approval_id)
        if info.status is ApprovalStatus.PENDING:
            if own_deadline is not None and time.monotonic() >= own_deadline:
                # this wait's own timeout, not the deadline
                raise ApprovalTimeoutError(approval_id, float(timeout_seconds or 0), expired=False)
            # The deadline passed after the last read: read the outcome (a resolution just
            # before the deadline, or expired) instead of guessing it.
            info = await self.get(approval_id)
        if info.status is ApprovalStatus.EXPIRED:
            # Record it; a resolution that won the race at the deadline shows up here.
            await self.expire(approval_id)
            info = await self.get(approval_id)
            if info.status is ApprovalStatus.EXPIRED:
                timeout = (info.expires_at - info.created_at).total_seconds()
                raise ApprovalTimeoutError(approval_id, timeout, expired=True)
        return self._decided(info)

    @staticmethod
    def _decided(info: ApprovalInfo) -> Decision:
        if info.status is ApprovalStatus.RESOLVED:
            return info.decision
        raise ApprovalExpiredError(info.id, info.status.value)

    # --- deciding ------------------------------------------------------------------------------
    async def resolve_approval(
        self,
        approval_id: str,
        resolution: str | Resolution | None = None,
        feedback: str = "",
        modifications: Any = None,
        *,
        approved: bool | None = None,
        resolved_by: str = "unknown",
        interface: str = "api",
        on_behalf_of: str | None = None,
    ) -> bool:
        """Decide a pending approval. False (never an exception) when it is unknown or
        already resolved, expired or cancelled; InvalidResolutionError for a bad value.

        ``resolved_by`` is the authenticated actor; ``on_behalf_of`` (audit log only) whom
        the caller says it decides for."""
        decided = parse_resolution(resolution, approved)
        if modifications is not None and (problem := json_problem(modifications, "modifications")):
            raise TaskPayloadError(problem)
        now = self.clock()
        values = {
            "status": ApprovalStatus.RESOLVED.value,
            "resolution": decided.value,
            "feedback": feedback,
            "modifications": modifications,
            "resolved_at": now,
            "updated_at": now,
            "resolved_by": resolved_by,
            "resolved_via": interface,
        }
        changed = await self._transition(
            approval_id,
            values,
            ApprovalStatus.RESOLVED,
            now,
            condition=ApprovalRecord.expires_at > now,
            message={"status": "resolved", "resolution": decided.value},
            audit=(resolved_by, interface, f"approval.{decided.value}", on_behalf_of),
        )
        if changed is None:
            log.info("approval.resolve_refused", approval_id=approval_id, resolved_by=resolved_by)
            return False
        metrics.APPROVAL_RESOLUTIONS.labels(outcome=decided.value).inc()
        metrics.APPROVAL_SECONDS.observe((now - changed.created_at).total_seconds())
        log.info(
            "approval.resolved",
            approval_id=approval_id,
            resolution=decided.value,
            resolved_by=resolved_by,
            interface=interface,
        )
        return True

    async def cancel_approval(
        self,
        approval_id: str,
        *,
        cancelled_by: str = "unknown",
        interface: str = "api",
        on_behalf_of: str | None = None,
    ) -> bool:
        """Withdraw a pending approval; False when it is unknown, no longer pending, or past
        its deadline (then it is expired, whatever was recorded yet: as for a resolution).

        ``on_behalf_of`` (audit log only): whom the caller says it cancels for."""
        now = self.clock()
        values = {
            "status": ApprovalStatus.CANCELLED.value,
            "resolved_at": now,
            "updated_at": now,
            "resolved_by": cancelled_by,
            "resolved_via": interface,
        }
        changed = await self._transition(
            approval_id,
            values,
            ApprovalStatus.CANCELLED,
            now,
            condition=ApprovalRecord.expires_at > now,
            message={"status": "cancelled"},
            audit=(cancelled_by, interface, "approval.cancel", on_behalf_of),
        )
        if changed is None:
            return False
        metrics.APPROVAL_RESOLUTIONS.labels(outcome="cancelled").inc()
        log.info("approval.cancelled", approval_id=approval_id, cancelled_by=cancelled_by)
        return True

    async def expire(self, approval_id: str) -> bool:
        """Record that a pending approval passed its deadline (no-op otherwise)."""
        now = self.clock()
        values = {
            "status": ApprovalStatus.EXPIRED.value,
            "resolved_at": now,
            "updated_at": now,
            "resolved_by": "deadline",
            "resolved_via": "system",
        }
        changed = await self._transition(
            approval_id,
            values,
            ApprovalStatus.EXPIRED,
            now,
            condition=ApprovalRecord.expires_at <= now,
            message={"status": "expired"},
            audit=None,
        )
        if changed is None:
            return False
        metrics.APPROVAL_RESOLUTIONS.labels(outcome="expired").inc()
        log.info("approval.expired", approval_id=approval_id)
        return True

    async def expire_due(self) -> builtins.list[str]:
        """Expire every pending approval past its deadline; return their IDs."""
        now = self.clock()
        async with self.db.session() as session:
            due = (
                await session.scalars(
                    select(ApprovalRecord.id).where(
                        ApprovalRecord.status == "pending", ApprovalRecord.expires_at <= now
                    )
                )
            ).all()
        return [approval_id for approval_id in due if await self.expire(approval_id)]

    async def next_expiry(self) -> datetime | None:
        async with self.db.session() as session:
            return await session.scalar(
                select(func.min(ApprovalRecord.expires_at)).where(
                    ApprovalRecord.status == "pending"
                )
            )

    async def set_waiter(self, approval_id: str, workflow_id: str) -> bool:
        """Make ``workflow_id`` the durable workflow told (on :func:`approval_topic`) when
        the pending approval ends; False when it is no longer pending."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ApprovalRecord)
                .where(ApprovalRecord.id == approval_id, ApprovalRecord.status == "pending")
                .values(workflow_id=workflow_id)
            )
        return bool(getattr(result, "rowcount", 0))

    async def claim_announcement(self, approval_id: str, *, channel: str) -> bool:
        """Take the job of announcing an approval (once, across processes): True for the
        one caller that should post it."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ApprovalRecord)
                .where(ApprovalRecord.id == approval_id, ApprovalRecord.announce_ts.is_(None))
                .values(announce_channel=channel, announce_ts=ANNOUNCING)
            )
        return bool(getattr(result, "rowcount", 0))

    async def unannounced(self, *, default_channel: str | None) -> builtins.list[str]:
        """Pending approvals that should be announced and were not (yet)."""
        query = select(ApprovalRecord.id).where(
            ApprovalRecord.status == ApprovalStatus.PENDING.value,
            ApprovalRecord.expires_at > self.clock(),
            ApprovalRecord.announce_ts.is_(None),
        )
        if default_channel is None:
            query = query.where(ApprovalRecord.announce_channel.is_not(None))
        async with self.db.session() as session:
            rows = await session.execute(query)
        return [row[0] for row in rows]

    async def set_announcement(self, approval_id: str, *, channel: str, ts: str) -> None:
        """Remember where the request was announced (to update that message later)."""
        async with self.db.transaction() as session:
            await session.execute(
                update(ApprovalRecord)
                .where(ApprovalRecord.id == approval_id)
                .values(announce_channel=channel, announce_ts=ts)
            )

    async def _transition(
        self,
        approval_id: str,
        values: dict[str, Any],
        target: ApprovalStatus,
        now: datetime,
        *,
        condition: Any,
        message: dict[str, JSON],
        audit: tuple[str, str, str, str | None] | None,
    ) -> ApprovalRecord | None:
        """Compare-and-set from pending; wake the durable waiter in the same transaction."""
        where = [ApprovalRecord.id == approval_id, ApprovalRecord.status == "pending"]
        if condition is not None:
            where.append(condition)
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ApprovalRecord).where(*where).values(**values).returning(ApprovalRecord)
            )
            row = result.scalar_one_or_none()
            if row is None:
                return None
            await announce(
                session, self.db, Change(kind="approval", id=approval_id, status=target.value)
            )
            if row.workflow_id:
                await self._send(session, row.workflow_id, approval_id, message)
            if audit is not None:
                actor, interface, action, on_behalf_of = audit
                session.add(
                    AuditEntry(
                        at=now,
                        actor=actor,
                        interface=interface,
                        action=action,
                        subject=approval_id,
                        details=_details(row.run_id, on_behalf_of),
                    )
                )
        self.feed.dispatch(
            Change(kind="approval", id=approval_id, status=target.value, state=_info(row, now))
        )
        return row

    async def _send(
        self, session: AsyncSession, workflow_id: str, approval_id: str, message: dict[str, JSON]
    ) -> None:
        client = self.engine.client
        conn = await session.connection()
        await conn.run_sync(
            lambda sync: client.send_in_transaction(
                sync,
                workflow_id,
                {"approval_id": approval_id, **message},
                approval_topic(approval_id),
            )
        )


class ApprovalSweeper:
    """Expires approvals at their deadline, whether or not anyone waits (worker role)."""

    def __init__(self, manager: ApprovalManager, *, max_sleep: float = 5.0) -> None:
        self.manager = manager
        self.max_sleep = max_sleep
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        # A new request may expire sooner than anything pending: look again. (Requests
        # made elsewhere are found by the periodic look, at most max_sleep later.)
        self._unsubscribe = self.manager.feed.subscribe(
            "approval",
            lambda change: self._wake.set() if change.status == "pending" else None,
            passive=True,
        )
        self._task = asyncio.create_task(self._run(), name="oar-approval-sweeper")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                expired = await self.manager.expire_due()
                if expired:
                    log.info("approval.sweep", expired=len(expired))
                upcoming = await self.manager.next_expiry()
            except Exception as exc:  # keep sweeping through transient database errors
                log.warning("approval.sweep_failed", error=str(exc))
                upcoming = None
            delay = self.max_sleep
            if upcoming is not None:
                delay = min(delay, max(0.0, (upcoming - self.manager.clock()).total_seconds()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay + 0.01):
                    await self._wake.wait()


# --- durable waits (workflow code) --------------------------------------------------------------


async def request_in_workflow(
    run_id: str,
    approval_type: str,
    context: Any,
    *,
    timeout_seconds: float | None = None,
    session_id: str | None = None,
    requested_by: str = "workflow",
) -> str:
    """From a durable workflow: request an approval (once, even across restarts)."""
    workflow_id = DBOS.workflow_id
    if workflow_id is None:
        raise RuntimeError("request_in_workflow must be called from a durable workflow")

    async def create() -> str:
        manager = current_worker().service(ApprovalManager)
        return await manager.request_approval(
            run_id,
            approval_type,
            context,
            timeout_seconds,
            session_id,
            requested_by=requested_by,
            interface="workflow",
            workflow_id=workflow_id,
        )

    approval_id: str = await DBOS.run_step_async({"name": "approval.request"}, create)
    return approval_id


async def wait_in_workflow(approval_id: str) -> Decision:
    """From a durable workflow: wait for the decision, keeping the deadline across restarts."""
    workflow_id = DBOS.workflow_id
    if workflow_id is None:
        raise RuntimeError("wait_in_workflow must be called from a durable workflow")

    async def register() -> dict[str, Any]:
        """Become the approval's waiter; return how long the wait may last."""
        worker = current_worker()
        manager = worker.service(ApprovalManager)
        now = manager.clock()
        async with worker.db.transaction() as session:
            await session.execute(
                update(ApprovalRecord)
                .where(ApprovalRecord.id == approval_id, ApprovalRecord.status == "pending")
                .values(workflow_id=workflow_id)
            )
        info = await manager.get(approval_id)
        return {"remaining": max(0.0, (info.expires_at - now).total_seconds())}

    async def settle() -> dict[str, Any]:
        """After the wake-up or the deadline: the approval's final state."""
        manager = current_worker().service(ApprovalManager)
        info = await manager.get(approval_id)
        if info.status is ApprovalStatus.EXPIRED:
            await manager.expire(approval_id)
            info = await manager.get(approval_id)
        return info.to_dict()

    waited = await DBOS.run_step_async({"name": "approval.wait"}, register)
    if waited["remaining"] > 0:
        with durable_wait(f"approval {approval_id}"):  # shutdown does not wait for it
            await DBOS.recv_async(
                approval_topic(approval_id), timeout_seconds=waited["remaining"] + 0.5
            )
    final = await DBOS.run_step_async({"name": "approval.settle"}, settle)
    status = final["status"]
    if status == ApprovalStatus.RESOLVED.value:
        return {
            "resolution": final["resolution"],
            "feedback": final["feedback"] or "",
            "modifications": final["modifications"] if final["modifications"] is not None else {},
        }
    if status == ApprovalStatus.PENDING.value:  # woken early by an unrelated message
        return await wait_in_workflow(approval_id)
    timeout = (
        datetime.fromisoformat(str(final["expires_at"]))
        - datetime.fromisoformat(str(final["created_at"]))
    ).total_seconds()
    if status == ApprovalStatus.EXPIRED.value:
        raise ApprovalTimeoutError(approval_id, timeout, expired=True)
    raise ApprovalExpiredError(approval_id, str(status))
