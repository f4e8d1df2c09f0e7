"""``oarctl``: run the service and operate it (database, tasks, …)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator, Generator
from datetime import datetime
from typing import Any

import click
import uvicorn

from oar import __version__
from oar.cli.console import (
    fail,
    json_option,
    out,
    print_json,
    run,
    settings_or_exit,
    table,
)
from oar.engine import TaskInfo, TaskStatus
from oar.errors import ConfigurationError
from oar.service import Service
from oar.settings import Settings

ROLE_CHOICE = click.Choice(["web", "worker", "bot"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="oarctl")
def cli() -> None:
    """Run and operate the OAR service."""


# --- serve / worker ---------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal after it exits.

    OAR stops its durable engine after the HTTP server (graceful shutdown), which a
    re-raised SIGTERM would cut short.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        originals = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def check_bind(settings: Settings) -> None:
    """Refuse to expose an unauthenticated API beyond this machine."""
    if settings.api_token is None and not settings.loopback_only:
        raise ConfigurationError(
            f"refusing to listen on {settings.host} without OAR_API_TOKEN: set a token, or"
            " bind to 127.0.0.1 (OAR_HOST)",
            variables=["OAR_API_TOKEN", "OAR_HOST"],
        )


async def _serve(settings: Settings, roles: frozenset[str]) -> None:
    from oar.web import create_app

    async with Service(settings, roles=roles) as service:
        if "web" in roles:
            config = uvicorn.Config(
                create_app(service, owns_service=False),
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
                lifespan="on",
            )
            out.print(
                f"OAR {__version__} serving on http://{settings.host}:{settings.port}"
                f" (database {settings.database_url_masked})",
                highlight=False,
            )
            await _Server(config).serve()
        else:
            out.print(
                f"OAR {__version__} worker {service.engine.executor_id} running"
                f" (database {settings.database_url_masked})",
                highlight=False,
            )
            await _until_signal()


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@cli.command()
@click.option("--host", help="Address to bind (OAR_HOST).")
@click.option("--port", type=int, help="Port to bind (OAR_PORT).")
@click.option(
    "--role",
    "roles",
    type=ROLE_CHOICE,
    multiple=True,
    help="Run only these roles (repeatable). Default: web and worker.",
)
@click.option(
    "--plugin", "plugins", multiple=True, help="Module registering task handlers (OAR_PLUGINS)."
)
def serve(
    host: str | None, port: int | None, roles: tuple[str, ...], plugins: tuple[str, ...]
) -> None:
    """Run the service: HTTP API, dashboard, workers (one process, one event loop)."""
    settings = settings_or_exit(OAR_HOST=host, OAR_PORT=port, OAR_PLUGINS=",".join(plugins) or None)
    selected = frozenset(roles) or frozenset({"web", "worker"})
    if "web" in selected:
        run(_check_then_serve(settings, selected))
    else:
        run(_serve(settings, selected))


async def _check_then_serve(settings: Settings, roles: frozenset[str]) -> None:
    check_bind(settings)
    await _serve(settings, roles)


@cli.command()
@click.option(
    "--plugin", "plugins", multiple=True, help="Module registering task handlers (OAR_PLUGINS)."
)
def worker(plugins: tuple[str, ...]) -> None:
    """Run a worker only: execute and recover durable work, no HTTP."""
    settings = settings_or_exit(OAR_PLUGINS=",".join(plugins) or None)
    run(_serve(settings, frozenset({"worker"})))


# --- db ---------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade OAR's tables and the durable engine's tables."""
    settings = settings_or_exit(quiet=True)

    async def upgrade() -> str | None:
        async with Service(settings, roles=(), upgrade=True) as service:
            return await service.db.current_revision()

    revision = run(upgrade())
    out.print(f"database {settings.database_url_masked} is at revision {revision}", highlight=False)


# --- tasks ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[Service]:
    async with Service(settings, roles=()) as service:
        yield service


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _short(text: str | None, limit: int = 60) -> str:
    if not text:
        return ""
    line = text.splitlines()[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


@cli.group()
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
        async with _client(settings) as service:
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
                _when(t.created_at),
                _short(t.last_error),
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
    "--wait", "wait_seconds", type=click.FloatRange(0), help="Wait up to N seconds for the result."
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
        async with _client(settings) as service:
            task_id = await service.tasks.enqueue(name, value, key=key, source=f"cli:{_whoami()}")
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


@tasks.command("show")
@click.argument("task_id")
@json_option
def tasks_show(task_id: str, as_json: bool) -> None:
    """Show one task: status, attempts, last error, result."""
    settings = settings_or_exit(quiet=True)

    async def fetch() -> TaskInfo:
        async with _client(settings) as service:
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
        ("created", _when(info.created_at)),
        ("started", _when(info.started_at)),
        ("finished", _when(info.finished_at)),
        ("next attempt", _when(info.next_attempt_at)),
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
                _when(a.started_at),
                "" if a.duration is None else f"{a.duration:.2f}",
                _short(a.error, 80),
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
        async with _client(settings) as service:
            return await service.tasks.retry(task_id, actor=_whoami(), interface="cli")

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
        async with _client(settings) as service:
            return await service.tasks.cancel(task_id, actor=_whoami(), interface="cli")

    info = run(act())
    if as_json:
        print_json(info.to_dict())
    else:
        out.print(f"task {info.id} cancelled", highlight=False)


def _whoami() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def main() -> None:
    try:
        cli(prog_name="oarctl")
    except KeyboardInterrupt:
        fail("interrupted", code=130)


if __name__ == "__main__":
    main()
