"""``/api/releases``: the release state (checklist, overall status, blockers) for tools.

Tasks change through the ``oar`` commands, which record every run; here a release can be
added, hidden from the dashboard's overview or shown again, deleted when created by
mistake, and its issues reported and resolved (the caller is recorded as the actor).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import PlainTextResponse
from pydantic import Field

from oar.agents.discovery import KEEP_DAYS
from oar.agents.releases import active_releases, art_files
from oar.release import catalog, statebox
from oar.release.checklist import TASKS
from oar.release.state import ReleaseState
from oar.release.versions import ReleaseVersion, parse_y_stream
from oar.web.auth import caller, service_of
from oar.web.bodies import RequestBody

router = APIRouter(prefix="/api/releases", tags=["releases"])


def _state(request: Request) -> ReleaseState:
    return ReleaseState(service_of(request).db)


class AddRelease(RequestBody):
    """A release to track."""

    release: str = Field(max_length=50, description="A z-stream version, e.g. 4.18.3.")


class NewIssue(RequestBody):
    """An issue or blocker to report."""

    text: str = Field(min_length=1, max_length=2000)
    blocker: bool = True
    tasks: list[str] = Field(default_factory=list, max_length=len(TASKS))


class Resolution(RequestBody):
    """How an issue was resolved."""

    resolution: str = Field(min_length=1, max_length=2000)


@router.get("")
async def list_releases(
    request: Request,
    y_stream: str | None = None,
    active: Annotated[
        bool,
        Query(
            description="Instead, the active releases: each y-stream's latest z-stream"
            " release in ART's files, until a day after its release date (docs/agents.md)."
        ),
    ] = False,
    keep_days: Annotated[
        int, Query(ge=0, le=36500, description="With active: days a release stays active.")
    ] = KEEP_DAYS,
) -> dict[str, Any]:
    """Tracked releases, newest version first, each with its colour, task counts and whether
    it is hidden from the dashboard's overview; with
    ``active=true``, the active releases (release, y-stream, release date, why)."""
    if active:
        service = service_of(request)
        verdicts = await active_releases(
            art_files(service.settings),
            service.db,
            today=datetime.now(UTC).date(),
            keep_days=keep_days,
        )
        stream = parse_y_stream(y_stream) if y_stream is not None else None
        return {"releases": [v.to_dict() for v in verdicts if stream in (None, v.y_stream)]}
    stream = parse_y_stream(y_stream) if y_stream is not None else None
    state = _state(request)
    found = await state.list_releases(y_stream=stream)
    hidden = await state.hidden()
    return {"releases": [{**r.to_dict(), "hidden": r.release in hidden} for r in found]}


@router.post("", status_code=status.HTTP_201_CREATED)
async def add_release(
    request: Request, body: AddRelease, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Track a release (shown again if it was hidden); ``created`` is false when it was
    already tracked."""
    service = service_of(request)
    info, created = await catalog.add_release(
        _state(request), service.settings, body.release, actor=actor
    )
    return {**info.to_dict(), "created": created}


@router.post("/{release}/hide")
async def hide_release(
    request: Request, release: str, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Hide a release from the dashboard's overview (still tracked, listed collapsed)."""
    await catalog.hide_release(_state(request), release, hidden=True, actor=actor)
    return {"release": ReleaseVersion.parse(release).text, "hidden": True}


@router.post("/{release}/show")
async def show_release(
    request: Request, release: str, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Show a hidden release in the dashboard's overview again."""
    await catalog.hide_release(_state(request), release, hidden=False, actor=actor)
    return {"release": ReleaseVersion.parse(release).text, "hidden": False}


@router.post("/{release}/issues", status_code=status.HTTP_201_CREATED)
async def add_issue(
    request: Request, release: str, body: NewIssue, actor: Annotated[str, Depends(caller)]
) -> dict[str, Any]:
    """Report an issue (a blocker unless ``blocker`` is false), as ``oar issue add`` does."""
    state = _state(request)
    version = ReleaseVersion.parse(release)
    await state.get(version)  # 404 for a release that is not tracked
    found = await state.add_issue(
        version, body.text, blocker=body.blocker, related_tasks=body.tasks, actor=actor
    )
    return found.to_dict()


@router.post("/{release}/issues/{issue_id}/resolve")
async def resolve_issue(
    request: Request,
    release: str,
    issue_id: int,
    body: Resolution,
    actor: Annotated[str, Depends(caller)],
) -> dict[str, Any]:
    """Resolve an issue, as ``oar issue resolve`` does (once: the first resolution stays)."""
    found = await _state(request).resolve_issue(
        ReleaseVersion.parse(release), issue_id, body.resolution, actor=actor
    )
    return found.to_dict()


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
