"""``oarctl follows``: the durable follows (release-approval watches are one kind) — who
started them, when, checks made, next check — cancelling one, and running its next check
now. ``oarctl watches`` is a hidden alias kept for the commands people already type."""

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
from oar.release.follows import FollowInfo, Follows, FollowStatus


@click.group(short_help="Durable follows: list, show, cancel, check-now.")
def follows() -> None:
    """Durable follows (e.g. the release-approval watch of oar change-advisory-status):
    list, show, cancel, check-now."""


@follows.command("list")
@click.option("--kind", help="Only follows of this kind (e.g. approval).")
@click.option("--status", type=click.Choice([s.value for s in FollowStatus]))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
def follows_list(kind: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List follows, newest first."""
    settings = settings_or_exit(quiet=True)

    async def fetch() -> list[FollowInfo]:
        async with client(settings) as service:
            store = Follows(service.db, service.tasks)
            return await store.list(
                kind=kind, status=FollowStatus(status) if status else None, limit=limit
            )

    found = run(fetch())
    if as_json:
        print_json([f.to_dict() for f in found])
        return
    table(
        "follows",
        [
            "ID",
            "KIND",
            "RELEASE",
            "STATUS",
            "STARTED BY",
            "STARTED (UTC)",
            "CHECKS",
            "NEXT CHECK (UTC)",
        ],
        (
            [
                f.id,
                f.kind,
                f.release or "-",
                f.status.value,
                f.started_by,
                when(f.started_at),
                str(f.checks),
                when(f.next_check_at),
            ]
            for f in found
        ),
    )


@follows.command("show")
@click.argument("follow_id")
@json_option
def follows_show(follow_id: str, as_json: bool) -> None:
    """Show one follow with its log and the worker that runs it."""
    settings = settings_or_exit(quiet=True)

    async def fetch() -> tuple[FollowInfo, str | None, set[str]]:
        async with client(settings) as service:
            follow = await Follows(service.db, service.tasks).get(follow_id)
            holder = await service.tasks.executor_of(follow_id)
            alive = {w["id"] for w in await service.engine.alive_workers()}
            return follow, holder, alive

    follow, holder, alive = run(fetch())
    if as_json:
        print_json({**follow.to_dict(), "executor": holder, "executor_alive": holder in alive})
        return
    if follow.status is not FollowStatus.RUNNING:
        executor = None
    elif holder is None:
        executor = f"none yet (waiting in the queue; {len(alive)} live worker(s))"
    elif holder in alive:
        executor = f"{holder} (alive)"
    else:
        executor = f"{holder} (NOT alive: start a worker with OAR_EXECUTOR_ID={holder})"
    _print(follow, as_json=False, executor=executor)


@follows.command("cancel")
@click.argument("follow_id")
@json_option
def follows_cancel(follow_id: str, as_json: bool) -> None:
    """Stop a running follow; the release task it holds records Cancelled."""
    settings = settings_or_exit(quiet=True)

    async def act() -> FollowInfo:
        async with client(settings) as service:
            actor = current_actor()
            return await Follows(service.db, service.tasks).cancel(
                follow_id, actor=actor.name, interface=actor.interface
            )

    _print(run(act()), as_json=as_json)


@follows.command("check-now")
@click.argument("follow_id")
@json_option
def follows_check_now(follow_id: str, as_json: bool) -> None:
    """Run a running follow's next check at once (no need to cancel it to see it end)."""
    settings = settings_or_exit(quiet=True)

    async def act() -> tuple[FollowInfo, bool]:
        async with client(settings) as service:
            actor = current_actor()
            return await Follows(service.db, service.tasks).check_now(
                follow_id, actor=actor.name, interface=actor.interface
            )

    follow, woken = run(act())
    if as_json:
        print_json({**follow.to_dict(), "woken": woken})
        return
    if woken:
        out.print(f"{follow.id}: the next check runs now", highlight=False)
    elif follow.status is FollowStatus.RUNNING:
        out.print(
            f"{follow.id}: not waiting in a worker yet; its first check runs as soon as a"
            " worker takes it (see oarctl follows show)",
            highlight=False,
        )
    else:
        out.print(f"{follow.id} is {follow.status.value}: nothing to check", highlight=False)


# ``oarctl watches …``: the name before follows existed, kept working, not advertised.
watches = click.Group(
    "watches",
    commands=dict(follows.commands),
    hidden=True,
    help="Alias of 'oarctl follows'.",
)


def _print(follow: FollowInfo, *, as_json: bool, executor: str | None = None) -> None:
    if as_json:
        print_json(follow.to_dict())
        return
    thread = f"{follow.slack_channel}/{follow.slack_thread}" if follow.slack_thread else "-"
    out.print(
        f"[bold]{follow.id}[/] ({follow.kind}) {follow.release or follow.subject}"
        f" [bold]{follow.status.value}[/]\n"
        f"started by {follow.started_by} via {follow.interface} at {when(follow.started_at)} UTC,"
        f" Slack thread {thread}\n"
        f"checks {follow.checks}, last {when(follow.last_check_at) or '-'},"
        f" next {when(follow.next_check_at) or '-'}, deadline {when(follow.deadline_at) or '-'}\n"
        f"error: {short(follow.error, 200) or '-'}",
        highlight=False,
    )
    if executor is not None:
        out.print(f"executor: {executor}", highlight=False)
    for line in follow.log:
        out.print(line, highlight=False, markup=False)
