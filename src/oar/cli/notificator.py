"""``oarctl jira-notificator``: one run of the Jira notificator, from a terminal or CI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from oar.cli.console import fail, json_option, out, print_json, run, settings_or_exit


@click.command("jira-notificator")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (which bug, which step, who is mentioned) and write nothing:"
    " no comment, no label, no Need Info From, no database row but the run's record.",
)
@click.option(
    "--from-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only bugs that moved to ON_QA after this day (YYYY-MM-DD).",
)
@json_option
def jira_notificator(dry_run: bool, from_date: datetime | None, as_json: bool) -> None:
    """Chase ON_QA bugs: QA contact, team lead, then manager (LDAP) after 24 weekday hours
    each, then the label ert:pending-onqa-over-96hrs.

    A bug whose GitHub pull requests (its Jira remote links) all carry the verified label
    is skipped (pre-merge verified); without GITHUB_TOKEN that check is off.

    Exit status: 0 when every bug was handled, 1 when a bug (or the search) failed; each
    failure is listed with its reason. A pre-merge check that failed is a warning: the bug
    is chased as not verified.
    """
    settings = settings_or_exit(quiet=True)

    async def once() -> dict[str, Any]:
        from oar.agents.notificator import run_once
        from oar.db import Database

        async with Database(settings.database_url, write_turn=settings.sqlite_write_turn) as db:
            await db.upgrade()
            summary = await run_once(
                settings,
                db,
                dry_run=dry_run,
                from_date=from_date.date() if from_date else None,
            )
            return summary.to_dict()

    summary = run(once())
    if as_json:
        print_json(summary)
    else:
        _print(summary)
    if summary["error"]:
        fail(f"the Jira search failed: {summary['error']}")
    if summary["failed"]:
        raise SystemExit(1)


def _print(summary: dict[str, Any]) -> None:
    dry = summary["dry_run"]
    verb = "would post" if dry else "posted"
    out.print(
        f"jira-notificator run {summary['run_id']}{' (dry run: nothing written)' if dry else ''}:"
        f" {len(summary['bugs'])} ON_QA bugs",
        highlight=False,
    )
    for note in summary["notes"]:
        out.print(f"  note: {note}", highlight=False)
    for item in summary["posted"]:
        who = ", ".join(f"{m['name']} ({m['account_id']})" for m in item.get("mentions") or [])
        instead = f" instead of {item['instead_of']}" if item.get("instead_of") else ""
        what = f"label {item['label']}" if item.get("label") else f"mentioning {who or 'nobody'}"
        out.print(f"  {verb} {item['key']}: {item['tier']}{instead}, {what}", highlight=False)
    for item in summary["skipped"]:
        out.print(f"  skipped {item['key']}: {item['reason']}", highlight=False)
    for item in summary["failed"]:
        out.print(f"  FAILED {item['key']}: {item['reason']}", highlight=False)
    for item in summary["warnings"]:
        out.print(f"  WARNING {item['key']}: {item['reason']}", highlight=False)
    out.print(
        f"{len(summary['posted'])} {verb}, {len(summary['waiting'])} not due,"
        f" {len(summary['skipped'])} skipped, {len(summary['failed'])} failed,"
        f" {len(summary['warnings'])} warnings",
        highlight=False,
    )
