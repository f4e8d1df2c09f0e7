"""``jobctl``: the CI gate — trigger Prow jobs for release payloads and aggregate their results.

Each agent command runs one pass in this process (the schedules run the same passes in
the worker; docs/jobs.md). Bodies import the agents, the database and the client
libraries only when they run, so ``jobctl --help`` stays fast.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import click

from oar import __version__
from oar.cli.console import fail, json_option, out, print_json, run, settings_or_exit, table

if TYPE_CHECKING:
    from oar.agents.controller import GatePorts
    from oar.settings import Settings

ARCHES = ("amd64", "arm64", "multi", "ppc64le", "s390x")
ARCH_OPTION = click.option(
    "--arch",
    type=click.Choice(ARCHES),
    default="amd64",
    show_default=True,
    help="Architecture of the builds.",
)
BUILD_OPTION = click.option("--build", "-b", required=True, help="Build name (4.19.3, a nightly).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="jobctl")
def cli() -> None:
    """Trigger Prow jobs for release payloads and aggregate their results."""


@contextlib.asynccontextmanager
async def _gate(settings: Settings, *, trigger: bool = True) -> AsyncIterator[GatePorts]:
    from oar.agents.gate import gate_ports, require_trigger_credentials
    from oar.cli.console import whoami
    from oar.db import Database

    if trigger:
        require_trigger_credentials(settings)
    settings.ensure_database_dir()
    async with Database(settings.database_url) as db:
        await db.upgrade()
        yield gate_ports(settings, db, claimant=f"jobctl:{whoami()}")


def _show(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    if as_json:
        print_json(data)
    else:
        human()


# --- the agents ------------------------------------------------------------------------


@cli.command("start-controller")
@click.option("--release", "-r", required=True, help="Y-stream, e.g. 4.19.")
@click.option("--nightly/--no-nightly", default=True, show_default=True, help="Nightly or stable.")
@ARCH_OPTION
@click.option(
    "--trigger-prow-job/--no-trigger-prow-job",
    default=True,
    show_default=True,
    help="Trigger the registry's jobs for a new build (off: only track it).",
)
@json_option
def start_controller(
    release: str, nightly: bool, arch: str, trigger_prow_job: bool, as_json: bool
) -> None:
    """One controller pass: test the stream's latest accepted build if it is new."""
    from oar.agents.controller import JobController
    from oar.integrations.releasecontroller import check_y_stream

    settings = settings_or_exit(quiet=True)

    async def go() -> dict[str, Any]:
        check_y_stream(release)
        async with _gate(settings, trigger=trigger_prow_job) as ports:
            outcome = await JobController(ports).run(
                release, nightly=nightly, arch=arch, trigger=trigger_prow_job
            )
            return outcome.to_dict()

    result = run(go())

    def human() -> None:
        if not result["new_build"]:
            out.print(f"no new build: latest {result['latest']}, tracked {result['tracked']}")
            return
        out.print(f"new build {result['latest']} (was {result['tracked']})")
        for name in result["triggered"]:
            out.print(f"  triggered {name}")
        for name in result["reused"]:
            out.print(f"  already running {name}")

    _show(as_json, result, human)


@cli.command("trigger-jobs-for-build")
@BUILD_OPTION
@ARCH_OPTION
@click.option(
    "--skip-existing/--no-skip-existing",
    default=True,
    show_default=True,
    help="Keep jobs the build's result file already lists (runs started elsewhere).",
)
@json_option
def trigger_jobs_for_build(build: str, arch: str, skip_existing: bool, as_json: bool) -> None:
    """Trigger the registry's jobs for one build (each job once per build)."""
    from oar.agents.controller import JobController

    settings = settings_or_exit(quiet=True)

    async def go() -> dict[str, Any]:
        async with _gate(settings) as ports:
            outcome = await JobController(ports).trigger_for_build(
                build, arch=arch, skip_existing=skip_existing
            )
            return outcome.to_dict()

    result = run(go())
    _show(
        as_json,
        result,
        lambda: out.print(
            f"{build}: triggered {len(result['triggered'])}, kept {len(result['reused'])},"
            f" skipped {len(result['skipped'])}"
        ),
    )


@cli.command("start-aggregator")
@ARCH_OPTION
@json_option
def start_aggregator(arch: str, as_json: bool) -> None:
    """One aggregator pass: results, retries, acceptance, ReleasePayload labels."""
    from oar.agents.aggregator import Aggregator

    settings = settings_or_exit(quiet=True)

    async def go() -> list[dict[str, Any]]:
        async with _gate(settings) as ports:
            return [o.to_dict() for o in await Aggregator(ports).run(arch=arch)]

    result = run(go())
    _show(
        as_json,
        result,
        lambda: table(
            f"Aggregated ({arch})",
            ["build", "metrics", "retried", "labelled", "aggregated", "accepted"],
            [
                (
                    r["build"]
                    + (" (deleted: recycled)" if r["deleted"] else "")
                    + (f" (error: {r['error']})" if r["error"] else ""),
                    r["metrics"],
                    ", ".join(r["retried"]),
                    r["labelled"],
                    r["aggregated"],
                    r["accepted"],
                )
                for r in result
            ],
        ),
    )


