"""The webhook endpoint: size limit while reading, then the app decides the answer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from oar.errors import WebhookError, WebhookTooLargeError
from oar.github.app import GitHubApp
from oar.github.webhooks import MAX_BODY_BYTES


def webhook_router(app: GitHubApp, path: str) -> APIRouter:
    router = APIRouter(tags=["github"])

    @router.post(path, status_code=202)
    async def receive_delivery(request: Request) -> JSONResponse:
        """A GitHub delivery: 202 with task IDs, 200 HIT/MISS, 401 bad signature, 400, 413."""
        try:
            body = await _read_limited(request)
            result = await app.handle({k.lower(): v for k, v in request.headers.items()}, body)
        except WebhookError as exc:
            return JSONResponse(
                {"error": {"type": type(exc).__name__, "message": exc.message}},
                status_code=exc.status_code,
            )
        return JSONResponse(result.body, status_code=result.status_code)

    return router


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise WebhookTooLargeError(int(declared), MAX_BODY_BYTES)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise WebhookTooLargeError(len(body), MAX_BODY_BYTES)
    return bytes(body)
