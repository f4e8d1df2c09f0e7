"""Jenkins: trigger a parameterised job, follow its queue item to a build, read the build.

Used by ``stage-testing`` (``zstreams/Stage-Pipeline`` with ``VERSION`` and ``PULL_SPEC``)
and the image consistency job. Jobs in folders are named by path (``zstreams/Stage-Pipeline``).
Waiting for a build to finish is the caller's durable workflow; :func:`wait_for_build_number`
covers the short wait from queue item to build number.

:class:`JenkinsClient` runs on python-jenkins in a worker thread; :class:`FakeJenkins`
runs jobs on a clock and is also the state of the sandbox's Jenkins stand-in.
"""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from oar.errors import ConfigurationError, IntegrationNotFoundError, IntegrationTimeoutError
from oar.integrations.calls import CallPolicy, Failure, Kind, call_sync, failure_for_status
from oar.integrations.http import classify_requests, install_refusal_hook

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "Jenkins"
CREDENTIAL = "JENKINS_TOKEN"
STAGE_PIPELINE = "zstreams/Stage-Pipeline"


class BuildResult(enum.StrEnum):
    SUCCESS = "SUCCESS"
    UNSTABLE = "UNSTABLE"
    FAILURE = "FAILURE"
    ABORTED = "ABORTED"
    NOT_BUILT = "NOT_BUILT"


@dataclass(frozen=True, kw_only=True)
class QueueItem:
    id: int
    job: str
    build_number: int | None = None  # set once an executor picked it up
    cancelled: bool = False
    why: str | None = None  # why it is still waiting


@dataclass(frozen=True, kw_only=True)
class JenkinsBuild:
    job: str
    number: int
    building: bool
    result: BuildResult | None  # None while building
    url: str
    parameters: Mapping[str, str] = field(default_factory=dict)


class Jenkins(Protocol):
    """What OAR needs from Jenkins."""

    async def trigger(self, job: str, parameters: Mapping[str, str]) -> int:
        """Queue a build with these parameters; return the queue item ID."""

    async def queue_item(self, queue_id: int) -> QueueItem:
        """A queue item, with its build number once the build started."""

    async def queued(self, job: str) -> list[QueueItem]:
        """The job's items still waiting in the queue."""

    async def build(self, job: str, number: int) -> JenkinsBuild:
        """A build: running, or finished with its result."""


