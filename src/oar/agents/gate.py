"""The CI gate's composition: its ports from the settings, and its schedules.

Schedules are registered here, explicitly, by the process that serves them (never as a
side effect of an import): one controller schedule per configured y-stream, architecture
and stream kind (``jobs.controller.<y>.<nightly|stable>.<arch>``) and one aggregator
schedule per architecture (``jobs.aggregator.<arch>``), every ``OAR_JOB_INTERVAL``. None
without ``OAR_JOB_STREAMS``.
"""

from __future__ import annotations

from typing import Any

from oar.agents.aggregator import Aggregator
from oar.agents.controller import GatePorts, JobController
from oar.agents.jobruns import JobRuns
from oar.db import Database
from oar.engine.schedules import ScheduleRegistry, ScheduleRun
from oar.errors import ConfigurationError
from oar.integrations.releasecontroller import check_architecture, check_y_stream
from oar.jsonvalue import JSON
from oar.settings import Settings


def gate_ports(settings: Settings, db: Database, *, claimant: str = "oar") -> GatePorts:
    """The real adapters, built from the settings."""
    from oar.integrations.gcs import GcsJobArtifacts
    from oar.integrations.github import GitHubRepositoryFiles
    from oar.integrations.prow import GangwayProwJobs
    from oar.integrations.releasecontroller import HttpReleaseStreams
    from oar.integrations.releasepayloads import KubeReleasePayloads

    return GatePorts(
        streams=HttpReleaseStreams.from_settings(settings),
        prow=GangwayProwJobs.from_settings(settings),
        files=GitHubRepositoryFiles.from_settings(settings),
        artifacts=GcsJobArtifacts.from_settings(settings),
        payloads=KubeReleasePayloads.from_settings(settings),
        runs=JobRuns(db, claimant=claimant),
        record_branch=settings.job_record_branch,
        registry_branch=settings.job_registry_branch,
    )


def require_trigger_credentials(settings: Settings) -> None:
    """Triggering needs Gangway's and GitHub's tokens: say so before any claim or write."""
    missing = [
        name
        for name, value in (
            ("APITOKEN", settings.prow_token),
            ("GITHUB_TOKEN", settings.github_token),
        )
        if value is None
    ]
    if missing:
        raise ConfigurationError(
            f"{' and '.join(missing)} not set: the CI gate triggers Prow jobs and writes the"
            " record branch",
            variables=missing,
        )


def schedule_names(settings: Settings) -> list[str]:
    names = []
    for arch in settings.job_arches:
        for y_stream in settings.job_streams:
            for kind in ("nightly", "stable"):
                names.append(f"jobs.controller.{y_stream}.{kind}.{arch}")
        if settings.job_streams:
            names.append(f"jobs.aggregator.{arch}")
    return names


def register_schedules(registry: ScheduleRegistry, settings: Settings, db: Database) -> list[str]:
    """Register the gate's schedules for the configured y-streams and architectures."""
    registered = []
    for arch in settings.job_arches:
        check_architecture(arch)
        for y_stream in settings.job_streams:
            check_y_stream(y_stream)
            for nightly in (True, False):
                name = f"jobs.controller.{y_stream}.{'nightly' if nightly else 'stable'}.{arch}"
                registry.register(
                    name,
                    _controller_tick(settings, db, y_stream, arch=arch, nightly=nightly),
                    every=settings.job_interval,
                    description=f"Test new {y_stream} {'nightly' if nightly else 'stable'}"
                    f" builds ({arch}) with the registry's Prow jobs",
                )
                registered.append(name)
        if settings.job_streams:
            name = f"jobs.aggregator.{arch}"
            registry.register(
                name,
                _aggregator_tick(settings, db, arch),
                every=settings.job_interval,
                description=f"Aggregate test results ({arch}): retry, accept, label",
            )
            registered.append(name)
    return registered


def _controller_tick(
    settings: Settings, db: Database, y_stream: str, *, arch: str, nightly: bool
) -> Any:
    async def controller_tick(run: ScheduleRun) -> JSON:
        require_trigger_credentials(settings)
        controller = JobController(gate_ports(settings, db, claimant=run.workflow_id))
        outcome = await controller.run(y_stream, nightly=nightly, arch=arch)
        result: JSON = outcome.to_dict()
        return result

    return controller_tick


def _aggregator_tick(settings: Settings, db: Database, arch: str) -> Any:
    async def aggregator_tick(run: ScheduleRun) -> JSON:
        require_trigger_credentials(settings)
        aggregator = Aggregator(gate_ports(settings, db, claimant=run.workflow_id))
        outcomes = await aggregator.run(arch=arch)
        return [o.to_dict() for o in outcomes]

    return aggregator_tick