@cli.command("promote-test-results")
@BUILD_OPTION
@ARCH_OPTION
def promote_test_results(build: str, arch: str) -> None:
    """Promote a build by hand: the next aggregator pass labels its payload."""
    from oar.agents.aggregator import edit_result
    from oar.agents.testresults import promote

    settings = settings_or_exit(quiet=True)

    async def go() -> None:
        async with _gate(settings, trigger=False) as ports:
            await edit_result(ports, build, arch, promote)

    run(go())
    out.print(f"{build} ({arch}) promoted: the next aggregator pass labels it Accepted")


@cli.command("update-retried-job-run")
@BUILD_OPTION
@click.option("--job-name", required=True, help="The job whose retry is replaced.")
@click.option("--current-job-id", required=True, help="The retry's prowjob ID.")
@click.option("--new-job-id", required=True, help="The prowjob ID of the run started by hand.")
@ARCH_OPTION
def update_retried_job_run(
    build: str, job_name: str, current_job_id: str, new_job_id: str, arch: str
) -> None:
    """Replace a retried run by one started by hand; the build is re-aggregated."""
    from oar.agents.aggregator import edit_result
    from oar.agents.testresults import replace_retried_run

    settings = settings_or_exit(quiet=True)

    async def go() -> None:
        async with _gate(settings, trigger=False) as ports:
            await edit_result(
                ports,
                build,
                arch,
                lambda doc: replace_retried_run(
                    doc, job_name=job_name, current_job_id=current_job_id, new_job_id=new_job_id
                ),
            )

    run(go())
    out.print(f"{build}: {job_name} retry {current_job_id} → {new_job_id}; re-aggregated next pass")


# --- job: single Prow jobs -------------------------------------------------------------


@cli.group("job")
def job_group() -> None:
    """Run and inspect single Prow jobs."""


@job_group.command("run")
@click.argument("name")
@click.option("--payload", help="Payload pullspec to test.")
@click.option("--upgrade-from", help="Payload pullspec to upgrade from.")
@click.option("--upgrade-to", help="Payload pullspec to upgrade to.")
@json_option
def job_run(
    name: str,
    payload: str | None,
    upgrade_from: str | None,
    upgrade_to: str | None,
    as_json: bool,
) -> None:
    """Trigger a periodic job through Gangway (a payload, or an upgrade)."""
    from oar.integrations.prow import GangwayProwJobs

    settings = settings_or_exit(quiet=True)

    async def go() -> str:
        prow = GangwayProwJobs.from_settings(settings)
        return await prow.trigger(
            name, payload=payload, upgrade_from=upgrade_from, upgrade_to=upgrade_to
        )

    job_id = run(go())
    _show(as_json, {"job_name": name, "job_id": job_id}, lambda: out.print(job_id))


@job_group.command("get-results")
@click.argument("job_id")
@click.option(
    "--poll",
    is_flag=True,
    help="Follow the run durably until it completes (Ctrl-C leaves the follow running;"
    " running the command again joins it).",
)
@click.option("--timeout", default=86400.0, show_default=True, help="Seconds the follow lasts.")
@click.option("--interval", default=60.0, show_default=True, help="Seconds between checks.")
@json_option
def job_get_results(
    job_id: str, poll: bool, timeout: float, interval: float, as_json: bool
) -> None:
    """A run's state and URL (the original's get_results)."""
    from oar.integrations.prow import GangwayProwJobs

    settings = settings_or_exit(quiet=True)

    async def once() -> dict[str, Any]:
        status = await GangwayProwJobs.from_settings(settings).status(job_id)
        return {
            "jobID": status.job_id,
            "jobName": status.job_name,
            "jobState": str(status.state),
            "jobURL": status.url,
            "jobStartTime": status.start_time,
            "jobCompletionTime": status.completion_time,
        }

    result = (
        run(_follow_run(settings, job_id, timeout=timeout, interval=interval))
        if poll
        else (run(once()))
    )
    _show(
        as_json,
        result,
        lambda: out.print(
            f"{result.get('jobName') or job_id} {result.get('jobState')}"
            f" {result.get('jobURL') or ''}".rstrip()
        ),
    )
    if poll and result.get("followStatus") != "succeeded":
        fail(str(result.get("followError") or f"{job_id} did not succeed"))


