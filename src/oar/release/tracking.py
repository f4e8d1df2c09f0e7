"""Task-status tracking that cannot be skipped: every release command records its run.

:func:`run_tracked` wraps a command's body. It checks the credentials the command
declares (all missing ones in one error, before any work), captures the whole process's
log (a handler on the root logger, not one module's), records In Progress, runs the body,
and records Pass or Fail with the captured log — including when the body raises, or the
process gets Ctrl-C or SIGTERM (then Fail, with "interrupted" in the log) — before the
exception propagates. A body that started durable background work returns
:meth:`Outcome.in_progress`; the background work records the final status with
:meth:`ReleaseState.finish_task <oar.release.state.ReleaseState.finish_task>`.

This fixes the original tool, whose status callback never ran when a command raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import logging
import signal
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import structlog
import uvloop
from structlog.typing import EventDict, WrappedLogger

from oar.db import Database
from oar.errors import (
    CommandPartlyDoneError,
    ConfigurationError,
    OarError,
    ReleaseNotConfiguredError,
)
from oar.integrations.builddata import BuildData
from oar.jsonvalue import JSON
from oar.logs import PathMask, SecretScrubber, get_logger
from oar.release.checklist import Flow, TaskStatus, task_name
from oar.release.configstore import ConfigStore, config_requirements
from oar.release.credentials import prove_credentials, require_credentials
from oar.release.ports import Ports, Targets, access_checks, credentials_for
from oar.release.state import ReleaseState, ReleaseStore, TrackingStore
from oar.release.versions import ReleaseVersion
from oar.settings import Settings

log = get_logger(__name__)

# How a run ended is recorded in its task log; the console gets it once, from the command
# (oar.cli.release.execute), so these events do not go to the root logger's handlers.
TASK_LOG = "oar.release.tasklog"
_task_log_only = logging.getLogger(TASK_LOG)
_task_log_only.propagate = False
_task_log_only.addHandler(logging.NullHandler())  # outside a capture: dropped, not lastResort
run_log = get_logger(TASK_LOG)

TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
# How long recording an outcome may take when the command is being torn down.
RECORD_TIMEOUT = 15.0
_TRACEBACK_FRAMES = 6


# --- log capture ------------------------------------------------------------------------------
def _render(
    scrubber: SecretScrubber, unlocal: PathMask
) -> Callable[[WrappedLogger, str, EventDict], str]:
    def render(logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
        record: logging.LogRecord = event_dict.pop("_record")
        event_dict.pop("_from_structlog", None)
        for meta in ("level", "logger", "timestamp", "positional_args"):
            event_dict.pop(meta, None)
        message = str(event_dict.pop("event", ""))
        exception = event_dict.pop("exception", None)
        fields = " ".join(f"{k}={v}" for k, v in event_dict.items())
        when = datetime.fromtimestamp(record.created, UTC).strftime(TIMESTAMP)
        line = f"{when}: {record.levelname}: {message}" + (f" {fields}" if fields else "")
        if exception:
            line += f"\n{exception}"
        return unlocal(scrubber.scrub(line))

    return render


# Loggers whose INFO lines are the service's plumbing, not what a command reported
# (``service.started roles=[]``, HTTP clients, the engine, the database): in a task
# log only from WARNING up. Their detail stays in the local log (-v / OAR_LOG_LEVEL).
_PLUMBING = (
    "oar.service",
    "oar.engine",
    "oar.db",
    "oar.web",
    "httpx",
    "httpcore",
    "urllib3",
    "uvicorn",
    "dbos",
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncio",
    "slack_bolt",
    "slack_sdk",
)


class _TaskLogFilter(logging.Filter):
    """What a task log keeps: what the command reported, at INFO and above."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if record.levelno < logging.INFO:
            return False
        return not any(
            record.name == name or record.name.startswith(f"{name}.") for name in _PLUMBING
        )


def local_paths(settings: Settings) -> dict[str, str]:
    """This machine's paths a task log must not name, with what to say instead."""
    paths: dict[str, str] = {}
    home = Path.home()
    paths[str(home)] = "~"
    with contextlib.suppress(OSError, RuntimeError):
        paths[str(home.resolve())] = "~"
    data = settings.data_dir.expanduser()
    for path in (data, data.resolve()):
        paths[str(path)] = "<data dir>"
    if settings.is_sqlite:
        database = settings.database_url.split(":///", 1)[-1].split("?", 1)[0]
        paths[database] = "<database>"
    return paths


