"""Task-status tracking: every run of a release command is recorded, whatever happens.

The runner is exercised with throwaway command bodies, as ``oar`` runs them: In Progress
at the start, then Pass, Fail (also when the body raises: the original tool's defect),
or In Progress left for background work, with the whole process's captured log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from pydantic import SecretStr

from oar.db import Database
from oar.errors import ConfigurationError, ReleaseNotConfiguredError
from oar.integrations.fakes.builddata import FakeBuildData
from oar.logs import get_logger
from oar.release.checklist import Flow, TaskStatus
from oar.release.ports import Ports
from oar.release.records import ReleaseInfo, RunInfo
from oar.release.state import ReleaseState
from oar.release.tracking import Invocation, Outcome, ReleaseContext, run_tracked
from oar.release.versions import ReleaseVersion
from oar.sandbox import releaseconfig, seed
from oar.settings import Settings, load_settings
from oar.testing import reset_database
from oar.testing.release import fake_ports
from tests.conftest import require_postgres

RELEASE = ReleaseVersion.parse(seed.RELEASE)
LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z: [A-Z]+: ", re.MULTILINE)
other_module = logging.getLogger("oar.integrations.somewhere")
structured = get_logger("oar.release.somecommand")
plumbing = get_logger("oar.service")


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgres":
        url = require_postgres()
        asyncio.run(reset_database(url))
    else:
        url = f"sqlite:///{tmp_path / 'data' / 'oar.db'}"
    env = releaseconfig.write_config(tmp_path / "config")
    return load_settings(
        environ={**env, "OAR_DATABASE_URL": url, "OAR_DATA_DIR": str(tmp_path / "data")}
    )


def invocation(task: str = "stage-testing", **kwargs: object) -> Invocation:
    return Invocation(version=RELEASE, task=task, actor="tester", interface="cli", **kwargs)  # type: ignore[arg-type]


def run(settings: Settings, body: object, task: str = "stage-testing", **kwargs: object) -> Outcome:
    return run_tracked(
        invocation(task, **kwargs),
        body,  # type: ignore[arg-type]
        settings=settings,
        build_data=FakeBuildData(seed.build_data_files()),
    )


def read(settings: Settings, task: str) -> tuple[ReleaseInfo, list[RunInfo]]:
    async def fetch() -> tuple[ReleaseInfo, list[RunInfo]]:
        async with Database(settings.database_url) as db:
            state = ReleaseState(db)
            return await state.get(RELEASE), await state.runs(RELEASE, task=task)

    return asyncio.run(fetch())


def test_a_command_that_succeeds_records_pass_with_what_it_reported(
    settings: Settings,
) -> None:
    """The task log holds the command's INFO-and-above lines: no DEBUG detail, no service
    plumbing, no local path (it is exported to StateBox, a shared repository)."""
    seen: dict[str, object] = {}

    async def body(ctx: ReleaseContext) -> None:
        seen["status_during_run"] = (await ctx.state.get(ctx.version)).task(ctx.task).status
        seen["flow"] = ctx.config.flow
        other_module.debug("a debug line from another module")
        plumbing.info("service.started", roles=[])
        logging.getLogger("httpx").info("HTTP Request: GET https://example/x")
        structured.info("stage.triggered", build=42, db=settings.database_url)
        other_module.info("wrote %s", settings.data_dir / "cache" / "x.json")
        other_module.warning("home is %s", Path.home() / "somewhere")

    assert run(settings, body).status is TaskStatus.PASS
    info, (last_run,) = read(settings, "stage-testing")
    task = info.task("stage-testing")
    assert seen["status_during_run"] is TaskStatus.IN_PROGRESS
    assert task.status is TaskStatus.PASS
    assert task.completed_at is not None
    assert task.log is not None
    assert "a debug line from another module" not in task.log
    assert ": DEBUG: " not in task.log
    assert "service.started" not in task.log
    assert "HTTP Request" not in task.log
    assert "stage.triggered build=42" in task.log
    assert "wrote <data dir>/cache/x.json" in task.log
    assert "home is ~/somewhere" in task.log
    assert str(settings.data_dir) not in task.log
    assert str(Path.home()) not in task.log
    assert "release.task.status" in task.log.splitlines()[-1]
    assert all(LINE.match(line) for line in task.log.splitlines() if not line.startswith(" "))
    assert last_run.status is TaskStatus.PASS
    assert last_run.actor == "tester"
    # The release row was filled from ConfigStore on the way.
    assert info.metadata["jira_ticket"] == seed.JIRA_TICKETS[seed.RELEASE]
    assert seen["flow"] == info.flow


def test_a_command_that_raises_records_fail_with_its_log_and_the_error(
    settings: Settings,
) -> None:
    async def body(ctx: ReleaseContext) -> None:
        other_module.warning("about to fail for qa.alice@example.com")
        raise RuntimeError("Jenkins said no")

    with pytest.raises(RuntimeError, match="Jenkins said no"):
        run(settings, body)
    info, (failed,) = read(settings, "stage-testing")
    task = info.task("stage-testing")
    assert task.status is TaskStatus.FAIL
    assert task.completed_at is not None
    assert task.log is not None
    assert "about to fail for [EMAIL_REDACTED]" in task.log
    assert "RuntimeError: Jenkins said no" in task.log
    assert "Traceback" not in task.log  # debug detail: the local log only (-v)
    assert failed.status is TaskStatus.FAIL
    assert info.overall.value == "blocked"


def test_a_command_cancelled_midway_records_fail_not_in_progress(settings: Settings) -> None:
    async def body(ctx: ReleaseContext) -> None:
        structured.info("waiting.forever")
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().call_later(0.05, task.cancel)
        await asyncio.Event().wait()

    with pytest.raises(asyncio.CancelledError):
        run(settings, body)
    info, _ = read(settings, "stage-testing")
    task = info.task("stage-testing")
    assert task.status is TaskStatus.FAIL
    assert task.log is not None
    assert "release.command.interrupted" in task.log


def test_a_check_that_fails_without_raising_records_fail(settings: Settings) -> None:
    async def body(ctx: ReleaseContext) -> Outcome:
        return Outcome.failed("2 CVE tracker bugs are not attached")

    outcome = run(settings, body, task="check-cve-tracker-bug")
    assert outcome.status is TaskStatus.FAIL
    info, _ = read(settings, "check-cve-tracker-bug")
    assert info.task("check-cve-tracker-bug").status is TaskStatus.FAIL
    assert "2 CVE tracker bugs are not attached" in (info.task("check-cve-tracker-bug").log or "")


def test_background_work_records_the_final_status_of_an_in_progress_command(
    settings: Settings,
) -> None:
    handed_over: dict[str, int] = {}

    async def body(ctx: ReleaseContext) -> Outcome:
        handed_over["run_id"] = ctx.run_id  # what a durable task's payload would carry
        return Outcome.in_progress("metadata checker scheduled")

    assert run(settings, body, task="change-advisory-status").status is TaskStatus.IN_PROGRESS
    info, _ = read(settings, "change-advisory-status")
    assert info.task("change-advisory-status").status is TaskStatus.IN_PROGRESS

    async def background() -> None:
        async with Database(settings.database_url) as db:
            await ReleaseState(db).finish_task(
                RELEASE,
                "change-advisory-status",
                TaskStatus.PASS,
                log_text="advisories moved to REL_PREP",
                run_id=handed_over["run_id"],
            )

    asyncio.run(background())
    info, (only_run,) = read(settings, "change-advisory-status")
    task = info.task("change-advisory-status")
    assert task.status is TaskStatus.PASS
    assert task.log is not None
    assert "metadata checker scheduled" in task.log
    assert task.log.endswith("advisories moved to REL_PREP")
    assert only_run.status is TaskStatus.PASS


def test_missing_credentials_are_all_reported_before_anything_runs(
    settings: Settings, tmp_path: Path
) -> None:
    called = []

    async def body(ctx: ReleaseContext) -> None:
        called.append(True)

    bare = settings.model_copy(update={"config_file": None, "oar_jwk": None})
    with pytest.raises(ConfigurationError) as caught:
        run(bare, body, requires=("JIRA_TOKEN", "GITLAB_TOKEN"))
    assert caught.value.variables == ("OAR_CONFIG_FILE", "JIRA_TOKEN", "GITLAB_TOKEN")
    assert called == []

    async def tracked() -> bool:
        async with Database(settings.database_url) as db:
            await db.upgrade()
            return await ReleaseState(db).exists(RELEASE)

    assert asyncio.run(tracked()) is False


def test_a_release_without_configuration_records_nothing_and_says_what_is_missing(
    settings: Settings,
) -> None:
    """A typo (no such y-stream in the build data) or an unreadable configuration fails
    before anything is recorded: no release row, no run."""
    from oar.release import configfile

    async def body(ctx: ReleaseContext) -> None:
        raise AssertionError("the body must not run without its configuration")

    typo = Invocation(version=ReleaseVersion.parse("5.0.1"), task="stage-testing", actor="t")
    with pytest.raises(ReleaseNotConfiguredError) as caught:
        run_tracked(
            typo, body, settings=settings, build_data=FakeBuildData(seed.build_data_files())
        )
    assert "openshift-5.0" in caught.value.message
    assert "nothing was recorded for release 5.0.1" in caught.value.message

    wrong = settings.model_copy(update={"oar_jwk": SecretStr(configfile.generate_jwk())})
    with pytest.raises(ConfigurationError, match="cannot decrypt"):
        run(wrong, body)

    async def tracked() -> list[str]:
        async with Database(settings.database_url) as db:
            await db.upgrade()
            return [r.release for r in await ReleaseState(db).list_releases()]

    assert asyncio.run(tracked()) == []


# --- the ports of the release's flow ------------------------------------------------------------
APPROVAL_PORTS = {
    Flow.ERRATA: ("errata", "jira"),
    Flow.KONFLUX: ("errata", "jira", "gitlab"),
}


def test_the_flows_ports_are_opened_once_and_the_outcome_lists_what_was_done(
    settings: Settings,
) -> None:
    opened: list[tuple[str, ...]] = []

    @contextlib.asynccontextmanager
    async def open_ports(names: Sequence[str], db: Database) -> AsyncIterator[Ports]:
        opened.append(tuple(names))
        yield fake_ports()

    async def body(ctx: ReleaseContext) -> Outcome:
        assert ctx.ports.opened()  # the bundle the opener gave
        ctx.did("moved advisory 150101 (rpm) to REL_PREP")
        return Outcome.passed("approved", data={"moved": [150101]})

    outcome = run_tracked(
        Invocation(version=RELEASE, task="change-advisory-status", ports=APPROVAL_PORTS),
        body,
        settings=settings.model_copy(
            update={
                "errata_token": SecretStr("e"),
                "jira_token": SecretStr("j"),
                "gitlab_token": SecretStr("g"),
            }
        ),
        build_data=FakeBuildData(seed.build_data_files()),
        open_ports=open_ports,
    )
    assert opened == [("errata", "jira", "gitlab")]  # 4.19.3 is a Konflux release
    assert outcome.to_dict() == {
        "status": "Pass",
        "message": "approved",
        "data": {"moved": [150101]},
        "done": ["moved advisory 150101 (rpm) to REL_PREP"],
    }


def test_a_credential_of_the_flows_own_ports_is_checked_before_the_body_runs(
    settings: Settings,
) -> None:
    ran: list[str] = []

    @contextlib.asynccontextmanager
    async def open_ports(names: Sequence[str], db: Database) -> AsyncIterator[Ports]:
        ran.append("opened")
        yield fake_ports()

    async def body(ctx: ReleaseContext) -> None:
        ran.append("body")

    with pytest.raises(ConfigurationError, match="needs GITLAB_TOKEN") as missing:
        run_tracked(
            Invocation(version=RELEASE, task="change-advisory-status", ports=APPROVAL_PORTS),
            body,
            settings=settings.model_copy(
                update={"errata_token": SecretStr("e"), "jira_token": SecretStr("j")}
            ),
            build_data=FakeBuildData(seed.build_data_files()),
            open_ports=open_ports,
        )
    assert missing.value.variables == ("GITLAB_TOKEN",)
    assert ran == []
    info, runs = read(settings, "change-advisory-status")
    assert info.task("change-advisory-status").status is TaskStatus.FAIL
    assert "GITLAB_TOKEN" in (runs[0].log or "")
