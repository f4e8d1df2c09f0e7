"""The MCP tools generated from the release-command registry: one per command with its
options as typed parameters, the gates' default and configuration, argument checking,
the command line a person approves — and docs/mcp.md listing exactly these tools."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oar.errors import ConfigurationError, InvalidArgumentError, InvalidVersionError
from oar.mcp.operations import OPERATIONS, every_tool, gates, operation
from oar.mcp.tools import (
    STATE_TOOLS,
    ToolKind,
    all_tools,
    arguments,
    command_tool,
    release_argument,
    tool_name,
    tool_table,
)
from oar.release.commands import COMMANDS, command, command_line, gated_commands

DOC = Path(__file__).parents[2] / "docs" / "mcp.md"


def test_every_registered_command_is_a_tool_named_after_it_in_checklist_order() -> None:
    tools = all_tools(gated_commands(None))
    commands = [t for t in tools if t.kind is ToolKind.COMMAND]
    assert [t.command for t in commands] == [c.name for c in COMMANDS]
    assert [t.name for t in commands] == [tool_name(c.name) for c in COMMANDS]
    assert tool_name("take-ownership") == "oar_take_ownership"
    assert len({t.name for t in tools}) == len(tools)


def test_options_become_typed_parameters_and_the_release_is_required() -> None:
    ownership = command_tool(command("take-ownership"), gated=True).input_schema
    assert ownership["required"] == ["release", "email"]
    assert ownership["properties"]["email"]["type"] == "string"
    assert ownership["properties"]["email"]["format"] == "email"
    assert ownership["additionalProperties"] is False
    staging = command_tool(command("stage-testing"), gated=True).input_schema
    assert staging["properties"]["build_number"]["type"] == "integer"
    assert staging["required"] == ["release"]
    drop = command_tool(command("drop-bugs"), gated=True).input_schema["properties"]
    assert drop["dry_run"]["type"] == "boolean"
    assert drop["approval_timeout"] == {
        "type": "number",
        "description": drop["approval_timeout"]["description"],
        "default": 172800.0,
    }
    bugs = command_tool(command("update-bug-list"), gated=False).input_schema["properties"]
    assert bugs["notify"]["default"] is True


def test_every_irreversible_command_is_gated_by_default_and_the_setting_overrides() -> None:
    default = gated_commands(None)
    assert default == {c.name for c in COMMANDS if c.irreversible}
    assert {"change-advisory-status", "drop-bugs", "push-to-cdn-staging", "take-ownership"} <= (
        default
    )
    assert "image-signed-check" not in default
    assert gated_commands(("take-ownership",)) == {"take-ownership"}
    assert gated_commands(()) == frozenset()
    with pytest.raises(ConfigurationError, match=r"OAR_MCP_GATED names unknown.*drop-everything"):
        gated_commands(("drop-everything",))
    tools = {t.name: t for t in all_tools(frozenset({"take-ownership"}))}
    assert tools["oar_take_ownership"].gated
    assert "awaiting approval" in tools["oar_take_ownership"].description
    assert not tools["oar_drop_bugs"].gated


def test_arguments_are_checked_and_defaults_filled_in() -> None:
    assert arguments(command("take-ownership"), {"release": "4.19.3", "email": " a@b.io "}) == {
        "email": "a@b.io"
    }
    assert arguments(command("update-bug-list"), {}) == {"notify": True, "notify_managers": False}
    assert arguments(command("drop-bugs"), {"approval_timeout": 60}) == {
        "dry_run": False,
        "approval_timeout": 60.0,
    }
    cases = [
        ("take-ownership", {}, "email: is required"),
        ("take-ownership", {"email": "nobody"}, "email: 'nobody' is not a valid email"),
        ("take-ownership", {"email": "a@b.io", "force": True}, "force: is not an option"),
        ("stage-testing", {"build_number": "12"}, "build_number: must be an integer"),
        ("stage-testing", {"build_number": True}, "build_number: must be an integer"),
        ("drop-bugs", {"dry_run": "yes"}, "dry_run: must be true or false"),
        ("drop-bugs", {"approval_timeout": float("nan")}, "approval_timeout: must be a number"),
        (
            "update-bug-list",
            {"notify": False, "notify_managers": True},
            "--no-notify cannot be used together with --notify-managers",
        ),
    ]
    for name, given, message in cases:
        with pytest.raises(InvalidArgumentError, match=re.escape(message)):
            arguments(command(name), given)


def test_the_release_argument_is_a_z_stream_version() -> None:
    assert release_argument({"release": "4.19.3"}).text == "4.19.3"
    with pytest.raises(InvalidArgumentError, match="release: is required"):
        release_argument({})
    with pytest.raises(InvalidVersionError):
        release_argument({"release": "4.19"})


def test_the_command_line_a_person_approves_names_every_option_given() -> None:
    ownership = command("take-ownership")
    assert (
        command_line(ownership, "4.19.3", {"email": "a@b.io"})
        == "oar -r 4.19.3 take-ownership --email a@b.io"
    )
    drop = command("drop-bugs")
    assert (
        command_line(drop, "4.19.3", {"dry_run": True, "approval_timeout": 60.0})
        == "oar -r 4.19.3 drop-bugs --dry-run --approval-timeout 60.0"
    )
    assert (
        command_line(drop, "4.19.3", {"dry_run": False, "approval_timeout": 172800.0})
        == "oar -r 4.19.3 drop-bugs"
    )
    bugs = command("update-bug-list")
    assert (
        command_line(bugs, "4.19.3", {"notify": False, "notify_managers": False})
        == "oar -r 4.19.3 update-bug-list --no-notify"
    )
    assert (
        command_line(ownership, "4.19.3", {"email": "a b@c.io; rm -rf /"})
        == "oar -r 4.19.3 take-ownership --email 'a b@c.io; rm -rf /'"
    )


def test_state_tools_say_whether_they_only_read() -> None:
    kinds = {t.name: t.kind for t in STATE_TOOLS}
    assert kinds["oar_get_release_status"] is ToolKind.READ
    assert kinds["oar_add_issue"] is ToolKind.EDIT
    assert kinds["oar_update_task_status"] is ToolKind.EDIT


def test_the_documented_tool_list_is_the_servers() -> None:
    """docs/mcp.md's table between its markers is generated: when a command or option
    changes, this fails and prints the table to paste there."""
    text = DOC.read_text()
    documented = text.split("<!-- tools:begin -->\n")[1].split("\n<!-- tools:end -->")[0]
    expected = tool_table(every_tool(gates(None)))
    assert documented == expected, f"paste this table into docs/mcp.md:\n{expected}"


def test_the_gates_setting_is_a_list_none_turns_them_off_and_empty_keeps_the_default() -> None:
    from oar.settings import load_settings

    def gated(value: str) -> tuple[str, ...] | None:
        return load_settings(environ={"OAR_MCP_GATED": value}, env_file=None).mcp_gated

    assert gated("take-ownership, drop-bugs ,") == ("take-ownership", "drop-bugs")
    assert gated("none") == ()
    assert gated("  ") is None


def test_the_agents_operations_are_tools_reads_ungated_the_rest_gated_by_default() -> None:
    assert gates(None) == gated_commands(None) | {o.name for o in OPERATIONS if o.irreversible}
    tools = {t.name: t for t in every_tool(gates(None))}
    assert len(tools) == len(every_tool(gates(None)))
    for name in ("oar_list_active_releases", "oar_jobs_list", "oar_jobs_get_results"):
        assert tools[name].kind is ToolKind.OPERATION
        assert not tools[name].gated
        assert tools[name].annotations["readOnlyHint"] is True
    for name in (
        "oar_jobs_start_controller",
        "oar_jobs_trigger_for_build",
        "oar_jobs_start_aggregator",
        "oar_jobs_promote_test_results",
        "oar_run_release_detector",
        "oar_check_test_results",
        "oar_run_jira_notificator",
    ):
        assert tools[name].gated, name
        assert tools[name].annotations["destructiveHint"] is True
        assert "awaiting approval" in tools[name].description
    # OAR_MCP_GATED names operations as it names commands.
    assert gates(("jobs-start-aggregator",)) == {"jobs-start-aggregator"}
    with pytest.raises(ConfigurationError, match="unknown"):
        gated_commands(("jobs-start-aggregator",))
    only = {t.name: t for t in every_tool(frozenset({"jobs-start-aggregator"}))}
    assert only["oar_jobs_start_aggregator"].gated
    assert not only["oar_jobs_start_controller"].gated


def test_an_operations_arguments_are_checked_and_its_command_line_is_what_a_person_approves() -> (
    None
):
    controller = operation("oar_jobs_start_controller")
    checked = controller.check({"release": " 4.19 ", "nightly": False})
    assert checked == {
        "release": "4.19",
        "nightly": False,
        "arch": "amd64",
        "trigger_prow_job": True,
    }
    assert controller.command_line(checked) == "jobctl start-controller --release 4.19 --no-nightly"
    with pytest.raises(InvalidArgumentError, match=r"release.*is required"):
        controller.check({})
    with pytest.raises(InvalidArgumentError, match=r"'4\.19\.3' is not a y-stream such as 4\.19"):
        controller.check({"release": "4.19.3"})
    with pytest.raises(InvalidArgumentError, match=r"arch.*one of amd64"):
        controller.check({"release": "4.19", "arch": "x86"})
    with pytest.raises(InvalidArgumentError, match=r"build.*not a parameter.*release, nightly"):
        controller.check({"release": "4.19", "build": "b"})
    with pytest.raises(InvalidArgumentError, match=r"nightly.*true or false"):
        controller.check({"release": "4.19", "nightly": "yes"})
    assert controller.check({"release": "4.19"})["trigger_prow_job"] is True
    notificator = operation("run-jira-notificator")
    assert notificator.changes_nothing(notificator.check({"dry_run": True}))
    assert not notificator.changes_nothing(notificator.check({}))
    with pytest.raises(InvalidArgumentError, match=r"from_date.*YYYY-MM-DD"):
        notificator.check({"from_date": "yesterday"})
    assert operation("jobs-list").changes_nothing({})
    with pytest.raises(InvalidArgumentError, match="not an MCP operation"):
        operation("oar_drop_everything")
