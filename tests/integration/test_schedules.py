"""Schedules on the real durable engine, on SQLite and PostgreSQL.

Each test registers its schedules in a registry of its own (handed to the Service), so no
other test's worker fires them. Ticks are a second apart; waits are on events (runs seen).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from oar.engine.schedules import RunStatus, ScheduleRegistry, ScheduleRun
from oar.errors import ConfigurationError, ScheduleStateError, UnknownScheduleError
from oar.service import Service
from oar.settings import Settings
from tests.waiting import eventually


@dataclass
class Seen:
    """What the schedules' functions did, in this process."""

    runs: list[tuple[str, str, datetime, bool]] = field(default_factory=list)
    steps: Counter[str] = field(default_factory=Counter)

    def of(self, name: str, *, manual: bool | None = None) -> list[tuple[str, datetime]]:
        return [
            (wid, at)
            for n, wid, at, m in self.runs
            if n == name and (manual is None or m is manual)
        ]


def recorder(seen: Seen) -> ScheduleRegistry:
    registry = ScheduleRegistry()

    async def record(run: ScheduleRun) -> int:
        seen.runs.append((run.name, run.workflow_id, run.scheduled_at, run.manual))
        return len(seen.runs)

    registry.register("test.clock", record, every="1s", description="Counts seconds.")
    registry.register("test.paused", record, every="1s")
    return registry


async def test_schedules_tick_once_each_and_a_paused_one_stops_runs_on_demand_and_resumes(
    settings: Settings,
) -> None:
    seen = Seen()
    async with Service(settings, roles=("worker",), schedules=recorder(seen)) as service:
        await eventually(lambda: seen.of("test.paused"), 15, what="a first tick")
        paused = await service.schedules.pause("test.paused", actor="alice", interface="cli")
        paused_at = datetime.now(UTC)
        assert paused.state == "paused"
        assert paused.next_run is None

        # The clock keeps ticking: three more of its ticks, none of the paused one's.
        clock = len(seen.of("test.clock"))
        await eventually(lambda: len(seen.of("test.clock")) >= clock + 3, 15, what="3 ticks")
        late = [at for _, at in seen.of("test.paused", manual=False) if at > paused_at]
        assert late == [], "a paused schedule ran its function"

        workflow_id = await service.schedules.run_now("test.paused", actor="alice")
        await eventually(lambda: seen.of("test.paused", manual=True), 15, what="the run-now")
        assert seen.of("test.paused", manual=True)[0][0] == workflow_id

        clock_info = await service.schedules.get("test.clock")
        resumed = await service.schedules.resume("test.paused", actor="alice")
        resumed_at = datetime.now(UTC)
        assert resumed.state == "active"
        await eventually(
            lambda: [at for _, at in seen.of("test.paused", manual=False) if at > resumed_at],
            15,
            what="a tick after resuming",
        )

    ids = [wid for wid, _ in seen.of("test.clock")]
    assert len(ids) == len(set(ids)), "a tick ran twice"
    assert all(wid.startswith("sched-test.clock-") for wid in ids)
    assert clock_info.state == "active"
    assert clock_info.every == "1s"
    assert clock_info.description == "Counts seconds."
    assert clock_info.last_run is not None
    assert clock_info.last_run.status in (RunStatus.SUCCEEDED, RunStatus.RUNNING, RunStatus.QUEUED)
    assert clock_info.next_run is not None
    assert clock_info.next_run > paused_at


async def test_a_restart_keeps_the_pause_and_resumes_an_interrupted_tick_without_rerunning_it(
    settings: Settings,
) -> None:
    """A run cut off by a shutdown finishes after the restart: its completed step is not run
    again, and no tick's function completes twice."""
    seen = Seen()
    finished: list[str] = []
    hung: list[str] = []
    hold = asyncio.Event()
    registry = recorder(seen)

    async def durable(run: ScheduleRun) -> str:
        async def first() -> str:
            seen.steps[run.workflow_id] += 1
            return "done"

        await run.step("first", first)
        if not finished and not hold.is_set():
            hold.set()
            hung.append(run.workflow_id)
            await asyncio.Event().wait()  # the first tick hangs until the worker stops
        finished.append(run.workflow_id)
        return run.workflow_id

    registry.register("test.durable", durable, every="1s")

    async with Service(settings, roles=("worker",), schedules=registry) as service:
        await eventually(hold.is_set, 15, what="a tick in its function")
        interrupted = hung[0]
        await service.schedules.pause("test.paused")
    assert interrupted not in finished

    async with Service(settings, roles=("worker",), schedules=registry) as service:
        await eventually(lambda: interrupted in finished, 15, what="the interrupted tick")
        assert (await service.schedules.get("test.paused")).paused, "the pause was lost"

    assert seen.steps[interrupted] == 1, "the completed step ran again"
    assert len(finished) == len(set(finished)), "a tick's function completed twice"


async def test_settings_turn_a_schedule_off_or_change_it_and_a_failed_run_is_listed(
    settings: Settings,
) -> None:
    seen = Seen()
    registry = recorder(seen)

    async def broken(run: ScheduleRun) -> None:
        raise RuntimeError("the agent failed on purpose")

    registry.register("test.broken", broken, every="1d")
    tuned = settings.model_copy(
        update={"schedule_overrides": {"test.paused": "off", "test.clock": "2s"}}
    )
    async with Service(tuned, roles=("worker",), schedules=registry) as service:
        off = await service.schedules.get("test.paused")
        clock = await service.schedules.get("test.clock")
        await service.schedules.run_now("test.broken")

        async def failed() -> object:
            last = (await service.schedules.get("test.broken")).last_run
            return last if last and last.status is RunStatus.FAILED else None

        last = await eventually(failed, 15, what="the failed run")
        assert "the agent failed on purpose" in str(last.error)
        with pytest.raises(ScheduleStateError, match="turned off"):
            await service.schedules.run_now("test.paused")
        with pytest.raises(UnknownScheduleError, match=r"test\.clock"):
            await service.schedules.pause("test.nope")
    assert off.state == "disabled"
    assert off.next_run is None
    assert clock.every == "2s"
    assert clock.cron == "*/2 * * * * *"


async def test_the_settings_naming_an_unregistered_schedule_stop_the_worker(
    settings: Settings,
) -> None:
    typo = settings.model_copy(update={"schedule_overrides": {"test.clokc": "off"}})
    service = Service(typo, roles=("worker",), schedules=recorder(Seen()))
    with pytest.raises(ConfigurationError, match=r"OAR_SCHEDULES.*test\.clokc"):
        await service.start()
