"""Rendering for the CLIs: rich tables for people, ``--json`` for scripts, clean errors."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import uvloop
from rich.console import Console
from rich.table import Table

from oar.errors import ConfigurationError, OarError
from oar.logs import configure_logging, scrub

if TYPE_CHECKING:
    # Imported where used: `oar --help` and `oar -r X status` must not load the engine.
    from oar.service import Service
    from oar.settings import Settings

T = TypeVar("T")

# Piped output (scripts, tests, `| grep`) gets wide lines instead of an 80-column wrap.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 250)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 250)


def fail(message: str, *, code: int = 1) -> NoReturn:
    # An error can quote what failed (a URL, a header): never a secret.
    err.print(f"[bold red]error:[/] {scrub(message)}", highlight=False)
    raise SystemExit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine for a command, turning OAR errors into one line and an exit code.

    The loop is uvloop's: the service's hot paths (HTTP parsing, socket writes, the
    database drivers' callbacks) run measurably faster on it (docs/benchmarks.md).
    """
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    except ConfigurationError as exc:
        fail(exc.message, code=2)
    except OarError as exc:
        fail(exc.message)


def settings_or_exit(*, quiet: bool = False, **overrides: Any) -> Settings:
    """Load settings (environment + .env + command-line overrides) or exit with status 2.

    ``quiet`` (one-shot commands) logs warnings and errors only, unless OAR_LOG_LEVEL=DEBUG.
    """
    from oar.settings import load_settings

    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigurationError as exc:
        fail(exc.message, code=2)
    level = settings.log_level
    if quiet and level == "INFO":
        level = "WARNING"
    configure_logging(level=level, fmt=settings.log_format, secrets=settings.secret_values())
    return settings


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
        count += 1
    if count:
        out.print(grid)
    else:
        out.print(f"{title}: none")


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)


def handles_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """For synchronous commands: print OAR errors as one line."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigurationError as exc:
            fail(exc.message, code=2)
        except OarError as exc:
            fail(exc.message)

    return wrapper


@contextlib.asynccontextmanager
async def client(settings: Settings) -> AsyncIterator[Service]:
    from oar.service import Service

    async with Service(settings, roles=()) as service:
        yield service


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def short(text: str | None, limit: int = 60) -> str:
    if not text:
        return ""
    line = text.splitlines()[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def whoami() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def until_signal() -> None:
    """Wait for SIGINT or SIGTERM (a long-running command's main loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
