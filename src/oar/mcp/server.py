"""The MCP server: the tools of :mod:`oar.mcp.tools` over streamable HTTP.

Built on the MCP SDK's low-level server (the tool list is data, generated from the
command registry, not decorated functions). A call is translated and delegated: a
release command runs through :func:`oar.release.invocations.run_command` (the command layer, in
this process's event loop), a gated one becomes a :class:`~oar.mcp.gates.GatedCalls`
request, and the other tools read or edit the release state, follows and approvals
through their services. Every answer is JSON (``structured_content``, and the same as
text); a refused call answers ``is_error`` with the reason.

Authentication is the HTTP layer's (the composition mounts :meth:`McpServer.asgi` behind
the access middleware); the identity it recorded is read from the request through the
``identity`` function the composition gives.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from oar import __version__
from oar.db import Database
from oar.engine import TaskManager
from oar.engine.approvals import ApprovalManager, ApprovalStatus
from oar.errors import ConfigurationError, InvalidArgumentError, OarError
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.mcp.gates import GatedCall, GatedCalls, options_json
from oar.mcp.operations import every_tool, gates, operation
from oar.mcp.tools import (
    INTERFACE,
    Caller,
    ToolKind,
    ToolSpec,
    arguments,
    release_argument,
)
from oar.release.checklist import task_name, task_status
from oar.release.commands import check_email, command
from oar.release.configstore import ConfigStore
from oar.release.credentials import require_credentials
from oar.release.drive import DriveRequest, dry_run, start_drive
from oar.release.follows import Follows, FollowStatus
from oar.release.invocations import run_command
from oar.release.ports import credentials_for
from oar.release.state import ReleaseState
from oar.release.tracking import PortsOpener
from oar.settings import Settings

log = get_logger(__name__)

INSTRUCTIONS = (
    "OAR runs the OpenShift z-stream release checklist. Each oar_<command> tool runs one"
    " checklist command for a release; gated ones answer 'awaiting approval <id>' and run"
    " once a person approves in Slack (follow them with oar_get_call_status). The other"
    " tools read and edit the release state, follows and approvals."
)


@dataclass(frozen=True, kw_only=True)
class McpParts:
    """What the server delegates to (the composition's services)."""

    settings: Settings
    db: Database
    tasks: TaskManager
    approvals: ApprovalManager
    open_ports: PortsOpener | None
    identity: Callable[[Any], str]  # the request's authenticated identity


class McpServer:
    """The tools, their handlers, and the streamable HTTP transport's session manager."""

    def __init__(self, parts: McpParts) -> None:
        self.parts = parts
        self.gated = gates(parts.settings.mcp_gated)
        self.tools: dict[str, ToolSpec] = {t.name: t for t in every_tool(self.gated)}
        self.state = ReleaseState(parts.db)
        self.follows = Follows(parts.db, parts.tasks)
        self.calls = GatedCalls(parts.db, parts.tasks, parts.approvals)
        self.server: Server[Any] = Server(
            "oar",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        # DNS rebinding and Origin are the access middleware's (oar.web.access), as for
        # every route; the SDK's own check would only repeat it with another allow-list.
        self.sessions = StreamableHTTPSessionManager(
            app=self.server,
            json_response=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            max_request_body_size=parts.settings.max_body_bytes,
        )

    def asgi(self) -> ASGIApp:
        """The ASGI endpoint to mount at ``/mcp`` (inside :meth:`running`)."""
        return StreamableHTTPASGIApp(self.sessions)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The transport's task group: enter it in the app's lifespan."""
        async with self.sessions.run():
            yield

    # --- handlers ------------------------------------------------------------------------
    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_tool(spec) for spec in self.tools.values()])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = self.tools.get(params.name)
        if spec is None:
            return _answer({"error": f"unknown tool {params.name!r}"}, error=True)
        caller = Caller(identity=self.parts.identity(ctx.request), client=_client(ctx))
        args = dict(params.arguments or {})
        try:
            if spec.kind is ToolKind.COMMAND:
                result = await self._command(spec, args, caller)
            elif spec.kind is ToolKind.OPERATION:
                result = await self._operation(spec, args, caller)
            else:
                result = await self._state(spec.name, args, caller)
        except OarError as exc:
            log.info("mcp.call.refused", tool=spec.name, error=type(exc).__name__)
            return _answer({"error": exc.message, "type": type(exc).__name__}, error=True)
        failed = isinstance(result, dict) and result.get("status") in ("Fail", "error")
        return _answer(result, error=failed)

    async def _command(self, spec: ToolSpec, args: dict[str, Any], caller: Caller) -> JSON:
        assert spec.command is not None
        registered = command(spec.command)
        version = release_argument(args)
        options = arguments(registered, args)
        # A dry run changes nothing outside OAR (drop-bugs --dry-run): nothing to approve.
        dry_run = bool(registered.dry_run and options.get(registered.dry_run))
        if spec.gated and not dry_run:
            # Nobody is asked to approve what could not run: the credentials of the
            # ports the command uses in the release's flow are checked first.
            config = await ConfigStore.load(self.parts.settings, version)
            if config.flow not in registered.flows:
                supported = ", ".join(f.value for f in registered.flows)
                raise ConfigurationError(
                    f"oar {registered.name} does not support the {config.flow.value} flow"
                    f" of {version.text} (only: {supported})"
                )
            require_credentials(
                self.parts.settings,
                credentials_for(registered.ports_for(config.flow)),
                command=f"oar {registered.name}",
            )
            approval_id = await self.calls.request(
                GatedCall(
                    release=version.text,
                    command=registered.name,
                    options=options_json(options),
                    requested_by=caller.actor,
                    client=caller.client,
                    channel=config.qe_release_channel(),
                    timeout=self.parts.settings.mcp_approval_timeout,
                )
            )
            return {
                "status": "awaiting approval",
                "approval_id": approval_id,
                "message": f"awaiting approval {approval_id}: a person must approve"
                f" oar {registered.name} for {version.text} in Slack; oar_get_call_status"
                " tells what became of it",
                "command": registered.name,
                "release": version.text,
            }
        return await run_command(
            registered,
            version,
            options,
            settings=self.parts.settings,
            interface=INTERFACE,
            open_ports=self.parts.open_ports,
            actor=caller.actor,
        )

    async def _operation(self, spec: ToolSpec, args: dict[str, Any], caller: Caller) -> JSON:
        """An agent's operation (:mod:`oar.mcp.operations`): run here, or, gated and not a
        dry run, after a person approves (credentials checked before anyone is asked)."""
        op = operation(spec.name)
        checked = op.check(args)
        if spec.gated and not op.changes_nothing(checked):
            if op.precheck is not None:
                op.precheck(self.parts.settings, checked)
            approval_id = await self.calls.request(
                GatedCall(
                    release="",
                    command=op.name,
                    options=options_json(checked),
                    requested_by=caller.actor,
                    client=caller.client,
                    channel=self.parts.settings.slack_approvals_channel,
                    timeout=self.parts.settings.mcp_approval_timeout,
                    operation=True,
                )
            )
            return {
                "status": "awaiting approval",
                "approval_id": approval_id,
                "message": f"awaiting approval {approval_id}: a person must approve"
                f" `{op.command_line(checked)}`; oar_get_call_status tells what became of it",
                "command": op.name,
            }
        return await op.runner(self.parts.settings, self.parts.db, checked, caller.actor)

    async def _state(self, name: str, args: dict[str, Any], caller: Caller) -> JSON:
        handler = _STATE_HANDLERS[name]
        result: JSON = await handler(self, args, caller)
        return result

    async def _release_status(self, args: dict[str, Any], caller: Caller) -> JSON:
        info = await self.state.get(release_argument(args))
        return info.to_dict(with_logs=bool(args.get("logs", False)))

    async def _release_metadata(self, args: dict[str, Any], caller: Caller) -> JSON:
        info = await self.state.get(release_argument(args))
        return {
            "release": info.release,
            "y_stream": info.y_stream,
            "flow": None if info.flow is None else info.flow.value,
            "metadata": dict(info.metadata),
        }

    async def _list_releases(self, args: dict[str, Any], caller: Caller) -> JSON:
        y_stream = args.get("y_stream")
        found = await self.state.list_releases(y_stream=str(y_stream) if y_stream else None)
        return {"releases": [s.to_dict() for s in found]}

    async def _add_issue(self, args: dict[str, Any], caller: Caller) -> JSON:
        version = release_argument(args)
        text = _text(args, "issue")
        related = args.get("related_tasks") or []
        if not isinstance(related, list):
            raise InvalidArgumentError("related_tasks", "must be a list of task names")
        issue = await self.state.add_issue(
            version,
            text,
            blocker=bool(args.get("blocker", True)),
            related_tasks=[task_name(str(t)) for t in related],
            actor=caller.actor,
        )
        return issue.to_dict()

    async def _resolve_issue(self, args: dict[str, Any], caller: Caller) -> JSON:
        version = release_argument(args)
        issue_id = args.get("issue_id")
        if isinstance(issue_id, bool) or not isinstance(issue_id, int):
            raise InvalidArgumentError("issue_id", "must be an issue's id (an integer)")
        issue = await self.state.resolve_issue(
            version, issue_id, _text(args, "resolution"), actor=caller.actor
        )
        return issue.to_dict()

    async def _issues(self, args: dict[str, Any], caller: Caller) -> JSON:
        info = await self.state.get(release_argument(args))
        task = args.get("task_name")
        wanted = task_name(str(task)) if task else None
        issues = [
            i
            for i in info.issues
            if not (args.get("unresolved_only") and i.resolved)
            and not (args.get("blockers_only") and not i.blocker)
            and (wanted is None or wanted in i.related_tasks)
        ]
        return {"release": info.release, "issues": [i.to_dict() for i in issues]}

    async def _task_blocker(self, args: dict[str, Any], caller: Caller) -> JSON:
        info = await self.state.get(release_argument(args))
        task = task_name(_text(args, "task_name"))
        blockers = [i for i in info.open_blockers if task in i.related_tasks]
        return {
            "release": info.release,
            "task": task,
            "blocked": bool(blockers),
            "blocker": blockers[0].to_dict() if blockers else None,
        }

    async def _update_task_status(self, args: dict[str, Any], caller: Caller) -> JSON:
        version = release_argument(args)
        task = task_name(_text(args, "task_name"))
        status = task_status(_text(args, "status"))
        result = args.get("result")
        run_id = await self.state.set_task_status(
            version,
            task,
            status,
            actor=caller.actor,
            interface="mcp",
            note=str(result) if result else None,
        )
        info = await self.state.get(version)
        return {"release": info.release, "run_id": run_id, "task": info.task(task).to_dict()}

    async def _list_follows(self, args: dict[str, Any], caller: Caller) -> JSON:
        status = args.get("status")
        found = await self.follows.list(
            kind=str(args["kind"]) if args.get("kind") else None,
            status=FollowStatus(status) if status else None,
            limit=_limit(args),
        )
        return {"follows": [f.to_dict() for f in found]}

    async def _follow(self, args: dict[str, Any], caller: Caller) -> JSON:
        return (await self.follows.get(_text(args, "follow_id"))).to_dict()

    async def _list_approvals(self, args: dict[str, Any], caller: Caller) -> JSON:
        status = args.get("status")
        found = await self.parts.approvals.list(
            status=ApprovalStatus(status) if status else None, limit=_limit(args)
        )
        return {"approvals": [a.to_dict() for a in found]}

    async def _approval(self, args: dict[str, Any], caller: Caller) -> JSON:
        return (await self.parts.approvals.get(_text(args, "approval_id"))).to_dict()

    async def _call_status(self, args: dict[str, Any], caller: Caller) -> JSON:
        return await self.calls.status(_text(args, "approval_id"))

    async def _drive(self, args: dict[str, Any], caller: Caller) -> JSON:
        version = release_argument(args)
        until = task_name(str(args["until"])) if args.get("until") else None
        email = check_email(str(args["email"]), option="email") if args.get("email") else None
        settings, db = self.parts.settings, self.parts.db
        if args.get("dry_run"):
            info, planned = await dry_run(settings, db, version, until)
            return {"release": info.release, "dry_run": True, **planned.to_dict()}
        request = DriveRequest(
            release=version, until=until, email=email, actor=caller.actor, interface="mcp"
        )
        follow, created = await start_drive(settings, db, self.parts.tasks, request)
        return {"drive": follow.to_dict(), "joined": not created}


_Handler = Callable[[McpServer, dict[str, Any], Caller], Any]
_STATE_HANDLERS: Mapping[str, _Handler] = {
    "oar_get_release_status": McpServer._release_status,
    "oar_get_release_metadata": McpServer._release_metadata,
    "oar_list_releases": McpServer._list_releases,
    "oar_add_issue": McpServer._add_issue,
    "oar_resolve_issue": McpServer._resolve_issue,
    "oar_get_issues": McpServer._issues,
    "oar_get_task_blocker": McpServer._task_blocker,
    "oar_update_task_status": McpServer._update_task_status,
    "oar_list_follows": McpServer._list_follows,
    "oar_get_follow": McpServer._follow,
    "oar_list_approvals": McpServer._list_approvals,
    "oar_get_approval": McpServer._approval,
    "oar_get_call_status": McpServer._call_status,
    "oar_drive": McpServer._drive,
}


def _text(args: Mapping[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(name, "is required (a non-empty string)")
    return value


def _limit(args: Mapping[str, Any]) -> int:
    value = args.get("limit", 50)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 500:
        raise InvalidArgumentError("limit", "must be an integer from 1 to 500")
    return value


def _client(ctx: ServerRequestContext[Any]) -> str:
    """The MCP client's name and version as it introduced itself (not authenticated)."""
    params = ctx.session.client_params if ctx.session is not None else None
    info = params.client_info if params is not None else None
    if info is None:
        return "unknown client"
    return f"{info.name} {info.version}"[:200]


def _tool(spec: ToolSpec) -> types.Tool:
    hints = spec.annotations
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=spec.input_schema,
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=hints.get("readOnlyHint"),
            destructive_hint=hints.get("destructiveHint"),
            open_world_hint=hints.get("openWorldHint"),
        ),
    )


def _answer(result: JSON, *, error: bool = False) -> types.CallToolResult:
    structured = result if isinstance(result, dict) else {"result": result}
    return types.CallToolResult(
        content=[types.TextContent(text=json.dumps(structured, indent=2, default=str))],
        structured_content=structured,
        is_error=error,
    )
