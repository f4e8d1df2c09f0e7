"""``oarctl`` entries of the agents: one pass of the release detector or the test-result
checker now, and the active releases. The same passes run as schedules in a worker
(docs/agents.md); the database makes them idempotent whichever runs them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import click

from oar.cli.console import client, json_option, out, print_json, run, settings_or_exit, table
from oar.errors import InvalidVersionError
from oar.jsonvalue import JSON


def _y_stream(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from oar.release.versions import parse_y_stream

    try:
        return parse_y_stream(value)
    except InvalidVersionError:
        raise click.BadParameter(
            f"Invalid OCP minor version {value!r}: use X.Y, e.g. 4.19"
        ) from None


@click.command("start-release-detector")
@click.option(
    "-r",
    "--release",
    "y_stream",
    prompt="OCP minor version (X.Y)",
    callback=_y_stream,
    help="The y-stream to check, e.g. 4.19.",
)
@json_option
def start_release_detector(y_stream: str, as_json: bool) -> None:
    """Run the release detector once for a y-stream: ART's latest z-stream release versus
    the latest stable one; a new release gets its report (create-test-report), once.
    Exits 1 when a version could not be read or the report's creation failed."""
    from oar.agents.detector import detect

    settings = settings_or_exit(quiet=True)

    async def once() -> dict[str, JSON]:
        async with client(settings) as service:
            by = f"cli:{uuid.uuid4()}"
            return await detect(settings, service.db, y_stream, trigger="cli", by=by)

    report = run(once())
    if as_json:
        print_json(report)
    else:
        out.print(str(report["message"]), highlight=False)
    if not report["ok"]:
        raise SystemExit(1)


@click.command("check-test-results")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help="At most this many announcements on the first run (OAR_RESULT_CHECKER_LIMIT).",
)
@click.option("--channel", help="Slack channel to announce in (OAR_RESULT_CHECKER_CHANNEL).")
@json_option
def check_test_results(limit: int | None, channel: str | None, as_json: bool) -> None:
    """Run the test-result checker once: announce each rejected build not announced yet."""
    from oar.agents.resultchecker import check
    from oar.release.notifications import RecordingNotifier

    settings = settings_or_exit(quiet=True)

    async def once() -> dict[str, JSON]:
        async with client(settings) as service:
            notifier = RecordingNotifier.from_settings(settings, service.db)
            try:
                return await check(
                    settings,
                    service.db,
                    notifier,
                    by=f"cli:{uuid.uuid4()}",
                    limit=limit,
                    channel=channel,
                )
            finally:
                await notifier.close()

    report = run(once())
    if as_json:
        print_json(report)
        return
    announced = report["announced"]
    skipped = report["skipped"]
    failed = report["failed"]
    assert isinstance(announced, list)
    assert isinstance(skipped, list)
    assert isinstance(failed, dict)
    out.print(
        f"{report['files']} result files, {report['read']} read, {len(announced)} rejected"
        f" build(s) announced"
        + (f", {len(skipped)} skipped (first run)" if skipped else "")
        + (f", {len(failed)} failed" if failed else ""),
        highlight=False,
    )
    for path in announced:
        out.print(f"  announced {path}", highlight=False)
    for path, error in failed.items():
        out.print(f"  failed {path}: {error}", highlight=False)


@click.group("releases")
def releases() -> None:
    """Releases across y-streams."""


@releases.command("active")
@click.option(
    "--keep-days",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="A release stays active this many days after its release date.",
)
@click.option("--all", "show_all", is_flag=True, help="Also list inactive candidates, and why.")
@json_option
def releases_active(keep_days: int, show_all: bool, as_json: bool) -> None:
    """List the active releases: each y-stream's latest z-stream release in ART's files,
    until its release date plus --keep-days."""
    from oar.agents.releases import active_releases, art_files

    settings = settings_or_exit(quiet=True)

    async def fetch() -> list[dict[str, JSON]]:
        async with client(settings) as service:
            found = await active_releases(
                art_files(settings),
                service.db,
                today=datetime.now(UTC).date(),
                keep_days=keep_days,
                include_inactive=show_all,
            )
            return [v.to_dict() for v in found]

    found = run(fetch())
    if as_json:
        print_json(found)
        return
    table(
        "active releases" if not show_all else "releases",
        ["RELEASE", "Y-STREAM", "RELEASE DATE", "ACTIVE", "WHY"],
        (
            [
                v["release"],
                v["y_stream"],
                v["release_date"] or "",
                "yes" if v["active"] else "no",
                v["reason"],
            ]
            for v in found
        ),
    )