async def _follow_run(
    settings: Settings, job_id: str, *, timeout: float, interval: float
) -> dict[str, Any]:
    """Start (or join) the run's durable follow, keep a worker alive for it, and wait."""
    import asyncio

    from oar.adapters import EngineFollows
    from oar.agents.jobfollow import KIND, follow_key
    from oar.cli.actor import current_actor
    from oar.cli.console import client, err
    from oar.release.follows import FollowRequest, Follows, FollowStatus

    actor = current_actor()
    async with client(settings) as service:
        follows = EngineFollows(service, settings)
        info, started = await follows.start(
            FollowRequest(
                kind=KIND,
                key=follow_key(job_id),
                subject=job_id,
                started_by=actor.name,
                interface=actor.interface,
                slack_channel=actor.slack_channel,
                slack_thread=actor.slack_thread,
                interval=interval,
                deadline=timeout,
            )
        )
        note = await follows.keep_alive(info.id)
        err.print(
            f"{'following' if started else 'joined the follow of'} {job_id}"
            + (f"; {note}" if note else "")
        )
        reader = Follows(service.db, service.tasks)
        while info.status is FollowStatus.RUNNING:
            await asyncio.sleep(min(interval, 2.0))
            info = await reader.get(info.id)
        return {
            **{k: v for k, v in info.data.items() if k.startswith("job")},
            "followStatus": info.status.value,
            "followError": info.error,
        }


@job_group.command("list")
@click.option("--release", "-r", required=True, help="Y-stream, e.g. 4.19.")
@ARCH_OPTION
@click.option("--build", "-b", help="Show the gate's runs of this build instead.")
@json_option
def job_list(release: str, arch: str, build: str | None, as_json: bool) -> None:
    """The registry's jobs of a y-stream (or the runs the gate started for a build)."""
    from oar.agents.controller import JobController

    settings = settings_or_exit(quiet=True)

    async def go() -> list[dict[str, Any]]:
        async with _gate(settings, trigger=False) as ports:
            if build:
                return [r.to_dict() for r in await ports.runs.runs(build=build, arch=arch)]
            registry = await JobController(ports).registry(release, arch)
            return [
                {
                    "kind": kind,
                    "name": job.name,
                    "upgrade": job.upgrade,
                    "optional": job.optional,
                    "disabled": job.disabled,
                    "retries": job.retries,
                }
                for kind in ("nightly", "stable")
                for job in registry.jobs(nightly=kind == "nightly")
            ]

    result = run(go())
    if build:
        columns = ["job_name", "attempt", "job_id", "state", "url"]
    else:
        columns = ["kind", "name", "upgrade", "optional", "disabled", "retries"]
    _show(
        as_json,
        result,
        lambda: table(
            f"Jobs of {build or release} ({arch})",
            columns,
            [[r[c] for c in columns] for r in result],
        ),
    )


@job_group.command("run-required")
@click.option("--release", "-r", required=True, help="Y-stream, e.g. 4.19.")
@click.option("--payload", required=True, help="Payload pullspec the jobs test.")
@click.option("--nightly/--stable", default=False, show_default=True, help="Registry list.")
@ARCH_OPTION
@json_option
def job_run_required(release: str, payload: str, nightly: bool, arch: str, as_json: bool) -> None:
    """Trigger every required (non-optional, enabled) registry job on a payload."""
    from oar.agents.controller import JobController

    settings = settings_or_exit(quiet=True)

    async def go() -> list[dict[str, str]]:
        async with _gate(settings) as ports:
            registry = await JobController(ports).registry(release, arch)
            started = []
            for job in registry.jobs(nightly=nightly):
                if job.optional or job.disabled:
                    continue
                if job.upgrade:
                    job_id = await ports.prow.trigger(job.name, upgrade_to=payload)
                else:
                    job_id = await ports.prow.trigger(job.name, payload=payload)
                started.append({"job_name": job.name, "job_id": job_id})
            return started

    result = run(go())
    _show(
        as_json,
        result,
        lambda: table(
            "Triggered", ["job_name", "job_id"], [(r["job_name"], r["job_id"]) for r in result]
        ),
    )


@job_group.command("get-payloads")
@click.argument("versions", nargs=-1, required=True)
@ARCH_OPTION
@json_option
def job_get_payloads(versions: tuple[str, ...], arch: str, as_json: bool) -> None:
    """The latest stable payload of each y-stream given (4.19 4.18)."""
    from oar.integrations.releasecontroller import HttpReleaseStreams, check_y_stream

    settings = settings_or_exit(quiet=True)

    async def go() -> list[dict[str, str | None]]:
        streams = HttpReleaseStreams.from_settings(settings)
        found = []
        for version in versions:
            latest = await streams.latest(check_y_stream(version), nightly=False, arch=arch)
            found.append(
                {
                    "version": version,
                    "build": latest.name if latest else None,
                    "pullSpec": latest.pull_spec if latest else None,
                }
            )
        return found

    result = run(go())
    _show(
        as_json,
        result,
        lambda: table(
            "Latest stable payloads",
            ["version", "build", "pullSpec"],
            [(r["version"], r["build"], r["pullSpec"]) for r in result],
        ),
    )


def main() -> None:
    try:
        cli(prog_name="jobctl")
    except KeyboardInterrupt:
        fail("interrupted", code=130)


if __name__ == "__main__":
    main()
