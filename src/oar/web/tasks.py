"""``/api/tasks``: list, inspect, retry and cancel background tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import Field

from oar.engine import TaskStatus
from oar.web.auth import caller, service_of
from oar.web.bodies import RequestBody

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

# Every database's integers hold it (SQLite's and PostgreSQL's bigint end at 2**63 - 1).
MAX_OFFSET = 2**31 - 1


class EnqueueRequest(RequestBody):
    """A task to start. Options left out take the handler's, then the service's defaults."""

    name: str = Field(
        max_length=200, description="A registered task that is not internal (422 otherwise)."
    )
    payload: Any = Field(default=None, description="Any JSON value.")
    key: str | None = Field(
        default=None, description="Idempotency key: the same key returns the same task."
    )
    timeout: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_delay: float | None = Field(default=None, ge=0, le=24 * 3600)


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def enqueue_task(
    request: Request, body: EnqueueRequest, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Start a task; answers 202 with its ID at once (the existing ID for a known key)."""
    task_id = await service_of(request).tasks.enqueue(
        body.name,
        body.payload,
        key=body.key,
        timeout=body.timeout,
        retries=body.retries,
        retry_delay=body.retry_delay,
        source=f"http:{actor}",
    )
    return {"id": task_id}


@router.get("")
async def list_tasks(
    request: Request,
    status: TaskStatus | None = None,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
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
    request: Request, task_id: str, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Run a failed, dead or cancelled task again (409 for any other status)."""
    info = await service_of(request).tasks.retry(task_id, actor=actor, interface="http")
    return info.to_dict()


@router.post("/{task_id}/cancel")
async def cancel_task(
    request: Request, task_id: str, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Stop a pending or running task (409 when it already finished)."""
    info = await service_of(request).tasks.cancel(task_id, actor=actor, interface="http")
    return info.to_dict()
