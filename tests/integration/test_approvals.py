"""The approval manager on the real engine and database, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oar.db.models import ApprovalRecord, AuditEntry
from oar.db.types import utcnow
from oar.engine import TaskContext, TaskStatus, task
from oar.engine.approvals import ApprovalManager, ApprovalStatus
from oar.errors import (
    ApprovalExpiredError,
    ApprovalNotFoundError,
    ApprovalTimeoutError,
    InvalidResolutionError,
)
from oar.service import Service


@task("test.approval.gate", durable=True, retries=0, timeout=120)
async def gate(ctx: TaskContext) -> Any:
    assert isinstance(ctx.payload, dict)
    decision = await ctx.approval(
        "release_gate",
        {"release": ctx.payload["release"]},
        timeout_seconds=float(ctx.payload.get("timeout", 60)),  # type: ignore[arg-type]
    )
    return dict(decision)


async def test_the_seed_test_script(service: Service) -> None:
    """Seed 002's test_stage_5.py, as an automated test."""
    am = service.approvals
    run_id = "test_run_123"
    approval_id = await am.request_approval(
        run_id=run_id,
        approval_type="plan_approval",
        context={"plan": "Test plan", "steps": ["step1", "step2"]},
        timeout_seconds=10,
    )
    assert approval_id is not None
    assert len(approval_id) == 36
    assert await am.has_pending(approval_id)

    async def simulate_user_approval() -> None:
        await asyncio.sleep(0.2)
        result = await am.resolve_approval(
            approval_id=approval_id,
            resolution="approved",
            feedback="Looks good!",
            modifications={"added": "extra"},
        )
        assert result is True

    user_task = asyncio.create_task(simulate_user_approval())
    result = await am.wait_for_approval(approval_id)
    assert result["resolution"] == "approved"
    assert result["feedback"] == "Looks good!"
    assert result["modifications"] == {"added": "extra"}
    await user_task

    assert await am.resolve_approval(approval_id, "rejected", "Too late") is False

    approval_id_2 = await am.request_approval(
        run_id=run_id, approval_type="step_approval", context={"step": 1}, timeout_seconds=1
    )
    with pytest.raises(ApprovalTimeoutError) as caught:
        await am.wait_for_approval(approval_id_2)
    assert caught.value.approval_id == approval_id_2
    assert caught.value.expired
    assert not await am.has_pending(approval_id_2)
    assert (await am.get(approval_id_2)).status is ApprovalStatus.EXPIRED


async def test_two_concurrent_resolves_exactly_one_wins(service: Service) -> None:
    am = service.approvals
    approval_id = await am.request_approval("run-1", "release", {}, 30)
    results = await asyncio.gather(
        am.resolve_approval(approval_id, "approved", resolved_by="alice", interface="slack"),
        am.resolve_approval(approval_id, "rejected", resolved_by="bob", interface="http"),
    )
    assert sorted(results) == [False, True]
    info = await am.get(approval_id)
    winner = "alice" if results[0] else "bob"
    assert info.resolved_by == winner
    assert info.resolution is not None
    assert info.resolution.value == ("approved" if winner == "alice" else "rejected")


async def test_resolutions_racing_the_deadline_each_end_in_exactly_one_state(
    service: Service,
) -> None:
    am = service.approvals
    rng = random.Random(2026)

    async def race(n: int) -> tuple[str, bool, str]:
        approval_id = await am.request_approval(f"race-{n}", "race", {"n": n}, 0.5)
        info = await am.get(approval_id)
        delay = (info.expires_at - am.clock()).total_seconds() + rng.uniform(-0.15, 0.05)

        async def resolver() -> bool:
            await asyncio.sleep(max(0.0, delay))
            return await am.resolve_approval(approval_id, "approved", resolved_by="racer")

        async def waiter() -> str:
            try:
                await am.wait_for_approval(approval_id)
            except ApprovalTimeoutError:  # expired while waiting
                return "expired"
            except ApprovalExpiredError as exc:  # expired before the wait began
                return exc.status
            return "resolved"

        resolved, seen = await asyncio.gather(resolver(), waiter())
        final = (await am.get(approval_id)).status.value
        return final, resolved, seen

    outcomes = []
    for batch in range(5):
        outcomes += await asyncio.gather(*(race(batch * 20 + i) for i in range(20)))
    for final, resolved, seen in outcomes:
        assert final in ("resolved", "expired")
        assert resolved is (final == "resolved")
        assert seen == final
    finals = {final for final, _, _ in outcomes}
    assert len(outcomes) == 100
    assert finals == {"resolved", "expired"}  # the races really went both ways


async def test_late_and_cancelled_approvals_cannot_be_resolved(service: Service) -> None:
    am = service.approvals
    late = await am.request_approval("run", "t", {}, 0.2)
    await asyncio.sleep(0.3)
    assert await am.resolve_approval(late, "approved") is False
    assert (await am.get(late)).status is ApprovalStatus.EXPIRED
    with pytest.raises(ApprovalExpiredError, match="is expired"):
        await am.wait_for_approval(late)

    cancelled = await am.request_approval("run", "t", {}, 30)
    assert await am.cancel_approval(cancelled, cancelled_by="carol") is True
    assert await am.resolve_approval(cancelled, "approved") is False
    assert await am.cancel_approval(cancelled) is False
    info = await am.get(cancelled)
    assert info.status is ApprovalStatus.CANCELLED
    assert info.resolved_by == "carol"
    assert await am.resolve_approval("no-such-id", "approved") is False


