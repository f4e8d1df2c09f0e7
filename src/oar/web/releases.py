"""``/api/releases``: the release state (checklist, overall status, blockers) for tools.

Read-only but for ``DELETE`` (authenticated): releases change through the ``oar``
commands, which record every run.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from oar.release import statebox
from oar.release.checklist import TASKS
from oar.release.state import ReleaseState
from oar.release.versions import ReleaseVersion, parse_y_stream
from oar.web.auth import caller, service_of

router = APIRouter(prefix="/api/releases", tags=["releases"])


def _state(request: Request) -> ReleaseState:
    return ReleaseState(service_of(request).db)


@router.get("")
async def list_releases(request: Request, y_stream: str | None = None) -> dict[str, Any]:
    """Tracked releases, newest version first, each with its colour and task counts."""
    stream = parse_y_stream(y_stream) if y_stream is not None else None
    found = await _state(request).list_releases(y_stream=stream)
    return {"releases": [r.to_dict() for r in found]}


@router.get("/{release}")
async def get_release(request: Request, release: str, logs: bool = False) -> dict[str, Any]:
    """One release: metadata, every checklist task, overall status, blockers and issues."""
    info = await _state(request).get(ReleaseVersion.parse(release))
    return info.to_dict(with_logs=logs)


@router.delete("/{release}")
async def delete_release(
    request: Request, release: str, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Delete a release created by mistake with everything recorded for it (404 when not
    tracked, 409 while a follow or a run for it is in progress)."""
    version = ReleaseVersion.parse(release)
    await _state(request).delete(version)
    return {"release": version.text, "deleted": True, "by": actor}


@router.get("/{release}/runs")
async def list_runs(
    request: Request,
    release: str,
    task: Annotated[str | None, Query(description=f"One of: {', '.join(TASKS)}")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The history of task runs of a release, newest first."""
    state = _state(request)
    version = ReleaseVersion.parse(release)
    await state.get(version)  # 404 for a release that is not tracked
    runs = await state.runs(version, task=task, limit=limit)
    return {"runs": [r.to_dict() for r in runs]}


@router.get("/{release}/bugs")
async def list_bugs(request: Request, release: str, attached: bool | None = None) -> dict[str, Any]:
    """The release's bugs as update-bug-list last recorded them (``attached=true``: only
    those still attached; ``false``: only the detached ones)."""
    version = ReleaseVersion.parse(release)
    found = await _state(request).bugs(version)
    if attached is not None:
        found = [b for b in found if b.attached is attached]
    return {"release": version.text, "bugs": [b.to_dict() for b in found]}


@router.get("/{release}/statebox", response_class=PlainTextResponse)
async def get_statebox(request: Request, release: str) -> PlainTextResponse:
    """The release as a StateBox YAML document (schema 1.0)."""
    info = await _state(request).get(ReleaseVersion.parse(release))
    return PlainTextResponse(
        statebox.dump(statebox.statebox_document(info)), media_type="application/yaml"
    )
