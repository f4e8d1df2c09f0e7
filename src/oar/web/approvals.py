"""``/api/approvals``: OAR as an approval service for any tool.

Create an approval, list and read them, long-poll for a decision, resolve or cancel. A
second resolution answers 409 with the decision that stands.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator

from oar.engine.approvals import MAX_TIMEOUT, ApprovalInfo, ApprovalStatus, Resolution
from oar.errors import ApprovalError
from oar.web.auth import caller, service_of
from oar.web.bodies import RequestBody

router = APIRouter(prefix="/api/approvals", tags=["approvals"])

MAX_LONG_POLL = 300.0


class SlackTarget(RequestBody):
    """Where the Slack bot announces an approval request."""

    channel: str = Field(min_length=1, max_length=100, description="Channel ID or name.")
    thread_ts: str | None = Field(default=None, max_length=50, description="Thread to post in.")


class ApprovalCreate(RequestBody):
    """An approval to request."""

    run_id: str = Field(min_length=1, max_length=200, description="The run this decision gates.")
    approval_type: str = Field(min_length=1, max_length=100, description="e.g. plan_approval.")
    context: Any = Field(default_factory=dict, description="What the approver decides on (JSON).")
    timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        le=MAX_TIMEOUT,
        description="Seconds until the approval expires (default OAR_APPROVAL_TIMEOUT).",
    )
    session_id: str | None = Field(default=None, max_length=200)
    requested_by: str | None = Field(
        default=None,
        max_length=200,
        description="Whom the caller requests for: kept in the audit log as on_behalf_of;"
        " the approval's requested_by is the authenticated caller.",
    )
    announce: SlackTarget | None = Field(
        default=None, description="Announce it in Slack with Approve / Reject buttons."
    )


class ApprovalDecision(RequestBody):
    """A decision: ``resolution``, or the seed's ``approved`` boolean."""

    resolution: Resolution | None = None
    approved: bool | None = None
    feedback: str = Field(default="", max_length=10_000)
    modifications: Any = None
    by: str | None = Field(
        default=None,
        max_length=200,
        description="Whom the caller decides for: kept in the audit log as on_behalf_of;"
        " resolved_by is the authenticated caller.",
    )

    @model_validator(mode="after")
    def _one_form(self) -> ApprovalDecision:
        if (self.resolution is None) == (self.approved is None):
            raise ValueError(
                "give exactly one of resolution (approved, rejected, modified) or approved"
                " (true/false)"
            )
        return self


class Actor(RequestBody):
    """Whom the caller cancels for (kept in the audit log; the actor is the caller)."""

    by: str | None = Field(default=None, max_length=200)


def _conflict(info: ApprovalInfo, action: str) -> JSONResponse:
    decided = f" ({info.resolution.value} by {info.resolved_by})" if info.resolution else ""
    message = f"cannot {action} approval {info.id}: it is {info.status.value}{decided}"
    return JSONResponse(
        {
            "error": {"type": "ApprovalConflict", "message": message},
            "approval": info.to_dict(),
        },
        status_code=status.HTTP_409_CONFLICT,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_approval(
    request: Request, body: ApprovalCreate, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Request an approval; it is pending until decided, cancelled or expired."""
    approvals = service_of(request).approvals
    approval_id = await approvals.request_approval(
        body.run_id,
        body.approval_type,
        body.context,
        body.timeout_seconds,
        body.session_id,
        requested_by=actor,
        on_behalf_of=body.requested_by,
        interface="http",
        announce_channel=body.announce.channel if body.announce else None,
        announce_thread=body.announce.thread_ts if body.announce else None,
    )
    return (await approvals.get(approval_id)).to_dict()


@router.get("")
async def list_approvals(
    request: Request,
    status: ApprovalStatus | None = None,
    run_id: str | None = None,
    session_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Approvals, newest first, filtered by status, run and session."""
    found = await service_of(request).approvals.list(
        status=status, run_id=run_id, session_id=session_id, limit=limit
    )
    return {"approvals": [a.to_dict() for a in found]}


@router.get("/{approval_id}")
async def get_approval(request: Request, approval_id: str) -> dict[str, Any]:
    """One approval: its context, status, decision and who made it."""
    return (await service_of(request).approvals.get(approval_id)).to_dict()


@router.get("/{approval_id}/wait")
async def wait_for_approval(
    request: Request,
    approval_id: str,
    timeout: Annotated[float, Query(gt=0, le=MAX_LONG_POLL)] = 30.0,
) -> dict[str, Any]:
    """Long poll: answer when the approval is decided, expires, or ``timeout`` passes.

    The answer is the approval; ``status`` tells which (still ``pending`` on timeout).
    """
    approvals = service_of(request).approvals
    with contextlib.suppress(ApprovalError):  # the final state is in the approval itself
        await approvals.wait_for_approval(approval_id, timeout)
    info = await approvals.get(approval_id)
    return info.to_dict()


@router.post("/{approval_id}/resolve", response_model=None)
async def resolve_approval(
    request: Request,
    approval_id: str,
    body: ApprovalDecision,
    actor: Annotated[str, Depends(caller)],
) -> dict[str, Any] | JSONResponse:
    """Decide a pending approval (409 with the standing decision if it was decided)."""
    approvals = service_of(request).approvals
    info = await approvals.get(approval_id)  # 404 for an unknown ID
    decided = await approvals.resolve_approval(
        approval_id,
        body.resolution,
        body.feedback,
        body.modifications,
        approved=body.approved,
        resolved_by=actor,
        on_behalf_of=body.by,
        interface="http",
    )
    info = await approvals.get(approval_id)
    if not decided:
        return _conflict(info, "resolve")
    return info.to_dict()


@router.post("/{approval_id}/cancel", response_model=None)
async def cancel_approval(
    request: Request,
    approval_id: str,
    actor: Annotated[str, Depends(caller)],
    body: Actor | None = None,
) -> dict[str, Any] | JSONResponse:
    """Withdraw a pending approval (409 if it already ended)."""
    approvals = service_of(request).approvals
    await approvals.get(approval_id)
    cancelled = await approvals.cancel_approval(
        approval_id,
        cancelled_by=actor,
        on_behalf_of=body.by if body else None,
        interface="http",
    )
    info = await approvals.get(approval_id)
    if not cancelled:
        return _conflict(info, "cancel")
    return info.to_dict()
