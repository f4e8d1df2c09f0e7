"""``oarctl``: run the service and operate it (database, tasks, …)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import signal
import socket
import time
from collections.abc import Generator

import click
import uvicorn

from oar import __version__
from oar.cli.console import (
    client,
    fail,
    out,
    run,
    settings_or_exit,
    until_signal,
)
from oar.errors import ConfigurationError
from oar.logs import scrub
from oar.service import Service
from oar.settings import Settings

ROLE_CHOICE = click.Choice(["web", "worker", "bot"])
GITHUB_APP_OPTION = click.option(
    "--github-app",
    help="module:attribute of a GitHubApp whose handlers this process serves (OAR_GITHUB_APP).",
)


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


def listen_socket(host: str, port: int) -> socket.socket:
    """Bind the HTTP port before anything else starts: a port in use is one clear error,
    not "serving on …" followed by an engine started and stopped for nothing."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"port {port} on {host} is in use: choose another with --port or OAR_PORT",
                variables=["OAR_PORT"],
            ) from None
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (OAR_HOST, OAR_PORT)",
            variables=["OAR_HOST", "OAR_PORT"],
        ) from None


async def _until_idle(service: Service, seconds: float) -> None:
    """Return once no task has been pending or running (in any worker) for ``seconds``."""
    poll = max(0.2, min(5.0, seconds / 4))
    idle_since = time.monotonic()
    while True:
        counts = await service.tasks.counts()
        if counts["pending"] or counts["running"]:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= seconds:
            return
        await asyncio.sleep(poll)


async def _serve(
    settings: Settings,
    roles: frozenset[str],
    *,
    exit_when_idle: float | None = None,
    mcp_only: bool = False,
) -> None:
    listener = listen_socket(settings.host, settings.port) if "web" in roles else None
    try:
        await _run_roles(
            settings, roles, listener, exit_when_idle=exit_when_idle, mcp_only=mcp_only
        )
    finally:
        if listener is not None:
            listener.close()


def programs() -> dict[str, click.Group]:
    """The programs the Slack bot runs, by name: their click groups decide what a command
    is and what ``help`` lists (the bot is handed them; it imports no CLI)."""
    from oar.cli.jobctl import cli as jobctl_group
    from oar.cli.oar import cli as oar_group

    return {"oar": oar_group, "oarctl": cli, "jobctl": jobctl_group}


async def _run_roles(
    settings: Settings,
    roles: frozenset[str],
    listener: socket.socket | None,
    *,
    exit_when_idle: float | None,
    mcp_only: bool = False,
) -> None:
    from oar.adapters import ports_opener
    from oar.web import create_app
    from oar.web.app import create_mcp_app

    bot_programs = programs() if "bot" in roles else None
    idle_exit = False
    async with Service(
        settings, roles=roles, programs=bot_programs, open_ports=ports_opener(settings)
    ) as service:
        # Everything loaded so far lives as long as the process: keep the collector from
        # re-scanning it on every full collection (shorter pauses under load).
        gc.freeze()
        if listener is not None:
            build = create_mcp_app if mcp_only else create_app
            config = uvicorn.Config(
                build(service, owns_service=False),
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
                lifespan="on",
                ws_max_size=settings.max_body_bytes,  # a message over it closes with 1009
            )
            port = listener.getsockname()[1]
            what = "MCP server" if mcp_only else "serving"
            out.print(
                f"OAR {__version__} {what} on http://{settings.host}:{port}"
                f"{'/mcp' if mcp_only else ''} (database {settings.database_url_masked})",
                highlight=False,
            )
            await _Server(config).serve(sockets=[listener])
        elif "worker" not in roles:
            out.print(f"OAR {__version__} Slack bot running", highlight=False)
            await until_signal()
        else:
            out.print(
                f"OAR {__version__} worker {service.engine.executor_id} running"
                f" (database {settings.database_url_masked})",
                highlight=False,
            )
            if exit_when_idle is None:
                await until_signal()
                return
            waits = [
                asyncio.create_task(until_signal()),
                asyncio.create_task(_until_idle(service, exit_when_idle)),
            ]
            done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if waits[1] in done:
                out.print(f"no work for {exit_when_idle:g}s: worker exits", highlight=False)
                idle_exit = True
    if idle_exit:
        await _hand_over(settings)


