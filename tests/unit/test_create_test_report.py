"""``create-test-report``'s rules on fake ports: each run goes through the real tracking
layer (recording in an in-memory release state, ConfigStore on the sandbox's configuration
and build data served by a fake), with a fake Slack notifier — no database, no network."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from oar.db import Database
from oar.errors import BuildDataNotReadyError, ConfigurationError
from oar.integrations.fakes import FakeBuildData, FakeNotifier
from oar.release import commands as registry
from oar.release import statebox
from oar.release.checklist import Flow, TaskStatus
from oar.release.commands.report import TASK, announcement, dashboard_link, details
from oar.release.ports import Ports
from oar.release.records import ReleaseInfo, RunInfo
from oar.release.tracking import Invocation, Outcome, ReleaseContext, run_tracked
from oar.release.versions import ReleaseVersion
from oar.sandbox import seed
from oar.settings import Settings, load_settings
from oar.testing.release import FakeReleaseStore, fake_ports

CONFIG = Path(seed.__file__).parent / "data" / "oar-config.json"
CHANNEL = "#team-qe-release"
LEADS_419, LEADS_418 = seed.SLACK_USER_GROUPS["4.19-qe-leads"][0], "S0418QELDS"
SPEC = registry.command(TASK)


class World:
    """One test's release world: settings, fake ports, build data and the state file."""

    def __init__(self, tmp_path: Path, **environ: str) -> None:
        self.tmp_path = tmp_path
        self.environ = {
            "OAR_DATA_DIR": str(tmp_path / "data"),
            "OAR_CONFIG_FILE": str(CONFIG),
            **environ,
        }
        self.notifier = FakeNotifier(
            groups={"4.19-qe-leads": LEADS_419, "4.18-qe-leads": LEADS_418}
        )
        self.build_data = FakeBuildData(seed.build_data_files())
        self.opened: list[tuple[str, ...]] = []
        self.store = FakeReleaseStore()

    @property
    def settings(self) -> Settings:
        return load_settings(environ=self.environ)

    def ports(self) -> Ports:
        return fake_ports(notifier=self.notifier)

    def run(self, release: str) -> Outcome:
        version = ReleaseVersion.parse(release)
        body = SPEC.load_body()

        async def run(ctx: ReleaseContext) -> Outcome | None:
            return await body(ctx)

        @contextlib.asynccontextmanager
        async def opener(names: Sequence[str], db: Database | None) -> AsyncIterator[Ports]:
            assert db is None  # the run records in the in-memory store
            self.opened.append(tuple(names))
            yield self.ports()

        invocation = Invocation(
            version=version,
            task=TASK,
            ports={flow: SPEC.ports_for(flow) for flow in SPEC.flows},
            actor="mlead",
            interface="cli",
        )
        return run_tracked(
            invocation,
            run,
            settings=self.settings,
            build_data=self.build_data,
            open_ports=opener,
            store=self.store,
        )

    def read(self, release: str) -> tuple[ReleaseInfo, list[RunInfo]]:
        async def read() -> tuple[ReleaseInfo, list[RunInfo]]:
            return await self.store.get(release), await self.store.runs(release, task=TASK)

        return asyncio.run(read())

    def announcements(self) -> list[str]:
        return [m.text for m in self.notifier.channel_messages(CHANNEL)]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


# --- the registry ---------------------------------------------------------------------------
def test_it_is_the_first_checklist_command_in_both_flows_using_only_slack() -> None:
    assert registry.names()[0] == TASK
    assert SPEC.flows == (Flow.ERRATA, Flow.KONFLUX)
    assert SPEC.ports_for(Flow.ERRATA) == SPEC.ports_for(Flow.KONFLUX) == ("notifier",)
    assert SPEC.options == ()


# --- the konflux flow -----------------------------------------------------------------------
def test_konflux_records_the_release_from_build_data_and_announces_it_once(world: World) -> None:
    outcome = world.run(seed.RELEASE)

    assert outcome.status is TaskStatus.PASS
    assert outcome.message.startswith(f"created the report for {seed.RELEASE} (konflux flow")
    assert outcome.data["created"] is True
    info, runs = world.read(seed.RELEASE)
    assert info.flow is Flow.KONFLUX
    assert info.metadata["shipment_mr"] == seed.SHIPMENT_MR_URL
    assert info.metadata["advisory_ids"] == seed.ADVISORIES[seed.RELEASE]
    assert info.metadata["jira_ticket"] == seed.JIRA_TICKETS[seed.RELEASE]
    assert info.metadata["release_date"] == seed.RELEASE_DATES[seed.RELEASE]
    assert info.metadata["candidate_builds"]["x86_64"].endswith(seed.NIGHTLY_BUILD)
    assert [r.status for r in runs] == [TaskStatus.PASS]
    (text,) = world.announcements()
    assert text.startswith(f"Hello <!subteam^{LEADS_419}>, new report for {seed.RELEASE} is")
    assert f"shipment MR {seed.SHIPMENT_MR_URL}" in text
    assert "dashboard" not in text  # no OAR_DASHBOARD_URL, no link
    assert outcome.data["link"] is None
    assert world.opened == [("notifier",)]
    assert outcome.done == (f"announced the report in {CHANNEL}",)
    assert not (world.settings.data_dir / "oar.db").exists()  # no database file


