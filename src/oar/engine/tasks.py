"""Background tasks with retries, timeouts and dead letters, on the durable engine.

This is seed 004's ``AsyncTaskManager`` built on DBOS instead of an in-memory queue:

* ``registry.register(name, handler, timeout=…, retries=…, retry_delay=…)`` names a handler;
  an *internal* one (OAR's own work: GitHub handlers, ``github.call``, release watches) is
  started only by OAR's code, never by a name a user sends over HTTP, the CLI or Slack;
* ``TaskManager.enqueue(name, payload, key=…)`` inserts the task row and enqueues its
  workflow in one transaction; a second enqueue with the same ``key`` returns the first
  task (the key is the task ID and the primary key, so this holds across processes);
* each task runs as one workflow: attempt, record, durable sleep with exponential backoff
  and jitter, attempt again … until it succeeds, fails permanently, or runs out of
  attempts and becomes a dead letter; ``retry`` gives a failed or dead task a new run;
* a worker killed mid-task resumes it when it restarts (same executor ID).

The workflows that execute tasks live in ``attempts.py``. Handlers take a
:class:`TaskContext`. By default an attempt is one checkpointed step: a
worker crash during an attempt repeats that attempt (at-least-once). A handler registered
with ``durable=True`` runs as workflow code instead and checkpoints each
``await ctx.step(...)``, so completed steps are never run again.

The ``oar_tasks`` row is the queryable truth (status, attempts, last error, result); every
write to it is a compare-and-set on the current status, so a cancellation cannot be
overwritten by an attempt finishing at the same moment.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias, TypedDict, TypeVar

from dbos import DBOS, EnqueueOptions
from dbos import error as dbos_errors
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from oar import metrics
from oar.db import Database, insert_for
from oar.db.models import AuditEntry, TaskAttemptRecord, TaskRecord
from oar.db.types import utcnow
from oar.engine import approvals
from oar.engine.changes import Change, ChangeFeed, announce
from oar.engine.runtime import (
    DEFAULT_QUEUE,
    WORKFLOW_VERSION,
    Engine,
    LocalRun,
    current_worker,
    durable_wait,
)
from oar.errors import (
    InternalTaskError,
    TaskError,
    TaskKeyError,
    TaskNotFoundError,
    TaskPayloadError,
    TaskStateError,
    UnknownTaskError,
)
from oar.jsonvalue import JSON, json_problem
from oar.logs import get_logger
from oar.settings import Settings

log = get_logger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9._:@-]{1,200}$")
_NAME = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
RUN_WORKFLOW = "oar.task.run"
ATTEMPT_WORKFLOW = "oar.task.attempt"

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # failed permanently, without exhausting its retries
    DEAD = "dead"  # every attempt failed: a dead letter
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.DEAD, TaskStatus.CANCELLED}
)
_RETRYABLE = (TaskStatus.DEAD, TaskStatus.FAILED, TaskStatus.CANCELLED)
_CANCELLABLE = (TaskStatus.PENDING, TaskStatus.RUNNING)


class AttemptStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


# --- registration --------------------------------------------------------------------

Handler: TypeAlias = Callable[["TaskContext"], Any]


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """A registered handler and its defaults (``None``: the service-wide setting)."""

    name: str
    func: Handler
    timeout: float | None = None
    retries: int | None = None
    retry_delay: float | None = None
    backoff: float = 2.0
    queue: str = DEFAULT_QUEUE
    durable: bool = False
    # Started only by OAR's own code (``enqueue(..., allow_internal=True)``): HTTP, the CLI
    # and Slack name a task and choose its payload, so they reach public tasks only.
    internal: bool = False

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)


class TaskRegistry:
    """Handlers by name. The worker that runs a task looks its handler up here.

    ``internal`` left unset makes OAR's own handlers (defined in the ``oar`` package)
    internal and plugins' handlers public, so a task OAR adds is safe by default.
    """

    def __init__(self) -> None:
        self._specs: dict[str, TaskSpec] = {}

    def register(
        self,
        name: str,
        func: Handler,
        *,
        timeout: float | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        backoff: float = 2.0,
        queue: str = DEFAULT_QUEUE,
        durable: bool = False,
        internal: bool | None = None,
    ) -> TaskSpec:
        if not _NAME.match(name):
            raise ValueError(f"invalid task name {name!r}: use letters, digits and . _ : -")
        _check_options(timeout=timeout, retries=retries, retry_delay=retry_delay, backoff=backoff)
        if durable and not inspect.iscoroutinefunction(func):
            raise ValueError(f"task {name!r}: durable handlers must be async functions")
        existing = self._specs.get(name)
        if existing is not None and _qualname(existing.func) != _qualname(func):
            raise ValueError(f"task {name!r} is already registered to {_qualname(existing.func)}")
        spec = TaskSpec(
            name=name,
            func=func,
            timeout=timeout,
            retries=retries,
            retry_delay=retry_delay,
            backoff=backoff,
            queue=queue,
            durable=durable,
            internal=_is_oar_code(func) if internal is None else internal,
        )
        self._specs[name] = spec
        return spec

    def task(
        self,
        name: str | None = None,
        *,
        timeout: float | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        backoff: float = 2.0,
        queue: str = DEFAULT_QUEUE,
        durable: bool = False,
        internal: bool | None = None,
    ) -> Callable[[F], F]:
        """Decorator form of :meth:`register`; the name defaults to ``module.function``."""

        def decorate(fn: F) -> F:
            self.register(
                name or f"{fn.__module__}.{fn.__qualname__}",
                fn,
                timeout=timeout,
                retries=retries,
                retry_delay=retry_delay,
                backoff=backoff,
                queue=queue,
                durable=durable,
                internal=internal,
            )
            return fn

        return decorate

    def get(self, name: str) -> TaskSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownTaskError(name, list(self._specs)) from None

    def names(self) -> list[str]:
        return sorted(self._specs)

    def public_names(self) -> list[str]:
        """The tasks HTTP, the CLI and Slack may start."""
        return sorted(name for name, spec in self._specs.items() if not spec.internal)

    def unregister(self, name: str) -> None:
        self._specs.pop(name, None)


def _is_oar_code(fn: Callable[..., Any]) -> bool:
    module = str(getattr(fn, "__module__", ""))
    return module == "oar" or module.startswith("oar.")


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _check_options(
    *, timeout: float | None, retries: int | None, retry_delay: float | None, backoff: float
) -> None:
    if timeout is not None and not 0 < timeout <= 7 * 24 * 3600:
        raise ValueError(f"timeout must be in (0, 604800] seconds, got {timeout}")
    if retries is not None and not 0 <= retries <= 100:
        raise ValueError(f"retries must be between 0 and 100, got {retries}")
    if retry_delay is not None and not 0 <= retry_delay <= 24 * 3600:
        raise ValueError(f"retry_delay must be between 0 and 86400 seconds, got {retry_delay}")
    if not 1 <= backoff <= 10:
        raise ValueError(f"backoff must be between 1 and 10, got {backoff}")


registry = TaskRegistry()
task = registry.task


# --- what handlers see ------------------------------------------------------------------


@dataclass(kw_only=True)
class TaskContext:
    """What a handler gets: its task, its payload, and durable steps (``durable=True``)."""

    task_id: str
    name: str
    payload: JSON
    attempt: int
    run: int
    durable: bool
    log: Any = field(repr=False)

    async def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` once: its result is checkpointed and replayed after a crash."""
        self._need_durable("step")
        return await DBOS.run_step_async({"name": name}, fn, *args, **kwargs)

    async def sleep(self, seconds: float) -> None:
        """Sleep; in a durable handler the sleep survives restarts (and a cancellation of
        the task ends it at once)."""
        if self.durable:
            await self._durable_wait(f"sleep {seconds:g}s", DBOS.sleep_async(seconds))
        else:
            await asyncio.sleep(seconds)

    async def wait_message(self, topic: str, timeout: float) -> JSON | None:
        """Wait (durable handlers) for a message on ``topic`` sent with
        :meth:`TaskManager.send_message`, at most ``timeout`` seconds; None when none came.

        The wait's end is checkpointed, so a restarted worker waits only what was left;
        a cancellation of the task ends the wait (and the workflow) at once."""
        self._need_durable("wait_message")
        timeout = max(timeout, 0.0)
        message: JSON | None = await self._durable_wait(
            f"message {topic} for {timeout:g}s", DBOS.recv_async(topic, timeout_seconds=timeout)
        )
        return message

    async def _durable_wait(self, what: str, wait: Coroutine[Any, Any, T]) -> T:
        """Await a durable wait, marked as such (shutdown does not wait for it), and end
        it when the task is cancelled from any process (heard through the change feed):
        DBOS itself would notice only at the workflow's next step, after the wait."""
        feed = current_worker().feed
        with feed.watching("task", self.task_id) as change, durable_wait(what):
            waiter = asyncio.ensure_future(wait)
            stop = asyncio.ensure_future(change.event.wait())
            try:
                await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                if not waiter.done():
                    waiter.cancel()
                    await asyncio.gather(waiter, return_exceptions=True)
            if not waiter.cancelled():
                return waiter.result()
        raise dbos_errors.DBOSWorkflowCancelledError(
            f"task {self.task_id} was cancelled during its {what}"
        )

    async def request_approval(
        self,
        approval_type: str,
        context: Any,
        *,
        timeout_seconds: float | None = None,
        run_id: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """Ask a human (durable handlers): the request is made once, even across restarts."""
        self._need_durable("request_approval")
        return await approvals.request_in_workflow(
            run_id or self.task_id,
            approval_type,
            context,
            timeout_seconds=timeout_seconds,
            session_id=session_id,
            requested_by=f"task:{self.name}",
        )

    async def wait_for_approval(self, approval_id: str) -> approvals.Decision:
        """Wait for the decision; the approval's deadline holds across restarts."""
        self._need_durable("wait_for_approval")
        return await approvals.wait_in_workflow(approval_id)

    async def approval(
        self, approval_type: str, context: Any, *, timeout_seconds: float | None = None
    ) -> approvals.Decision:
        """Request an approval and wait for it."""
        approval_id = await self.request_approval(
            approval_type, context, timeout_seconds=timeout_seconds
        )
        return await self.wait_for_approval(approval_id)

    def _need_durable(self, what: str) -> None:
        if not self.durable:
            raise TaskError(
                f"task {self.name!r}: ctx.{what} needs the handler registered with durable=True"
            )


# --- what callers see ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AttemptInfo:
    attempt: int
    run: int
    status: AttemptStatus
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    retry_delay: float | None = None

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, JSON]:
        return {
            "attempt": self.attempt,
            "run": self.run,
            "status": self.status.value,
            "started_at": self.started_at.isoformat(),
            "finished_at": _iso(self.finished_at),
            "duration_seconds": self.duration,
            "error": self.error,
            "retry_delay_seconds": self.retry_delay,
        }


