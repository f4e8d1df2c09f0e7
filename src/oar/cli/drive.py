"""``oar -r <release> drive``: run the release checklist as one durable workflow.

Starts the release's drive (:mod:`oar.release.drive`) or joins the running one, makes sure a
worker runs it, and returns at once; ``--dry-run`` prints the plan and changes nothing.
"""

from __future__ import annotations

import click

from oar.cli.actor import current_actor
from oar.cli.console import client, json_option, out, print_json, run
from oar.cli.release import release_of, release_settings
from oar.errors import InvalidArgumentError
from oar.release.checklist import TASKS
from oar.release.commands import check_email
from oar.release.driveplan import Plan
from oar.release.follows import FollowInfo
from oar.release.records import ReleaseInfo


@click.command("drive")
@click.option(
    "--until", type=click.Choice(TASKS), help="Stop once this task (and what it needs) is done."
)
@click.option(
    "-e",
    "--email",
    metavar="EMAIL",
    help="The QE owner take-ownership sets (when the release has none).",
)
@click.option(
    "--interval",
    type=click.FloatRange(1, 86400),
    default=60.0,
    show_default=True,
    help="Seconds between the drive's looks at the release while it waits.",
)
@click.option(
    "--dry-run", "plan_only", is_flag=True, help="Print the plan; start nothing, change nothing."
)
@json_option
@click.pass_context
def drive(
    ctx: click.Context,
    until: str | None,
    email: str | None,
    interval: float,
    plan_only: bool,
    as_json: bool,
) -> None:
    """Drive the release checklist: run each ready task in order, wait on follows, stop at
    blockers and at human gates (approved in the drive's Slack thread), resume by itself
    when they clear. Running it again joins the running drive. Cancel it with
    oarctl follows cancel drive:<release>."""
    from oar.release.drive import DriveRequest, dry_run, plan_lines, start_drive

    version = release_of(ctx)
    settings = release_settings(ctx)
    if email is not None:
        try:
            email = check_email(email)
        except InvalidArgumentError as exc:  # a usage error (exit 2), nothing started
            raise click.BadParameter(
                f"{email} is not a valid email", param_hint="-e/--email"
            ) from exc

    if plan_only:

        async def fetch() -> tuple[ReleaseInfo, Plan]:
            async with client(settings) as service:
                return await dry_run(settings, service.db, version, until)

        info, planned = run(fetch())
        if as_json:
            print_json({"release": info.release, "dry_run": True, **planned.to_dict()})
            return
        for line in plan_lines(info, planned):
            out.print(line, highlight=False)
        return

    async def act() -> tuple[FollowInfo, bool, str | None]:
        from oar.adapters import EngineFollows

        async with client(settings) as service:
            actor = current_actor()
            request = DriveRequest(
                release=version,
                until=until,
                email=email,
                actor=actor.name,
                interface=actor.interface,
                slack_channel=actor.slack_channel,
                slack_thread=actor.slack_thread,
                interval=interval,
            )
            follow, created = await start_drive(settings, service.db, service.tasks, request)
            worker = await EngineFollows(service, settings).keep_alive(follow.id)
            return follow, created, worker

    follow, created, worker = run(act())
    if as_json:
        print_json({"drive": follow.to_dict(), "joined": not created, "worker": worker})
        return
    if created:
        where = follow.channel or "the logs"
        out.print(f"started: drive {follow.id} of {version.text}; it reports in {where}")
    else:
        out.print(f"{follow.already_text('drive')}; joined it")
    if worker:
        out.print(worker)
