"""A tracked run inside a running service (the MCP server, a worker's step): on the
caller's loop, its log captured per run, concurrent work neither captured nor disturbed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from oar.integrations.fakes import FakeBuildData
from oar.logs import get_logger
from oar.release.checklist import TaskStatus
from oar.release.ports import Ports
from oar.release.tracking import (
    Invocation,
    Outcome,
    ReleaseContext,
    run_tracked_async,
)
from oar.release.versions import ReleaseVersion
from oar.sandbox import releaseconfig, seed
from oar.settings import load_settings
from oar.testing.release import FakeReleaseStore

log = get_logger(__name__)


@contextlib.asynccontextmanager
async def _no_ports(names: Sequence[str], db: Any) -> AsyncIterator[Ports]:
    yield Ports()


async def test_concurrent_runs_capture_only_their_own_log(tmp_path: Path) -> None:
    settings = load_settings(
        environ={**releaseconfig.write_config(tmp_path), "OAR_DATA_DIR": str(tmp_path)},
        env_file=None,
    )
    store = FakeReleaseStore()
    both_running = asyncio.Barrier(3)

    def body(marker: str) -> Any:
        async def run(ctx: ReleaseContext) -> Outcome:
            await both_running.wait()  # the two runs and a bystander log at the same time
            log.info("test.step", marker=marker)
            child = asyncio.create_task(asyncio.sleep(0, result=marker))
            log.info("test.child", marker=await child)
            return Outcome.passed(f"{marker} done")

        return run

    async def bystander() -> None:
        await both_running.wait()
        log.warning("test.bystander", marker="not-a-run")

    def invocation(task: str) -> Invocation:
        return Invocation(version=ReleaseVersion.parse(seed.RELEASE), task=task, actor="mcp:t")

    root_level = logging.getLogger().level
    first, second, _ = await asyncio.gather(
        run_tracked_async(
            invocation("take-ownership"),
            body("alpha"),
            settings=settings,
            open_ports=_no_ports,
            store=store,
            build_data=FakeBuildData(seed.build_data_files()),
        ),
        run_tracked_async(
            invocation("stage-testing"),
            body("beta"),
            settings=settings,
            open_ports=_no_ports,
            store=store,
            build_data=FakeBuildData(seed.build_data_files()),
        ),
        bystander(),
    )

    assert first.outcome.status is TaskStatus.PASS
    assert "marker=alpha" in first.log
    assert "marker=beta" not in first.log
    assert "marker=beta" in second.log
    assert "marker=alpha" not in second.log
    assert "not-a-run" not in first.log + second.log
    assert logging.getLogger().level == root_level
    assert not any(
        type(h).__name__ == "StreamHandler" and h.filters for h in logging.getLogger().handlers
    )
