"""Launch and shut down the durable engine (DBOS Transact) inside one OAR process.

The rules measured on this project's machines (``shared/reference/durable-engine-notes.md``)
are encoded here once:

* the application version is pinned (``WORKFLOW_VERSION``), so deploys do not strand
  in-flight workflows, and each process has a stable executor ID;
* workflows are async and run on the process's own event loop;
* every queue has a per-worker concurrency cap and a short polling interval;
* processes that only enqueue, cancel or read (CLI, web role) use a ``DBOSClient`` and
  never launch a second executor;
* inputs and outputs are JSON (the portable serializer), never pickles.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from dbos import DBOS, DBOSClient, DBOSConfig, DBOSPortableJSONSerializer
from dbos import error as dbos_errors
from dbos._dbos import _get_dbos_instance

from oar.db import Database
from oar.engine.executors import ExecutorRegistry
from oar.errors import DatabaseUnavailableError, EngineNotRunningError
from oar.logs import get_logger
from oar.settings import Settings, mask_url

if TYPE_CHECKING:
    from oar.engine.changes import ChangeFeed

S = TypeVar("S")

log = get_logger(__name__)

APP_NAME = "oar"
# The durable-workflow compatibility version. Workers only run and recover workflows of
# their own version, so it changes only when workflow code changes incompatibly (a step
# added, removed or reordered), not with every release of the package.
WORKFLOW_VERSION = "oar-workflows-1"
DEFAULT_QUEUE = "oar-tasks"

_SERIALIZER = DBOSPortableJSONSerializer()


@dataclass(frozen=True, kw_only=True)
class QueueSpec:
    """A work queue: its name and how much of it one worker (and all) may run at once."""

    name: str
    worker_concurrency: int
    global_concurrency: int | None = None


@dataclass(frozen=True, kw_only=True)
class WorkerContext:
    """What workflow code of this process may use: the database and the services."""

    settings: Settings
    db: Database
    executor_id: str
    feed: ChangeFeed
    # The services provided by the code built on the engine (the approval manager, ...),
    # by the type they are asked for: the runtime names none of them, so it imports none.
    services: Mapping[type[Any], object]

    def service(self, kind: type[S]) -> S:
        """The ``kind`` service provided to this process's engine (``Engine.provide``)."""
        found = self.services.get(kind)
        if found is None:
            raise EngineNotRunningError(
                f"no {kind.__name__} was provided to the durable executor of this process"
            )
        return cast(S, found)


_worker: WorkerContext | None = None
_on_launch: list[Callable[[WorkerContext], None]] = []
# The workflows of this process in a durable wait (a durable sleep, a wait for a
# message), with what they wait for: their state is in the database, so shutdown does
# not wait for them; they are suspended and resume, deadline unchanged, at the next start.
_waiting: dict[str, str] = {}


@contextlib.contextmanager
def durable_wait(what: str) -> Iterator[None]:
    """Mark the current workflow as waiting durably (``what``: "a message for 3600s")
    for the duration of the block."""
    workflow_id: str | None = DBOS.workflow_id
    if workflow_id is None:
        yield
        return
    _waiting[workflow_id] = what
    try:
        yield
    finally:
        _waiting.pop(workflow_id, None)


