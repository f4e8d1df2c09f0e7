"""The command registry and the ports bundle: what a new command must declare, and what
the layer derives from it (credentials per flow, the click command, refusals)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from oar.cli.oar import cli, click_option, registry_command
from oar.errors import InvalidArgumentError, PortNotOpenError
from oar.release.checklist import TASKS, Flow, TaskStatus
from oar.release.commands import COMMANDS, Option, OptionType, ReleaseCommand, command, names
from oar.release.ports import PORTS, Ports, Targets, access_checks, credentials_for
from oar.testing.release import fake_ports


def test_checklist_commands_come_in_checklist_order_then_the_other_checks() -> None:
    recorded = [c.name for c in COMMANDS if c.records_task]
    assert recorded == [t for t in TASKS if t in names()]
    others = [c.name for c in COMMANDS if not c.records_task]
    assert [c.name for c in COMMANDS] == recorded + others
    assert not set(others) & set(TASKS)


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda c: c.name)
def test_every_command_declares_known_ports_and_a_loadable_body(spec: ReleaseCommand) -> None:
    assert set(spec.all_ports) <= set(PORTS)
    assert callable(spec.load_body())


@pytest.mark.parametrize(
    ("module", "port"),
    [
        ("oar.integrations.errata", "errata"),
        ("oar.integrations.jira", "jira"),
        ("oar.integrations.gitlab", "gitlab"),
        ("oar.integrations.github", "github"),
    ],
)
def test_each_port_needs_the_credential_its_adapter_declares(module: str, port: str) -> None:
    assert PORTS[port].credentials == (importlib.import_module(module).CREDENTIAL,)


def test_gitlab_is_needed_only_in_the_konflux_flow() -> None:
    approval = command("change-advisory-status")
    assert credentials_for(approval.ports_for(Flow.ERRATA)) == ("ERRATA_TOKEN", "JIRA_TOKEN")
    assert credentials_for(approval.ports_for(Flow.KONFLUX)) == (
        "ERRATA_TOKEN",
        "JIRA_TOKEN",
        "GITLAB_TOKEN",
    )


def test_an_unknown_command_or_port_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidArgumentError, match=r"known: .*change-advisory-status"):
        command("approve-everything")
    with pytest.raises(InvalidArgumentError, match=r"unknown port.*sheets"):
        credentials_for(["errata", "sheets"])


def test_a_command_must_be_a_checklist_task_with_a_module_function_body() -> None:
    with pytest.raises(InvalidArgumentError, match=r"not a checklist task.*records_task=False"):
        ReleaseCommand(name="frobnicate", summary="s", help="h", body="m:f")
    with pytest.raises(InvalidArgumentError, match="is a checklist task: its runs must"):
        ReleaseCommand(name="take-ownership", summary="s", help="h", body="m:f", records_task=False)
    check = ReleaseCommand(name="frobnicate", summary="s", help="h", body="m:f", records_task=False)
    assert not check.records_task
    with pytest.raises(InvalidArgumentError, match="module:function"):
        ReleaseCommand(name="take-ownership", summary="s", help="h", body="m.f")


def test_a_dry_run_records_no_task_status() -> None:
    drop = command("drop-bugs")
    assert drop.records_run({"dry_run": False})
    assert not drop.records_run({"dry_run": True})
    assert command("take-ownership").records_run({"email": "a@example.com"})
    with pytest.raises(InvalidArgumentError, match="dry_run must name one of its switches"):
        ReleaseCommand(name="drop-bugs", summary="s", help="h", body="m:f", dry_run="preview")


def test_an_option_is_checked_when_declared() -> None:
    with pytest.raises(InvalidArgumentError, match="not a Python identifier"):
        Option(name="e-mail", flags=("--email",), help="h")
    with pytest.raises(InvalidArgumentError, match="choices go with type CHOICE"):
        Option(name="kind", flags=("--kind",), help="h", choices=("a", "b"))
    with pytest.raises(InvalidArgumentError, match="a switch cannot be required"):
        Option(name="force", flags=("--force",), help="h", flag=True, required=True)


def test_options_become_click_options() -> None:
    email = click_option(
        Option(name="email", flags=("-e", "--email"), help="QE owner", required=True)
    )
    assert email.opts == ["-e", "--email"]
    assert email.required
    assert email.name == "email"
    kind = click_option(
        Option(
            name="kind",
            flags=("--kind",),
            help="h",
            type=OptionType.CHOICE,
            choices=("a", "b"),
            multiple=True,
        )
    )
    assert isinstance(kind.type, click.Choice)
    assert kind.multiple
    force = click_option(Option(name="force", flags=("--force",), help="h", flag=True))
    assert force.is_flag


def test_the_generated_command_has_the_registry_help_and_a_json_switch() -> None:
    generated = registry_command(command("change-advisory-status"))
    assert generated.short_help == command("change-advisory-status").summary
    assert "--json" in {opt for p in generated.params for opt in getattr(p, "opts", [])}
    assert "Flows: errata, konflux." in (generated.help or "")


def test_oar_help_lists_every_registered_command_and_the_state_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in (*names(), "status", "task", "issue", "statebox"):
        assert f"  {name}" in result.output


def test_a_port_that_was_not_opened_refuses_any_use_and_says_so() -> None:
    ports = Ports(errata=fake_ports().errata)
    assert ports.opened() == ("errata",)
    with pytest.raises(PortNotOpenError, match="the gitlab port was not opened"):
        _ = ports.gitlab.get_merge_request


async def test_the_access_checks_read_the_releases_own_objects() -> None:
    ports = fake_ports()
    checks = access_checks(
        ports,
        ["errata", "gitlab", "jira", "brew"],
        Targets(
            advisories={"rpm": 7, "image": 5},
            ticket="ART-1",
            shipment_mr="https://gitlab.example/group/shipment/-/merge_requests/12",
        ),
    )
    assert [(c.variable, c.what) for c in checks] == [
        ("ERRATA_TOKEN", "read advisory 5 (image)"),
        ("GITLAB_TOKEN", "read shipment MR !12"),
        ("JIRA_TOKEN", "read ART-1"),
    ]
    # nothing to read for the release (errata flow: no MR): no check, nothing to change
    assert access_checks(ports, ["gitlab"], Targets()) == []


def test_the_schema_head_read_from_the_migration_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from oar.db.database import script_head
    from oar.db.migrations import alembic_config

    assert script_head() == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _no_ports(names: object, db: object) -> AsyncIterator[Ports]:
    yield fake_ports()


def test_a_command_that_records_no_task_runs_checked_and_captured_but_records_nothing(
    tmp_path: Path,
) -> None:
    """A check outside the checklist (records_task=False): its body gets a context and its
    outcome comes back, but no run and no task status is written."""
    from oar.integrations.fakes import FakeBuildData
    from oar.release.tracking import Invocation, Outcome, ReleaseContext, run_tracked
    from oar.release.versions import ReleaseVersion
    from oar.sandbox import releaseconfig, seed
    from oar.settings import load_settings
    from oar.testing.release import FakeReleaseStore

    seen: list[ReleaseContext] = []

    async def body(ctx: ReleaseContext) -> Outcome:
        seen.append(ctx)
        return Outcome.failed("a blocking thing")

    settings = load_settings(
        environ={**releaseconfig.write_config(tmp_path), "OAR_DATA_DIR": str(tmp_path)},
        env_file=None,
    )
    store = FakeReleaseStore()
    outcome = run_tracked(
        Invocation(
            version=ReleaseVersion.parse(seed.RELEASE), task="frobnicate", records_task=False
        ),
        body,
        settings=settings,
        build_data=FakeBuildData(seed.build_data_files()),
        open_ports=contextlib.asynccontextmanager(_no_ports),
        store=store,
    )
    assert (outcome.status, outcome.message) == (TaskStatus.FAIL, "a blocking thing")
    (ctx,) = seen
    assert (ctx.task, ctx.run_id) == ("frobnicate", None)
    assert store.run_list == []
    assert store.tasks == {}
    assert seed.RELEASE in store.releases  # the release itself is known, as for any command
