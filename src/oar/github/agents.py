"""The agents' GitHub App: a push to openshift/release-tests runs the agent it concerns.

Serve it with ``oarctl serve --github-app oar.github.agents:app`` (or
``OAR_GITHUB_APP=oar.github.agents:app``) and point the repository's webhook (``push``
events) at ``/webhooks/github``. A push on the ``z-stream`` branch touching a watched
y-stream's ``_releases/<y>/<y>.z.yaml`` runs the release detector for that y-stream; a push
on ``record`` touching a test result file runs the test-result checker. Each runs as the
delivery's durable background task; what they do is idempotent (the database's claims), so
a redelivery, a retry or an overlapping schedule tick changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from oar.agents import detector, rejections, resultchecker, zstream
from oar.errors import ConfigurationError
from oar.github.app import GitHubApp, WebhookContext
from oar.jsonvalue import JSON
from oar.logs import get_logger

log = get_logger(__name__)

app = GitHubApp()


@dataclass(frozen=True, kw_only=True)
class PushTargets:
    """What a push asks of the agents."""

    y_streams: list[str] = field(default_factory=list)  # release detector runs
    results: bool = False  # a test-result checker run


def changed_paths(payload: Mapping[str, Any]) -> set[str]:
    """Every path a push added, modified or removed (GitHub lists them per commit)."""
    paths: set[str] = set()
    commits = payload.get("commits") or []
    head = payload.get("head_commit")
    for commit in [*commits, *([head] if isinstance(head, dict) else [])]:
        if isinstance(commit, dict):
            for key in ("added", "modified", "removed"):
                paths.update(str(p) for p in commit.get(key) or [] if isinstance(p, str))
    return paths


def push_targets(
    payload: Mapping[str, Any], *, repo: str, y_streams: Iterable[str], checker: bool
) -> PushTargets:
    """The agents a push concerns (pure): only pushes to ``repo``'s agent branches."""
    full_name = (payload.get("repository") or {}).get("full_name")
    if str(full_name).lower() != repo.lower():
        return PushTargets()
    branch = str(payload.get("ref") or "").removeprefix("refs/heads/")
    paths = changed_paths(payload)
    if branch == zstream.BRANCH:
        watched = set(y_streams)
        found = {zstream.y_stream_of_path(p) for p in paths}
        return PushTargets(y_streams=zstream.sort_y_streams(y for y in found if y in watched))
    if branch == rejections.BRANCH and checker:
        touched = any(
            p.startswith(f"{rejections.DIRECTORY}/")
            and rejections.parse_name(p.rsplit("/", 1)[-1]) is not None
            for p in paths
        )
        return PushTargets(results=touched)
    return PushTargets()


@app.on("push", background=True, timeout=900, retries=2, retry_delay=30)
async def on_push(ctx: WebhookContext) -> dict[str, JSON]:
    """Run the release detector / test-result checker a push concerns."""
    settings, db = ctx.app.settings, ctx.app.db
    if settings is None or db is None:
        raise ConfigurationError("the agents' GitHub App is not bound to a running OAR service")
    targets = push_targets(
        ctx.payload,
        repo=settings.github_repo,
        y_streams=settings.release_detector_y_streams,
        checker=bool(settings.result_checker_channel),
    )
    by = ctx.task_id or f"gh-delivery:{ctx.delivery_id}"
    done: dict[str, JSON] = {}
    for y_stream in targets.y_streams:
        log.info("agents.push", agent=detector.AGENT, y_stream=y_stream, delivery=ctx.delivery_id)
        done[f"{detector.AGENT}:{y_stream}"] = await detector.detect(
            settings, db, y_stream, trigger="webhook", by=by
        )
    if targets.results:
        log.info("agents.push", agent=resultchecker.AGENT, delivery=ctx.delivery_id)
        done[resultchecker.AGENT] = await resultchecker.check_with_notifier(settings, db, by=by)
    return done
