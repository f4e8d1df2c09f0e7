"""The MCP tools, as values: one per release command of the registry, plus the reads and
edits of the release state, follows and approvals. Pure: no I/O, no MCP library.

A command's tool is ``oar_<command>`` (dashes as underscores); its input schema has the
release and one typed property per :class:`~oar.release.commands.Option` (text, integer,
number, choice → enum, e-mail, switch → boolean, multiple → array). :func:`arguments`
checks a call's arguments against the command's options and returns the body's keyword
arguments, or an :class:`~oar.errors.InvalidArgumentError` naming the argument.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oar.errors import InvalidArgumentError
from oar.release.checklist import TASKS, TaskStatus
from oar.release.commands import (
    COMMANDS,
    Option,
    OptionType,
    ReleaseCommand,
    check_email,
)
from oar.release.versions import ReleaseVersion

PREFIX = "oar_"
INTERFACE = "mcp"  # the interface a call through MCP is recorded with


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who asks, through which client: the authenticated identity, the MCP client's name."""

    identity: str
    client: str = "unknown client"

    @property
    def actor(self) -> str:
        return f"mcp:{self.identity}"


RELEASE = "release"
_RELEASE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": "The z-stream release, e.g. 4.19.3.",
    "pattern": r"^\d+\.\d+\.\d+$",
}


class ToolKind(enum.StrEnum):
    COMMAND = "command"  # runs a release command
    READ = "read"  # reads OAR's state
    EDIT = "edit"  # changes OAR's own state (not outside systems)
    OPERATION = "operation"  # an agent's operation (oar.mcp.operations)


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """One MCP tool: its name, description, JSON Schema, and what it maps to."""

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    kind: ToolKind
    command: str | None = None  # the release command (kind COMMAND)
    gated: bool = False  # runs only after a person approves
    irreversible: bool = False
    annotations: dict[str, Any] = field(default_factory=dict)


def tool_name(command: str) -> str:
    """``take-ownership`` → ``oar_take_ownership``."""
    return PREFIX + command.replace("-", "_")


def _option_schema(option: Option) -> dict[str, Any]:
    schema: dict[str, Any]
    if option.flag:
        schema = {"type": "boolean"}
    elif option.type is OptionType.INTEGER:
        schema = {"type": "integer"}
    elif option.type is OptionType.NUMBER:
        schema = {"type": "number"}
    elif option.type is OptionType.CHOICE:
        schema = {"type": "string", "enum": list(option.choices)}
    elif option.type is OptionType.EMAIL:
        schema = {"type": "string", "format": "email"}
    else:
        schema = {"type": "string"}
    if option.multiple:
        schema = {"type": "array", "items": schema}
    schema["description"] = option.help
    if option.default is not None:
        schema["default"] = option.default
    return schema


def command_tool(command: ReleaseCommand, *, gated: bool) -> ToolSpec:
    """The tool of one release command."""
    properties: dict[str, Any] = {RELEASE: dict(_RELEASE_SCHEMA)}
    required = [RELEASE]
    for option in command.options:
        properties[option.name] = _option_schema(option)
        if option.required:
            required.append(option.name)
    gate = (
        " Gated: the call asks for a person's approval in the release's Slack channel and"
        " answers 'awaiting approval <id>' at once; the command runs once approved"
        " (oar_get_call_status follows it)."
        if gated
        else ""
    )
    return ToolSpec(
        name=tool_name(command.name),
        title=f"oar {command.name}",
        description=f"{command.summary} {command.help}{gate}",
        input_schema={
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
        kind=ToolKind.COMMAND,
        command=command.name,
        gated=gated,
        irreversible=command.irreversible,
        annotations={
            "destructiveHint": command.irreversible,
            "readOnlyHint": False,
            "openWorldHint": True,
        },
    )


def _fixed(
    name: str,
    description: str,
    properties: Mapping[str, Any],
    required: Iterable[str] = (),
    *,
    kind: ToolKind = ToolKind.READ,
) -> ToolSpec:
    return ToolSpec(
        name=name,
        title=name.removeprefix(PREFIX).replace("_", " "),
        description=description,
        input_schema={
            "type": "object",
            "properties": dict(properties),
            "required": list(required),
            "additionalProperties": False,
        },
        kind=kind,
        annotations={"readOnlyHint": kind is ToolKind.READ, "destructiveHint": False},
    )


_TASK = {"type": "string", "enum": list(TASKS), "description": "A checklist task."}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}

