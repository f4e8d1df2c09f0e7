"""``oarctl schedules``: list schedules, run one now, pause and resume them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import click

from oar.cli.actor import current_actor
from oar.cli.console import (
    client,
    json_option,
    out,
    print_json,
    run,
    settings_or_exit,
    short,
    table,
    when,
)
from oar.engine import ScheduleInfo
from oar.service import Service

PLUGIN_OPTION = click.option(
    "--plugin",
    "plugins",
    multiple=True,
    help="Module registering schedules (OAR_PLUGINS): shows them before a worker started them.",
)


@click.group()
def schedules() -> None:
    """Periodic durable workflows: list, run now, pause, resume."""


@schedules.command("list")
@PLUGIN_OPTION
@json_option
def schedules_list(plugins: tuple[str, ...], as_json: bool) -> None:
    """List schedules: cadence, state, last run and next run."""
    settings = settings_or_exit(quiet=True, OAR_PLUGINS=",".join(plugins) or None)

    async def fetch() -> list[ScheduleInfo]:
        async with client(settings) as service:
            return await service.schedules.list()

    found = run(fetch())
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    table(
        "schedules",
        ["NAME", "EVERY", "STATE", "LAST RUN (UTC)", "LAST STATUS", "NEXT RUN (UTC)", "ABOUT"],
        (
            [
                s.name,
                s.every,
                s.state,
                when(s.last_run.at) if s.last_run else "",
                s.last_run.status.value if s.last_run else "",
                when(s.next_run),
                short(s.description),
            ]
            for s in found
        ),
    )


def _act(
    name: str,
    as_json: bool,
    action: Callable[[Service, str, str], Awaitable[ScheduleInfo]],
    verb: str,
) -> None:
    settings = settings_or_exit(quiet=True)

    async def act() -> ScheduleInfo:
        async with client(settings) as service:
            actor = current_actor()
            return await action(service, actor.name, actor.interface)

    info = run(act())
    if as_json:
        print_json(info.to_dict())
    else:
        out.print(f"schedule {info.name} {verb} ({info.state})", highlight=False)


@schedules.command("pause")
@click.argument("name")
@json_option
def schedules_pause(name: str, as_json: bool) -> None:
    """Stop the clock firing schedule NAME (run-now still works)."""
    _act(
        name,
        as_json,
        lambda s, who, via: s.schedules.pause(name, actor=who, interface=via),
        "paused",
    )


@schedules.command("resume")
@click.argument("name")
@json_option
def schedules_resume(name: str, as_json: bool) -> None:
    """Let the clock fire schedule NAME again."""
    _act(
        name,
        as_json,
        lambda s, who, via: s.schedules.resume(name, actor=who, interface=via),
        "resumed",
    )


@schedules.command("run-now")
@click.argument("name")
@json_option
def schedules_run_now(name: str, as_json: bool) -> None:
    """Enqueue one run of schedule NAME at once (a worker runs it; also while paused)."""
    settings = settings_or_exit(quiet=True)

    async def act() -> str:
        async with client(settings) as service:
            actor = current_actor()
            return await service.schedules.run_now(
                name, actor=actor.name, interface=actor.interface
            )

    workflow_id = run(act())
    if as_json:
        print_json({"name": name, "workflow_id": workflow_id})
    else:
        out.print(f"schedule {name}: run {workflow_id} queued", highlight=False)