class _CancellationNoise(logging.Filter):
    """Drops DBOS's error log of a workflow that ended because it was cancelled (its own
    cancellation, or a cancelled child it awaited): the expected end of ``cancel``, which
    OAR records and reports itself, not an error with a traceback in the worker's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(
            error,
            dbos_errors.DBOSWorkflowCancelledError | dbos_errors.DBOSAwaitedWorkflowCancelledError,
        )


_cancellation_noise = _CancellationNoise()


def _active_workflows() -> list[str]:
    """The workflows this process's executor runs now (in a wait or not).

    DBOS 3.4 keeps them in its instance's active set, which its own ``destroy`` polls;
    it has no public accessor, and the version is pinned, so it is read here, once.
    """
    try:
        return sorted(_get_dbos_instance()._active_workflows_set.activeList())
    except Exception:  # not launched, or already destroyed
        return []


class LocalRun(enum.StrEnum):
    """How a workflow runs in this process (:meth:`Engine.workflow_here`)."""

    WAITING = "waiting"  # in a durable wait: a message wakes it at once
    BUSY = "busy"  # doing work (a step): a message waits for its next wait


def current_worker() -> WorkerContext:
    """The context of the executor running in this process (for workflow code)."""
    if _worker is None:
        raise EngineNotRunningError("no durable executor runs in this process")
    return _worker


def current_workflow_id() -> str | None:
    """The ID of the durable workflow this code runs in (also inside its steps); None
    outside one. A durable task's handler runs in ``<task workflow>:attempt<n>``: that is
    where a message for it must go."""
    workflow_id: str | None = DBOS.workflow_id
    return workflow_id


class Engine:
    """The durable engine of one process.

    Every process gets a client (enqueue, cancel, inspect). Processes with the worker
    role also launch an executor that runs and recovers workflows.
    """

    def __init__(
        self, settings: Settings, db: Database, *, role: str = "worker", execute: bool = True
    ) -> None:
        self.settings = settings
        self.db = db
        self.role = role
        self.execute = execute
        self.executor_id = settings.executor_id(role)
        self.queues: dict[str, QueueSpec] = {
            DEFAULT_QUEUE: QueueSpec(
                name=DEFAULT_QUEUE,
                worker_concurrency=settings.task_concurrency,
                global_concurrency=settings.task_global_concurrency,
            )
        }
        self._client: DBOSClient | None = None
        self._launched = False
        # Services workflow code reaches through current_worker(); set by the Service.
        self.feed: ChangeFeed | None = None
        self._services: dict[type[Any], object] = {}
        self._executors = ExecutorRegistry(db, heartbeat_interval=settings.heartbeat_interval)

    # --- configuration ----------------------------------------------------------------
    def add_queue(self, spec: QueueSpec) -> None:
        """Declare a queue; it is registered when the executor launches."""
        if self._launched:
            raise RuntimeError("declare queues before the engine starts")
        self.queues[spec.name] = spec

    def provide(self, kind: type[S], service: S) -> None:
        """Let workflow code of this process reach ``service`` as
        ``current_worker().service(kind)``; provide before the executor launches."""
        if self._launched:
            raise RuntimeError("provide services before the engine starts")
        self._services[kind] = service

    @property
    def system_database_url(self) -> str:
        return self.settings.database_url

    # --- lifecycle ----------------------------------------------------------------------
    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def migrate(self) -> None:
        """Create or upgrade the engine's own tables (idempotent)."""
        url = self.system_database_url
        try:
            await asyncio.to_thread(DBOS.migrate, url)
        except Exception as exc:  # DBOS raises bare driver errors here
            raise DatabaseUnavailableError(mask_url(url), str(exc).splitlines()[0]) from exc

    async def start(self) -> None:
        await self.migrate()
        self._client = await asyncio.to_thread(
            DBOSClient,
            system_database_url=self.system_database_url,
            serializer=_SERIALIZER,
            application_name=APP_NAME,
        )
        if self.execute:
            await self._launch()

    async def _launch(self) -> None:
        global _worker  # noqa: PLW0603  (DBOS is a process singleton; so is its context)
        await self._executors.claim(self.executor_id, role=self.role)
        config: DBOSConfig = {
            "name": APP_NAME,
            "system_database_url": self.system_database_url,
            "application_version": WORKFLOW_VERSION,
            "executor_id": self.executor_id,
            "serializer": _SERIALIZER,
            "notification_listener_polling_interval_sec": self.settings.notification_poll_interval,
            "scheduler_polling_interval_sec": 5.0,
            # The engine pushes coalesced NOTIFYs for workflow events and streams from a
            # thread that wakes at this interval; OAR uses neither, so it need not spin.
            "notification_coalesce_sec": 0.2,
            "max_executor_threads": 64,
            "log_level": "WARNING",
            "run_migrations": False,  # done by migrate(); launch only verifies
        }
        if self.feed is None:
            raise RuntimeError("attach the change feed before launching")
        _worker = WorkerContext(
            settings=self.settings,
            db=self.db,
            executor_id=self.executor_id,
            feed=self.feed,
            services=dict(self._services),
        )
        DBOS(config=config)
        logging.getLogger("dbos").addFilter(_cancellation_noise)  # idempotent
        # DBOS.launch must run on the loop's own thread: it records this loop as the one
        # workflows (including recovered ones) run on.
        DBOS.launch()
        self._launched = True
        for spec in self.queues.values():
            await DBOS.register_queue_async(
                spec.name,
                worker_concurrency=spec.worker_concurrency,
                global_concurrency=spec.global_concurrency,
                polling_interval_sec=self.settings.queue_poll_interval,
                on_conflict="always_update",
            )
        for hook in _on_launch:
            hook(_worker)
        self._executors.start_heartbeat()
        log.info(
            "engine.launched",
            executor_id=self.executor_id,
            version=WORKFLOW_VERSION,
            queues=sorted(self.queues),
        )

    def workflow_here(self, workflow_id: str) -> LocalRun | None:
        """Whether ``workflow_id`` runs in this process: in a durable wait (a message sent
        to it now wakes it at once), busy, or not here at all (None)."""
        if workflow_id in _waiting:
            return LocalRun.WAITING
        if workflow_id in _active_workflows():
            return LocalRun.BUSY
        return None

    def busy_workflows(self) -> list[str]:
        """The workflows of this process doing work now: not in a durable wait, nor
        waiting for a child workflow that is (a task's run waiting for its attempt)."""
        waiting = list(_waiting)
        return [
            wf
            for wf in _active_workflows()
            if wf not in _waiting and not any(w.startswith(f"{wf}:") for w in waiting)
        ]

    async def _drain(self, grace: float) -> None:
        """Stop taking work, then wait up to ``grace`` seconds for the busy workflows,
        saying which and for how long; those in a durable wait are not waited for."""
        dbos = _get_dbos_instance()
        for event in dbos.background_thread_stop_events:  # the queue pollers, the scheduler
            event.set()
        deadline = time.monotonic() + grace
        said: list[str] | None = None
        while busy := self.busy_workflows():
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("engine.stop.grace_over", suspended=busy, grace=f"{grace:g}s")
                return
            if busy != said:
                log.info("engine.stop.waiting", workflows=busy, up_to=f"{left:.0f}s")
                said = busy
            await asyncio.sleep(min(0.1, left))
        if _waiting:
            log.info("engine.stop.suspending", waiting=dict(sorted(_waiting.items())))

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking work, give busy workflows ``grace`` seconds, then shut down.

        Workflows in a durable wait (a follow sleeping until its next check) are not
        waited for. They, and those still busy after the grace period, stay PENDING in
        the database and resume, their deadlines unchanged, when a process with the same
        executor ID starts again.
        """
        global _worker  # noqa: PLW0603  (DBOS is a process singleton; so is its context)
        grace = self.settings.shutdown_grace if grace is None else grace
        if self._launched:
            self._launched = False
            await self._drain(grace)
            await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=0)
            # DBOS made its (now shut down) thread pool the loop's default executor.
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(thread_name_prefix="oar")
            )
            await _cancel_orphaned_workflow_tasks()
            await self._executors.release()
            _worker = None
            log.info("engine.stopped", executor_id=self.executor_id)
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.to_thread(client.destroy)

    # --- state ------------------------------------------------------------------------
    @property
    def launched(self) -> bool:
        return self._launched

    @property
    def client(self) -> DBOSClient:
        if self._client is None:
            raise EngineNotRunningError("the durable engine has not been started")
        return self._client

    async def ready(self) -> bool:
        """True when the engine answers (and, for workers, the executor runs)."""
        if self._client is None or (self.execute and not self._launched):
            return False
        try:
            await self._client.check_connection_async()
        except Exception:  # any driver failure means "not ready"
            return False
        return True

    async def alive_workers(self) -> list[dict[str, Any]]:
        return await self._executors.alive()

    async def reserve_worker(self, executor_id: str, pid: int) -> dict[str, Any] | None:
        """Hold ``executor_id`` for worker process ``pid`` this process just started (see
        :meth:`ExecutorRegistry.reserve`); the live holder when another process has it."""
        return await self._executors.reserve(executor_id, role="worker", pid=pid)


async def _cancel_orphaned_workflow_tasks() -> None:
    """Cancel workflow coroutines left on this loop after the engine shut down.

    The engine's tables no longer accept writes from them, so they stay PENDING and are
    recovered at the next start instead of being recorded as failed.
    """
    current = asyncio.current_task()
    orphans = [
        task for task in asyncio.all_tasks() if task is not current and _is_workflow_task(task)
    ]
    if not orphans:
        return
    # The engine logs a warning per cancelled workflow and step; this is the expected end
    # of a graceful shutdown, reported once below instead.
    engine_log = logging.getLogger("dbos")
    level = engine_log.level
    engine_log.setLevel(logging.ERROR)
    try:
        for task in orphans:
            task.cancel()
        await asyncio.gather(*orphans, return_exceptions=True)
    finally:
        engine_log.setLevel(level)
    log.info("engine.workflows_suspended", count=len(orphans))


def _is_workflow_task(task: asyncio.Task[Any]) -> bool:
    coro = task.get_coro()
    code = getattr(coro, "cr_code", None)
    module = getattr(getattr(coro, "cr_frame", None), "f_globals", {}).get("__name__", "")
    return code is not None and str(module).startswith("dbos")


def reset_engine_tables(url: str) -> None:
    """Empty the engine's tables (tests only: destroys every workflow record)."""
    if _worker is not None:
        raise RuntimeError("stop the engine before resetting its tables")
    DBOS.reset_system_database(system_database_url=url, truncate=True)