# The scoped capture a log record belongs to: the one active in the task that logs it
# (asyncio tasks copy the context, so work a command starts is captured with it).
_SCOPE: contextvars.ContextVar[LogCapture | None] = contextvars.ContextVar(
    "oar_log_capture", default=None
)


class _InScope(logging.Filter):
    def __init__(self, capture: LogCapture) -> None:
        super().__init__()
        self.capture = capture

    def filter(self, record: logging.LogRecord) -> bool:
        return _SCOPE.get() is self.capture


class _ScopedLevel:
    """While any scoped capture runs, the root logger lets INFO through (a run's log is at
    least its INFO events) and the handlers already there keep the level they had, so
    the console shows nothing more; the last capture out restores both."""

    active = 0
    root_level: int | None = None
    saved: ClassVar[list[tuple[logging.Handler, int]]] = []

    @classmethod
    def enter(cls) -> None:
        cls.active += 1
        root = logging.getLogger()
        if cls.active > 1 or root.level <= logging.INFO:
            return
        cls.root_level = root.level
        for handler in root.handlers:
            cls.saved.append((handler, handler.level))
            if handler.level < root.level:
                handler.setLevel(root.level)
        root.setLevel(logging.INFO)

    @classmethod
    def exit(cls) -> None:
        cls.active -= 1
        if cls.active or cls.root_level is None:
            return
        logging.getLogger().setLevel(cls.root_level)
        for handler, level in cls.saved:
            handler.setLevel(level)
        cls.saved.clear()
        cls.root_level = None


class LogCapture:
    """What this process logs while active, as ``<UTC>: LEVEL: message`` lines: the
    command's own lines at INFO and above (:class:`_TaskLogFilter`), secrets and local
    paths masked. This is the task log recorded for the run (and exported to StateBox).

    The root logger goes to INFO (or stays lower) for the duration, and the handlers
    already on it keep the level they had, so the console shows what it showed before. A
    ``scoped`` capture (a command run inside the service, beside other work) takes only
    what its own task and the tasks it starts log, and changes no level but INFO's.
    """

    def __init__(
        self,
        *,
        secrets: Sequence[str] = (),
        paths: Mapping[str, str] | None = None,
        scoped: bool = False,
    ) -> None:
        self._buffer = io.StringIO()
        self._lock = threading.Lock()
        self.scoped = scoped
        self._token: contextvars.Token[LogCapture | None] | None = None
        self.handler = logging.StreamHandler(self._buffer)
        self.handler.setLevel(logging.INFO)
        self.handler.addFilter(_TaskLogFilter())
        if scoped:
            self.handler.addFilter(_InScope(self))
        scrubber = SecretScrubber(secrets)
        unlocal = PathMask(paths or {})
        self.handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                # A plain traceback (no locals); every line is scrubbed as it is rendered.
                processors=[
                    scrubber,
                    structlog.processors.format_exc_info,
                    _render(scrubber, unlocal),
                ]
            )
        )
        self._saved: list[tuple[logging.Handler, int]] = []
        self._root_level: int | None = None

    def __enter__(self) -> LogCapture:
        root = logging.getLogger()
        if self.scoped:
            self._token = _SCOPE.set(self)
            _ScopedLevel.enter()
            root.addHandler(self.handler)
            _task_log_only.addHandler(self.handler)
            return self
        self._root_level = root.level
        for handler in root.handlers:
            self._saved.append((handler, handler.level))
            if handler.level < root.level:
                handler.setLevel(root.level)
        root.addHandler(self.handler)
        if root.level > logging.INFO:
            root.setLevel(logging.INFO)
        _task_log_only.addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        _task_log_only.removeHandler(self.handler)
        if self._token is not None:
            _SCOPE.reset(self._token)
            self._token = None
            _ScopedLevel.exit()
        if self._root_level is not None:
            root.setLevel(self._root_level)
        for handler, level in self._saved:
            handler.setLevel(level)
        self._saved.clear()

    def text(self) -> str:
        with self._lock:
            return self._buffer.getvalue().rstrip("\n")


