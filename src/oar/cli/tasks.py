"""``oarctl tasks``: list, inspect, start, retry and cancel background tasks."""

from __future__ import annotations

import json
from typing import Any

import click

from oar.cli.actor import current_actor
from oar.cli.console import (
    client,
    fail,
    json_option,
    out,
    print_json,
    run,
    settings_or_exit,
    short,
    table,
    when,
)
from oar.engine import TaskInfo, TaskStatus

# Exit status of `enqueue --wait` when the task has not finished in time (as `approvals wait`).
WAIT_TIMED_OUT = 4


@click.group()
def tasks() -> None:
    """Background tasks: list, inspect, retry, cancel."""


@tasks.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in TaskStatus]),
    help="Only this status (dead: the dead letters).",
)
@click.option("--name", help="Only tasks of this handler.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
def tasks_list(status: str | None, name: str | None, limit: int, as_json: bool) -> None:
    """List tasks, newest first."""
    settings = settings_or_exit(quiet=True)

    async def fetch() -> list[TaskInfo]:
        async with client(settings) as service:
            return await service.tasks.list(
                status=TaskStatus(status) if status else None, name=name, limit=limit
            )

    found = run(fetch())
    if as_json:
        print_json([t.to_dict(with_attempts=False) for t in found])
        return
    table(
        "tasks",
        ["ID", "NAME", "STATUS", "ATTEMPTS", "CREATED (UTC)", "LAST ERROR"],
        (
            [
                t.id,
                t.name,
                t.status,
                f"{t.attempts}/{t.max_attempts}",
                when(t.created_at),
                short(t.last_error),
            ]
            for t in found
        ),
    )


@tasks.command("enqueue")
@click.argument("name")
@click.option("--payload", default="null", show_default=True, help="The payload, as JSON.")
@click.option("--key", help="Idempotency key: the same key returns the existing task.")
@click.option("--plugin", "plugins", multiple=True, help="Module registering the handler.")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(0),
    help="Wait up to N seconds for the result; exit 1 if the task failed, died or was"
    " cancelled, 4 if it has not finished.",
)
@json_option
def tasks_enqueue(
    name: str,
    payload: str,
    key: str | None,
    plugins: tuple[str, ...],
    wait_seconds: float | None,
    as_json: bool,
) -> None:
    """Start task NAME (its handler must be registered, e.g. with --plugin)."""
    try:
        value = json.loads(payload)
    except json.JSONDecodeError as exc:
        fail(f"--payload is not valid JSON: {exc}", code=2)
    settings = settings_or_exit(quiet=True, OAR_PLUGINS=",".join(plugins) or None)

    async def act() -> TaskInfo:
        async with client(settings) as service:
            task_id = await service.tasks.enqueue(name, value, key=key, source=_source())
            if wait_seconds:
                return await service.tasks.wait(task_id, timeout=wait_seconds)
            return await service.tasks.get(task_id)

    info = run(act())
    if as_json:
        print_json(info.to_dict())
    else:
        out.print(f"task {info.id} {info.status.value}", highlight=False)
        if info.status.terminal:
            _print_task(info)
    if wait_seconds:
        _exit_for_wait(info, wait_seconds)


def _exit_for_wait(info: TaskInfo, waited: float) -> None:
    """--wait's exit status: 0 succeeded, 1 failed/dead/cancelled, 4 not finished in time."""
    if info.status is TaskStatus.SUCCEEDED:
        return
    if not info.status.terminal:
        fail(
            f"task {info.id} is still {info.status.value} after {waited:g}s"
            f" (oarctl tasks show {info.id})",
            code=WAIT_TIMED_OUT,
        )
    fail(f"task {info.id} ended {info.status.value}: {short(info.last_error, 200) or 'no error'}")


@tasks.command("show")
@click.argument("task_id")
@json_option
def tasks_show(task_id: str, as_json: bool) -> None:
    """Show one task: status, attempts, last error, result."""
    settings = settings_or_exit(quiet=True)

    async def fetch() -> TaskInfo:
        async with client(settings) as service:
            return await service.tasks.get(task_id)

    info = run(fetch())
    if as_json:
        print_json(info.to_dict())
        return
    _print_task(info)


def _print_task(info: TaskInfo) -> None:
    fields: list[tuple[str, Any]] = [
        ("id", info.id),
        ("name", info.name),
        ("status", info.status.value),
        ("attempts", f"{info.attempts} of {info.max_attempts} (run {info.run})"),
        ("timeout", f"{info.timeout_seconds:g}s per attempt"),
        ("created", when(info.created_at)),
        ("started", when(info.started_at)),
        ("finished", when(info.finished_at)),
        ("next attempt", when(info.next_attempt_at)),
        ("source", info.source),
        ("last error", info.last_error or ""),
        ("result", "" if info.result is None else info.result),
    ]
    table(f"task {info.id}", ["FIELD", "VALUE"], fields)
    table(
        "attempts",
        ["#", "RUN", "STATUS", "STARTED (UTC)", "SECONDS", "ERROR"],
        (
            [
                a.attempt,
                a.run,
                a.status.value,
                when(a.started_at),
                "" if a.duration is None else f"{a.duration:.2f}",
                short(a.error, 80),
            ]
            for a in info.attempt_log
        ),
    )


@tasks.command("retry")
@click.argument("task_id")
@json_option
def tasks_retry(task_id: str, as_json: bool) -> None:
    """Run a failed, dead or cancelled task again."""
    settings = settings_or_exit(quiet=True)

    async def act() -> TaskInfo:
        async with client(settings) as service:
            actor = current_actor()
            return await service.tasks.retry(task_id, actor=actor.name, interface=actor.interface)

    info = run(act())
    if as_json:
        print_json(info.to_dict())
    else:
        out.print(f"task {info.id} queued again (run {info.run})", highlight=False)


@tasks.command("cancel")
@click.argument("task_id")
@json_option
def tasks_cancel(task_id: str, as_json: bool) -> None:
    """Stop a pending or running task."""
    settings = settings_or_exit(quiet=True)

    async def act() -> TaskInfo:
        async with client(settings) as service:
            actor = current_actor()
            return await service.tasks.cancel(task_id, actor=actor.name, interface=actor.interface)

    info = run(act())
    if as_json:
        print_json(info.to_dict())
    else:
        out.print(f"task {info.id} cancelled", highlight=False)


def _source() -> str:
    """Who started a task, as its ``source`` records it: ``cli:<user>`` or ``slack:<name>``."""
    actor = current_actor()
    return f"{actor.interface}:{actor.name}"
