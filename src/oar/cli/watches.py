"""``oarctl watches``: the release-approval watches — who started them, when, checks made,
next check — and cancelling one."""

from __future__ import annotations

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
from oar.release.watch import Watches, WatchInfo, WatchStatus


@click.group()
def watches() -> None:
    """Release-approval watches (oar change-advisory-status): list, show, cancel."""


@watches.command("list")
@click.option("--status", type=click.Choice([s.value for s in WatchStatus]))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
def watches_list(status: str | None, limit: int, as_json: bool) -> None:
    """List watches, newest first."""
    settings = settings_or_exit(quiet=True)

    async def fetch() -> list[WatchInfo]:
        async with client(settings) as service:
            store = Watches(service.db, service.tasks)
            return await store.list(status=WatchStatus(status) if status else None, limit=limit)

    found = run(fetch())
    if as_json:
        print_json([w.to_dict() for w in found])
        return
    table(
        "watches",
        ["ID", "RELEASE", "STATUS", "STARTED BY", "STARTED (UTC)", "CHECKS", "NEXT CHECK (UTC)"],
        (
            [
                w.id,
                w.release,
                w.status.value,
                w.started_by,
                when(w.started_at),
                str(w.checks),
                when(w.next_check_at),
            ]
            for w in found
        ),
    )


@watches.command("show")
@click.argument("watch_id")
@json_option
def watches_show(watch_id: str, as_json: bool) -> None:
    """Show one watch with its log."""
    settings = settings_or_exit(quiet=True)

    async def fetch() -> tuple[WatchInfo, str | None, set[str]]:
        async with client(settings) as service:
            watch = await Watches(service.db, service.tasks).get(watch_id)
            holder = await service.tasks.executor_of(watch_id)
            alive = {w["id"] for w in await service.engine.alive_workers()}
            return watch, holder, alive

    watch, holder, alive = run(fetch())
    if as_json:
        print_json({**watch.to_dict(), "executor": holder, "executor_alive": holder in alive})
        return
    if watch.status is not WatchStatus.RUNNING:
        executor = None
    elif holder is None:
        executor = f"none yet (waiting in the queue; {len(alive)} live worker(s))"
    elif holder in alive:
        executor = f"{holder} (alive)"
    else:
        executor = f"{holder} (NOT alive: start a worker with OAR_EXECUTOR_ID={holder})"
    _print(watch, as_json=False, executor=executor)


@watches.command("cancel")
@click.argument("watch_id")
@json_option
def watches_cancel(watch_id: str, as_json: bool) -> None:
    """Stop a running watch; the release task records Fail."""
    settings = settings_or_exit(quiet=True)

    async def act() -> WatchInfo:
        async with client(settings) as service:
            actor = current_actor()
            return await Watches(service.db, service.tasks).cancel(
                watch_id, actor=actor.name, interface=actor.interface
            )

    _print(run(act()), as_json=as_json)


def _print(watch: WatchInfo, *, as_json: bool, executor: str | None = None) -> None:
    if as_json:
        print_json(watch.to_dict())
        return
    thread = f"{watch.slack_channel}/{watch.slack_thread}" if watch.slack_thread else "-"
    out.print(
        f"[bold]{watch.id}[/] {watch.release} [bold]{watch.status.value}[/]\n"
        f"started by {watch.started_by} via {watch.interface} at {when(watch.started_at)} UTC,"
        f" Slack thread {thread}\n"
        f"checks {watch.checks}, last {when(watch.last_check_at) or '-'},"
        f" next {when(watch.next_check_at) or '-'}, deadline {when(watch.deadline_at) or '-'}\n"
        f"error: {short(watch.error, 200) or '-'}",
        highlight=False,
    )
    if executor is not None:
        out.print(f"executor: {executor}", highlight=False)
    for line in watch.log:
        out.print(line, highlight=False, markup=False)