async def wait_for_build_number(
    jenkins: Jenkins, queue_id: int, *, timeout: float, interval: float = 2.0
) -> int:
    """Poll a queue item until its build starts; :class:`IntegrationTimeoutError` after
    ``timeout`` seconds, :class:`~oar.errors.IntegrationError` if it was cancelled."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        item = await jenkins.queue_item(queue_id)
        if item.build_number is not None:
            return item.build_number
        if item.cancelled:
            from oar.errors import IntegrationError

            raise IntegrationError(SYSTEM, f"queue item {queue_id} of {item.job} was cancelled")
        if loop.time() >= deadline:
            raise IntegrationTimeoutError(
                SYSTEM, f"queue item {queue_id} of {item.job} did not start in {timeout:g}s"
            )
        await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))


# --- raw shapes (Jenkins remote access API) --------------------------------------------------


def job_path(job: str) -> str:
    """``zstreams/Stage-Pipeline`` -> ``job/zstreams/job/Stage-Pipeline``."""
    return "/".join(f"job/{part}" for part in job.strip("/").split("/"))


def job_from_url(url: str) -> str:
    """The job name in a Jenkins job or build URL (``…/job/a/job/b/12/`` -> ``a/b``)."""
    parts = url.split("/")
    return "/".join(parts[i + 1] for i, part in enumerate(parts[:-1]) if part == "job")


def parse_queue_item(raw: Mapping[str, Any]) -> QueueItem:
    task = raw.get("task") or {}
    executable = raw.get("executable") or {}
    return QueueItem(
        id=int(raw["id"]),
        job=job_from_url(str(task.get("url", ""))) or str(task.get("name", "")),
        build_number=int(executable["number"]) if executable.get("number") else None,
        cancelled=bool(raw.get("cancelled", False)),
        why=raw.get("why"),
    )


def parse_build(job: str, raw: Mapping[str, Any]) -> JenkinsBuild:
    parameters: dict[str, str] = {}
    for action in raw.get("actions") or []:
        if isinstance(action, dict) and action.get("_class", "").endswith("ParametersAction"):
            parameters.update(
                {str(p["name"]): str(p.get("value", "")) for p in action["parameters"]}
            )
    result = raw.get("result")
    return JenkinsBuild(
        job=job,
        number=int(raw["number"]),
        building=bool(raw.get("building", False)),
        result=BuildResult(result) if result else None,
        url=str(raw.get("url", "")),
        parameters=parameters,
    )


# --- the real adapter ------------------------------------------------------------------------


def classify(exc: BaseException) -> Failure | None:
    """What a python-jenkins (or ``requests``) exception means."""
    import jenkins

    if isinstance(exc, jenkins.NotFoundException):
        return failure_for_status(404, str(exc))
    if isinstance(exc, jenkins.TimeoutException):
        return Failure(kind=Kind.TIMEOUT, message=str(exc))
    known = classify_requests(exc)
    if known is not None:
        return known
    if isinstance(exc, jenkins.JenkinsException) and "does not exist" in str(exc):
        # python-jenkins turns a 404 on a job or build into this message only.
        return failure_for_status(404, str(exc).splitlines()[0])
    if isinstance(exc, jenkins.JenkinsException):
        return Failure(kind=Kind.PERMANENT, message=str(exc).splitlines()[0])
    return None


class JenkinsClient:
    """The port on python-jenkins (basic auth with a user's API token)."""

    def __init__(
        self, url: str, *, user: str, token: str, policy: CallPolicy | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._user = user
        self._token = token
        self.policy = policy or CallPolicy(system=SYSTEM, credential=CREDENTIAL)
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> JenkinsClient:
        missing = [
            name
            for name, value in (
                ("JENKINS_USER", settings.jenkins_user),
                ("JENKINS_TOKEN", settings.jenkins_token),
            )
            if not value
        ]
        if missing or settings.jenkins_user is None or settings.jenkins_token is None:
            raise ConfigurationError(
                f"Jenkins needs {' and '.join(missing)} (a user and its API token)",
                variables=missing,
            )
        return cls(
            settings.jenkins_url,
            user=settings.jenkins_user,
            token=settings.jenkins_token.get_secret_value(),
            policy=CallPolicy.from_settings(settings, SYSTEM, CREDENTIAL),
        )

    def _jenkins(self) -> Any:
        with self._lock:
            if self._client is None:
                import jenkins

                client = jenkins.Jenkins(
                    self.url,
                    username=self._user,
                    password=self._token,
                    timeout=self.policy.timeout,
                )
                install_refusal_hook(client._session)  # python-jenkins merges 401/403/500
                self._client = client
            return self._client

    async def aclose(self) -> None:
        """Close the library's HTTP session (its pooled connections)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client._session.close()

    async def __aenter__(self) -> JenkinsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self, operation: str, function: Callable[[], Any]) -> Any:
        return await call_sync(self.policy, operation, function, classify)

    async def trigger(self, job: str, parameters: Mapping[str, str]) -> int:
        queue_id = await self._run(
            "trigger", lambda: self._jenkins().build_job(job, parameters=dict(parameters))
        )
        return int(queue_id)

    async def queue_item(self, queue_id: int) -> QueueItem:
        raw = await self._run("queue_item", lambda: self._jenkins().get_queue_item(queue_id))
        return parse_queue_item(raw)

    async def queued(self, job: str) -> list[QueueItem]:
        raw = await self._run("queued", lambda: self._jenkins().get_queue_info())
        items = [parse_queue_item(item) for item in raw]
        return [item for item in items if item.job == job.strip("/")]

    async def build(self, job: str, number: int) -> JenkinsBuild:
        raw = await self._run("build", lambda: self._jenkins().get_build_info(job, number))
        return parse_build(job, raw)


# --- the in-memory fake ----------------------------------------------------------------------


@dataclass(kw_only=True)
class FakeJob:
    """How a fake job behaves: its builds take ``duration`` seconds and end in ``result``."""

    duration: float = 1.0
    result: BuildResult = BuildResult.SUCCESS
    next_build: int = 1


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
        done = self.clock() >= found.started_at + found.duration
        return JenkinsBuild(
            job=found.job,
            number=found.number,
            building=not done,
            result=found.result if done else None,
            url=f"{self.url}/{job_path(found.job)}/{found.number}/",
            parameters=dict(found.parameters),
        )
