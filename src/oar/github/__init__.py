"""GitHub: webhook receiving (verify, dedupe, durable background handlers) and App auth."""

from __future__ import annotations

from oar.github.app import GitHubApp, WebhookContext, load_app

__all__ = ["GitHubApp", "WebhookContext", "load_app"]
