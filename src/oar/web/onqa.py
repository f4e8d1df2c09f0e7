"""The ON_QA bugs of a release with their escalation state (the Jira notificator's record):
``GET /api/releases/{release}/onqa`` and the release page's section fragment."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from oar.agents.escalationlog import EscalationLog
from oar.agents.notificator import on_qa_board
from oar.release.versions import ReleaseVersion
from oar.web.auth import service_of
from oar.web.dashboard import templates

router = APIRouter(tags=["releases"])


async def _board(request: Request, release: str) -> dict[str, Any]:
    version = ReleaseVersion.parse(release)  # 400 for what is not a release
    target = f"{version.major}.{version.minor}.z"
    board = await on_qa_board(EscalationLog(service_of(request).db), target)
    return {"release": version.text, **board}


@router.get("/api/releases/{release}/onqa")
async def on_qa_bugs(request: Request, release: str) -> dict[str, Any]:
    """The release's ON_QA bugs (target version ``<y>.z``) as the notificator's latest run
    saw them, each with its escalation steps (tier, status, when, who was mentioned)."""
    return await _board(request, release)


@router.get(
    "/dashboard/fragments/releases/{release}/onqa",
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def on_qa_fragment(request: Request, release: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "_onqa.html", {"onqa": await _board(request, release)}
    )
