"""In-memory stand-ins for release work: a :class:`~oar.release.ports.Ports` of fakes.

Unit tests of a release command build ``fake_ports()`` (every port a fake from
:mod:`oar.integrations.fakes`, the approval watches in memory), seed the fakes, and run
the body with a :class:`~oar.release.tracking.ReleaseContext` — no database, no network.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from oar.integrations.fakes import (
    FakeBrew,
    FakeBuildData,
    FakeDirectory,
    FakeErrata,
    FakeGitLab,
    FakeJira,
    FakeNotifier,
    FakePayloadInspector,
    FakeRepositoryFiles,
)
from oar.release.ports import Ports
from oar.release.watch import KIND, WatchInfo, WatchRequest, WatchStatus, watch_key


class FakeWatches:
    """The approval-watch port in memory: one running watch per y-stream, joined by later
    starts; ``keep_alive`` records the watch IDs a worker was asked for."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        self.watches: dict[str, WatchInfo] = {}
        self.kept_alive: list[str] = []

    async def running(self, y_stream: str) -> WatchInfo | None:
        return next(
            (
                w
                for w in self.watches.values()
                if w.y_stream == y_stream and w.status is WatchStatus.RUNNING
            ),
            None,
        )

    async def start(self, request: WatchRequest) -> tuple[WatchInfo, bool]:
        running = await self.running(request.y_stream)
        if running is not None:
            return running, False
        generation = 1 + sum(1 for w in self.watches.values() if w.y_stream == request.y_stream)
        watch = WatchInfo(
            id=watch_key(request.y_stream, generation),
            kind=KIND,
            key=watch_key(request.y_stream),
            subject=request.y_stream,
            release=request.release,
            task="change-advisory-status",
            channel=request.channel,
            status=WatchStatus.RUNNING,
            started_at=self.now,
            deadline_at=self.now + timedelta(seconds=request.deadline),
            interval_seconds=request.interval,
            started_by=request.started_by,
            interface=request.interface,
            slack_channel=request.slack_channel,
            slack_thread=request.slack_thread,
            checks=0,
            last_check_at=None,
            next_check_at=self.now,
            error=None,
            log=[],
            finished_at=None,
            run_id=request.run_id,
        )
        self.watches[watch.id] = watch
        return watch, True

    async def keep_alive(self, watch_id: str) -> str | None:
        self.kept_alive.append(watch_id)
        return None


def fake_ports(**overrides: Any) -> Ports:
    """A :class:`Ports` with a fresh fake behind every port; ``overrides`` replace some."""
    ports: dict[str, Any] = {
        "errata": FakeErrata(),
        "jira": FakeJira(),
        "gitlab": FakeGitLab(),
        "github": FakeRepositoryFiles(),
        "brew": FakeBrew(),
        "builddata": FakeBuildData({}),
        "payloads": FakePayloadInspector(),
        "notifier": FakeNotifier(),
        "ldap": FakeDirectory(),
        "watches": FakeWatches(),
    }
    ports.update(overrides)
    return Ports(**ports)
