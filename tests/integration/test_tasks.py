"""Background tasks on the real durable engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime
import threading
from collections import Counter
from typing import Any

import pytest

from oar.engine import AttemptStatus, TaskContext, TaskStatus, task
from oar.errors import (
    PermanentTaskError,
    TaskKeyError,
    TaskNotFoundError,
    TaskPayloadError,
    TaskStateError,
    UnknownTaskError,
)
from oar.service import Service

calls: Counter[str] = Counter()
steps: Counter[str] = Counter()
threads: dict[str, str] = {}
switches: dict[str, bool] = {}


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    for state in (calls, steps, threads, switches):
        state.clear()


@task("test.flaky", retries=3, retry_delay=0.2)
async def flaky(ctx: TaskContext) -> dict[str, Any]:
    """Fails until it has been called payload['failures'] + 1 times."""
    assert isinstance(ctx.payload, dict)
    calls[ctx.task_id] += 1
    if calls[ctx.task_id] <= int(ctx.payload["failures"]):  # type: ignore[arg-type]
        raise RuntimeError(f"transient failure {calls[ctx.task_id]}")
    return {"calls": calls[ctx.task_id]}


@task("test.broken", retries=2, retry_delay=0.05)
async def broken(ctx: TaskContext) -> None:
    calls[ctx.task_id] += 1
    if not switches.get(ctx.task_id):
        raise ValueError("always broken")


@task("test.slow", retries=1, retry_delay=0.05, timeout=0.5)
async def slow(ctx: TaskContext) -> str:
    calls[ctx.task_id] += 1
    if calls[ctx.task_id] == 1:
        await asyncio.sleep(30)  # the first attempt hangs past its timeout
    return "finished"


@task("test.permanent", retries=5)
async def permanent(ctx: TaskContext) -> None:
    calls[ctx.task_id] += 1
    raise PermanentTaskError("the input can never work")


@task("test.sync")
def sync_handler(ctx: TaskContext) -> str:
    threads[ctx.task_id] = threading.current_thread().name
    return "from a thread"


@task("test.not-json")
async def not_json(ctx: TaskContext) -> Any:
    return {"when": object()}


@task("test.hang", timeout=60, retries=0)
async def hang(ctx: TaskContext) -> None:
    calls[ctx.task_id] += 1
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        switches[f"{ctx.task_id}:interrupted"] = True
        raise


@task("test.durable", durable=True, retries=0)
async def durable(ctx: TaskContext) -> list[int]:
    async def step(n: int) -> int:
        steps[f"{ctx.task_id}:{n}"] += 1
        return n * 10

    return [await ctx.step(f"step-{n}", step, n) for n in (1, 2, 3)]


@task("test.echo")
async def echo(ctx: TaskContext) -> Any:
    calls[ctx.task_id] += 1
    return ctx.payload


async def test_a_task_that_fails_twice_then_succeeds_ends_succeeded_with_growing_delays(
    service: Service,
) -> None:
    task_id = await service.tasks.enqueue("test.flaky", {"failures": 2})
    info = await service.tasks.wait(task_id, timeout=30)

    assert info.status is TaskStatus.SUCCEEDED
    assert info.attempts == 3
    assert info.result == {"calls": 3}
    assert [a.status for a in info.attempt_log] == [
        AttemptStatus.FAILED,
        AttemptStatus.FAILED,
        AttemptStatus.SUCCEEDED,
    ]
    first, second, third = info.attempt_log
    assert first.error == "RuntimeError: transient failure 1"
    assert first.retry_delay is not None
    assert second.retry_delay is not None
    assert second.retry_delay > first.retry_delay  # exponential backoff
    # The waits really happened: each attempt began at least its delay after the last ended.
    assert first.finished_at is not None
    assert second.finished_at is not None
    assert (second.started_at - first.finished_at).total_seconds() >= first.retry_delay * 0.9
    assert (third.started_at - second.finished_at).total_seconds() >= second.retry_delay * 0.9


async def test_an_always_failing_task_becomes_a_dead_letter_and_retry_runs_it_again(
    service: Service,
) -> None:
    task_id = await service.tasks.enqueue("test.broken")
    info = await service.tasks.wait(task_id, timeout=30)

    assert info.status is TaskStatus.DEAD
    assert info.attempts == 3  # the first attempt and 2 retries
    assert info.last_error == "ValueError: always broken"
    assert [t.id for t in await service.tasks.dead_letters()] == [task_id]

    switches[task_id] = True  # the cause is fixed; the operator retries
    retried = await service.tasks.retry(task_id, actor="alice", interface="cli")
    assert retried.status in (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.SUCCEEDED)
    info = await service.tasks.wait(task_id, timeout=30)

    assert info.status is TaskStatus.SUCCEEDED
    assert info.run == 2
    assert info.attempts == 4
    assert calls[task_id] == 4
    assert await service.tasks.dead_letters() == []


async def test_a_task_past_its_timeout_fails_that_attempt_and_is_retried(service: Service) -> None:
    task_id = await service.tasks.enqueue("test.slow")
    info = await service.tasks.wait(task_id, timeout=30)

    assert info.status is TaskStatus.SUCCEEDED
    assert [a.status for a in info.attempt_log] == [
        AttemptStatus.TIMED_OUT,
        AttemptStatus.SUCCEEDED,
    ]
    assert info.attempt_log[0].error == "attempt 1 timed out after 0.5s"
    assert info.result == "finished"


async def test_a_permanent_error_fails_at_once_without_retries(service: Service) -> None:
    task_id = await service.tasks.enqueue("test.permanent")
    info = await service.tasks.wait(task_id, timeout=30)

    assert info.status is TaskStatus.FAILED
    assert info.attempts == 1
    assert calls[task_id] == 1
    assert info.last_error == "the input can never work"


async def test_the_same_key_returns_the_existing_task_even_when_enqueued_concurrently(
    service: Service,
) -> None:
    ids = await asyncio.gather(
        *(service.tasks.enqueue("test.echo", {"n": 1}, key="delivery-42") for _ in range(10))
    )
    assert set(ids) == {"delivery-42"}
    info = await service.tasks.wait("delivery-42", timeout=30)
    assert info.status is TaskStatus.SUCCEEDED
    assert calls["delivery-42"] == 1
    assert len(await service.tasks.list(name="test.echo")) == 1
    # After it finished, the key still names that task: nothing runs again.
    assert await service.tasks.enqueue("test.echo", {"n": 2}, key="delivery-42") == "delivery-42"
    await asyncio.sleep(0.3)
    assert calls["delivery-42"] == 1


async def test_sync_handlers_run_off_the_event_loop(service: Service) -> None:
    task_id = await service.tasks.enqueue("test.sync")
    info = await service.tasks.wait(task_id, timeout=30)
    assert info.result == "from a thread"
    assert threads[task_id] != "MainThread"


async def test_a_durable_task_runs_each_step_once(service: Service) -> None:
    task_id = await service.tasks.enqueue("test.durable")
    info = await service.tasks.wait(task_id, timeout=30)
    assert info.status is TaskStatus.SUCCEEDED
    assert info.result == [10, 20, 30]
    assert [steps[f"{task_id}:{n}"] for n in (1, 2, 3)] == [1, 1, 1]


async def test_a_non_json_result_fails_the_task_with_a_clear_error(service: Service) -> None:
    task_id = await service.tasks.enqueue("test.not-json")
    info = await service.tasks.wait(task_id, timeout=30)
    assert info.status is TaskStatus.FAILED
    assert info.last_error == "the handler returned a non-JSON result: result['when'] is a object"


async def test_cancel_stops_a_running_task(service: Service) -> None:
    task_id = await service.tasks.enqueue("test.hang")
    for _ in range(200):
        if (await service.tasks.get(task_id)).status is TaskStatus.RUNNING:
            break
        await asyncio.sleep(0.05)
    cancelled = await service.tasks.cancel(task_id, actor="bob")
    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.attempt_log[-1].status is AttemptStatus.CANCELLED
    for _ in range(100):  # the running attempt is interrupted, not left to finish
        if switches.get(f"{task_id}:interrupted"):
            break
        await asyncio.sleep(0.05)
    assert switches.get(f"{task_id}:interrupted")
    info = await service.tasks.get(task_id)
    assert info.status is TaskStatus.CANCELLED
    with pytest.raises(TaskStateError, match="cancel needs a task that is pending or running"):
        await service.tasks.cancel(task_id)


async def test_bad_input_is_refused_with_a_clear_error(service: Service) -> None:
    with pytest.raises(UnknownTaskError, match=r"unknown task 'no\.such\.task'; registered tasks:"):
        await service.tasks.enqueue("no.such.task")
    with pytest.raises(TaskPayloadError, match=r"payload\['when'\] is a datetime"):
        await service.tasks.enqueue("test.echo", {"when": datetime.datetime.now(datetime.UTC)})
    with pytest.raises(TaskPayloadError, match="nan"):
        await service.tasks.enqueue("test.echo", [float("nan")])
    with pytest.raises(TaskKeyError, match="invalid task key 'a b/c'"):
        await service.tasks.enqueue("test.echo", key="a b/c")
    with pytest.raises(TaskNotFoundError):
        await service.tasks.get("task-missing")
    task_id = await service.tasks.enqueue("test.echo", 1)
    await service.tasks.wait(task_id, timeout=30)
    with pytest.raises(TaskStateError, match="retry needs a task that is dead or failed or"):
        await service.tasks.retry(task_id)


async def test_counts_and_filters(service: Service) -> None:
    ok = await service.tasks.enqueue("test.echo", "a")
    bad = await service.tasks.enqueue("test.permanent")
    await service.tasks.wait(ok, timeout=30)
    await service.tasks.wait(bad, timeout=30)
    counts = await service.tasks.counts()
    assert counts["succeeded"] == 1
    assert counts["failed"] == 1
    assert counts["dead"] == 0
    assert [t.id for t in await service.tasks.list(status=TaskStatus.FAILED)] == [bad]
