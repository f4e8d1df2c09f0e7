"""The FastAPI application: lifespan owns the Service, routes translate and delegate."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.routing import Route

from oar import __version__
from oar.adapters import ports_opener
from oar.errors import (
    ApprovalExpiredError,
    ApprovalNotFoundError,
    ApprovalTimeoutError,
    ConfigurationError,
    FollowNotFoundError,
    InternalTaskError,
    InvalidFormError,
    InvalidResolutionError,
    InvalidVersionError,
    OarError,
    ReleaseBusyError,
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
from oar.mcp.server import McpParts, McpServer
from oar.service import Service
from oar.settings import Settings
from oar.web import (
    approvals,
    dashboard,
    docs,
    follows,
    health,
    onqa,
    operations,
    releases,
    tasks,
    ws,
)
from oar.web.access import AccessPolicy, DashboardAccess
from oar.web.auth import AccessMiddleware, identity_of
from oar.web.slack import slack_router

MCP_PATH = "/mcp"

_STATUS: list[tuple[type[OarError], int]] = [
    (ApprovalNotFoundError, 404),
    (InvalidResolutionError, 422),
    (InvalidFormError, 422),
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
    (ReleaseBusyError, 409),
    (ReleaseIssueNotFoundError, 404),
    (ReleaseTaskError, 422),
    (FollowNotFoundError, 404),
]


def error_body(exc: OarError) -> dict[str, object]:
    return {"error": {"type": type(exc).__name__, "message": exc.message}}


class _ValidationResponse(JSONResponse):
    """422 details in ASCII: a refused input may hold what UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def validation_body(exc: RequestValidationError) -> dict[str, object]:
    """FastAPI's 422 details without echoing the input back (it can be a megabyte, NaN or
    a lone surrogate, which the default answer fails to render: a 500)."""
    errors = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
    return {"detail": jsonable_encoder(errors)}


def create_app(service: Service, *, owns_service: bool = True) -> FastAPI:
    """The app for ``service``.

    With ``owns_service`` the app's lifespan starts and stops the service (tests, ASGI
    servers); ``oarctl serve`` starts the service itself and passes False.
    """

    server = mcp_server(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if owns_service:
                await stack.enter_async_context(service)
            await stack.enter_async_context(server.running())
            yield

    app = FastAPI(
        title="OAR",
        version=__version__,
        description="OpenShift z-stream release automation: tasks, approvals, releases.",
        lifespan=lifespan,
        docs_url=None,  # oar.web.docs serves them from vendored assets, not a CDN
        redoc_url=None,
    )
    app.state.service = service

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _ValidationResponse(validation_body(exc), status_code=422)

    @app.exception_handler(OarError)
    async def _oar_error(request: Request, exc: OarError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        return JSONResponse(error_body(exc), status_code=status)

    settings = service.settings
    app.include_router(health.router)
    app.include_router(tasks.router)
    app.include_router(approvals.router)
    app.include_router(releases.router)
    app.include_router(onqa.router)
    app.include_router(follows.router)
    app.include_router(ws.router)
    app.include_router(docs.router)
    app.include_router(dashboard.router)
    app.include_router(operations.router)
    app.mount(docs.STATIC_PATH, docs.static_files(), name="static")
    # The transport is an ASGI app: a Route with it as endpoint hands it the raw request.
    app.router.routes.append(Route(MCP_PATH, endpoint=server.asgi(), include_in_schema=False))
    signed: set[str] = set()  # receivers that verify their own signatures
    if service.bot is not None and settings.slack_mode == "http":
        app.include_router(slack_router(service.bot, settings.slack_events_path))
        signed.add(settings.slack_events_path)
    if service.github_app is not None:
        app.include_router(webhook_router(service.github_app, settings.githubapp_webhook_path))
        signed.add(settings.githubapp_webhook_path)
    _protect(app, settings, signed)
    return app


def create_mcp_app(service: Service, *, owns_service: bool = True) -> FastAPI:
    """Only the MCP server (``/mcp``) and the health checks: ``oarctl mcp``. The same
    access policy as the whole app (the API token, or loopback only)."""
    server = mcp_server(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if owns_service:
                await stack.enter_async_context(service)
            await stack.enter_async_context(server.running())
            yield

    app = FastAPI(
        title="OAR MCP",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    app.include_router(health.router)
    app.router.routes.append(Route(MCP_PATH, endpoint=server.asgi(), include_in_schema=False))
    _protect(app, service.settings, set())
    return app


def _protect(app: FastAPI, settings: Settings, signed: set[str]) -> None:
    """The access middleware with this app's public and signed paths."""
    app.add_middleware(
        AccessMiddleware,
        policy=AccessPolicy(
            token=settings.api_token.get_secret_value().encode() if settings.api_token else None,
            bind_host=settings.host,
            allowed_origins=frozenset(settings.allowed_origins),
            public_paths=public_paths(app, metrics=settings.metrics_public),
            signed_paths=frozenset(signed),
            public_prefixes=(f"{docs.STATIC_PATH}/",),
            dashboard=DashboardAccess(
                page_paths=frozenset({"/", operations.PATH}),
                page_prefixes=dashboard.PAGE_PREFIXES,
                login_path=dashboard.LOGIN_PATH,
                cookie=dashboard.SESSION_COOKIE,
            ),
        ),
        max_body_bytes=settings.max_body_bytes,
    )


def mcp_server(service: Service) -> McpServer:
    """The MCP server over ``service``'s parts; it runs release commands with the ports
    the service was given, else the real adapters built from its settings."""
    return McpServer(
        McpParts(
            settings=service.settings,
            db=service.db,
            tasks=service.tasks,
            approvals=service.approvals,
            open_ports=service.open_ports or ports_opener(service.settings),
            identity=identity_of,
        )
    )


def public_paths(app: FastAPI, *, metrics: bool) -> frozenset[str]:
    """Paths served without the API token: health, the OpenAPI docs, the dashboard's
    login page, and /metrics when ``OAR_METRICS_PUBLIC`` says so."""
    pages = (app.openapi_url, docs.DOCS_PATH, docs.REDOC_PATH, docs.OAUTH2_REDIRECT_PATH)
    paths = {"/healthz", "/readyz", dashboard.LOGIN_PATH, *(path for path in pages if path)}
    if metrics:
        paths.add("/metrics")
    return frozenset(paths)
