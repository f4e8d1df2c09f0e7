"""Jenkins: trigger a parameterised job, follow its queue item to a build, read the build.

Used by ``stage-testing`` (``zstreams/Stage-Pipeline`` with ``VERSION`` and ``PULL_SPEC``)
and the image consistency job. Jobs in folders are named by path (``zstreams/Stage-Pipeline``).
Waiting for a build to finish is the caller's durable workflow; :func:`wait_for_build_number`
covers the short wait from queue item to build number.

:class:`JenkinsClient` runs on python-jenkins in a worker thread; the in-memory fake is
:class:`oar.integrations.fakes.jenkins.FakeJenkins`.
"""

from __future__ import annotations

import asyncio
import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from oar.errors import ConfigurationError, IntegrationTimeoutError
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
    parameters: Mapping[str, str] = field(default_factory=dict)


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

    async def recent_builds(self, job: str, limit: int = 5) -> list[JenkinsBuild]:
        """The job's last ``limit`` builds, newest first."""


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


def _parameters(raw: Mapping[str, Any]) -> dict[str, str]:
    """A build's or queue item's parameters: its ``ParametersAction``, else the queue
    item's ``params`` text (``"\\nNAME=value"`` lines)."""
    parameters: dict[str, str] = {}
    for action in raw.get("actions") or []:
        if isinstance(action, dict) and action.get("_class", "").endswith("ParametersAction"):
            parameters.update(
                {str(p["name"]): str(p.get("value", "")) for p in action["parameters"]}
            )
    if not parameters and isinstance(raw.get("params"), str):
        for line in str(raw["params"]).splitlines():
            name, equals, value = line.partition("=")
            if equals and name.strip():
                parameters[name.strip()] = value
    return parameters


def parse_queue_item(raw: Mapping[str, Any]) -> QueueItem:
    task = raw.get("task") or {}
    executable = raw.get("executable") or {}
    return QueueItem(
        id=int(raw["id"]),
        job=job_from_url(str(task.get("url", ""))) or str(task.get("name", "")),
        build_number=int(executable["number"]) if executable.get("number") else None,
        cancelled=bool(raw.get("cancelled", False)),
        why=raw.get("why"),
        parameters=_parameters(raw),
    )


def parse_build(job: str, raw: Mapping[str, Any]) -> JenkinsBuild:
    parameters = _parameters(raw)
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

    async def recent_builds(self, job: str, limit: int = 5) -> list[JenkinsBuild]:
        info = await self._run("job_info", lambda: self._jenkins().get_job_info(job))
        numbers = sorted((int(b["number"]) for b in info.get("builds") or []), reverse=True)
        return [await self.build(job, number) for number in numbers[:limit]]
