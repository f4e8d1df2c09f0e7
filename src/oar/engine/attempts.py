"""How a task runs in a worker: the workflows behind ``TaskManager``.

One run of a task is one workflow (``oar.task.run``): attempt, record the outcome, sleep
durably with exponential backoff and jitter, attempt again, until the task succeeds, fails
permanently, or runs out of attempts (a dead letter). A plain handler's attempt is one
checkpointed step; a durable handler's attempt is a child workflow whose ``ctx.step``
calls are checkpointed one by one.

Every write to ``oar_tasks`` here is a compare-and-set on the run and the status, so a
cancellation or a newer run always wins over an attempt finishing late.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from dbos import DBOS, SetWorkflowID
from sqlalchemy import func, update
from sqlalchemy.engine import Connection

from oar import metrics
from oar.backoff import Backoff
from oar.db import insert_for
from oar.db.models import TaskAttemptRecord, TaskRecord
from oar.db.types import utcnow
from oar.engine.runtime import current_worker, durable_wait
from oar.engine.tasks import (
    ATTEMPT_WORKFLOW,
    RUN_WORKFLOW,
    AttemptStatus,
    RunInput,
    TaskContext,
    TaskStatus,
    registry,
)
from oar.errors import OarError, PermanentTaskError, UnknownTaskError
from oar.jsonvalue import JSON, json_problem
from oar.logs import bind_context, get_logger

log = get_logger(__name__)

# Attempts still running after this many seconds are marked running before they end.
BEGIN_AFTER = 0.05


class Outcome(TypedDict, total=False):
    """What one attempt produced, before it is recorded."""

    ok: bool
    result: JSON
    error: str
    permanent: bool
    timed_out: bool
    seconds: float


@DBOS.workflow(name=RUN_WORKFLOW)
async def _run_task(inputs: RunInput) -> dict[str, Any]:
    """One run of a task: attempts, each recorded, with durable backoff sleeps between."""
    attempt = inputs["first_attempt"]
    while True:
        if inputs["durable"]:
            started = await DBOS.run_step_async({"name": "task.begin"}, _begin, inputs, attempt)
            if not started:
                return {"status": "cancelled"}
            with SetWorkflowID(f"{DBOS.workflow_id}:attempt{attempt}"):
                handle = await DBOS.start_workflow_async(_durable_attempt, inputs, attempt)
            outcome = await handle.get_result()
            verdict = await DBOS.run_step_async(
                {"name": "task.finish"}, _finish, inputs, attempt, outcome
            )
        else:
            verdict = await DBOS.run_step_async({"name": "task.attempt"}, _attempt, inputs, attempt)
        if verdict["status"] != "retry":
            return verdict
        delay = float(verdict["delay"])
        with durable_wait(f"retry backoff {delay:g}s"):  # shutdown does not wait for it
            await DBOS.sleep_async(delay)
        attempt += 1


@DBOS.workflow(name=ATTEMPT_WORKFLOW)
async def _durable_attempt(inputs: RunInput, attempt: int) -> Outcome:
    """A durable handler's attempt: its ``ctx.step`` calls are this workflow's steps."""
    return await _invoke(inputs, attempt)


async def _attempt(inputs: RunInput, attempt: int) -> dict[str, Any]:
    """A plain handler's attempt, as a single step: invoke, record.

    An attempt still running after ``BEGIN_AFTER`` seconds is marked running (so people
    and the cancel command see it); a quick one is recorded once, when it ends, which
    halves the writes of the common case. A cancellation — made in any process, heard
    through the change feed — interrupts the handler.
    """
    started = utcnow()
    feed = current_worker().feed
    with feed.watching("task", inputs["task_id"]) as cancelled:
        invocation = asyncio.ensure_future(_invoke(inputs, attempt))
        stop = asyncio.ensure_future(cancelled.event.wait())
        try:
            done, _ = await asyncio.wait(
                {invocation, stop}, timeout=BEGIN_AFTER, return_when=asyncio.FIRST_COMPLETED
            )
            if invocation not in done:
                if stop in done or not await _begin(inputs, attempt, started):
                    return await _interrupted(invocation)
                await asyncio.wait({invocation, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not invocation.done():
                    return await _interrupted(invocation)
            outcome = invocation.result()
        finally:
            stop.cancel()
            if not invocation.done():  # the step itself was cancelled (shutdown)
                invocation.cancel()
    return await _finish(inputs, attempt, outcome, started=started)


async def _interrupted(invocation: asyncio.Future[Outcome]) -> dict[str, Any]:
    invocation.cancel()
    await asyncio.gather(invocation, return_exceptions=True)
    return {"status": TaskStatus.CANCELLED.value}


async def _begin(inputs: RunInput, attempt: int, started: datetime | None = None) -> bool:
    """Mark the task running in this attempt; False when it was cancelled meanwhile."""
    db = current_worker().db
    task_id, now = inputs["task_id"], utcnow()
    started = started or now

    def begin(session: Connection) -> bool:
        result = session.execute(
            update(TaskRecord)
            .where(
                TaskRecord.id == task_id,
                TaskRecord.run == inputs["run"],
                TaskRecord.status.in_([TaskStatus.PENDING.value, TaskStatus.RUNNING.value]),
            )
            .values(
                status=TaskStatus.RUNNING.value,
                attempts=attempt,
                started_at=func.coalesce(TaskRecord.started_at, started),
                updated_at=now,
                next_attempt_at=None,
            )
        )
        if not getattr(result, "rowcount", 0):
            return False
        stmt = insert_for(db.dialect, TaskAttemptRecord).values(
            task_id=task_id,
            attempt=attempt,
            run=inputs["run"],
            status=AttemptStatus.RUNNING.value,
            started_at=started,
        )
        # After a crash the same attempt begins again: it is the same attempt, restarted.
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["task_id", "attempt"],
                set_={
                    "status": AttemptStatus.RUNNING.value,
                    "started_at": started,
                    "finished_at": None,
                },
            )
        )
        return True

    # Run whole on a thread (SQLite): the write lock is not held across the event loop.
    return await db.write_at_once(begin)


async def _invoke(inputs: RunInput, attempt: int) -> Outcome:
    """Call the handler under the attempt's timeout; never raises."""
    task_id, name = inputs["task_id"], inputs["name"]
    bind_context(task_id=task_id, task=name, attempt=attempt)
    started = time.monotonic()
    try:
        spec = registry.get(name)
    except UnknownTaskError as exc:
        return {
            "ok": False,
            "permanent": True,
            "seconds": 0.0,
            "error": f"{exc.message} in the worker {current_worker().executor_id}",
        }
    ctx = TaskContext(
        task_id=task_id,
        name=name,
        payload=inputs["payload"],
        attempt=attempt,
        run=inputs["run"],
        durable=inputs["durable"],
        log=get_logger(f"oar.task.{name}"),
    )
    timeout = inputs["timeout"]
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            if spec.is_async:
                result = await cast(Callable[[TaskContext], Awaitable[Any]], spec.func)(ctx)
            else:
                result = await asyncio.to_thread(spec.func, ctx)
    except TimeoutError:
        if not scope.expired():  # the handler's own TimeoutError, not our deadline
            return _failed(started, "TimeoutError raised by the handler", permanent=False)
        return {
            "ok": False,
            "timed_out": True,
            "seconds": time.monotonic() - started,
            "error": f"attempt {attempt} timed out after {timeout:g}s",
        }
    except PermanentTaskError as exc:
        return _failed(started, exc.message, permanent=True)
    except OarError as exc:
        return _failed(started, f"{type(exc).__name__}: {exc.message}", permanent=False)
    except Exception as exc:  # a handler's failure is data, recorded and retried
        log.warning("task.attempt_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        return _failed(started, f"{type(exc).__name__}: {exc}", permanent=False)
    if problem := json_problem(result, "result"):
        return _failed(
            started, f"the handler returned a non-JSON result: {problem}", permanent=True
        )
    return {"ok": True, "result": result, "seconds": time.monotonic() - started}


def _failed(started: float, error: str, *, permanent: bool) -> Outcome:
    return {
        "ok": False,
        "error": error,
        "permanent": permanent,
        "seconds": time.monotonic() - started,
    }


async def _finish(
    inputs: RunInput, attempt: int, outcome: Outcome, started: datetime | None = None
) -> dict[str, Any]:
    """Record an attempt's outcome and decide: done, retry after a delay, or dead."""
    db = current_worker().db
    task_id, now = inputs["task_id"], utcnow()
    started = started or now
    ok = bool(outcome.get("ok"))
    values: dict[str, Any] = {"updated_at": now}
    verdict: dict[str, Any]
    delay: float | None = None
    if ok:
        attempt_status = AttemptStatus.SUCCEEDED
        values.update(
            status=TaskStatus.SUCCEEDED.value, result=outcome.get("result"), finished_at=now
        )
        verdict = {"status": TaskStatus.SUCCEEDED.value}
    else:
        attempt_status = (
            AttemptStatus.TIMED_OUT if outcome.get("timed_out") else AttemptStatus.FAILED
        )
        values["last_error"] = outcome.get("error")
        if outcome.get("permanent"):
            values.update(status=TaskStatus.FAILED.value, finished_at=now)
            verdict = {"status": TaskStatus.FAILED.value}
        elif attempt >= inputs["max_attempts"]:
            values.update(status=TaskStatus.DEAD.value, finished_at=now)
            verdict = {"status": TaskStatus.DEAD.value}
        else:
            retry_no = attempt - inputs["first_attempt"] + 1
            delay = Backoff(delay=inputs["retry_delay"], factor=inputs["backoff"]).delay_for(
                retry_no, seed=task_id
            )
            values.update(
                status=TaskStatus.PENDING.value, next_attempt_at=now + timedelta(seconds=delay)
            )
            verdict = {"status": "retry", "delay": delay}
    values.update(attempts=attempt, started_at=func.coalesce(TaskRecord.started_at, started))

    def finish(session: Connection) -> bool:
        result = session.execute(
            update(TaskRecord)
            .where(
                TaskRecord.id == task_id,
                TaskRecord.run == inputs["run"],
                TaskRecord.status.in_([TaskStatus.PENDING.value, TaskStatus.RUNNING.value]),
            )
            .values(**values)
        )
        cancelled = not getattr(result, "rowcount", 0)
        # The attempt's row: _begin wrote it for a long attempt; a quick one is first
        # written here. A row the cancel command already closed keeps its status.
        record = {
            "status": attempt_status.value,
            "finished_at": now,
            "error": outcome.get("error"),
            "retry_delay": delay,
        }
        stmt = insert_for(db.dialect, TaskAttemptRecord).values(
            task_id=task_id, attempt=attempt, run=inputs["run"], started_at=started, **record
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["task_id", "attempt"],
                set_=record,
                where=TaskAttemptRecord.status == AttemptStatus.RUNNING.value,
            )
        )
        return cancelled

    # Run whole on a thread (SQLite): the write lock is not held across the event loop.
    if await db.write_at_once(finish):
        verdict = {"status": TaskStatus.CANCELLED.value}
    metrics.TASK_ATTEMPTS.labels(name=inputs["name"], outcome=attempt_status.value).inc()
    metrics.TASK_ATTEMPT_SECONDS.labels(name=inputs["name"]).observe(
        float(outcome.get("seconds", 0.0))
    )
    log.info(
        "task.attempt_finished",
        task_id=task_id,
        task=inputs["name"],
        attempt=attempt,
        outcome=attempt_status.value,
        verdict=verdict["status"],
    )
    return verdict