STATE_TOOLS: tuple[ToolSpec, ...] = (
    _fixed(
        "oar_get_release_status",
        "The release's checklist (every task's status, start and end), overall status,"
        " blockers and issues; with logs=true each task's last log too.",
        {RELEASE: _RELEASE_SCHEMA, "logs": {"type": "boolean", "default": False}},
        [RELEASE],
    ),
    _fixed(
        "oar_get_release_metadata",
        "The release's metadata as recorded: advisories, candidate builds, Jira ticket,"
        " shipment MR, release date, flow and y-stream.",
        {RELEASE: _RELEASE_SCHEMA},
        [RELEASE],
    ),
    _fixed(
        "oar_list_releases",
        "Every release OAR tracks, newest first, with its overall status and task counts.",
        {"y_stream": {"type": "string", "description": "Only this y-stream, e.g. 4.19."}},
    ),
    _fixed(
        "oar_add_issue",
        "Report an issue of the release (a blocker by default); the same text while still"
        " unresolved returns the existing issue.",
        {
            RELEASE: _RELEASE_SCHEMA,
            "issue": {"type": "string", "minLength": 1, "maxLength": 2000},
            "blocker": {"type": "boolean", "default": True},
            "related_tasks": {"type": "array", "items": _TASK, "default": []},
        },
        [RELEASE, "issue"],
        kind=ToolKind.EDIT,
    ),
    _fixed(
        "oar_resolve_issue",
        "Resolve an issue of the release by its id (resolving it again keeps the first"
        " resolution).",
        {
            RELEASE: _RELEASE_SCHEMA,
            "issue_id": {"type": "integer", "minimum": 1},
            "resolution": {"type": "string", "minLength": 1, "maxLength": 2000},
        },
        [RELEASE, "issue_id", "resolution"],
        kind=ToolKind.EDIT,
    ),
    _fixed(
        "oar_get_issues",
        "The release's issues, optionally only unresolved ones, only blockers, or only"
        " those related to a task.",
        {
            RELEASE: _RELEASE_SCHEMA,
            "unresolved_only": {"type": "boolean", "default": False},
            "blockers_only": {"type": "boolean", "default": False},
            "task_name": _TASK,
        },
        [RELEASE],
    ),
    _fixed(
        "oar_get_task_blocker",
        "Whether an unresolved blocker holds a task of the release, and which.",
        {RELEASE: _RELEASE_SCHEMA, "task_name": _TASK},
        [RELEASE, "task_name"],
    ),
    _fixed(
        "oar_update_task_status",
        "Set a checklist task's status by hand (recorded as a run of its own, with who did"
        " it through MCP).",
        {
            RELEASE: _RELEASE_SCHEMA,
            "task_name": _TASK,
            "status": {
                "type": "string",
                "enum": [s.value for s in TaskStatus if s is not TaskStatus.NOT_STARTED],
            },
            "result": {"type": "string", "maxLength": 10000},
        },
        [RELEASE, "task_name", "status"],
        kind=ToolKind.EDIT,
    ),
    _fixed(
        "oar_list_follows",
        "Durable follows (background checks a command started), newest first.",
        {
            "kind": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["running", "succeeded", "timed_out", "failed", "cancelled"],
            },
            "limit": _LIMIT,
        },
    ),
    _fixed(
        "oar_get_follow",
        "One follow, with its log.",
        {"follow_id": {"type": "string", "minLength": 1, "maxLength": 300}},
        ["follow_id"],
    ),
    _fixed(
        "oar_list_approvals",
        "Human approvals, newest first.",
        {
            "status": {
                "type": "string",
                "enum": ["pending", "resolved", "expired", "cancelled"],
            },
            "limit": _LIMIT,
        },
    ),
    _fixed(
        "oar_get_approval",
        "One approval: what was asked, by whom, and its decision.",
        {"approval_id": {"type": "string", "minLength": 1, "maxLength": 100}},
        ["approval_id"],
    ),
    _fixed(
        "oar_drive",
        "Drive the release checklist as one durable workflow (oar -r X drive): it runs each"
        " ready task in order, waits on follows, stops at blockers and at gated commands"
        " (approved by a person in the drive's Slack thread) and resumes by itself; calling"
        " it again joins the running drive. dry_run=true only returns the plan. The drive is"
        " the follow drive:<release> (oar_get_follow).",
        {
            RELEASE: _RELEASE_SCHEMA,
            "until": {**_TASK, "description": "Stop once this task (and what it needs) is done."},
            "email": {
                "type": "string",
                "format": "email",
                "description": "The QE owner take-ownership sets (when the release has none).",
            },
            "dry_run": {"type": "boolean", "default": False},
        },
        [RELEASE],
        kind=ToolKind.EDIT,
    ),
    _fixed(
        "oar_get_call_status",
        "The status of a gated call: awaiting approval, running, done (with the command's"
        " outcome and log), rejected, expired or cancelled.",
        {"approval_id": {"type": "string", "minLength": 1, "maxLength": 100}},
        ["approval_id"],
    ),
)


