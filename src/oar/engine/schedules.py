"""Schedules: periodic durable workflows on the engine's own scheduler (DBOS), not a second one.

* Code registers a schedule — a name, an interval or cron expression, an async function and a
  description — with ``registry.register(...)`` or the ``@schedule(...)`` decorator;
  ``OAR_SCHEDULES`` can change a schedule's interval or turn it off (or on).
* When a worker starts, :meth:`ScheduleManager.apply` writes every enabled schedule into the
  engine's schedule table (an upsert that keeps an operator's pause), removes disabled and
  no-longer-registered ones, and the engine's scheduler fires them.
* Each tick is one workflow whose ID is the schedule's name and the tick's time
  (``sched-<name>-<time>``): however many workers fire it, and across restarts, a tick runs
  once; a worker killed mid-run resumes it (completed ``run.step`` calls are not repeated).
* Pausing is the engine's own, persisted state; a tick fired in the moment before a worker
  noticed the pause skips its body. ``run-now`` enqueues one run at once, paused or not.
* ``list`` shows each schedule's cadence, whether it is enabled and paused, its last run
  (status, when) and its next one.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias, TypeVar

from dbos import DBOS, DBOSClient

from oar.cadence import OFF, ON, Cadence, parse_cadence
from oar.db import Database
from oar.db.models import AuditEntry
from oar.db.types import utcnow
from oar.engine.runtime import Engine, QueueSpec
from oar.errors import ConfigurationError, ScheduleError, ScheduleStateError, UnknownScheduleError
from oar.jsonvalue import JSON, json_problem
from oar.logs import get_logger
from oar.settings import Settings

log = get_logger(__name__)

TICK_WORKFLOW = "oar.schedule.tick"
SCHEDULE_QUEUE = "oar-schedules"
# Runs of schedules one worker executes at once (every queue has a cap: the engine notes).
SCHEDULE_CONCURRENCY = 4
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

F = TypeVar("F", bound=Callable[..., Any])


class RunStatus(StrEnum):
    """What happened to a schedule's latest run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"  # fired while paused (or after being turned off): body not run
    FAILED = "failed"
    CANCELLED = "cancelled"


# --- registration -----------------------------------------------------------------------


