"""``/api/releases``: the release state (checklist, overall status, blockers) for tools.

Read-only: releases change through the ``oar`` commands, which record every run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from oar.agents.discovery import KEEP_DAYS
from oar.agents.releases import active_releases, art_files
from oar.release import statebox
from oar.release.checklist import TASKS
from oar.release.state import ReleaseState
from oar.release.versions import ReleaseVersion, parse_y_stream
from oar.web.auth import service_of

router = APIRouter(prefix="/api/releases", tags=["releases"])


def _state(request: Request) -> ReleaseState:
    return ReleaseState(service_of(request).db)


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
    """Tracked releases, newest version first, each with its colour and task counts; with
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
    found = await _state(request).list_releases(y_stream=stream)
    return {"releases": [r.to_dict() for r in found]}


@router.get("/{release}")
async def get_release(request: Request, release: str, logs: bool = False) -> dict[str, Any]:
    """One release: metadata, every checklist task, overall status, blockers and issues."""
    info = await _state(request).get(ReleaseVersion.parse(release))
    return info.to_dict(with_logs=logs)


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
