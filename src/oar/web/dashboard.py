"""The dashboard: server-rendered pages at ``/`` and ``/releases/<r>``, kept live.

(The operations page, ``/operations``, is :mod:`oar.web.operations`.)

Routes read through the release state, the follows and the approval manager, shape what
they read with :mod:`oar.release.board`, and render Jinja2 templates: every page reads
without JavaScript. With JavaScript, ``/dashboard/ws`` tells the page which release (or
approval) changed, in any process (:mod:`oar.engine.changes`), and htmx re-fetches just
that fragment. Approve / Reject, add / hide a release, add / resolve an issue are plain
forms (CSRF: the access policy checks their Origin; with a token, the login page's
``SameSite=Strict`` cookie authenticates them), each calling the service function the API
route calls, with the caller recorded as the actor.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from oar.agents.jobruns import BuildRecord, JobRuns
from oar.agents.testresults import BuildLine, build_key, build_line, file_url, result_path
from oar.engine.approvals import ApprovalStatus
from oar.engine.changes import Change
from oar.errors import (
    FollowNotFoundError,
    InvalidArgumentError,
    InvalidFormError,
    InvalidVersionError,
    OarError,
    ReleaseIssueNotFoundError,
    ReleaseNotFoundError,
    TaskNotFoundError,
    TaskStateError,
)
from oar.release import board, catalog
from oar.release.checklist import TASKS
from oar.release.commands import check_email
from oar.release.drive import DriveRequest, start_drive
from oar.release.follows import Follows, FollowStatus
from oar.release.shipment import Badge
from oar.release.state import ReleaseState
from oar.release.versions import ReleaseVersion
from oar.service import Service
from oar.web.access import session_value
from oar.web.auth import caller, service_of

LOGIN_PATH = "/dashboard/login"
SESSION_COOKIE = "oar_session"
PAGE_PREFIXES = ("/releases/", "/dashboard/", "/tests")
_RUNS_PER_RELEASE = 500
# The release page's sections, in order: each a template that reads the page's context.
# A new section (QE test results, ON_QA bugs) is one more template named here.
RELEASE_SECTIONS = (
    "sections/approvals.html",
    "sections/blockers.html",
    "sections/checklist.html",
    "sections/follows.html",
    "sections/bugs.html",
    "_onqa.html",
    "sections/qe_results.html",
)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["when"] = board.when
router = APIRouter(include_in_schema=False)


async def _overview(service: Service) -> dict[str, Any]:
    state = ReleaseState(service.db)
    hidden = await state.hidden()
    rows = []
    for summary in await state.list_releases():
        if summary.release in hidden:
            continue
        info = await state.get(summary.release)
        rows.append(board.row(info, await state.runs(summary.release, limit=_RUNS_PER_RELEASE)))
    pending = await service.approvals.list(status=ApprovalStatus.PENDING, limit=200)
    names = [r.release for r in rows] + sorted(hidden)
    tasks = rows[0].cells if rows else ()
    return {
        "rows": rows,
        "hidden": board.hidden_list(hidden),
        "task_names": [c.task for c in tasks],
        "pending": [(a, board.release_of(a.run_id, a.context, names)) for a in pending],
    }


async def _release(service: Service, release: str) -> dict[str, Any]:
    state = ReleaseState(service.db)
    version = ReleaseVersion.parse(release)
    info = await state.get(version)
    runs = await state.runs(version, limit=_RUNS_PER_RELEASE)
    follows = await Follows(service.db, service.tasks).list(status=FollowStatus.RUNNING, limit=200)
    pending = await service.approvals.list(status=ApprovalStatus.PENDING, limit=200)
    return {
        "info": info,
        "tasks": TASKS,
        "sections": RELEASE_SECTIONS,
        "advisories": board.advisories(info.metadata),
        "builds": board.candidate_builds(info.metadata),
        "row": board.row(info, runs),
        "runs": board.runs_by_task(runs),
        "bugs": await state.bugs(version),
        "follows": [f for f in follows if f.release == info.release],
        "approvals": board.pending_for(info.release, pending),
        "meta": info.metadata,
        "shipment": Badge.of(info.metadata),
        "qe_results": await _qe_results(
            service, info.y_stream, board.candidate_builds(info.metadata)
        ),
    }


async def _qe_results(
    service: Service, y_stream: str, candidates: list[tuple[str, str]]
) -> list[tuple[str, str, BuildLine | None, str | None]]:
    """The CI gate's recorded result of each candidate build: ``(architecture, build,
    its line on the /tests page or None when the gate recorded none, result file URL)``.
    A candidate is a pull spec; the gate records the build by its tag."""
    recorded = {r.build: r for r in await JobRuns(service.db).builds(y_stream)}
    rows: list[tuple[str, str, BuildLine | None, str | None]] = []
    for arch, spec in candidates:
        build = spec.rpartition(":")[2]
        record = recorded.get(build)
        if record is None:
            rows.append((arch, build, None, None))
        else:
            line, url = _result_line(service, record)
            rows.append((arch, build, line, url))
    return rows


def _result_line(service: Service, record: BuildRecord) -> tuple[BuildLine, str | None]:
    """A recorded build as a line of the test results, with its result file's web page."""
    settings = service.settings
    path = result_path(record.build, record.arch)
    url = file_url(settings.github_api_url, settings.github_repo, settings.job_record_branch, path)
    return build_line(record.document, build=record.build, arch=record.arch), url


