"""An in-memory Jenkins whose jobs run on a clock (the port is :mod:`oar.integrations.jenkins`).

:class:`FakeJenkins` is also the state of the sandbox's Jenkins stand-in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from oar.errors import IntegrationNotFoundError
from oar.integrations.jenkins import SYSTEM, BuildResult, JenkinsBuild, QueueItem, job_path


@dataclass(kw_only=True)
class FakeJob:
    """How a fake job behaves: its builds take ``duration`` seconds and end in ``result``."""

    duration: float = 1.0
    result: BuildResult = BuildResult.SUCCESS
    next_build: int = 1
    hold: bool = False  # new builds run until finish_build() says how they end


@dataclass(kw_only=True)
class _Queued:
    id: int
    job: str
    parameters: dict[str, str]
    queued_at: float
    build_number: int | None = None


@dataclass(kw_only=True)
class _Build:
    job: str
    number: int
    parameters: dict[str, str]
    started_at: float
    duration: float
    result: BuildResult
    held: bool = False


@dataclass(kw_only=True)
class FakeJenkins:
    """Jobs run on a clock: a queue item waits ``queue_delay`` seconds, then its build runs
    for the job's ``duration``. Also the state behind the sandbox's Jenkins stand-in."""

    jobs: dict[str, FakeJob] = field(default_factory=dict)
    queue_delay: float = 0.2
    url: str = "https://jenkins.example.com"
    clock: Callable[[], float] = time.monotonic
    _queue: dict[int, _Queued] = field(default_factory=dict)
    _builds: dict[tuple[str, int], _Build] = field(default_factory=dict)
    _next_queue_id: int = 5000

    def _job(self, job: str) -> FakeJob:
        found = self.jobs.get(job.strip("/"))
        if found is None:
            raise IntegrationNotFoundError(SYSTEM, f"job {job!r} does not exist", status_code=404)
        return found

    def _advance(self) -> None:
        """Start the builds whose queue wait is over."""
        now = self.clock()
        for item in sorted(self._queue.values(), key=lambda q: q.id):
            if item.build_number is None and now >= item.queued_at + self.queue_delay:
                spec = self._job(item.job)
                item.build_number = spec.next_build
                spec.next_build += 1
                self._builds[(item.job, item.build_number)] = _Build(
                    job=item.job,
                    number=item.build_number,
                    parameters=item.parameters,
                    started_at=item.queued_at + self.queue_delay,
                    duration=spec.duration,
                    result=spec.result,
                    held=spec.hold,
                )

    async def trigger(self, job: str, parameters: Mapping[str, str]) -> int:
        self._job(job)
        self._next_queue_id += 1
        item = _Queued(
            id=self._next_queue_id,
            job=job.strip("/"),
            parameters={str(k): str(v) for k, v in parameters.items()},
            queued_at=self.clock(),
        )
        self._queue[item.id] = item
        return item.id

    def _item(self, item: _Queued) -> QueueItem:
        waiting = item.build_number is None
        return QueueItem(
            id=item.id,
            job=item.job,
            build_number=item.build_number,
            why="Waiting for next available executor" if waiting else None,
            parameters=dict(item.parameters),
        )

    async def queue_item(self, queue_id: int) -> QueueItem:
        self._advance()
        item = self._queue.get(queue_id)
        if item is None:
            raise IntegrationNotFoundError(SYSTEM, f"no queue item {queue_id}", status_code=404)
        return self._item(item)

    async def queued(self, job: str) -> list[QueueItem]:
        self._advance()
        return [
            self._item(i)
            for i in self._queue.values()
            if i.job == job.strip("/") and i.build_number is None
        ]

    async def build(self, job: str, number: int) -> JenkinsBuild:
        self._advance()
        found = self._builds.get((job.strip("/"), number))
        if found is None:
            raise IntegrationNotFoundError(SYSTEM, f"{job} has no build {number}", status_code=404)
        return self._build_of(found)

    def _build_of(self, found: _Build) -> JenkinsBuild:
        done = not found.held and self.clock() >= found.started_at + found.duration
        return JenkinsBuild(
            job=found.job,
            number=found.number,
            building=not done,
            result=found.result if done else None,
            url=f"{self.url}/{job_path(found.job)}/{found.number}/",
            parameters=dict(found.parameters),
        )

    async def recent_builds(self, job: str, limit: int = 5) -> list[JenkinsBuild]:
        self._advance()
        self._job(job)
        found = sorted(
            (b for (name, _), b in self._builds.items() if name == job.strip("/")),
            key=lambda b: b.number,
            reverse=True,
        )
        return [self._build_of(b) for b in found[:limit]]

    # --- control (tests and the sandbox) ------------------------------------------------------
    def finish_build(self, job: str, number: int, result: BuildResult | None) -> JenkinsBuild:
        """End a build now with ``result``; None holds it running until told."""
        self._advance()
        found = self._builds.get((job.strip("/"), number))
        if found is None:
            raise IntegrationNotFoundError(SYSTEM, f"{job} has no build {number}", status_code=404)
        if result is None:
            found.held = True
        else:
            found.held, found.result = False, result
            found.duration = max(0.0, self.clock() - found.started_at)
        return self._build_of(found)
