"""``/api/tasks``: list, inspect, retry and cancel background tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from oar.engine import TaskStatus
from oar.web.auth import require_token, service_of

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


@router.get("")
async def list_tasks(
    request: Request,
    status: TaskStatus | None = None,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Tasks, newest first; ``status=dead`` is the dead-letter list."""
    tasks = await service_of(request).tasks.list(
        status=status, name=name, limit=limit, offset=offset
    )
    return {"tasks": [t.to_dict(with_attempts=False) for t in tasks]}


@router.get("/{task_id}")
async def get_task(request: Request, task_id: str) -> dict[str, Any]:
    """One task with its attempts, last error and result."""
    return (await service_of(request).tasks.get(task_id)).to_dict()


@router.post("/{task_id}/retry")
async def retry_task(
    request: Request, task_id: str, actor: Annotated[str, Depends(require_token)]
) -> dict[str, Any]:
    """Run a failed, dead or cancelled task again (409 for any other status)."""
    info = await service_of(request).tasks.retry(task_id, actor=actor, interface="http")
    return info.to_dict()


@router.post("/{task_id}/cancel")
async def cancel_task(
    request: Request, task_id: str, actor: Annotated[str, Depends(require_token)]
) -> dict[str, Any]:
    """Stop a pending or running task (409 when it already finished)."""
    info = await service_of(request).tasks.cancel(task_id, actor=actor, interface="http")
    return info.to_dict()
