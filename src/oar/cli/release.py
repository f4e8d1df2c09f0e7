"""The glue between the ``oar`` group and the release model: the release option, tracked
commands, and opening the release state.

A checklist command is a :class:`~oar.release.commands.ReleaseCommand` in the registry;
:func:`run_registered` runs one as a tracked run (In Progress, then Pass or Fail with the
captured log, also on exceptions and Ctrl-C) with the ports of the release's flow opened
once (:func:`oar.adapters.open_ports`), and prints its outcome (``--json``: the outcome's
dictionary). :func:`release_command` makes an ad-hoc async body a tracked command (the
acceptance tests' throwaway commands use it)::

    @release_command("stage-testing", name="sleepy")
    @click.option("--seconds", type=float, default=120.0)
    async def sleepy(ctx: ReleaseContext, seconds: float) -> None:
        ...

Imports of the engine-side modules are local: ``oar -r X status`` must start fast.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from oar.cli.actor import current_actor
from oar.cli.console import err, fail, print_json, settings_or_exit
from oar.errors import ConfigurationError, InvalidArgumentError, OarError
from oar.logs import scrub
from oar.release.checklist import TaskStatus, task_name
from oar.release.versions import ReleaseVersion

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from oar.db import Database
    from oar.release.commands import ReleaseCommand
    from oar.release.ports import Ports
    from oar.release.records import ReleaseInfo
    from oar.release.state import ReleaseState
    from oar.release.tracking import Body, Invocation, Outcome, ReleaseContext
    from oar.settings import Settings


def release_of(ctx: click.Context) -> ReleaseVersion:
    """The validated ``-r/--release`` of the ``oar`` group; a usage error when absent."""
    root = ctx.find_root()
    version = (root.obj or {}).get("version")
    if version is None:
        raise click.UsageError("-r/--release is required, e.g. oar -r 4.19.3 status", ctx=root)
    assert isinstance(version, ReleaseVersion)
    return version


def release_settings(ctx: click.Context) -> Settings:
    """Settings for a release command: quiet console unless -v/--debug."""
    debug = bool((ctx.find_root().obj or {}).get("debug"))
    return settings_or_exit(quiet=not debug, OAR_LOG_LEVEL="DEBUG" if debug else None)


def release_command(
    task: str,
    *,
    requires: Sequence[str] = (),
    name: str | None = None,
    short_help: str | None = None,
) -> Callable[[Callable[..., Any]], click.Command]:
    """Make ``body(ctx, **options)`` a tracked ``oar`` command for checklist task ``task``."""
    task = task_name(task)

    def decorate(body: Callable[..., Any]) -> click.Command:
        def command(click_ctx: click.Context, **options: Any) -> None:
            from oar.release.tracking import Invocation

            version = release_of(click_ctx)
            settings = release_settings(click_ctx)
            actor = current_actor()
            invocation = Invocation(
                version=version,
                task=task,
                requires=tuple(requires),
                actor=actor.name,
                interface=actor.interface,
                slack_channel=actor.slack_channel,
                slack_thread=actor.slack_thread,
            )

            async def run(context: ReleaseContext) -> Outcome | None:
                result: Outcome | None = await body(context, **options)
                return result

            outcome = execute(invocation, run, settings=settings, task=task)
            if outcome.message:
                click.echo(outcome.message)
            if outcome.status is TaskStatus.FAIL:
                raise SystemExit(1)

        command.__doc__ = body.__doc__
        # Options declared under the decorator (on the body) belong to the command.
        params = getattr(body, "__click_params__", None)
        if params is not None:
            command.__click_params__ = params  # type: ignore[attr-defined]
        return click.command(name or task, short_help=short_help)(click.pass_context(command))

    return decorate


def run_registered(
    spec: ReleaseCommand, click_ctx: click.Context, options: Mapping[str, Any]
) -> None:
    """Run the registered command ``spec`` with the parsed ``options`` as a tracked run and
    print its outcome (``--json``: status, message, data and the irreversible steps done);
    exit 1 when it failed."""
    from oar.adapters import open_ports
    from oar.release.tracking import Invocation

    options = dict(options)
    as_json = bool(options.pop("as_json", False))
    try:
        spec.check_options(options)
    except InvalidArgumentError as exc:
        raise click.UsageError(exc.message, ctx=click_ctx) from exc
    version = release_of(click_ctx)
    settings = release_settings(click_ctx)
    actor = current_actor()
    invocation = Invocation(
        version=version,
        task=spec.name,
        ports={flow: spec.ports_for(flow) for flow in spec.flows},
        records_task=spec.records_run(options),
        actor=actor.name,
        interface=actor.interface,
        slack_channel=actor.slack_channel,
        slack_thread=actor.slack_thread,
    )
    body = spec.load_body()

    async def run(context: ReleaseContext) -> Outcome | None:
        return await body(context, **options)

    def opener(names: Sequence[str], db: Database | None) -> AbstractAsyncContextManager[Ports]:
        return open_ports(settings, names, db)

    outcome = execute(
        invocation,
        run,
        settings=settings,
        task=spec.name,
        open_ports=opener,
        recorded=spec.records_run(options),
    )
    if as_json:
        print_json(outcome.to_dict())
    elif outcome.message:
        click.echo(outcome.message)
    if outcome.status is TaskStatus.FAIL:
        raise SystemExit(1)


def execute(
    invocation: Invocation,
    body: Body,
    *,
    settings: Settings,
    task: str,
    open_ports: Callable[[Sequence[str], Database | None], AbstractAsyncContextManager[Ports]]
    | None = None,
    recorded: bool = True,
) -> Outcome:
    """Run a tracked body, turning its errors into one line and an exit code (``recorded``:
    whether the run records a checklist task, which the line then says)."""
    from oar.release.tracking import CommandInterruptedError, run_tracked

    as_fail = "recorded as Fail" if recorded else "no task recorded"
    try:
        return run_tracked(invocation, body, settings=settings, open_ports=open_ports)
    except CommandInterruptedError as exc:
        fail(f"{task} {exc}; {as_fail}", code=exc.exit_code)
    except ConfigurationError as exc:
        fail(exc.message, code=2)
    except OarError as exc:
        fail(f"{exc.message} ({as_fail} for {task})" if recorded else exc.message)
    except Exception as exc:
        # Said once, here: the run's own failure event goes to its task log only.
        if settings.log_level == "DEBUG":
            err.print(scrub("".join(traceback.format_exception(exc)).rstrip()), highlight=False)
            fail(f"{task} failed; {as_fail}")
        fail(
            f"{task} failed: {type(exc).__name__}: {exc}; {as_fail} (run with -v for the traceback)"
        )


@contextlib.asynccontextmanager
async def release_state(settings: Settings) -> AsyncIterator[ReleaseState]:
    """The release state in the configured database (schema brought up to date)."""
    from oar.db import Database
    from oar.release.state import ReleaseState

    settings.ensure_database_dir()
    async with Database(settings.database_url) as db:
        await db.upgrade()
        yield ReleaseState(db)


async def tracked_release(
    state: ReleaseState, settings: Settings, version: ReleaseVersion
) -> ReleaseInfo:
    """The release's state, creating its record from the configuration when missing."""
    if not await state.exists(version):
        from oar.release.configstore import ConfigStore  # build data, the JWE: only here

        if settings.config_file is None:
            await state.get(
                version,
                hint="no release command has run for it, and OAR_CONFIG_FILE is not set to"
                " read its configuration",
            )
        config = await ConfigStore.load(settings, version)
        await state.ensure_release(version, config.metadata())
    return await state.get(version)