def page(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    """Render template ``name`` (status from ``status_code`` in ``context``, else 200)."""
    token_set = service_of(request).settings.api_token is not None
    status = int(context.get("status_code", 200))
    return templates.TemplateResponse(
        request, name, {**context, "token_set": token_set}, status_code=status
    )


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> HTMLResponse:
    """Every tracked release by checklist task, with colour, blockers and approvals."""
    return page(request, "overview.html", await _overview(service_of(request)))


@router.get("/dashboard/fragments/overview", response_class=HTMLResponse)
async def overview_fragment(request: Request) -> HTMLResponse:
    return page(request, "_overview.html", await _overview(service_of(request)))


@router.get("/releases/{release}", response_class=HTMLResponse)
async def releasepage(request: Request, release: str) -> HTMLResponse:
    """One release: checklist with runs and logs, blockers, bugs, follows, approvals."""
    try:
        context = await _release(service_of(request), release)
    except ReleaseNotFoundError as exc:
        return page(request, "missing.html", {"message": exc.message, "status_code": 404})
    except InvalidVersionError as exc:
        return page(request, "missing.html", {"message": exc.message, "status_code": 400})
    return page(request, "release.html", context)


@router.get("/dashboard/fragments/releases/{release}", response_class=HTMLResponse)
async def release_fragment(request: Request, release: str) -> HTMLResponse:
    return page(request, "_release.html", await _release(service_of(request), release))


async def _test_results(service: Service, y_stream: str) -> dict[str, Any]:
    runs = JobRuns(service.db)
    records = await runs.builds(y_stream)
    records.sort(key=lambda r: (build_key(r.build), r.arch), reverse=True)
    lines = [_result_line(service, record) for record in records]
    return {"y_stream": y_stream, "lines": lines, "y_streams": await runs.y_streams()}


@router.get("/tests", response_class=HTMLResponse)
async def tests_index(request: Request) -> HTMLResponse:
    """The minor releases whose builds the CI gate tested."""
    y_streams = await JobRuns(service_of(request).db).y_streams()
    return page(request, "tests_index.html", {"y_streams": y_streams})


@router.get("/tests/{y_stream}", response_class=HTMLResponse)
async def tests_page(request: Request, y_stream: str) -> HTMLResponse:
    """A minor release's builds: state, per-job summary, every run (retries too)."""
    return page(request, "tests.html", await _test_results(service_of(request), y_stream))


@router.get("/dashboard/fragments/tests/{y_stream}", response_class=HTMLResponse)
async def tests_fragment(request: Request, y_stream: str) -> HTMLResponse:
    return page(request, "_tests.html", await _test_results(service_of(request), y_stream))


def _local(target: str) -> str:
    """``target`` if it is a path on this server, else ``/`` (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what a plain HTML form posts), each
    field's first value; the access middleware has already capped its size."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body, max_num_fields=20).items()}


def _field(form: dict[str, str], name: str, *, limit: int, default: str = "") -> str:
    value = form.get(name, default)
    if len(value) > limit or "\x00" in value:
        raise InvalidFormError(name, limit)
    return value


_FORM_STATUS: tuple[tuple[type[OarError], int], ...] = (
    (ReleaseNotFoundError, 404),
    (ReleaseIssueNotFoundError, 404),
    (TaskNotFoundError, 404),
    (FollowNotFoundError, 404),
    (TaskStateError, 409),
)


def refused(request: Request, exc: OarError) -> HTMLResponse:
    """What went wrong with a form, as a page (the API answers the same error as JSON)."""
    status = next((code for kind, code in _FORM_STATUS if isinstance(exc, kind)), 400)
    context = {"message": exc.message, "status_code": status, "title": "Not done"}
    return page(request, "missing.html", context)


@router.post("/dashboard/releases", response_model=None)
async def add_release_from_page(
    request: Request, actor: Annotated[str, Depends(caller)]
) -> Response:
    """Track a release, then to its page; a bad name re-renders the overview saying why."""
    form = await _form(request)
    name = _field(form, "release", limit=50)
    service = service_of(request)
    try:
        info, _ = await catalog.add_release(
            ReleaseState(service.db), service.settings, name, actor=actor
        )
    except OarError as exc:
        context = {**await _overview(service), "add_error": exc.message, "add_value": name}
        return page(request, "overview.html", {**context, "status_code": 400})
    return RedirectResponse(f"/releases/{info.release}", status_code=303)


async def _set_hidden(request: Request, release: str, *, hidden: bool, actor: str) -> Response:
    state = ReleaseState(service_of(request).db)
    try:
        await catalog.hide_release(state, release, hidden=hidden, actor=actor)
    except OarError as exc:
        return refused(request, exc)
    return RedirectResponse("/", status_code=303)


@router.post("/dashboard/releases/{release}/hide", response_model=None)
async def hide_from_page(
    request: Request, release: str, actor: Annotated[str, Depends(caller)]
) -> Response:
    """Hide a release from the overview (still tracked, listed collapsed)."""
    return await _set_hidden(request, release, hidden=True, actor=actor)


@router.post("/dashboard/releases/{release}/show", response_model=None)
async def show_from_page(
    request: Request, release: str, actor: Annotated[str, Depends(caller)]
) -> Response:
    """Show a hidden release in the overview again."""
    return await _set_hidden(request, release, hidden=False, actor=actor)


@router.post("/dashboard/releases/{release}/issues", response_model=None)
async def add_issue_from_page(
    request: Request, release: str, actor: Annotated[str, Depends(caller)]
) -> Response:
    """Report an issue or blocker (as ``oar issue add``), then back to the release."""
    form = await _form(request)
    text = _field(form, "text", limit=2000).strip()
    blocker = _field(form, "kind", limit=20, default="blocker") == "blocker"
    task = _field(form, "task", limit=100)
    reporter = board.actor_name(actor, _field(form, "by", limit=200))
    state = ReleaseState(service_of(request).db)
    try:
        version = ReleaseVersion.parse(release)
        await state.get(version)
        if not text:
            raise InvalidFormError("text", 2000, problem="must not be empty")
        await state.add_issue(
            version, text, blocker=blocker, related_tasks=[task] if task else [], actor=reporter
        )
    except OarError as exc:
        return refused(request, exc)
    return RedirectResponse(f"/releases/{version.text}#blockers-h", status_code=303)


@router.post("/dashboard/releases/{release}/issues/{issue_id}/resolve", response_model=None)
async def resolve_issue_from_page(
    request: Request, release: str, issue_id: int, actor: Annotated[str, Depends(caller)]
) -> Response:
    """Resolve an issue (as ``oar issue resolve``), then back to the release."""
    form = await _form(request)
    resolution = _field(form, "resolution", limit=2000).strip()
    state = ReleaseState(service_of(request).db)
    try:
        version = ReleaseVersion.parse(release)
        if not resolution:
            raise InvalidFormError("resolution", 2000, problem="must say how it was resolved")
        await state.resolve_issue(version, issue_id, resolution, actor=actor)
    except OarError as exc:
        return refused(request, exc)
    return RedirectResponse(f"/releases/{version.text}#blockers-h", status_code=303)


@router.post("/dashboard/approvals/{approval_id}/resolve", response_model=None)
async def resolve_frompage(
    request: Request, approval_id: str, actor: Annotated[str, Depends(caller)]
) -> Response:
    """Approve or reject from the page, then back to the page (or what went wrong)."""
    form = await _form(request)
    resolution = _field(form, "resolution", limit=20)
    feedback = _field(form, "feedback", limit=10_000)
    by = _field(form, "by", limit=200)
    target = _local(_field(form, "next", limit=500, default="/"))
    approvals = service_of(request).approvals
    await approvals.get(approval_id)  # 404 for an unknown ID
    decided = await approvals.resolve_approval(
        approval_id,
        resolution,
        feedback,
        None,
        resolved_by=actor,
        on_behalf_of=by or None,
        interface="dashboard",
    )
    if not decided:
        info = await approvals.get(approval_id)
        message = f"approval {approval_id} is {info.status.value}: it was not changed"
        return page(request, "missing.html", {"message": message, "status_code": 409})
    return RedirectResponse(target, status_code=303)


@router.post("/dashboard/releases/{release}/drive", response_model=None)
async def drive_from_page(
    request: Request, release: str, actor: Annotated[str, Depends(caller)]
) -> Response:
    """Start (or join) the release's drive (:func:`oar.release.drive.start_drive`, as ``oar
    drive`` and the MCP tool do), then back to the release's page."""
    form = await _form(request)
    email = _field(form, "email", limit=200).strip()
    service = service_of(request)
    try:
        version = ReleaseVersion.parse(release)
        request_ = DriveRequest(
            release=version,
            until=None,
            email=check_email(email, option="email") if email else None,
            actor=actor,
            interface="dashboard",
        )
        await start_drive(service.settings, service.db, service.tasks, request_)
    except (InvalidVersionError, InvalidArgumentError) as exc:
        return page(request, "missing.html", {"message": exc.message, "status_code": 400})
    return RedirectResponse(f"/releases/{version.text}", status_code=303)