# --- outcomes ---------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How a command ended: Pass, Fail (a check failed, no exception), or In Progress;
    what it says, its data for scripts (``--json``), and the irreversible steps it took
    (``done``, filled in from the run by :func:`run_tracked`)."""

    status: TaskStatus
    message: str = ""
    data: Mapping[str, JSON] = field(default_factory=dict)
    done: tuple[str, ...] = ()

    @classmethod
    def passed(cls, message: str = "", *, data: Mapping[str, JSON] | None = None) -> Outcome:
        return cls(status=TaskStatus.PASS, message=message, data=dict(data or {}))

    @classmethod
    def failed(cls, message: str, *, data: Mapping[str, JSON] | None = None) -> Outcome:
        return cls(status=TaskStatus.FAIL, message=message, data=dict(data or {}))

    @classmethod
    def in_progress(
        cls, message: str = "background work continues", *, data: Mapping[str, JSON] | None = None
    ) -> Outcome:
        """Durable background work was started; it records the final status itself."""
        return cls(status=TaskStatus.IN_PROGRESS, message=message, data=dict(data or {}))

    def to_dict(self) -> dict[str, JSON]:
        """The outcome as JSON: status, message, data, and the irreversible steps done."""
        return {
            "status": self.status.value,
            "message": self.message,
            "data": dict(self.data),
            "done": list(self.done),
        }


@dataclass(kw_only=True)
class ReleaseContext:
    """What a release command's body gets: the release, its configuration, its run."""

    version: ReleaseVersion
    task: str
    run_id: int | None  # None: the command records no checklist task (no run row)
    settings: Settings
    state: ReleaseStore
    config: ConfigStore
    capture: LogCapture
    actor: str
    interface: str
    slack_channel: str | None = None
    slack_thread: str | None = None
    ports: Ports = field(default_factory=Ports)
    extras: dict[str, Any] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)

    @property
    def release(self) -> str:
        return self.version.text

    @property
    def command_line(self) -> str:
        return f"oar -r {self.release} {self.task}"

    async def prove(self, *names: str, advisories: Mapping[str, int] | None = None) -> list[str]:
        """Prove, with one cheap authenticated read each, the credentials of the ports
        ``names`` (default: every opened port) before an irreversible step; one
        :class:`~oar.errors.CredentialsRefusedError` names every refused one. The reads
        are on the release's own objects (``advisories`` overrides which advisories)."""
        targets = Targets(
            advisories=self.config.advisories() if advisories is None else advisories,
            ticket=self.config.jira_ticket(),
            shipment_mr=self.config.shipment_mr(),
        )
        checks = access_checks(self.ports, names or self.ports.opened(), targets)
        return await prove_credentials(checks, command=self.command_line)

    def did(self, step: str) -> None:
        """Record an irreversible step this run took; a later failure reports every one."""
        self.done.append(step)
        log.info("release.command.done", release=self.release, task=self.task, step=step)


Body = Callable[[ReleaseContext], Awaitable[Outcome | None]]
# Opens the adapters of the named ports for one run (the outer layer's
# :func:`oar.adapters.open_ports`, or a bundle of fakes in tests); the database is the
# run's (None when the run records in a store given to run_tracked).
PortsOpener = Callable[[Sequence[str], Database | None], AbstractAsyncContextManager[Ports]]


class CommandInterruptedError(Exception):
    """The command was stopped by a signal; its run was recorded as Fail."""

    def __init__(self, signal_name: str, done: Sequence[str] = ()) -> None:
        self.signal_name = signal_name
        self.done = tuple(done)
        already = f" after it had already: {'; '.join(self.done)}" if self.done else ""
        super().__init__(f"interrupted by {signal_name}{already}")

    @property
    def exit_code(self) -> int:
        number = getattr(signal, self.signal_name, signal.SIGINT)
        return 128 + int(number)


@dataclass(frozen=True, kw_only=True)
class Invocation:
    """Who runs which task of which release, from where."""

    version: ReleaseVersion
    task: str
    requires: Sequence[str] = ()
    # The ports the command uses per flow it supports (oar.release.commands); empty: none.
    ports: Mapping[Flow, tuple[str, ...]] = field(default_factory=dict)
    # False for a command that is not a checklist task: same checks, capture and ports,
    # but no run is recorded (ReleaseCommand.records_task).
    records_task: bool = True
    actor: str = "unknown"
    interface: str = "cli"
    slack_channel: str | None = None
    slack_thread: str | None = None

    def common_ports(self) -> tuple[str, ...]:
        """The ports used whatever the flow: their credentials are checked before the run."""
        if not self.ports:
            return ()
        flows = list(self.ports.values())
        return tuple(p for p in flows[0] if all(p in other for other in flows[1:]))

    def ports_for(self, flow: Flow) -> tuple[str, ...]:
        """The ports used in ``flow``; a ConfigurationError when the command lacks it."""
        if not self.ports:
            return ()
        if flow not in self.ports:
            supported = ", ".join(f.value for f in self.ports)
            raise ConfigurationError(
                f"oar {self.task} does not support the {flow.value} flow (only: {supported})"
            )
        return self.ports[flow]


