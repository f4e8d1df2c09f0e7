"""``oar -r <release> status | bugs | task | issue | statebox``: read and edit the release
state.

Loaded by the ``oar`` group only when one of these commands runs (see :mod:`oar.cli.oar`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from oar.cli.actor import current_actor
from oar.cli.console import (
    fail,
    json_option,
    out,
    print_json,
    run,
    short,
    table,
    when,
)
from oar.cli.release import release_of, release_settings, release_state, tracked_release
from oar.errors import ConfigurationError
from oar.release import statebox
from oar.release.buglist import BugRecord
from oar.release.checklist import TASKS, OverallStatus, TaskStatus
from oar.release.records import IssueInfo, ReleaseInfo, RunInfo, TaskInfo
from oar.settings import Settings

STATUS_CHOICE = click.Choice([s.value for s in TaskStatus], case_sensitive=False)


# --- status ---------------------------------------------------------------------------------
@click.command()
@click.option("--logs", is_flag=True, help="Include each task's log (JSON) or last line (table).")
@json_option
@click.pass_context
def status(ctx: click.Context, logs: bool, as_json: bool) -> None:
    """Show the release's checklist, overall status and blockers."""
    version = release_of(ctx)
    settings = release_settings(ctx)

    async def fetch() -> ReleaseInfo:
        async with release_state(settings) as state:
            return await tracked_release(state, settings, version)

    info = run(fetch())
    if as_json:
        print_json(info.to_dict(with_logs=logs))
        return
    _print_release(info, logs=logs)