def test_a_second_run_says_the_report_exists_and_changes_nothing(world: World) -> None:
    world.run(seed.RELEASE)
    before, _ = world.read(seed.RELEASE)

    outcome = world.run(seed.RELEASE)

    assert outcome.status is TaskStatus.PASS
    assert outcome.message.startswith(f"the report for {seed.RELEASE} already exists (created")
    assert "by mlead via cli" in outcome.message
    assert outcome.message.endswith("nothing changed")
    assert outcome.data["created"] is False
    assert outcome.done == ()
    assert len(world.announcements()) == 1
    after, runs = world.read(seed.RELEASE)
    assert after.metadata == before.metadata
    assert [r.status for r in runs] == [TaskStatus.PASS, TaskStatus.PASS]
    assert outcome.data["created_in_run"] == runs[-1].id  # the first run, oldest last


def test_a_run_after_one_that_failed_still_creates_and_announces(tmp_path: Path) -> None:
    """Only a passed run made the report: a failed one (here: the export directory did
    not exist) leaves it to the next run."""
    export = tmp_path / "release-tests"
    world = World(tmp_path, OAR_STATEBOX_EXPORT=str(export))
    with pytest.raises(ConfigurationError, match=r"OAR_STATEBOX_EXPORT: .* is not an existing"):
        world.run(seed.RELEASE)
    assert world.announcements() == []

    export.mkdir()
    outcome = world.run(seed.RELEASE)

    assert outcome.data["created"] is True
    assert len(world.announcements()) == 1
    _, runs = world.read(seed.RELEASE)
    assert [r.status for r in runs] == [TaskStatus.PASS, TaskStatus.FAIL]


# --- the errata flow ------------------------------------------------------------------------
def test_errata_records_the_advisories_and_no_shipment_mr(world: World) -> None:
    outcome = world.run(seed.ERRATA_RELEASE)

    assert outcome.status is TaskStatus.PASS
    info, _ = world.read(seed.ERRATA_RELEASE)
    assert info.flow is Flow.ERRATA
    assert info.metadata["shipment_mr"] is None
    assert info.metadata["advisory_ids"] == seed.ADVISORIES[seed.ERRATA_RELEASE]
    (text,) = world.announcements()
    assert text.startswith(f"Hello <!subteam^{LEADS_418}>, new report for {seed.ERRATA_RELEASE}")
    assert "errata flow" in text
    assert "shipment MR" not in text
    for impetus, advisory in seed.ADVISORIES[seed.ERRATA_RELEASE].items():
        assert f"{impetus} {advisory}" in text


# --- the dashboard link ---------------------------------------------------------------------
def test_the_announcement_links_the_release_on_the_dashboard(tmp_path: Path) -> None:
    world = World(tmp_path, OAR_DASHBOARD_URL="https://oar.example.com/")

    outcome = world.run(seed.RELEASE)

    link = f"https://oar.example.com/releases/{seed.RELEASE}"
    assert outcome.data["link"] == link
    (text,) = world.announcements()
    assert f"<{link}|{seed.RELEASE} on the OAR dashboard>" in text.splitlines()[0]


def test_dashboard_links_and_the_details_line() -> None:
    assert dashboard_link(None, "4.19.3") is None
    assert dashboard_link("https://x.test/oar/", "4.19.3") == "https://x.test/oar/releases/4.19.3"
    from oar.release.checklist import ReleaseMetadata

    bare = ReleaseMetadata(release="4.18.9", y_stream="4.18", flow=Flow.ERRATA)
    assert details(bare) == "errata flow · no advisories yet"
    assert announcement("@4.18-qe-leads", bare, None) == (
        "Hello @4.18-qe-leads, new report for 4.18.9 is created for release tracking.\n"
        "errata flow · no advisories yet"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("https://oar.example.com/", "https://oar.example.com"), ("", None), ("  ", None)],
)
def test_the_dashboard_url_setting(value: str, expected: str | None) -> None:
    assert load_settings(environ={"OAR_DASHBOARD_URL": value}).dashboard_url == expected