def run_tracked(
    invocation: Invocation,
    body: Body,
    *,
    settings: Settings,
    build_data: BuildData | None = None,
    open_ports: PortsOpener | None = None,
    store: TrackingStore | None = None,
) -> Outcome:
    """Run ``body`` as a tracked run of ``invocation.task`` (synchronous entry point).

    Raises ConfigurationError (nothing recorded) when credentials are missing, the body's
    own exception after recording Fail, and :class:`CommandInterruptedError` after
    recording Fail when SIGINT or SIGTERM stopped it. The ports the invocation uses in
    the release's flow are opened with ``open_ports`` once the configuration says the
    flow, after every credential they need is checked (all missing ones named together).
    The run is recorded in ``store`` when given (unit tests: an in-memory one), else in
    the database at ``settings.database_url``.
    """
    name = task_name(invocation.task) if invocation.records_task else invocation.task
    require_credentials(
        settings,
        [
            *config_requirements(settings),
            *invocation.requires,
            *credentials_for(invocation.common_ports()),
        ],
        command=f"oar {name}",
    )
    if store is None:
        settings.ensure_database_dir()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(
            _tracked(
                invocation,
                body,
                settings=settings,
                build_data=build_data,
                open_ports=open_ports,
                store=store,
            )
        )


@contextlib.asynccontextmanager
async def _no_ports(names: Sequence[str], db: Database | None) -> Any:
    if names:
        raise ConfigurationError(f"no ports opener was given for ports {', '.join(names)}")
    yield Ports()


async def _tracked(
    invocation: Invocation,
    body: Body,
    *,
    settings: Settings,
    build_data: BuildData | None,
    open_ports: PortsOpener | None = None,
    store: TrackingStore | None = None,
    scoped: bool = False,
    logs: list[str] | None = None,
) -> Outcome:
    name = task_name(invocation.task) if invocation.records_task else invocation.task
    release = invocation.version.text
    interrupts = _Interrupts()
    context: ReleaseContext | None = None
    capture = LogCapture(
        secrets=settings.secret_values(), paths=local_paths(settings), scoped=scoped
    )
    signals = contextlib.nullcontext() if scoped else interrupts.installed()
    with capture, signals, _kept(capture, logs):
        async with _opened_store(settings, store) as (state, db):
            # The configuration first: a release without one (a typo such as 5.0.1, an
            # assembly ART has not written) records nothing, not even the release.
            try:
                config = await ConfigStore.load(settings, invocation.version, build_data=build_data)
            except OarError as exc:
                raise ReleaseNotConfiguredError(release, exc.message) from exc
            run_id = (
                await state.start_task(
                    release,
                    name,
                    actor=invocation.actor,
                    interface=invocation.interface,
                    slack_channel=invocation.slack_channel,
                    slack_thread=invocation.slack_thread,
                )
                if invocation.records_task
                else None
            )

            async def record(status: TaskStatus) -> None:
                log.info(
                    "release.task.status",
                    task=name,
                    status=status.value,
                    release=release,
                    run_id=run_id,
                )
                if not invocation.records_task:
                    return  # not a checklist task: the outcome is the command's answer only
                async with asyncio.timeout(RECORD_TIMEOUT):
                    await asyncio.shield(
                        state.finish_task(
                            release, name, status, log_text=capture.text(), run_id=run_id
                        )
                    )

            try:
                # From here on a signal cancels the body; one that came while the start
                # was being recorded takes effect now.
                interrupts.arm()
                log.info("release.command.started", release=release, task=name, run_id=run_id)
                await state.ensure_release(release, config.metadata())
                # The flow's own ports (GitLab only in the Konflux flow) are known now.
                port_names = invocation.ports_for(config.flow)
                require_credentials(settings, credentials_for(port_names), command=f"oar {name}")
                async with (open_ports or _no_ports)(port_names, db) as ports:
                    context = ReleaseContext(
                        version=invocation.version,
                        task=name,
                        run_id=run_id,
                        settings=settings,
                        state=state,
                        config=config,
                        capture=capture,
                        actor=invocation.actor,
                        interface=invocation.interface,
                        slack_channel=invocation.slack_channel,
                        slack_thread=invocation.slack_thread,
                        ports=ports,
                    )
                    outcome = await body(context) or Outcome.passed()
                outcome = replace(outcome, done=tuple(context.done))
            except asyncio.CancelledError:
                what = interrupts.signal_name or "cancellation"
                run_log.error("release.command.interrupted", release=release, task=name, by=what)
                await _uncancelled(record(TaskStatus.FAIL))
                if interrupts.signal_name:
                    raise CommandInterruptedError(what, context.done if context else ()) from None
                raise
            except Exception as exc:
                summary = "".join(traceback.format_exception(exc, limit=-_TRACEBACK_FRAMES))
                run_log.error(
                    "release.command.failed",
                    release=release,
                    task=name,
                    error=f"{type(exc).__name__}: {exc}",
                )
                run_log.debug("release.command.traceback", traceback=summary.rstrip())
                await _uncancelled(record(TaskStatus.FAIL))
                if context is not None and context.done:
                    error = exc.message if isinstance(exc, OarError) else f"{exc}"
                    raise CommandPartlyDoneError(name, error, context.done) from exc
                raise
            interrupts.disarm()
            if outcome.message:
                log.info("release.command.outcome", task=name, message=outcome.message)
            await record(outcome.status)
            return outcome


