"""``/api/follows``: list and inspect durable follows (release-approval watches are one
kind), cancel one, run its next check now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from oar.release.follows import Follows, FollowStatus
from oar.web.auth import caller, service_of

router = APIRouter(prefix="/api/follows", tags=["follows"])


def _store(request: Request) -> Follows:
    service = service_of(request)
    return Follows(service.db, service.tasks)


@router.get("")
async def list_follows(
    request: Request,
    kind: Annotated[str | None, Query(max_length=50)] = None,
    status: FollowStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Follows, newest first; filter by kind (``approval``) and status."""
    found = await _store(request).list(kind=kind, status=status, limit=limit)
    return {"follows": [f.to_dict() for f in found]}


@router.get("/{follow_id}")
async def get_follow(request: Request, follow_id: str) -> dict[str, Any]:
    """One follow with its log (404 when there is none with that ID)."""
    return (await _store(request).get(follow_id)).to_dict()


@router.post("/{follow_id}/cancel")
async def cancel_follow(
    request: Request, follow_id: str, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Stop a running follow (its release task records Cancelled); a finished one is returned
    as it is."""
    follow = await _store(request).cancel(follow_id, actor=actor, interface="http")
    return follow.to_dict()


@router.post("/{follow_id}/check-now")
async def check_follow_now(
    request: Request, follow_id: str, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Run a running follow's next check at once. ``woken`` is false when no worker waits
    on it yet (its first check runs when one takes it) or when it has finished."""
    follow, woken = await _store(request).check_now(follow_id, actor=actor, interface="http")
    return {**follow.to_dict(), "woken": woken}