async def test_an_approval_past_its_deadline_cannot_be_cancelled(service: Service) -> None:
    """Cancel has resolve's deadline condition: once the deadline has passed the approval is
    expired, and a cancel coming after a waiter was told so changes nothing."""
    now = [utcnow()]  # the service's own sweeper runs on the real clock beside this one
    am = ApprovalManager(service.db, service.engine, service.feed, clock=lambda: now[0])
    reported = await am.request_approval("run", "t", {}, 30)
    unrecorded = await am.request_approval("run", "t", {}, 30)
    now[0] += timedelta(seconds=31)
    with pytest.raises(ApprovalExpiredError, match="is expired"):
        await am.wait_for_approval(reported)  # the waiter is told "expired"
    for approval_id in (reported, unrecorded):  # recorded expired, or only past its deadline
        assert await am.cancel_approval(approval_id, cancelled_by="mallory") is False
        info = await am.get(approval_id)
        assert info.status is ApprovalStatus.EXPIRED
        assert info.resolved_by != "mallory"
    assert await am.expire(unrecorded) is True  # the sweeper can still record the expiry


async def test_a_waiter_sees_a_cancellation(service: Service) -> None:
    am = service.approvals
    approval_id = await am.request_approval("run", "t", {}, 30)
    waiting = asyncio.create_task(am.wait_for_approval(approval_id))
    await asyncio.sleep(0.1)
    await am.cancel_approval(approval_id)
    with pytest.raises(ApprovalExpiredError, match="is cancelled"):
        await asyncio.wait_for(waiting, 10)


async def test_approvals_expire_at_their_deadline_with_nobody_waiting(service: Service) -> None:
    am = service.approvals
    approval_id = await am.request_approval("run", "t", {}, 0.3)

    async def recorded_status() -> str:
        async with service.db.session() as session:
            row = await session.get(ApprovalRecord, approval_id)
            assert row is not None
            await session.refresh(row)
            return row.status

    for _ in range(100):
        if await recorded_status() == "expired":
            break
        await asyncio.sleep(0.05)
    assert await recorded_status() == "expired"


async def test_a_wait_with_its_own_short_timeout_leaves_the_approval_pending(
    service: Service,
) -> None:
    am = service.approvals
    approval_id = await am.request_approval("run", "t", {}, 30)
    with pytest.raises(ApprovalTimeoutError) as caught:
        await am.wait_for_approval(approval_id, timeout_seconds=0.2)
    assert not caught.value.expired
    assert await am.has_pending(approval_id)


async def test_resolutions_are_validated_and_the_seed_form_is_mapped(service: Service) -> None:
    am = service.approvals
    with pytest.raises(InvalidResolutionError, match="use one of approved, rejected, modified"):
        await am.resolve_approval("x", "approve")
    yes = await am.request_approval("run", "t", {}, 30)
    no = await am.request_approval("run", "t", {}, 30)
    assert await am.resolve_approval(yes, approved=True, resolved_by="dan", interface="websocket")
    assert await am.resolve_approval(no, approved=False)
    assert (await am.wait_for_approval(yes))["resolution"] == "approved"
    assert (await am.wait_for_approval(no))["resolution"] == "rejected"
    info = await am.get(yes)
    assert (info.resolved_by, info.resolved_via) == ("dan", "websocket")
    with pytest.raises(ApprovalNotFoundError):
        await am.wait_for_approval("missing")
    with pytest.raises(ValueError, match="timeout_seconds must be more than 0"):
        await am.request_approval("run", "t", {}, -5)


async def test_pending_approvals_by_run(service: Service) -> None:
    am = service.approvals
    first = await am.request_approval("run-a", "t", {"i": 1}, 30)
    await am.request_approval("run-b", "t", {"i": 2}, 30)
    done = await am.request_approval("run-a", "t", {"i": 3}, 30)
    await am.resolve_approval(done, "approved")
    assert [a["id"] for a in await am.get_pending_for_run("run-a")] == [first]


async def test_a_durable_task_waits_for_an_approval_and_gets_the_decision(
    service: Service,
) -> None:
    task_id = await service.tasks.enqueue("test.approval.gate", {"release": "4.19.3"})
    pending: list[Any] = []
    for _ in range(200):
        pending = await service.approvals.get_pending_for_run(task_id)
        if pending:
            break
        await asyncio.sleep(0.05)
    assert [p["context"] for p in pending] == [{"release": "4.19.3"}]
    approval_id = str(pending[0]["id"])
    assert await service.approvals.resolve_approval(
        approval_id, "modified", "ship it", {"date": "tomorrow"}, resolved_by="erin"
    )
    info = await service.tasks.wait(task_id, timeout=30)
    assert info.status is TaskStatus.SUCCEEDED
    assert info.result == {
        "resolution": "modified",
        "feedback": "ship it",
        "modifications": {"date": "tomorrow"},
    }
    async with service.db.session() as session:
        audit = (
            await session.scalars(select(AuditEntry).where(AuditEntry.subject == approval_id))
        ).all()
    assert [(a.actor, a.action) for a in audit] == [
        ("task:test.approval.gate", "approval.request"),
        ("erin", "approval.modified"),
    ]


async def test_a_durable_task_fails_when_its_approval_expires(service: Service) -> None:
    task_id = await service.tasks.enqueue(
        "test.approval.gate", {"release": "4.19.4", "timeout": 0.5}
    )
    info = await service.tasks.wait(task_id, timeout=30)
    assert info.status is TaskStatus.DEAD
    assert info.last_error is not None
    assert "was not decided within 0.5s; it expired" in info.last_error
