"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from oar import metrics
from oar.web.auth import service_of

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and its event loop answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database answers and the durable engine is running."""
    checks = await service_of(request).ready()
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def prometheus(request: Request) -> Response:
    """Prometheus text format: tasks by status, attempts, durations, approvals."""
    service = service_of(request)
    for status, count in (await service.tasks.counts()).items():
        metrics.TASKS.labels(status=status).set(count)
    metrics.APPROVALS_PENDING.set(await service.approvals.pending_count())
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
