"""Task handlers loaded into worker subprocesses by the acceptance tests (``--plugin``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from oar.engine import TaskContext, task


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _payload(ctx: TaskContext) -> dict[str, Any]:
    assert isinstance(ctx.payload, dict)
    return ctx.payload


@task("acceptance.multistep", durable=True, retries=0, timeout=120)
async def multistep(ctx: TaskContext) -> str:
    """Three checkpointed steps; step 2 hangs the first time it runs (to be killed)."""
    payload = _payload(ctx)
    journal = str(payload["journal"])

    async def step(n: int) -> int:
        _append(journal, f"start {n}")
        marker = Path(f"{journal}.slow-{n}")
        if n == 2 and not marker.exists():
            marker.touch()
            await asyncio.sleep(float(payload["hang_seconds"]))
        _append(journal, f"end {n}")
        return n

    total = 0
    for n in (1, 2, 3):
        total += await ctx.step(f"step-{n}", step, n)
    _append(journal, "done")
    return f"sum={total}"


@task("acceptance.record", retries=0)
async def record(ctx: TaskContext) -> int:
    """Write which process ran this task."""
    payload = _payload(ctx)
    await asyncio.sleep(float(payload.get("seconds", 0.02)))
    _append(str(payload["journal"]), f"{ctx.task_id} {os.getpid()}")
    return os.getpid()


@task("acceptance.sleep", retries=0, timeout=120)
async def sleep(ctx: TaskContext) -> str:
    """Sleep; with ``once``, only the first time (a resumed attempt finishes quickly)."""
    payload = _payload(ctx)
    marker = Path(str(payload["journal"]) + ".slept")
    if not payload.get("once") or not marker.exists():
        marker.touch()
        try:
            await asyncio.sleep(float(payload["seconds"]))
        except asyncio.CancelledError:
            _append(str(payload["journal"]), f"interrupted {ctx.task_id}")
            raise
    _append(str(payload["journal"]), f"finished {ctx.task_id} pid={os.getpid()}")
    return "slept"


@task("acceptance.gate", durable=True, retries=0, timeout=600)
async def gate(ctx: TaskContext) -> dict[str, Any]:
    """Ask a human about a release and return the decision."""
    payload = _payload(ctx)
    decision = await ctx.approval(
        "release_gate", {"release": payload["release"]}, timeout_seconds=300
    )
    return dict(decision)


@task("acceptance.fail", retries=0)
async def fail(ctx: TaskContext) -> None:
    """Fail every attempt (the task ends as a dead letter)."""
    raise RuntimeError("the acceptance task failed on purpose")
