"""The FastAPI application: lifespan owns the Service, routes translate and delegate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from oar import __version__
from oar.errors import (
    ApprovalExpiredError,
    ApprovalNotFoundError,
    ApprovalTimeoutError,
    ConfigurationError,
    InternalTaskError,
    InvalidResolutionError,
    InvalidVersionError,
    OarError,
    ReleaseIssueNotFoundError,
    ReleaseNotFoundError,
    ReleaseTaskError,
    TaskKeyError,
    TaskNotFoundError,
    TaskPayloadError,
    TaskStateError,
    UnknownTaskError,
)
from oar.github.routes import webhook_router
from oar.service import Service
from oar.web import approvals, health, releases, tasks, ws
from oar.web.slack import slack_router

_STATUS: list[tuple[type[OarError], int]] = [
    (ApprovalNotFoundError, 404),
    (InvalidResolutionError, 422),
    (ApprovalExpiredError, 409),
    (ApprovalTimeoutError, 408),
    (TaskNotFoundError, 404),
    (TaskStateError, 409),
    (UnknownTaskError, 422),
    (InternalTaskError, 422),
    (TaskPayloadError, 422),
    (TaskKeyError, 422),
    (ConfigurationError, 500),
    (InvalidVersionError, 400),
    (ReleaseNotFoundError, 404),
    (ReleaseIssueNotFoundError, 404),
    (ReleaseTaskError, 422),
]


def error_body(exc: OarError) -> dict[str, object]:
    return {"error": {"type": type(exc).__name__, "message": exc.message}}


def create_app(service: Service, *, owns_service: bool = True) -> FastAPI:
    """The app for ``service``.

    With ``owns_service`` the app's lifespan starts and stops the service (tests, ASGI
    servers); ``oarctl serve`` starts the service itself and passes False.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owns_service:
            async with service:
                yield
        else:
            yield

    app = FastAPI(
        title="OAR",
        version=__version__,
        description="OpenShift z-stream release automation: tasks, approvals, releases.",
        lifespan=lifespan,
    )
    app.state.service = service

    @app.exception_handler(OarError)
    async def _oar_error(request: Request, exc: OarError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        return JSONResponse(error_body(exc), status_code=status)

    app.include_router(health.router)
    app.include_router(tasks.router)
    app.include_router(approvals.router)
    app.include_router(releases.router)
    app.include_router(ws.router)
    if service.bot is not None and service.settings.slack_mode == "http":
        app.include_router(slack_router(service.bot, service.settings.slack_events_path))
    if service.github_app is not None:
        app.include_router(
            webhook_router(service.github_app, service.settings.githubapp_webhook_path)
        )
    return app