@dataclass(frozen=True, kw_only=True)
class TaskInfo:
    id: str
    name: str
    status: TaskStatus
    keyed: bool
    queue: str
    payload: JSON
    result: JSON
    last_error: str | None
    attempts: int
    retries: int
    max_attempts: int
    run: int
    timeout_seconds: float
    durable: bool
    source: str
    workflow_id: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    next_attempt_at: datetime | None
    attempt_log: tuple[AttemptInfo, ...] = ()

    def to_dict(self, *, with_attempts: bool = True) -> dict[str, JSON]:
        data: dict[str, JSON] = {
            "id": self.id,
            "name": self.name,
            "status": self.status.value,
            "keyed": self.keyed,
            "queue": self.queue,
            "payload": self.payload,
            "result": self.result,
            "last_error": self.last_error,
            "attempts": self.attempts,
            "retries": self.retries,
            "max_attempts": self.max_attempts,
            "run": self.run,
            "timeout_seconds": self.timeout_seconds,
            "durable": self.durable,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "next_attempt_at": _iso(self.next_attempt_at),
        }
        if with_attempts:
            data["attempt_log"] = [a.to_dict() for a in self.attempt_log]
        return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _info(row: TaskRecord, attempts: Sequence[TaskAttemptRecord] = ()) -> TaskInfo:
    return TaskInfo(
        id=row.id,
        name=row.name,
        status=TaskStatus(row.status),
        keyed=row.keyed,
        queue=row.queue,
        payload=row.payload,
        result=row.result,
        last_error=row.last_error,
        attempts=row.attempts,
        retries=row.retries,
        max_attempts=row.max_attempts,
        run=row.run,
        timeout_seconds=row.timeout_seconds,
        durable=row.durable,
        source=row.source,
        workflow_id=row.workflow_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        next_attempt_at=row.next_attempt_at,
        attempt_log=tuple(
            AttemptInfo(
                attempt=a.attempt,
                run=a.run,
                status=AttemptStatus(a.status),
                started_at=a.started_at,
                finished_at=a.finished_at,
                error=a.error,
                retry_delay=a.retry_delay,
            )
            for a in attempts
        ),
    )


