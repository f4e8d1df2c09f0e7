"""The dashboard's operations page, ``/operations``: background tasks, schedules, follows.

What ``oarctl tasks``, ``oarctl schedules`` and ``oarctl follows`` show, read through the
same engine functions, with Retry / Cancel as plain forms (the access policy checks their
Origin, the session cookie authenticates them when a token is set; the caller is the
actor recorded). ``/dashboard/ws`` says which task, follow or schedule changed (a
schedule's tick, its pause or resumption), in any process, and htmx re-fetches the page's
fragment: no reload, no polling loop in the browser.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from oar.engine import TaskStatus
from oar.errors import OarError
from oar.release.follows import Follows, FollowStatus
from oar.service import Service
from oar.web.auth import caller, service_of
from oar.web.dashboard import page, refused

PATH = "/operations"
_TASK_ROWS = 200
_FOLLOW_ROWS = 200

router = APIRouter(include_in_schema=False)


def _status(value: str | None) -> TaskStatus | None:
    """The status filter: one of the task statuses, or None (every task) for anything else."""
    return TaskStatus(value) if value in {s.value for s in TaskStatus} else None


async def _operations(service: Service, status: TaskStatus | None) -> dict[str, Any]:
    tasks = await service.tasks.list(status=status, limit=_TASK_ROWS)
    follows = await Follows(service.db, service.tasks).list(limit=_FOLLOW_ROWS)
    return {
        "tasks": tasks,
        "status": status.value if status else "",
        "statuses": [s.value for s in TaskStatus],
        "counts": await service.tasks.counts(),
        "schedules": await service.schedules.list(),
        "running_follows": [f for f in follows if f.status is FollowStatus.RUNNING],
        "finished_follows": [f for f in follows if f.status is not FollowStatus.RUNNING][:20],
    }


@router.get(PATH, response_class=HTMLResponse)
async def operations_page(request: Request, status: str | None = None) -> HTMLResponse:
    """Background tasks (filter by status; retry, cancel), schedules, follows."""
    context = await _operations(service_of(request), _status(status))
    return page(request, "operations.html", context)


@router.get("/dashboard/fragments/operations", response_class=HTMLResponse)
async def operations_fragment(request: Request, status: str | None = None) -> HTMLResponse:
    context = await _operations(service_of(request), _status(status))
    return page(request, "_operations.html", context)


def _back(request: Request) -> str:
    """Back to the operations page with the filter it had (from the form's query string)."""
    status = _status(request.query_params.get("status"))
    return f"{PATH}?status={status.value}" if status else PATH


@router.post("/dashboard/tasks/{task_id}/{action}", response_model=None)
async def task_action(
    request: Request, task_id: str, action: str, actor: Annotated[str, Depends(caller)]
) -> Response:
    """Retry a failed, dead or cancelled task, or cancel a pending or running one."""
    tasks = service_of(request).tasks
    try:
        if action == "retry":
            await tasks.retry(task_id, actor=actor, interface="dashboard")
        elif action == "cancel":
            await tasks.cancel(task_id, actor=actor, interface="dashboard")
        else:
            return page(request, "missing.html", {"message": "no such action", "status_code": 404})
    except OarError as exc:
        return refused(request, exc)
    return RedirectResponse(_back(request), status_code=303)


@router.post("/dashboard/follows/{follow_id}/cancel", response_model=None)
async def cancel_follow(
    request: Request, follow_id: str, actor: Annotated[str, Depends(caller)]
) -> Response:
    """Stop a running follow (its release task records Cancelled), as ``oarctl follows cancel``."""
    service = service_of(request)
    try:
        await Follows(service.db, service.tasks).cancel(
            follow_id, actor=actor, interface="dashboard"
        )
    except OarError as exc:
        return refused(request, exc)
    return RedirectResponse(_back(request), status_code=303)