@router.get(LOGIN_PATH, response_class=HTMLResponse)
async def loginpage(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, "login.html", {"next": _local(next), "error": None})


@router.post(LOGIN_PATH, response_model=None)
async def login(request: Request) -> Response:
    """Exchange the API token for the dashboard's session cookie (HttpOnly, SameSite)."""
    form = await _form(request)
    token = _field(form, "token", limit=1000)
    next = _local(_field(form, "next", limit=500, default="/"))
    configured = service_of(request).settings.api_token
    if configured is None:
        return RedirectResponse(_local(next), status_code=303)
    secret = configured.get_secret_value().encode()
    given = session_value(token.strip().encode())
    if not _same(given, session_value(secret)):
        context = {"next": _local(next), "error": "That is not the API token.", "status_code": 403}
        return page(request, "login.html", context)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(secret),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/dashboard/logout")
async def logout() -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@router.websocket("/dashboard/ws")
async def changes_socket(websocket: WebSocket) -> None:
    """Tell the page what changed: ``{"kind": "release" | "approval" | "tests" | "task" |
    "follow" | "schedule", "id": …}``."""
    service: Service = websocket.app.state.service
    await websocket.accept()
    outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)

    def on_change(change: Change) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a page this far behind reloads
            outbox.put_nowait(json.dumps({"kind": change.kind, "id": change.id}))

    def on_operation(change: Change) -> None:  # "task:<id>", "follow:<id>", "schedule:<name>"
        kind, _, row_id = change.id.partition(":")
        with contextlib.suppress(asyncio.QueueFull):
            outbox.put_nowait(json.dumps({"kind": kind, "id": row_id}))

    unsubscribe = [
        service.feed.subscribe(kind, on_change) for kind in ("release", "approval", "tests")
    ]
    unsubscribe.append(service.feed.subscribe("operation", on_operation))

    async def send() -> None:
        while True:
            await websocket.send_text(await outbox.get())

    sender = asyncio.create_task(send())
    try:
        while True:
            await websocket.receive_text()  # the page sends nothing; this sees it leave
    except WebSocketDisconnect:
        pass
    finally:
        for stop in unsubscribe:
            stop()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