@dataclass(kw_only=True)
class ScheduleRun:
    """What a schedule's function gets: which tick this is, and durable steps."""

    name: str
    scheduled_at: datetime
    workflow_id: str
    manual: bool  # started by run-now, not by the clock

    async def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` once: its result is checkpointed and replayed if the run resumes."""
        return await DBOS.run_step_async({"name": name}, fn, *args, **kwargs)

    async def sleep(self, seconds: float) -> None:
        """A durable sleep: a resumed run does not sleep again the time already slept."""
        await DBOS.sleep_async(seconds)


ScheduleFunction: TypeAlias = Callable[[ScheduleRun], Awaitable[Any]]


@dataclass(frozen=True, kw_only=True)
class ScheduleSpec:
    """A registered schedule, as its code declares it (settings may override it)."""

    name: str
    func: ScheduleFunction
    cadence: Cadence
    description: str
    enabled: bool


class ScheduleRegistry:
    """Schedules by name; a worker fires the ones of its registry."""

    def __init__(self) -> None:
        self._specs: dict[str, ScheduleSpec] = {}

    def register(
        self,
        name: str,
        func: ScheduleFunction,
        *,
        every: str | None = None,
        cron: str | None = None,
        description: str = "",
        enabled: bool = True,
    ) -> ScheduleSpec:
        """Name ``func`` as a schedule running ``every`` interval or on ``cron`` (one of them)."""
        if not _NAME.match(name):
            raise ValueError(
                f"invalid schedule name {name!r}: 1-100 letters, digits and . _ -,"
                " starting with a letter or digit"
            )
        if (every is None) == (cron is None):
            raise ValueError(f"schedule {name!r}: give exactly one of every= or cron=")
        if not inspect.iscoroutinefunction(func):
            raise ValueError(f"schedule {name!r}: the function must be async (async def)")
        cadence = parse_cadence(every if every is not None else str(cron))
        existing = self._specs.get(name)
        if existing is not None and _qualname(existing.func) != _qualname(func):
            raise ValueError(
                f"schedule {name!r} is already registered to {_qualname(existing.func)}"
            )
        spec = ScheduleSpec(
            name=name,
            func=func,
            cadence=cadence,
            description=description or (inspect.getdoc(func) or "").split("\n", 1)[0],
            enabled=enabled,
        )
        self._specs[name] = spec
        return spec

    def schedule(
        self,
        name: str,
        *,
        every: str | None = None,
        cron: str | None = None,
        description: str = "",
        enabled: bool = True,
    ) -> Callable[[F], F]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: F) -> F:
            self.register(
                name, fn, every=every, cron=cron, description=description, enabled=enabled
            )
            return fn

        return decorate

    def get(self, name: str) -> ScheduleSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownScheduleError(name, list(self._specs)) from None

    def find(self, name: str) -> ScheduleSpec | None:
        return self._specs.get(name)

    def names(self) -> builtins.list[str]:
        return sorted(self._specs)

    def specs(self) -> builtins.list[ScheduleSpec]:
        return [self._specs[name] for name in sorted(self._specs)]

    def unregister(self, name: str) -> None:
        self._specs.pop(name, None)


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


registry = ScheduleRegistry()
schedule = registry.schedule


@dataclass(frozen=True, kw_only=True)
class Effective:
    """A registered schedule after ``OAR_SCHEDULES``: its cadence and whether it runs."""

    spec: ScheduleSpec
    cadence: Cadence
    enabled: bool


def effective(spec: ScheduleSpec, overrides: dict[str, str]) -> Effective:
    """Apply the settings' word on one schedule (pure)."""
    value = overrides.get(spec.name)
    if value is None:
        return Effective(spec=spec, cadence=spec.cadence, enabled=spec.enabled)
    if value == OFF:
        return Effective(spec=spec, cadence=spec.cadence, enabled=False)
    if value == ON:
        return Effective(spec=spec, cadence=spec.cadence, enabled=True)
    return Effective(spec=spec, cadence=parse_cadence(value), enabled=True)


# --- what a worker runs ---------------------------------------------------------------------

# The schedules this process's executor serves, bound when its worker starts (a tick's
# workflow finds its function here; DBOS, like this map, is one per process).
_serving: dict[str, ScheduleSpec] = {}


def _manual_prefix(name: str) -> str:
    # The engine names a run-now ``sched-<name>-trigger-<time>`` and a tick
    # ``sched-<name>-<time>``; knowing the schedule's own name, the two cannot be confused.
    return f"sched-{name}-trigger-"


@DBOS.workflow(name=TICK_WORKFLOW)
async def _tick(scheduled_at: Any, context: Any) -> dict[str, JSON]:
    """One tick (or run-now) of a schedule: check it may run, then run its function."""
    name = str(context["schedule"])
    workflow_id = str(DBOS.workflow_id)
    manual = workflow_id.startswith(_manual_prefix(name))
    if not manual:
        # Checkpointed by the engine: a resumed run does not re-decide.
        row = await DBOS.get_schedule_async(name)
        if row is None or row["status"] != "ACTIVE":
            reason = "paused" if row is not None else "removed"
            log.info("schedule.skipped", schedule=name, workflow_id=workflow_id, reason=reason)
            return {"skipped": reason}
    spec = _serving.get(name)
    if spec is None:
        raise ScheduleError(
            f"schedule {name!r} is not registered in this worker: load the module that"
            " registers it (OAR_PLUGINS / --plugin)"
        )
    run = ScheduleRun(
        name=name,
        scheduled_at=_as_datetime(scheduled_at),
        workflow_id=workflow_id,
        manual=manual,
    )
    log.info("schedule.run", schedule=name, workflow_id=workflow_id, manual=manual)
    result = await spec.func(run)
    if problem := json_problem(result, "result"):
        raise ScheduleError(f"schedule {name!r} returned something that is not JSON: {problem}")
    return {"result": result}


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# --- what callers see ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LastRun:
    workflow_id: str
    status: RunStatus
    at: datetime  # when it was enqueued
    updated_at: datetime
    error: str | None = None

    def to_dict(self) -> dict[str, JSON]:
        return {
            "workflow_id": self.workflow_id,
            "status": self.status.value,
            "at": self.at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "error": self.error,
        }


@dataclass(frozen=True, kw_only=True)
class ScheduleInfo:
    """One schedule as an operator sees it."""

    name: str
    every: str  # the interval or cron expression in force
    cron: str
    description: str
    enabled: bool  # by the code and OAR_SCHEDULES
    started: bool  # a worker has handed it to the engine's scheduler
    paused: bool
    last_run: LastRun | None
    next_run: datetime | None

    @property
    def state(self) -> str:
        if not self.enabled:
            return "disabled"
        if not self.started:
            return "waiting for a worker"
        return "paused" if self.paused else "active"

    def to_dict(self) -> dict[str, JSON]:
        return {
            "name": self.name,
            "every": self.every,
            "cron": self.cron,
            "description": self.description,
            "enabled": self.enabled,
            "started": self.started,
            "paused": self.paused,
            "state": self.state,
            "last_run": self.last_run.to_dict() if self.last_run else None,
            "next_run": self.next_run.isoformat() if self.next_run else None,
        }


_RUN_STATUS = {
    "ENQUEUED": RunStatus.QUEUED,
    "DELAYED": RunStatus.QUEUED,
    "PENDING": RunStatus.RUNNING,
    "SUCCESS": RunStatus.SUCCEEDED,
    "ERROR": RunStatus.FAILED,
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": RunStatus.FAILED,
    "CANCELLED": RunStatus.CANCELLED,
}


class ScheduleManager:
    """Start (in a worker), list, pause, resume and run schedules now.

    Listing and the operations work in every process (they need the engine's client, not
    a launched executor); they read the engine's schedule table, so a CLI without the
    plugins that register the schedules still sees the ones a worker started.
    """

    def __init__(
        self,
        db: Database,
        engine: Engine,
        *,
        settings: Settings,
        registry: ScheduleRegistry = registry,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.engine = engine
        self.settings = settings
        self.registry = registry
        self.clock = clock
        if engine.execute:
            engine.add_queue(
                QueueSpec(name=SCHEDULE_QUEUE, worker_concurrency=SCHEDULE_CONCURRENCY)
            )

    @property
    def _client(self) -> DBOSClient:
        return self.engine.client

    def _effective(self) -> dict[str, Effective]:
        overrides = self.settings.schedule_overrides
        unknown = sorted(set(overrides) - set(self.registry.names()))
        if unknown:
            known = ", ".join(self.registry.names()) or "none"
            raise ConfigurationError(
                f"OAR_SCHEDULES names schedule(s) not registered: {', '.join(unknown)}"
                f" (registered: {known}; load their module with OAR_PLUGINS)",
                variables=["OAR_SCHEDULES"],
            )
        return {spec.name: effective(spec, overrides) for spec in self.registry.specs()}

    async def apply(self) -> builtins.list[str]:
        """Hand the enabled schedules to the engine's scheduler; return their names.

        Called when a worker starts. An unchanged schedule keeps its paused state and its
        last tick; a disabled or no-longer-registered one is removed.
        """
        wanted = self._effective()
        enabled = [e for e in wanted.values() if e.enabled]
        _serving.clear()
        _serving.update({e.spec.name: e.spec for e in wanted.values()})
        client = self._client
        if enabled:
            await client.apply_schedules_async(
                [
                    {
                        "schedule_name": e.spec.name,
                        "workflow_name": TICK_WORKFLOW,
                        "schedule": e.cadence.cron,
                        "context": {
                            "schedule": e.spec.name,
                            "every": e.cadence.text,
                            "description": e.spec.description,
                        },
                        "queue_name": SCHEDULE_QUEUE,
                    }
                    for e in enabled
                ]
            )
        keep = {e.spec.name for e in enabled}
        for row in await client.list_schedules_async(workflow_name=TICK_WORKFLOW):
            if row["schedule_name"] not in keep:
                await client.delete_schedule_async(row["schedule_name"])
                log.info("schedule.removed", schedule=row["schedule_name"])
        names = sorted(keep)
        log.info("schedule.applied", schedules=names)
        return names

    async def list(self) -> builtins.list[ScheduleInfo]:
        """Every schedule this process knows of (registered here or started by a worker)."""
        overrides = self.settings.schedule_overrides
        rows = {
            row["schedule_name"]: row
            for row in await self._client.list_schedules_async(workflow_name=TICK_WORKFLOW)
        }
        names = sorted(set(rows) | set(self.registry.names()) | set(overrides))
        return [await self._info(name, rows.get(name)) for name in names]

    async def get(self, name: str) -> ScheduleInfo:
        row = await self._client.get_schedule_async(name)
        if row is not None and row["workflow_name"] != TICK_WORKFLOW:
            row = None
        if row is None and name not in self.registry.names():
            if name in self.settings.schedule_overrides:
                return await self._info(name, None)
            raise UnknownScheduleError(name, [i.name for i in await self.list()])
        return await self._info(name, row)

    async def _info(self, name: str, row: Any) -> ScheduleInfo:
        """The engine's row, when a worker started the schedule, is what fires: it wins
        over this process's registry and settings (which may differ from the worker's)."""
        spec = self.registry.find(name)
        last_run = await self._last_run(name)
        if row is not None:
            context = row["context"] if isinstance(row["context"], dict) else {}
            every = str(context.get("every") or row["schedule"])
            description = str(context.get("description") or (spec.description if spec else ""))
            paused = row["status"] != "ACTIVE"
            cadence = parse_cadence(every)
            return ScheduleInfo(
                name=name,
                every=cadence.text,
                cron=str(row["schedule"]),
                description=description,
                enabled=True,
                started=True,
                paused=paused,
                last_run=last_run,
                next_run=None if paused else cadence.next_after(self.clock().astimezone(UTC)),
            )
        if spec is not None:
            eff = effective(spec, self.settings.schedule_overrides)
            every, cron, description, enabled = (
                eff.cadence.text,
                eff.cadence.cron,
                spec.description,
                eff.enabled,
            )
        else:  # named only by OAR_SCHEDULES in this process
            value = self.settings.schedule_overrides.get(name, OFF)
            named = parse_cadence(value) if value not in (OFF, ON) else None
            every, cron = (named.text, named.cron) if named else ("", "")
            description, enabled = "", value != OFF
        return ScheduleInfo(
            name=name,
            every=every,
            cron=cron,
            description=description,
            enabled=enabled,
            started=False,
            paused=False,
            last_run=last_run,
            next_run=None,
        )

    async def _last_run(self, name: str) -> LastRun | None:
        # SQLite keeps whole seconds: among runs created in the same second, the time in
        # the workflow ID (the tick's, or run-now's to the microsecond) says which is last.
        found = await self._client.list_workflows_async(
            schedule_name=name, sort_desc=True, limit=5, load_input=False, load_output=True
        )
        if not found:
            return None
        wf = max(found, key=lambda w: (w.created_at or 0, _moment_of(w.workflow_id, name)))
        status = _RUN_STATUS.get(str(wf.status), RunStatus.FAILED)
        if status is RunStatus.SUCCEEDED and isinstance(wf.output, dict) and "skipped" in wf.output:
            status = RunStatus.SKIPPED
        return LastRun(
            workflow_id=wf.workflow_id,
            status=status,
            at=_from_ms(wf.created_at),
            updated_at=_from_ms(wf.updated_at),
            error=str(wf.error) if wf.error is not None else None,
        )

    async def _require_started(self, name: str, operation: str) -> Any:
        info = await self.get(name)  # unknown names fail here, naming the known ones
        if not info.enabled:
            raise ScheduleStateError(name, operation, "it is turned off (OAR_SCHEDULES)")
        if not info.started:
            raise ScheduleStateError(
                name, operation, "no worker has started it yet (run oarctl worker or serve)"
            )
        return info

    async def pause(
        self, name: str, *, actor: str = "system", interface: str = "api"
    ) -> ScheduleInfo:
        """Stop the clock firing ``name`` (persisted; run-now still works)."""
        await self._require_started(name, "pause")
        await asyncio.to_thread(self._client.pause_schedule, name)
        await self._audit(actor, interface, "schedule.pause", name)
        log.info("schedule.paused", schedule=name, actor=actor)
        return await self.get(name)

    async def resume(
        self, name: str, *, actor: str = "system", interface: str = "api"
    ) -> ScheduleInfo:
        """Let the clock fire ``name`` again."""
        await self._require_started(name, "resume")
        await asyncio.to_thread(self._client.resume_schedule, name)
        await self._audit(actor, interface, "schedule.resume", name)
        log.info("schedule.resumed", schedule=name, actor=actor)
        return await self.get(name)

    async def run_now(self, name: str, *, actor: str = "system", interface: str = "api") -> str:
        """Enqueue one run of ``name`` at once (also while paused); return its workflow ID."""
        await self._require_started(name, "run")
        handle = await asyncio.to_thread(self._client.trigger_schedule, name)
        workflow_id = handle.get_workflow_id()
        await self._audit(actor, interface, "schedule.run_now", name, {"workflow_id": workflow_id})
        log.info("schedule.run_now", schedule=name, workflow_id=workflow_id, actor=actor)
        return workflow_id

    async def _audit(
        self,
        actor: str,
        interface: str,
        action: str,
        name: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        async with self.db.transaction() as session:
            session.add(
                AuditEntry(
                    actor=actor,
                    interface=interface,
                    action=action,
                    subject=f"schedule:{name}",
                    details=details or {},
                    at=utcnow(),
                )
            )


def _moment_of(workflow_id: str, name: str) -> str:
    """The time in a run's workflow ID (ISO, UTC), comparable as text."""
    rest = workflow_id.removeprefix(f"sched-{name}-").removeprefix("trigger-")
    try:
        return datetime.fromisoformat(rest).astimezone(UTC).isoformat(timespec="microseconds")
    except ValueError:
        return ""


def _from_ms(value: int | None) -> datetime:
    return datetime.fromtimestamp((value or 0) / 1000, tz=UTC)