@pytest.mark.parametrize("value", ["oar.example.com", "ftp://x.test", "https://x.test/?a=1"])
def test_a_dashboard_url_that_is_not_an_http_base_url_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="OAR_DASHBOARD_URL"):
        load_settings(environ={"OAR_DASHBOARD_URL": value})


# --- the StateBox export --------------------------------------------------------------------
def test_the_statebox_file_is_written_once_into_the_export_directory(tmp_path: Path) -> None:
    export = tmp_path / "release-tests"
    export.mkdir()
    world = World(tmp_path, OAR_STATEBOX_EXPORT=str(export))

    outcome = world.run(seed.RELEASE)

    path = export / "_releases" / seed.Y_STREAM / "statebox" / f"{seed.RELEASE}.yaml"
    assert outcome.data["statebox"] == str(path)
    assert f"wrote the StateBox file {path}" in outcome.done
    document = yaml.safe_load(path.read_text())
    assert document["release"] == seed.RELEASE
    assert document["schema_version"] == statebox.SCHEMA_VERSION
    assert document["metadata"]["shipment_mr"] == seed.SHIPMENT_MR_URL
    assert document["metadata"]["advisory_ids"] == seed.ADVISORIES[seed.RELEASE]
    assert document["tasks"] == []  # create-test-report is not a StateBox task
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left

    path.unlink()
    world.run(seed.RELEASE)
    assert not path.exists()  # the second run wrote nothing


def test_the_export_merges_into_a_file_already_there(tmp_path: Path) -> None:
    """A checkout may already hold the release's file (written by the original tool):
    its issues stay, our metadata wins."""
    export = tmp_path / "checkout"
    path = export / statebox.statebox_path(seed.RELEASE)
    path.parent.mkdir(parents=True)
    issue = {"issue": "stage pipeline down", "resolved": False, "blocker": True}
    path.write_text(
        yaml.safe_dump(
            {"release": seed.RELEASE, "metadata": {"jira_ticket": "OLD-1"}, "issues": [issue]}
        )
    )
    world = World(tmp_path, OAR_STATEBOX_EXPORT=str(export))

    world.run(seed.RELEASE)

    document = yaml.safe_load(path.read_text())
    assert document["metadata"]["jira_ticket"] == seed.JIRA_TICKETS[seed.RELEASE]
    assert [i["issue"] for i in document["issues"]] == ["stage pipeline down"]


@pytest.mark.parametrize(("value", "expected"), [("", None), ("/srv/release-tests", "/srv")])
def test_the_statebox_export_setting(value: str, expected: str | None) -> None:
    found = load_settings(environ={"OAR_STATEBOX_EXPORT": value}).statebox_export
    assert (None if found is None else str(found.parent)) == expected


@pytest.mark.parametrize("value", ["github", "release-tests/checkout"])
def test_a_relative_statebox_export_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"OAR_STATEBOX_EXPORT.*not an absolute"):
        load_settings(environ={"OAR_STATEBOX_EXPORT": value})


# --- what the report needs ------------------------------------------------------------------
def test_slack_down_still_creates_the_report_and_says_the_announcement_failed(
    world: World,
) -> None:
    world.notifier.failure = "service_unavailable"

    outcome = world.run(seed.RELEASE)

    assert outcome.status is TaskStatus.PASS
    assert f"the announcement in {CHANNEL} failed: Slack: service_unavailable" in outcome.message
    assert outcome.data["announced"] is False
    assert outcome.done == ()
    info, _ = world.read(seed.RELEASE)
    assert info.metadata["shipment_mr"] == seed.SHIPMENT_MR_URL


def test_a_release_without_a_release_date_is_refused_and_not_announced(world: World) -> None:
    releases: dict[str, Any] = yaml.safe_load(world.build_data.files[seed.Y_STREAM])
    releases["releases"]["4.19.9"] = {
        "assembly": {"type": "standard", "group": {"advisories": {"rpm": 1, "rhcos": 2}}}
    }
    world.build_data.files[seed.Y_STREAM] = yaml.safe_dump(releases)

    with pytest.raises(BuildDataNotReadyError, match=r"\[4\.19\.9\].*no group/release_date"):
        world.run("4.19.9")

    assert world.announcements() == []
    _, runs = world.read("4.19.9")
    assert [r.status for r in runs] == [TaskStatus.FAIL]


def test_a_configuration_without_the_y_streams_qe_leads_is_refused_before_anything(
    tmp_path: Path,
) -> None:
    config = json.loads(CONFIG.read_text())
    del config["contacts"]["slack"]["qe-release"]["4.19"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    world = World(tmp_path, OAR_CONFIG_FILE=str(path))

    with pytest.raises(ConfigurationError, match=r"contacts\.slack\.qe-release\.4\.19"):
        world.run(seed.RELEASE)

    assert world.notifier.messages == []
