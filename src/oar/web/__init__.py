"""The HTTP face of OAR: API, health and metrics (FastAPI; OpenAPI at ``/docs``)."""

from __future__ import annotations

from oar.web.app import create_app

__all__ = ["create_app"]
