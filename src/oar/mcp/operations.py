"""MCP tools for the agents: the CI gate's ``jobctl`` operations, the active releases,
and one run of the release detector, test-result checker or Jira notificator.

Each :class:`Operation` is a tool (its :class:`~oar.mcp.tools.ToolSpec`), a pure check of
the call's arguments, the command line a person approves, and a runner that calls the
same agent functions as the CLI (``jobctl``, ``oarctl releases active``,
``oarctl start-release-detector``, ``oarctl check-test-results``, ``oarctl
jira-notificator``) on the service's database — no click, no subprocess. The reads are
never gated by default; the operations that trigger Prow jobs, write the record branch or
labels, create reports or post to Slack or Jira are irreversible, hence gated by default
(``OAR_MCP_GATED`` names them like the release commands, e.g. ``jobs-start-aggregator``).
A gated operation runs through the same approval and ``mcp-call`` follow as a gated
release command (:mod:`oar.mcp.gates`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from oar.errors import ConfigurationError, InvalidArgumentError
from oar.jsonvalue import JSON
from oar.mcp.tools import PREFIX, ToolKind, ToolSpec, all_tools
from oar.release.commands import gated_commands

if TYPE_CHECKING:
    from oar.db import Database
    from oar.settings import Settings

ARCHES = ("amd64", "arm64", "multi", "ppc64le", "s390x")

_Y_STREAM = {
    "type": "string",
    "description": "a y-stream such as 4.19",
    "pattern": r"^\d+\.\d+$",
}
_ARCH = {
    "type": "string",
    "enum": list(ARCHES),
    "default": "amd64",
    "description": "Architecture of the builds.",
}
_BUILD = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "description": "Build name (4.19.3, a nightly).",
}

Runner = Callable[["Settings", "Database", Mapping[str, Any], str], Awaitable[JSON]]


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One agent operation as an MCP tool."""

    name: str  # as OAR_MCP_GATED names it: the tool's name without oar_, dashes
    cli: str  # the command a person would type, without options
    summary: str
    properties: Mapping[str, Any]
    required: tuple[str, ...] = ()
    irreversible: bool = False
    dry_run: str | None = None  # a true value of this argument changes nothing outside OAR
    # The credentials a gated call needs, checked before a person is asked to approve it.
    precheck: Callable[[Settings, Mapping[str, Any]], None] | None = None
    # For an ungated run in the MCP server, or a gated one once approved (in a worker):
    # settings, the database, the checked arguments and the actor.
    runner: Runner

    @property
    def tool(self) -> str:
        return PREFIX + self.name.replace("-", "_")

    def spec(self, *, gated: bool) -> ToolSpec:
        gate = (
            " Gated: the call asks for a person's approval (OAR_SLACK_APPROVALS_CHANNEL) and"
            " answers 'awaiting approval <id>' at once; it runs once approved"
            " (oar_get_call_status follows it)."
            if gated
            else ""
        )
        return ToolSpec(
            name=self.tool,
            title=self.cli,
            description=f"{self.summary} Same as `{self.cli}`.{gate}",
            input_schema={
                "type": "object",
                "properties": dict(self.properties),
                "required": list(self.required),
                "additionalProperties": False,
            },
            kind=ToolKind.OPERATION,
            gated=gated,
            irreversible=self.irreversible,
            annotations={
                "readOnlyHint": not self.irreversible,
                "destructiveHint": self.irreversible,
                "openWorldHint": True,
            },
        )

    def check(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The call's arguments checked and defaults filled in; an InvalidArgumentError
        names an unknown, missing or mistyped one. Pure."""
        unknown = sorted(set(args) - set(self.properties))
        if unknown:
            raise InvalidArgumentError(
                unknown[0],
                f"is not a parameter of {self.tool}"
                f" (parameters: {', '.join(self.properties) or 'none'})",
            )
        checked: dict[str, Any] = {}
        for name, schema in self.properties.items():
            value = args.get(name)
            if value is None:
                if name in self.required:
                    raise InvalidArgumentError(name, f"is required by {self.tool}")
                checked[name] = schema.get("default")
                continue
            checked[name] = _checked(name, schema, value)
        return checked

    def command_line(self, checked: Mapping[str, Any]) -> str:
        """The command line this call stands for (what a person approves). Pure."""
        words = [self.cli]
        for name, schema in self.properties.items():
            value = checked.get(name)
            if value is None or value == schema.get("default"):
                continue
            flag = "--" + name.replace("_", "-")
            if schema.get("type") == "boolean":
                words.append(flag if value else "--no-" + name.replace("_", "-"))
            else:
                words += [flag, shlex.quote(str(value))]
        return " ".join(words)

    def changes_nothing(self, checked: Mapping[str, Any]) -> bool:
        return not self.irreversible or bool(self.dry_run and checked.get(self.dry_run))


def _checked(name: str, schema: Mapping[str, Any], value: Any) -> Any:
    kind = schema.get("type")
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidArgumentError(name, f"must be true or false, not {value!r}")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError(name, f"must be an integer, not {value!r}")
        if value < schema.get("minimum", value):
            raise InvalidArgumentError(name, f"must be at least {schema['minimum']}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(name, f"must be a non-empty string, not {value!r}")
    value = value.strip()
    if "enum" in schema and value not in schema["enum"]:
        raise InvalidArgumentError(name, f"must be one of {', '.join(schema['enum'])}")
    if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
        raise InvalidArgumentError(name, f"{value!r} is not {schema['description']}")
    if schema.get("format") == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            raise InvalidArgumentError(name, f"{value!r} is not a day (YYYY-MM-DD)") from None
    if len(value) > int(schema.get("maxLength", 1000)):
        raise InvalidArgumentError(name, "is too long")
    return value


# --- the runners: the CLI's agent functions, on the service's database -----------------------


async def _active_releases(
    settings: Settings, db: Database, args: Mapping[str, Any], actor: str
) -> JSON:
    from oar.agents.releases import active_releases, art_files

    found = await active_releases(
        art_files(settings),
        db,
        today=datetime.now(UTC).date(),
        keep_days=int(args["keep_days"]),
        include_inactive=bool(args["all"]),
    )
    return {"releases": [v.to_dict() for v in found]}


def _ports(settings: Settings, db: Database, actor: str, *, trigger: bool = True) -> Any:
    from oar.agents.gate import gate_ports, require_trigger_credentials

    if trigger:
        require_trigger_credentials(settings)
    return gate_ports(settings, db, claimant=actor)


def _trigger_credentials(settings: Settings, args: Mapping[str, Any]) -> None:
    from oar.agents.gate import require_trigger_credentials

    if args.get("trigger_prow_job", True):
        require_trigger_credentials(settings)


def _github_token(settings: Settings, args: Mapping[str, Any]) -> None:
    if settings.github_token is None:
        raise ConfigurationError(
            "GITHUB_TOKEN not set: the CI gate writes the record branch",
            variables=["GITHUB_TOKEN"],
        )


async def _start_controller(
    settings: Settings, db: Database, args: Mapping[str, Any], actor: str
) -> JSON:
    from oar.agents.controller import JobController

    trigger = bool(args["trigger_prow_job"])
    outcome = await JobController(_ports(settings, db, actor, trigger=trigger)).run(
        str(args["release"]), nightly=bool(args["nightly"]), arch=str(args["arch"]), trigger=trigger
    )
    result: JSON = outcome.to_dict()
    return result


async def _trigger_for_build(
    settings: Settings, db: Database, args: Mapping[str, Any], actor: str
) -> JSON:
    from oar.agents.controller import JobController

    outcome = await JobController(_ports(settings, db, actor)).trigger_for_build(
        str(args["build"]), arch=str(args["arch"]), skip_existing=bool(args["skip_existing"])
    )
    result: JSON = outcome.to_dict()
    return result


async def _start_aggregator(
    settings: Settings, db: Database, args: Mapping[str, Any], actor: str
) -> JSON:
    from oar.agents.aggregator import Aggregator

    outcomes = await Aggregator(_ports(settings, db, actor)).run(arch=str(args["arch"]))
    return {"builds": [o.to_dict() for o in outcomes]}


async def _promote(settings: Settings, db: Database, args: Mapping[str, Any], actor: str) -> JSON:
    from oar.agents.aggregator import edit_result
    from oar.agents.testresults import promote

    build, arch = str(args["build"]), str(args["arch"])
    await edit_result(_ports(settings, db, actor, trigger=False), build, arch, promote)
    return {
        "build": build,
        "arch": arch,
        "promoted": True,
        "message": f"{build} ({arch}) promoted: the next aggregator pass labels it Accepted",
    }


async def _job_list(settings: Settings, db: Database, args: Mapping[str, Any], actor: str) -> JSON:
    from oar.agents.controller import JobController

    ports = _ports(settings, db, actor, trigger=False)
    arch, build = str(args["arch"]), args.get("build")
    if build:
        return {"runs": [r.to_dict() for r in await ports.runs.runs(build=build, arch=arch)]}
    registry = await JobController(ports).registry(str(args["release"]), arch)
    return {
        "jobs": [
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
    }


async def _job_results(
    settings: Settings, db: Database, args: Mapping[str, Any], actor: str
) -> JSON:
    from oar.integrations.prow import GangwayProwJobs

    status = await GangwayProwJobs.from_settings(settings).status(str(args["job_id"]))
    return {
        "jobID": status.job_id,
        "jobName": status.job_name,
        "jobState": str(status.state),
        "jobURL": status.url,
        "jobStartTime": status.start_time,
        "jobCompletionTime": status.completion_time,
    }


async def _detect(settings: Settings, db: Database, args: Mapping[str, Any], actor: str) -> JSON:
    from oar.agents.detector import detect

    result: JSON = await detect(settings, db, str(args["release"]), trigger="mcp", by=actor)
    return result


async def _check_results(
    settings: Settings, db: Database, args: Mapping[str, Any], actor: str
) -> JSON:
    from oar.agents.resultchecker import check
    from oar.release.notifications import RecordingNotifier

    notifier = RecordingNotifier.from_settings(settings, db)
    try:
        result: JSON = await check(
            settings, db, notifier, by=actor, limit=args.get("limit"), channel=args.get("channel")
        )
    finally:
        await notifier.close()
    return result


async def _notificator(
    settings: Settings, db: Database, args: Mapping[str, Any], actor: str
) -> JSON:
    from oar.agents.notificator import run_once

    since = args.get("from_date")
    summary = await run_once(
        settings,
        db,
        dry_run=bool(args["dry_run"]),
        from_date=date.fromisoformat(since) if since else None,
        trigger="mcp",
    )
    result: JSON = summary.to_dict()
    return result


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="list-active-releases",
        cli="oarctl releases active",
        summary="The active releases: each y-stream's latest z-stream release in ART's files,"
        " until its release date plus keep_days (all=true: every candidate and why).",
        properties={
            "keep_days": {"type": "integer", "minimum": 0, "default": 1},
            "all": {"type": "boolean", "default": False},
        },
        runner=_active_releases,
    ),
    Operation(
        name="jobs-list",
        cli="jobctl job list",
        summary="The test-job registry of a y-stream (or, with build, the runs the CI gate"
        " started for that build and their states).",
        properties={"release": _Y_STREAM, "arch": _ARCH, "build": _BUILD},
        required=("release",),
        runner=_job_list,
    ),
    Operation(
        name="jobs-get-results",
        cli="jobctl job get-results",
        summary="One Prow run's state and URL.",
        properties={
            "job_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "The run's prowjob ID.",
            }
        },
        required=("job_id",),
        runner=_job_results,
    ),
    Operation(
        name="jobs-start-controller",
        cli="jobctl start-controller",
        summary="One controller pass: the stream's latest accepted build, if new, gets the"
        " registry's Prow jobs triggered and the record branch written.",
        properties={
            "release": _Y_STREAM,
            "nightly": {"type": "boolean", "default": True},
            "arch": _ARCH,
            "trigger_prow_job": {"type": "boolean", "default": True},
        },
        required=("release",),
        irreversible=True,
        precheck=_trigger_credentials,
        runner=_start_controller,
    ),
    Operation(
        name="jobs-trigger-for-build",
        cli="jobctl trigger-jobs-for-build",
        summary="Trigger the registry's Prow jobs for one build on its stream (each job"
        " once per build).",
        properties={
            "build": _BUILD,
            "arch": _ARCH,
            "skip_existing": {"type": "boolean", "default": True},
        },
        required=("build",),
        irreversible=True,
        precheck=_trigger_credentials,
        runner=_trigger_for_build,
    ),
    Operation(
        name="jobs-start-aggregator",
        cli="jobctl start-aggregator",
        summary="One aggregator pass: results, retries (Prow jobs), acceptance and"
        " ReleasePayload labels.",
        properties={"arch": _ARCH},
        irreversible=True,
        precheck=_trigger_credentials,
        runner=_start_aggregator,
    ),
    Operation(
        name="jobs-promote-test-results",
        cli="jobctl promote-test-results",
        summary="Promote a build by hand: its result file is marked manually promoted; the"
        " next aggregator pass labels its payload Accepted.",
        properties={"build": _BUILD, "arch": _ARCH},
        required=("build",),
        irreversible=True,
        precheck=_github_token,
        runner=_promote,
    ),
    Operation(
        name="run-release-detector",
        cli="oarctl start-release-detector",
        summary="One release-detector pass for a y-stream: a new z-stream release in ART's"
        " file gets its report (create-test-report), once.",
        properties={"release": _Y_STREAM},
        required=("release",),
        irreversible=True,
        runner=_detect,
    ),
    Operation(
        name="check-test-results",
        cli="oarctl check-test-results",
        summary="One test-result checker pass: each rejected build not announced yet is"
        " announced in Slack.",
        properties={
            "limit": {"type": "integer", "minimum": 0},
            "channel": {"type": "string", "minLength": 1, "maxLength": 100},
        },
        irreversible=True,
        runner=_check_results,
    ),
    Operation(
        name="run-jira-notificator",
        cli="oarctl jira-notificator",
        summary="One Jira notificator run chasing ON_QA bugs (comments, Need Info From,"
        " labels); dry_run=true only plans it and is never gated.",
        properties={
            "dry_run": {"type": "boolean", "default": False},
            "from_date": {"type": "string", "format": "date", "maxLength": 10},
        },
        irreversible=True,
        dry_run="dry_run",
        runner=_notificator,
    ),
)

_BY_NAME = {o.name: o for o in OPERATIONS}
_BY_TOOL = {o.tool: o for o in OPERATIONS}


def operation(name: str) -> Operation:
    """An operation by its name (``jobs-start-aggregator``) or tool name."""
    found = _BY_NAME.get(name) or _BY_TOOL.get(name)
    if found is None:
        raise InvalidArgumentError("operation", f"{name!r} is not an MCP operation")
    return found


def irreversible_operations() -> dict[str, bool]:
    """Every operation's name and whether it is irreversible (the gates' default)."""
    return {o.name: o.irreversible for o in OPERATIONS}


def operation_tools(gated: frozenset[str]) -> tuple[ToolSpec, ...]:
    return tuple(o.spec(gated=o.name in gated) for o in OPERATIONS)


def gates(configured: Sequence[str] | None) -> frozenset[str]:
    """The gated commands and operations (``OAR_MCP_GATED``, else the irreversible ones)."""
    return gated_commands(configured, irreversible_operations())


def every_tool(gated: frozenset[str]) -> tuple[ToolSpec, ...]:
    """The server's tools: the release commands, the state tools, then the operations."""
    return (*all_tools(gated), *operation_tools(gated))


__all__ = [
    "OPERATIONS",
    "Operation",
    "every_tool",
    "gates",
    "irreversible_operations",
    "operation",
    "operation_tools",
]