@contextlib.contextmanager
def _kept(capture: LogCapture, logs: list[str] | None) -> Iterator[None]:
    """Hand the run's captured log to ``logs`` however the run ends."""
    try:
        yield
    finally:
        if logs is not None:
            logs.append(capture.text())


@dataclass(frozen=True, kw_only=True)
class TrackedRun:
    """A run made inside the service: its outcome and its captured log."""

    outcome: Outcome
    log: str


async def run_tracked_async(
    invocation: Invocation,
    body: Body,
    *,
    settings: Settings,
    open_ports: PortsOpener | None = None,
    store: TrackingStore | None = None,
    logs: list[str] | None = None,
    build_data: BuildData | None = None,
) -> TrackedRun:
    """Run ``body`` as a tracked run from inside a running service (the MCP server, a
    workflow step): on the caller's event loop, no signal handlers taken, and a log
    capture scoped to this run, so concurrent work is neither captured nor disturbed.

    Raises as :func:`run_tracked` does (ConfigurationError before anything is recorded,
    the body's exception after Fail is recorded); the caller reads the log from the
    run's log from ``logs`` (appended to however the run ends) when it needs it."""
    name = task_name(invocation.task) if invocation.records_task else invocation.task
    require_credentials(
        settings,
        [
            *config_requirements(settings),
            *invocation.requires,
            *credentials_for(invocation.common_ports()),
        ],
        command=f"oar {name}",
    )
    logs = [] if logs is None else logs
    outcome = await _tracked(
        invocation,
        body,
        settings=settings,
        build_data=build_data,
        open_ports=open_ports,
        store=store,
        scoped=True,
        logs=logs,
    )
    return TrackedRun(outcome=outcome, log=logs[-1] if logs else "")


@contextlib.asynccontextmanager
async def _opened_store(
    settings: Settings, store: TrackingStore | None
) -> AsyncIterator[tuple[TrackingStore, Database | None]]:
    """``store`` as it is, or the release state in the configured database."""
    if store is not None:
        yield store, None
        return
    async with Database(settings.database_url) as db:
        await db.upgrade()
        yield ReleaseState(db), db


async def _uncancelled(awaitable: Awaitable[None]) -> None:
    """Await ``awaitable`` even if this task was cancelled (by a signal) before."""
    task = asyncio.current_task()
    if task is not None:
        while task.uncancel():
            pass
    await awaitable


class _Interrupts:
    """SIGINT / SIGTERM cancel the command's task once, so its Fail gets recorded.

    Until :meth:`arm` a signal is only remembered (the start is still being recorded);
    after :meth:`disarm` it is ignored (the outcome is being recorded).
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._armed = False
        self._task: asyncio.Task[Any] | None = None

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.signal_name is not None:
            return  # the first signal already asked; let the recording finish
        self.signal_name = sig.name
        if self._armed and self._task is not None:
            self._task.cancel(f"interrupted by {sig.name}")

    def arm(self) -> None:
        self._armed = True
        if self.signal_name is not None:
            raise asyncio.CancelledError(f"interrupted by {self.signal_name}")

    def disarm(self) -> None:
        self._armed = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        installed: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