# --- the manager (any process) -------------------------------------------------------------


class RunInput(TypedDict):
    """The JSON input of one run of a task's workflow."""

    task_id: str
    name: str
    payload: JSON
    run: int
    first_attempt: int
    max_attempts: int
    timeout: float
    retry_delay: float
    backoff: float
    durable: bool


class TaskManager:
    """Enqueue, inspect, retry and cancel background tasks.

    Works in every process: it needs the database and the engine's client, not a
    launched executor. Tasks run wherever a worker listens to their queue.
    """

    def __init__(
        self, db: Database, engine: Engine, feed: ChangeFeed, *, settings: Settings
    ) -> None:
        self.db = db
        self.engine = engine
        self.feed = feed
        self.settings = settings
        self.registry = registry

    async def enqueue(
        self,
        name: str,
        payload: Any = None,
        *,
        key: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        source: str = "api",
        session: AsyncSession | None = None,
        allow_internal: bool = False,
    ) -> str:
        """Start task ``name`` with ``payload``; return its ID (the existing one for ``key``).

        With ``session``, the task is created in the caller's transaction: it exists (and
        runs) only if that transaction commits. Internal tasks need ``allow_internal``,
        which only OAR's own code passes (never HTTP, the CLI or Slack).
        """
        spec, values, inputs = self._prepare(
            name,
            payload,
            key=key,
            timeout=timeout,
            retries=retries,
            retry_delay=retry_delay,
            source=source,
            allow_internal=allow_internal,
        )
        if session is None:
            async with self.db.transaction() as own:
                inserted = await self._create(own, spec.queue, values, inputs)
        else:
            inserted = await self._create(session, spec.queue, values, inputs)
        return self._created(inserted, values)

    def enqueue_in(
        self,
        conn: Connection,
        name: str,
        payload: Any = None,
        *,
        key: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        source: str = "api",
        allow_internal: bool = False,
    ) -> str:
        """:meth:`enqueue` in the caller's synchronous transaction (see
        ``Database.write_at_once``): the task exists (and runs) only if it commits."""
        spec, values, inputs = self._prepare(
            name,
            payload,
            key=key,
            timeout=timeout,
            retries=retries,
            retry_delay=retry_delay,
            source=source,
            allow_internal=allow_internal,
        )
        inserted = self._create_in(conn, spec.queue, values, inputs)
        return self._created(inserted, values)

    def _prepare(
        self,
        name: str,
        payload: Any,
        *,
        key: str | None,
        timeout: float | None,
        retries: int | None,
        retry_delay: float | None,
        source: str,
        allow_internal: bool,
    ) -> tuple[TaskSpec, dict[str, Any], RunInput]:
        """Check a task's name, payload and options; its row's values and its run's input."""
        spec = self._spec_for(name, allow_internal=allow_internal)
        if problem := json_problem(payload, "payload"):
            raise TaskPayloadError(problem)
        if key is not None and not _KEY.match(key):
            raise TaskKeyError(key)
        try:
            _check_options(
                timeout=timeout, retries=retries, retry_delay=retry_delay, backoff=spec.backoff
            )
        except ValueError as exc:
            raise TaskError(str(exc)) from None
        task_id = key or f"task-{uuid.uuid4()}"
        retries_ = _first(retries, spec.retries, self.settings.task_retries)
        inputs: RunInput = {
            "task_id": task_id,
            "name": name,
            "payload": payload,
            "run": 1,
            "first_attempt": 1,
            "max_attempts": retries_ + 1,
            "timeout": _first(timeout, spec.timeout, self.settings.task_timeout),
            "retry_delay": _first(retry_delay, spec.retry_delay, self.settings.task_retry_delay),
            "backoff": spec.backoff,
            "durable": spec.durable,
        }
        now = utcnow()
        values = {
            "id": task_id,
            "name": name,
            "keyed": key is not None,
            "queue": spec.queue,
            "payload": payload,
            "status": TaskStatus.PENDING.value,
            "durable": spec.durable,
            "attempts": 0,
            "retries": retries_,
            "max_attempts": retries_ + 1,
            "timeout_seconds": inputs["timeout"],
            "retry_delay": inputs["retry_delay"],
            "backoff": spec.backoff,
            "run": 1,
            "workflow_id": task_id,
            "source": source,
            "created_at": now,
            "updated_at": now,
        }
        return spec, values, inputs

    @staticmethod
    def _created(inserted: bool, values: dict[str, Any]) -> str:
        task_id, name, source = values["id"], values["name"], values["source"]
        if inserted:
            metrics.TASKS_ENQUEUED.labels(name=name).inc()
            log.info("task.enqueued", task_id=task_id, task=name, source=source)
        else:
            log.info("task.deduplicated", task_id=task_id, task=name, source=source)
        return str(task_id)

    def _spec_for(self, name: str, *, allow_internal: bool) -> TaskSpec:
        if allow_internal:
            return self.registry.get(name)
        try:
            spec = self.registry.get(name)
        except UnknownTaskError:
            raise UnknownTaskError(name, self.registry.public_names()) from None
        if spec.internal:
            raise InternalTaskError(name, self.registry.public_names())
        return spec

    async def _create(
        self, session: AsyncSession, queue: str, values: dict[str, Any], inputs: RunInput
    ) -> bool:
        conn = await session.connection()
        return await conn.run_sync(lambda sync: self._create_in(sync, queue, values, inputs))

    def _create_in(
        self, conn: Connection, queue: str, values: dict[str, Any], inputs: RunInput
    ) -> bool:
        """Insert the task row and, if it is new, enqueue its run, in ``conn``'s transaction."""
        stmt = (
            insert_for(self.db.dialect, TaskRecord)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        if not getattr(conn.execute(stmt), "rowcount", 0):
            return False
        self._enqueue_in(conn, queue, inputs["task_id"], inputs)
        return True

    async def _enqueue_run(
        self, session: AsyncSession, queue: str, workflow_id: str, inputs: RunInput
    ) -> None:
        conn = await session.connection()
        await conn.run_sync(lambda sync: self._enqueue_in(sync, queue, workflow_id, inputs))

    def _enqueue_in(self, conn: Connection, queue: str, workflow_id: str, inputs: RunInput) -> None:
        options: EnqueueOptions = {
            "workflow_name": RUN_WORKFLOW,
            "queue_name": queue,
            "workflow_id": workflow_id,
            "app_version": WORKFLOW_VERSION,
        }
        self.engine.client.enqueue_in_transaction(conn, options, inputs)

    async def get(self, task_id: str) -> TaskInfo:
        async with self.db.session() as session:
            row = await session.get(TaskRecord, task_id)
            if row is None:
                raise TaskNotFoundError(task_id)
            attempts = (
                await session.scalars(
                    select(TaskAttemptRecord)
                    .where(TaskAttemptRecord.task_id == task_id)
                    .order_by(TaskAttemptRecord.attempt)
                )
            ).all()
            return _info(row, attempts)

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        name: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[TaskInfo]:
        query = select(TaskRecord).order_by(TaskRecord.created_at.desc(), TaskRecord.id)
        if status is not None:
            query = query.where(TaskRecord.status == TaskStatus(status).value)
        if name is not None:
            query = query.where(TaskRecord.name == name)
        async with self.db.session() as session:
            rows = (await session.scalars(query.limit(limit).offset(offset))).all()
        return [_info(row) for row in rows]

    async def dead_letters(self, *, limit: int = 50) -> builtins.list[TaskInfo]:
        return await self.list(status=TaskStatus.DEAD, limit=limit)

    async def counts(self) -> dict[str, int]:
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(TaskRecord.status, func.count()).group_by(TaskRecord.status)
                )
            ).all()
        counts = {status.value: 0 for status in TaskStatus}
        counts.update({str(status): int(n) for status, n in rows})
        return counts

    async def retry(
        self, task_id: str, *, actor: str = "system", interface: str = "api"
    ) -> TaskInfo:
        """Run a failed, dead or cancelled task again, with a fresh retry budget."""
        async with self.db.transaction() as session:
            row = await session.get(TaskRecord, task_id, with_for_update=True)
            if row is None:
                raise TaskNotFoundError(task_id)
            if TaskStatus(row.status) not in _RETRYABLE:
                raise TaskStateError(task_id, row.status, "retry", [s.value for s in _RETRYABLE])
            row.run += 1
            row.max_attempts = row.attempts + row.retries + 1
            row.workflow_id = f"{task_id}:run{row.run}"
            row.status = TaskStatus.PENDING.value
            row.finished_at = row.next_attempt_at = None
            row.updated_at = utcnow()
            inputs: RunInput = {
                "task_id": task_id,
                "name": row.name,
                "payload": row.payload,
                "run": row.run,
                "first_attempt": row.attempts + 1,
                "max_attempts": row.max_attempts,
                "timeout": row.timeout_seconds,
                "retry_delay": row.retry_delay,
                "backoff": row.backoff,
                "durable": row.durable,
            }
            await session.flush()
            await self._enqueue_run(session, row.queue, row.workflow_id, inputs)
            session.add(_audit(actor, interface, "task.retry", task_id, {"run": row.run}))
        log.info("task.retried", task_id=task_id, run=inputs["run"], actor=actor)
        return await self.get(task_id)

    async def cancel(
        self, task_id: str, *, actor: str = "system", interface: str = "api"
    ) -> TaskInfo:
        """Stop a pending or running task; a running attempt is interrupted."""
        now = utcnow()
        async with self.db.transaction() as session:
            row = await session.get(TaskRecord, task_id, with_for_update=True)
            if row is None:
                raise TaskNotFoundError(task_id)
            if TaskStatus(row.status) not in _CANCELLABLE:
                raise TaskStateError(task_id, row.status, "cancel", [s.value for s in _CANCELLABLE])
            row.status = TaskStatus.CANCELLED.value
            row.finished_at = row.updated_at = now
            row.next_attempt_at = None
            await session.execute(
                update(TaskAttemptRecord)
                .where(
                    TaskAttemptRecord.task_id == task_id,
                    TaskAttemptRecord.status == AttemptStatus.RUNNING.value,
                )
                .values(
                    status=AttemptStatus.CANCELLED.value,
                    finished_at=now,
                    error=f"cancelled by {actor}",
                )
            )
            session.add(_audit(actor, interface, "task.cancel", task_id, {}))
            # The worker running an attempt hears this and interrupts it.
            await announce(session, self.db, Change(kind="task", id=task_id, status="cancelled"))
            workflow_id, attempt, durable = row.workflow_id, row.attempts, row.durable
        self.feed.dispatch(Change(kind="task", id=task_id, status="cancelled"))
        client = self.engine.client
        await client.cancel_workflow_async(workflow_id)
        if durable and attempt:
            # A durable attempt is a child workflow of its own.
            with contextlib.suppress(dbos_errors.DBOSNonExistentWorkflowError):
                await client.cancel_workflow_async(f"{workflow_id}:attempt{attempt}")
        log.info("task.cancelled", task_id=task_id, actor=actor)
        return await self.get(task_id)

    async def send_message(self, task_id: str, topic: str, message: JSON) -> bool:
        """Send ``message`` on ``topic`` to a running durable task (see
        :meth:`TaskContext.wait_message`); False when the task has no running attempt
        (still queued, or finished), so there is nobody to tell."""
        async with self.db.session() as session:
            row = await session.get(TaskRecord, task_id)
            if row is None:
                raise TaskNotFoundError(task_id)
            status, durable = TaskStatus(row.status), row.durable
            workflow_id, attempt = row.workflow_id, row.attempts
        if status is not TaskStatus.RUNNING or not durable or not attempt:
            log.info("task.message_not_sent", task_id=task_id, topic=topic, status=status.value)
            return False
        destination = f"{workflow_id}:attempt{attempt}"
        try:
            await self.engine.client.send_async(destination, message, topic)
        except dbos_errors.DBOSNonExistentWorkflowError:
            log.info("task.message_not_sent", task_id=task_id, topic=topic, workflow=destination)
            return False
        return True

    async def running_here(self, task_id: str) -> LocalRun | None:
        """How the task's running attempt runs in this process (waiting durably, or
        busy), or None when it does not run here (queued, finished, another worker's)."""
        async with self.db.session() as session:
            row = await session.get(TaskRecord, task_id)
            if row is None:
                raise TaskNotFoundError(task_id)
            status, durable = TaskStatus(row.status), row.durable
            workflow_id, attempt = row.workflow_id, row.attempts
        if status is not TaskStatus.RUNNING or not durable or not attempt:
            return None
        return self.engine.workflow_here(f"{workflow_id}:attempt{attempt}")

    async def executor_of(self, task_id: str) -> str | None:
        """The executor that runs (and would recover) the task's current run, if any.

        None while the run waits in its queue (any worker listening to it takes it) and
        once it has finished. A task held by an executor that is no longer alive resumes
        only when a process with that executor ID starts again.
        """
        async with self.db.session() as session:
            row = await session.get(TaskRecord, task_id)
            if row is None:
                raise TaskNotFoundError(task_id)
            workflow_id = row.workflow_id
        found = await self.engine.client.list_workflows_async(
            workflow_ids=[workflow_id], load_input=False, load_output=False
        )
        if not found or found[0].status != "PENDING":
            return None
        return found[0].executor_id

    async def wait(self, task_id: str, *, timeout: float, poll: float = 0.1) -> TaskInfo:
        """Poll until the task is finished or ``timeout`` seconds pass; return its state."""
        deadline = time.monotonic() + timeout
        while True:
            info = await self.get(task_id)
            if info.status.terminal or time.monotonic() >= deadline:
                return info
            await asyncio.sleep(poll)


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def _audit(
    actor: str, interface: str, action: str, subject: str, details: dict[str, Any]
) -> AuditEntry:
    return AuditEntry(
        actor=actor,
        interface=interface,
        action=action,
        subject=subject,
        details=details,
        at=utcnow(),
    )