async def _hand_over(settings: Settings) -> None:
    """After an idle exit (engine stopped, executor ID released): work that arrived while
    this worker was stopping gets a worker of its own (see ``hand_over``)."""
    from oar.adapters.background import hand_over

    try:
        async with client(settings) as service:
            for started in await hand_over(service, settings, settings.executor_id("worker")):
                out.print(f"work arrived while stopping: {started.text()}", highlight=False)
    except Exception as exc:  # the next command starts a worker for it (it finds none alive)
        out.print(
            "could not check for work that arrived while stopping:"
            f" {type(exc).__name__}: {scrub(str(exc))}",
            highlight=False,
        )


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
@GITHUB_APP_OPTION
def serve(
    host: str | None,
    port: int | None,
    roles: tuple[str, ...],
    plugins: tuple[str, ...],
    github_app: str | None,
) -> None:
    """Run the service: HTTP API, dashboard, workers, and the Slack bot when its tokens are
    set (one process, one event loop)."""
    settings = settings_or_exit(
        OAR_HOST=host,
        OAR_PORT=port,
        OAR_PLUGINS=",".join(plugins) or None,
        OAR_GITHUB_APP=github_app,
    )
    from oar.slack.bot import bot_configured

    default = {"web", "worker"} | ({"bot"} if bot_configured(settings) else set())
    selected = frozenset(roles) or frozenset(default)
    if "web" in selected:
        run(_check_then_serve(settings, selected))
    else:
        run(_serve(settings, selected))


async def _check_then_serve(
    settings: Settings, roles: frozenset[str], *, mcp_only: bool = False
) -> None:
    check_bind(settings)
    await _serve(settings, roles, mcp_only=mcp_only)


@cli.command("mcp")
@click.option("--host", help="Address to bind (OAR_HOST).")
@click.option("--port", type=int, help="Port to bind (OAR_PORT).")
def mcp_command(host: str | None, port: int | None) -> None:
    """Run the MCP server alone at /mcp (streamable HTTP), with a worker for its gated
    calls and the Slack bot when its tokens are set; no API or dashboard (docs/mcp.md)."""
    settings = settings_or_exit(OAR_HOST=host, OAR_PORT=port)
    from oar.slack.bot import bot_configured

    roles = frozenset({"web", "worker"} | ({"bot"} if bot_configured(settings) else set()))
    run(_check_then_serve(settings, roles, mcp_only=True))


@cli.command()
@click.option(
    "--plugin", "plugins", multiple=True, help="Module registering task handlers (OAR_PLUGINS)."
)
@click.option(
    "--exit-when-idle",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Exit once no task has been pending or running for this long (the worker a"
    " command starts in the background uses it).",
)
@GITHUB_APP_OPTION
def worker(plugins: tuple[str, ...], exit_when_idle: float | None, github_app: str | None) -> None:
    """Run a worker only: execute and recover durable work, no HTTP."""
    settings = settings_or_exit(OAR_PLUGINS=",".join(plugins) or None, OAR_GITHUB_APP=github_app)
    run(_serve(settings, frozenset({"worker"}), exit_when_idle=exit_when_idle))


@cli.command()
def bot() -> None:
    """Run the Slack bot alone (Socket Mode; in http mode it also serves the Events API)."""
    from oar.slack.bot import check_bot_settings

    settings = settings_or_exit()
    try:
        check_bot_settings(settings)
    except ConfigurationError as exc:
        fail(exc.message)
    if settings.slack_mode == "http":
        run(_check_then_serve(settings, frozenset({"web", "bot"})))
    else:
        run(_serve(settings, frozenset({"bot"})))


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


def _register_commands() -> None:
    from oar.cli import (
        agents,
        approvals,
        config,
        demo,
        follows,
        github,
        notificator,
        sandbox,
        schedules,
        tasks,
    )

    cli.add_command(tasks.tasks)
    cli.add_command(approvals.approvals)
    cli.add_command(github.github)
    cli.add_command(config.config)
    cli.add_command(sandbox.sandbox)
    cli.add_command(demo.demo)
    cli.add_command(follows.follows)
    cli.add_command(follows.watches)  # hidden alias
    cli.add_command(schedules.schedules)
    cli.add_command(notificator.jira_notificator)
    cli.add_command(agents.start_release_detector)
    cli.add_command(agents.check_test_results)
    cli.add_command(agents.releases)


_register_commands()


def main() -> None:
    try:
        cli(prog_name="oarctl")
    except KeyboardInterrupt:
        fail("interrupted", code=130)


if __name__ == "__main__":
    main()
