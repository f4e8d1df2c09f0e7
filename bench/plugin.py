"""Handlers loaded into benchmark workers: OAR tasks and the bare-engine baseline."""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from oar.engine import TaskContext, task


@task("bench.noop", retries=0)
async def noop(ctx: TaskContext) -> int:
    return 1


@task("bench.sleep", retries=0, timeout=7200)
async def sleep(ctx: TaskContext) -> None:
    assert isinstance(ctx.payload, dict)
    await ctx.sleep(float(ctx.payload["seconds"]))  # type: ignore[arg-type]


async def _one(value: Any) -> Any:
    return value


@DBOS.workflow(name="bench.bare")
async def bare(value: Any) -> Any:
    """The baseline: a bare engine workflow with one step and none of OAR's bookkeeping."""
    return await DBOS.run_step_async({"name": "one"}, _one, value)


@DBOS.workflow(name="bench.bare_sleep")
async def bare_sleep(seconds: float) -> None:
    await DBOS.sleep_async(seconds)