# --- bugs ---------------------------------------------------------------------------------
@click.command()
@click.option("--all", "show_all", is_flag=True, help="Include bugs no longer attached.")
@json_option
@click.pass_context
def bugs(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Show the release's bugs as update-bug-list last recorded them (no credential needed)."""
    version = release_of(ctx)
    settings = release_settings(ctx)

    async def fetch() -> list[BugRecord]:
        async with release_state(settings) as state:
            return await state.bugs(version)

    found = run(fetch())
    if as_json:
        print_json({"release": version.text, "bugs": [b.to_dict() for b in found]})
        return
    shown = found if show_all else [b for b in found if b.attached]
    detached = len(found) - len([b for b in found if b.attached])
    table(
        f"bugs of {version.text}",
        ["KEY", "STATUS", "SEVERITY", "QA CONTACT", "SOURCES", "SUMMARY", "LAST CHANGED (UTC)"],
        (_bug_row(b) for b in shown),
    )
    if detached and not show_all:
        out.print(f"{detached} detached bug(s) not shown (--all shows them)", highlight=False)


def _bug_row(bug: BugRecord) -> list[Any]:
    status = bug.status
    if bug.new:
        status += " (new)"
    if not bug.attached:
        status += " (detached)"
    return [
        bug.key,
        status,
        ", ".join(s.value.replace("_", " ") for s in sorted(bug.severity)),
        bug.qa_contact or "",
        ", ".join(bug.sources),
        short(bug.summary, 70),
        when(bug.last_changed),
    ]


_OVERALL_COLOURS = {
    OverallStatus.NOT_STARTED: "default",
    OverallStatus.IN_PROGRESS: "yellow",
    OverallStatus.BLOCKED: "red",
    OverallStatus.DONE: "green",
}


def _print_release(info: ReleaseInfo, *, logs: bool) -> None:
    overall = info.overall
    colour = _OVERALL_COLOURS[overall]
    flow = info.flow.value if info.flow else "unknown"
    out.print(
        f"release {info.release} ({flow} flow):"
        f" [bold {colour}]{overall.symbol} {overall.value.upper()}[/]",
        highlight=False,
    )
    meta = info.metadata
    details = [
        ("jira ticket", meta.get("jira_ticket")),
        ("release date", meta.get("release_date")),
        ("shipment MR", meta.get("shipment_mr")),
        (
            "advisories",
            ", ".join(f"{k}: {v}" for k, v in (meta.get("advisory_ids") or {}).items()),
        ),
    ]
    for label, value in details:
        if value:
            out.print(f"  {label}: {value}", highlight=False)
    columns = ["TASK", "STATUS", "STARTED (UTC)", "COMPLETED (UTC)"]
    if logs:
        columns.append("LAST LOG LINE")
    table(
        "checklist",
        columns,
        (_task_row(t, logs=logs) for t in info.tasks),
    )
    table(
        "blockers",
        ["#", "ISSUE", "TASKS", "REPORTED (UTC)"],
        (
            [i.id, i.text, ", ".join(i.related_tasks), when(i.reported_at)]
            for i in info.open_blockers
        ),
    )
    others = [i for i in info.issues if i not in info.open_blockers]
    if others:
        _print_issues(others, title="other issues")


def _task_row(task: TaskInfo, *, logs: bool) -> list[Any]:
    row: list[Any] = [task.name, task.status.value, when(task.started_at), when(task.completed_at)]
    if logs:
        last = (task.log or "").strip().splitlines()
        row.append(short(last[-1] if last else "", 100))
    return row


def _print_issues(issues: list[IssueInfo], *, title: str) -> None:
    table(
        title,
        ["#", "ISSUE", "BLOCKER", "TASKS", "RESOLVED", "RESOLUTION"],
        (
            [
                i.id,
                i.text,
                "yes" if i.blocker else "no",
                ", ".join(i.related_tasks),
                when(i.resolved_at) if i.resolved else "no",
                i.resolution or "",
            ]
            for i in issues
        ),
    )


# --- task -----------------------------------------------------------------------------------
@click.command("task")
@click.argument("name", type=click.Choice(TASKS))
@click.option("-s", "--status", "new_status", type=STATUS_CHOICE, help="Set the task's status.")
@click.option("--note", help="Why (recorded as the run's log).")
@click.option("--runs", type=click.IntRange(1, 500), default=10, show_default=True)
@json_option
@click.pass_context
def task_command(
    ctx: click.Context,
    name: str,
    new_status: str | None,
    note: str | None,
    runs: int,
    as_json: bool,
) -> None:
    """Show a task (its log and runs), or set its status by hand with --status."""
    version = release_of(ctx)
    settings = release_settings(ctx)

    async def act() -> tuple[ReleaseInfo, list[RunInfo]]:
        async with release_state(settings) as state:
            await tracked_release(state, settings, version)
            if new_status is not None:
                actor = current_actor()
                await state.set_task_status(
                    version,
                    name,
                    new_status,
                    actor=actor.name,
                    interface=actor.interface,
                    note=note,
                )
            return await state.get(version), await state.runs(version, task=name, limit=runs)

    info, history = run(act())
    task = info.task(name)
    if as_json:
        print_json({**task.to_dict(), "runs": [r.to_dict() for r in history]})
        return
    if new_status is not None:
        out.print(f"{info.release} {name}: {task.status.value}", highlight=False)
        return
    out.print(
        f"{info.release} {name}: {task.status.value}"
        f" (started {when(task.started_at) or '-'}, completed {when(task.completed_at) or '-'})",
        highlight=False,
    )
    if task.log:
        out.print(task.log, highlight=False, markup=False)
    table(
        "runs",
        ["#", "STATUS", "STARTED (UTC)", "ENDED (UTC)", "BY", "VIA"],
        (
            [r.id, r.status.value, when(r.started_at), when(r.ended_at), r.actor, r.interface]
            for r in history
        ),
    )


# --- issues ---------------------------------------------------------------------------------
@click.group()
def issue() -> None:
    """Report and resolve issues and blockers of the release."""


@issue.command("add")
@click.argument("text")
@click.option("--blocker/--no-blocker", default=True, show_default=True)
@click.option(
    "-t", "--task", "tasks", multiple=True, type=click.Choice(TASKS), help="Related task."
)
@json_option
@click.pass_context
def issue_add(
    ctx: click.Context, text: str, blocker: bool, tasks: tuple[str, ...], as_json: bool
) -> None:
    """Report an issue (a blocker unless --no-blocker)."""
    version = release_of(ctx)
    settings = release_settings(ctx)

    async def act() -> IssueInfo:
        async with release_state(settings) as state:
            await tracked_release(state, settings, version)
            return await state.add_issue(
                version, text, blocker=blocker, related_tasks=tasks, actor=current_actor().name
            )

    found = run(act())
    if as_json:
        print_json(found.to_dict())
    else:
        kind = "blocker" if found.blocker else "issue"
        out.print(f"{version} {kind} #{found.id}: {found.text}", highlight=False)


@issue.command("resolve")
@click.argument("issue_id", type=int)
@click.option("--resolution", required=True, help="How it was resolved.")
@json_option
@click.pass_context
def issue_resolve(ctx: click.Context, issue_id: int, resolution: str, as_json: bool) -> None:
    """Resolve issue ISSUE_ID (see `oar -r <release> status`)."""
    version = release_of(ctx)
    settings = release_settings(ctx)

    async def act() -> IssueInfo:
        async with release_state(settings) as state:
            return await state.resolve_issue(
                version, issue_id, resolution, actor=current_actor().name
            )

    found = run(act())
    if as_json:
        print_json(found.to_dict())
    else:
        out.print(f"{version} issue #{found.id} resolved: {found.resolution}", highlight=False)


# --- the release itself ----------------------------------------------------------------------
@click.group("release")
def release_group() -> None:
    """The release record itself: delete one created by mistake."""


@release_group.command("delete")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def release_delete(ctx: click.Context, yes: bool) -> None:
    """Delete the release and everything recorded for it (tasks, runs, issues, bugs,
    follows): for a release created by mistake. Refused while work for it runs."""
    version = release_of(ctx)
    settings = release_settings(ctx)
    if not yes:
        click.confirm(
            f"Delete release {version} and every task, run, issue and bug recorded for it?",
            abort=True,
            err=True,
        )

    async def act() -> None:
        async with release_state(settings) as state:
            await state.delete(version)

    run(act())
    out.print(f"release {version} deleted", highlight=False)


# --- StateBox export ----------------------------------------------------------------------------
@click.group("statebox")
def statebox_group() -> None:
    """The StateBox YAML document (the original tool's state file)."""


@statebox_group.command("export")
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--write",
    is_flag=True,
    help="Also commit it to OAR_GITHUB_REPO (branch z-stream) with GITHUB_TOKEN.",
)
@click.option("--branch", default=statebox.BRANCH, show_default=True)
@click.pass_context
def statebox_export(ctx: click.Context, out_file: Path | None, write: bool, branch: str) -> None:
    """Print the release's StateBox YAML (schema 1.0), or write it to a file or GitHub."""
    version = release_of(ctx)
    settings = release_settings(ctx)
    if write and settings.github_token is None:
        fail("statebox export --write needs GITHUB_TOKEN", code=2)

    async def act() -> tuple[str, str | None]:
        async with release_state(settings) as state:
            info = await tracked_release(state, settings, version)
        document = statebox.statebox_document(info)
        sha = None
        if write:
            sha = await statebox.write(_repository_files(settings), document, branch=branch)
        return statebox.dump(document), sha

    text, sha = run(act())
    if out_file is not None:
        out_file.write_text(text, encoding="utf-8")
    elif not write:
        click.echo(text, nl=False)
    if sha is not None:
        path = statebox.statebox_path(version.text)
        out.print(f"wrote {settings.github_repo}:{branch}/{path} (sha {sha[:12]})", highlight=False)


def _repository_files(settings: Settings) -> Any:
    """The GitHub files adapter (githubkit) over OAR_GITHUB_REPO."""
    from oar.integrations import github

    adapter = getattr(github, "GitHubRepositoryFiles", None)
    if adapter is None:
        raise ConfigurationError("this OAR has no GitHub files adapter; --write is unavailable")
    return adapter.from_settings(settings)