def all_tools(gated: frozenset[str]) -> tuple[ToolSpec, ...]:
    """The registry's commands in checklist order, then the state tools (the server adds
    the agents' operations: :func:`oar.mcp.operations.every_tool`)."""
    return (
        *(command_tool(c, gated=c.name in gated) for c in COMMANDS),
        *STATE_TOOLS,
    )


# --- checking a call's arguments -----------------------------------------------------------


def release_argument(args: Mapping[str, Any]) -> ReleaseVersion:
    value = args.get(RELEASE)
    if not isinstance(value, str):
        raise InvalidArgumentError(RELEASE, "is required: a release such as 4.19.3")
    return ReleaseVersion.parse(value)


def _value(option: Option, value: Any) -> Any:
    name = option.name
    if option.flag:
        if not isinstance(value, bool):
            raise InvalidArgumentError(name, f"must be true or false, not {value!r}")
        return value
    if option.type is OptionType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError(name, f"must be an integer, not {value!r}")
        return value
    if option.type is OptionType.NUMBER:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidArgumentError(name, f"must be a number, not {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise InvalidArgumentError(name, f"must be a string, not {value!r}")
    if option.type is OptionType.CHOICE and value not in option.choices:
        raise InvalidArgumentError(name, f"must be one of {', '.join(option.choices)}")
    if option.type is OptionType.EMAIL:
        return check_email(value, option=name)
    return value


def arguments(command: ReleaseCommand, args: Mapping[str, Any]) -> dict[str, Any]:
    """The body's keyword arguments from a call's arguments (defaults filled in); an
    InvalidArgumentError names an unknown, missing or mistyped one, or a conflict."""
    known = {o.name: o for o in command.options}
    unknown = sorted(set(args) - set(known) - {RELEASE})
    if unknown:
        raise InvalidArgumentError(
            unknown[0],
            f"is not an option of {command.name} (options: {', '.join(known) or 'none'})",
        )
    options: dict[str, Any] = {}
    for name, option in known.items():
        if name not in args or args[name] is None:
            if option.required:
                raise InvalidArgumentError(name, f"is required by {command.name}")
            options[name] = (
                []
                if option.multiple
                else (option.default if not option.flag else bool(option.default))
            )
            continue
        value = args[name]
        if option.multiple:
            if not isinstance(value, list):
                raise InvalidArgumentError(name, "must be a list")
            options[name] = [_value(option, v) for v in value]
        else:
            options[name] = _value(option, value)
    command.check_options(options)
    return options


def tool_table(tools: Sequence[ToolSpec]) -> str:
    """The tools as the Markdown table of docs/mcp.md (a unit test keeps them equal). Pure."""
    rows = ["| tool | parameters | what it does |", "|---|---|---|"]
    for spec in tools:
        schema = spec.input_schema
        required = set(schema.get("required", []))
        params = ", ".join(
            f"{name}{'' if name in required else '?'}: {_type_text(prop)}"
            for name, prop in schema["properties"].items()
        )
        what = spec.description.split(". ")[0].rstrip(".") + "."
        if spec.kind is ToolKind.COMMAND:
            what = f"`oar {spec.command}`: {what}" + (" **Gated.**" if spec.gated else "")
        elif spec.kind is ToolKind.OPERATION:
            what = f"`{spec.title}`: {what}" + (" **Gated.**" if spec.gated else "")
        rows.append(f"| `{spec.name}` | {params or '—'} | {what} |")
    return "\n".join(rows)


def _type_text(prop: Mapping[str, Any]) -> str:
    if "enum" in prop:
        if list(prop["enum"]) == list(TASKS):
            return "task"
        return " \\| ".join(str(v) for v in prop["enum"])
    if prop.get("type") == "array":
        return f"[{_type_text(prop['items'])}]"
    return str(prop.get("format") or prop.get("type"))
