"""``oarctl approvals``: request, inspect, decide, cancel and wait for approvals."""

from __future__ import annotations

import json
from typing import Any

import click

from oar.cli.actor import current_actor
from oar.cli.console import (
    client,
    fail,
    json_option,
    out,
    print_json,
    run,
    settings_or_exit,
    short,
    table,
    when,
)
from oar.engine.approvals import MAX_TIMEOUT, ApprovalInfo, ApprovalStatus, Resolution
from oar.errors import ApprovalError, ApprovalNotFoundError, ApprovalTimeoutError, OarError


def _json_arg(value: str | None, option: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        fail(f"{option} is not valid JSON: {exc}", code=2)


def _print(info: ApprovalInfo) -> None:
    table(
        f"approval {info.id}",
        ["FIELD", "VALUE"],
        [
            ("id", info.id),
            ("run", info.run_id),
            ("session", info.session_id or ""),
            ("type", info.approval_type),
            ("status", info.status.value),
            ("resolution", info.resolution.value if info.resolution else ""),
            (
                "decided by",
                f"{info.resolved_by} via {info.resolved_via}" if info.resolved_by else "",
            ),
            ("feedback", info.feedback or ""),
            ("modifications", "" if info.modifications is None else json.dumps(info.modifications)),
            (
                "requested",
                f"{when(info.created_at)} by {info.requested_by} via {info.requested_via}",
            ),
            ("expires", when(info.expires_at)),
            ("ended", when(info.resolved_at)),
            ("context", json.dumps(info.context)),
        ],
    )


@click.group()
def approvals() -> None:
    """Human approvals: request, list, approve, reject, cancel, wait."""


@approvals.command("list")
@click.option("--status", type=click.Choice([s.value for s in ApprovalStatus]))
@click.option("--run-id", help="Only approvals of this run.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@json_option
def approvals_list(status: str | None, run_id: str | None, limit: int, as_json: bool) -> None:
    """List approvals, newest first."""
    settings = settings_or_exit(quiet=True)

    async def fetch() -> list[ApprovalInfo]:
        async with client(settings) as service:
            return await service.approvals.list(
                status=ApprovalStatus(status) if status else None, run_id=run_id, limit=limit
            )

    found = run(fetch())
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    table(
        "approvals",
        ["ID", "RUN", "TYPE", "STATUS", "RESOLUTION", "BY", "EXPIRES (UTC)", "CONTEXT"],
        (
            [
                a.id,
                a.run_id,
                a.approval_type,
                a.status.value,
                a.resolution.value if a.resolution else "",
                a.resolved_by or "",
                when(a.expires_at),
                short(json.dumps(a.context), 40),
            ]
            for a in found
        ),
    )


@approvals.command("show")
@click.argument("approval_id")
@json_option
def approvals_show(approval_id: str, as_json: bool) -> None:
    """Show one approval."""
    settings = settings_or_exit(quiet=True)

    async def fetch() -> ApprovalInfo:
        async with client(settings) as service:
            return await service.approvals.get(approval_id)

    info = run(fetch())
    if as_json:
        print_json(info.to_dict())
    else:
        _print(info)


@approvals.command("request")
@click.option("--run-id", required=True, help="The run this decision gates.")
@click.option("--type", "approval_type", required=True, help="e.g. release_approval.")
@click.option(
    "--context", "context", default="{}", show_default=True, help="What to decide on, as JSON."
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, MAX_TIMEOUT, min_open=True),
    help="Seconds until it expires.",
)
@click.option("--session-id", help="Session the approval belongs to.")
@json_option
def approvals_request(
    run_id: str,
    approval_type: str,
    context: str,
    timeout: float | None,
    session_id: str | None,
    as_json: bool,
) -> None:
    """Request an approval; print its ID."""
    value = _json_arg(context, "--context")
    settings = settings_or_exit(quiet=True)
    actor = current_actor()

    async def act() -> ApprovalInfo:
        async with client(settings) as service:
            approval_id = await service.approvals.request_approval(
                run_id,
                approval_type,
                value,
                timeout,
                session_id,
                requested_by=actor.name,
                interface=actor.interface,
            )
            return await service.approvals.get(approval_id)

    info = run(act())
    if as_json:
        print_json(info.to_dict())
    else:
        out.print(info.id, highlight=False)


def _decide(
    approval_id: str, resolution: Resolution, feedback: str, modifications: Any, as_json: bool
) -> None:
    settings = settings_or_exit(quiet=True)
    actor = current_actor()

    async def act() -> tuple[bool, ApprovalInfo]:
        async with client(settings) as service:
            await service.approvals.get(approval_id)
            decided = await service.approvals.resolve_approval(
                approval_id,
                resolution,
                feedback,
                modifications,
                resolved_by=actor.name,
                interface=actor.interface,
            )
            return decided, await service.approvals.get(approval_id)

    decided, info = run(act())
    if as_json:
        print_json(info.to_dict())
    if not decided:
        standing = f" ({info.resolution.value} by {info.resolved_by})" if info.resolution else ""
        fail(f"approval {approval_id} was not {resolution.value}: it is {info.status}{standing}")
    if not as_json:
        out.print(
            f"approval {approval_id} {info.resolution.value if info.resolution else ''}",
            highlight=False,
        )


@approvals.command("approve")
@click.argument("approval_id")
@click.option("--feedback", default="", help="A note for the requester.")
@click.option("--modifications", help="Approve with changes, as JSON (resolution: modified).")
@json_option
def approvals_approve(
    approval_id: str, feedback: str, modifications: str | None, as_json: bool
) -> None:
    """Approve (or, with --modifications, approve with changes)."""
    changes = _json_arg(modifications, "--modifications")
    resolution = Resolution.MODIFIED if changes is not None else Resolution.APPROVED
    _decide(approval_id, resolution, feedback, changes, as_json)


@approvals.command("reject")
@click.argument("approval_id")
@click.option("--feedback", default="", help="Why.")
@json_option
def approvals_reject(approval_id: str, feedback: str, as_json: bool) -> None:
    """Reject."""
    _decide(approval_id, Resolution.REJECTED, feedback, None, as_json)


@approvals.command("cancel")
@click.argument("approval_id")
def approvals_cancel(approval_id: str) -> None:
    """Withdraw a pending approval."""
    settings = settings_or_exit(quiet=True)
    actor = current_actor()

    async def act() -> tuple[bool, ApprovalInfo]:
        async with client(settings) as service:
            await service.approvals.get(approval_id)
            cancelled = await service.approvals.cancel_approval(
                approval_id, cancelled_by=actor.name, interface=actor.interface
            )
            return cancelled, await service.approvals.get(approval_id)

    cancelled, info = run(act())
    if not cancelled:
        fail(f"approval {approval_id} was not cancelled: it is {info.status.value}")
    out.print(f"approval {approval_id} cancelled", highlight=False)


@approvals.command("wait")
@click.argument("approval_id")
@click.option(
    "--timeout",
    type=click.FloatRange(0, MAX_TIMEOUT, min_open=True),
    help="Give up after N seconds.",
)
@json_option
def approvals_wait(approval_id: str, timeout: float | None, as_json: bool) -> None:
    """Wait for a decision; exit 0 approved/modified, 1 rejected, 3 expired, 4 timed out."""
    settings = settings_or_exit(quiet=True)

    async def act() -> tuple[ApprovalInfo, OarError | None]:
        async with client(settings) as service:
            error: OarError | None = None
            try:
                await service.approvals.wait_for_approval(approval_id, timeout)
            except ApprovalTimeoutError as exc:
                if not exc.expired:
                    error = exc
            except ApprovalNotFoundError:
                raise
            except ApprovalError:
                pass  # expired or cancelled: the final state is reported below
            return await service.approvals.get(approval_id), error

    info, error = run(act())
    if as_json:
        print_json(info.to_dict())
    elif error is None:
        decided = info.resolution.value if info.resolution else info.status.value
        out.print(f"approval {approval_id}: {decided}", highlight=False)
    if error is not None:
        fail(error.message, code=4)
    if info.status is ApprovalStatus.RESOLVED:
        raise SystemExit(0 if info.resolution and info.resolution.approved else 1)
    raise SystemExit(3)
