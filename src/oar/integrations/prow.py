"""Prow: trigger periodic jobs through Gangway, follow them through their prowjob.

Triggering maps a payload, or an upgrade's from/to payloads, to the job's environment as
the original ``Jobs.get_job_data`` did (reference §5.6): the architecture is read from the
pullspec and selects ``RELEASE_IMAGE_<ARCH>_LATEST`` / ``_TARGET``; an arm64 stable
payload also gets the matching x86_64 release as ``RELEASE_IMAGE_LATEST``. Status comes
from ``{prow}/prowjob?prowjob=<id>`` (YAML): ``spec.job``, ``status.state``, ``status.url``,
``status.startTime``, ``status.completionTime``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import yaml

from oar.backoff import Backoff
from oar.errors import (
    ConfigurationError,
    IntegrationError,
    InvalidArgumentError,
)
from oar.integrations.calls import CallPolicy, call
from oar.integrations.http import classify_httpx

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "Prow"
CREDENTIAL = "APITOKEN"
STABLE_REPOSITORY = "quay.io/openshift-release-dev/ocp-release"
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,250}$")


class ProwJobState(enum.StrEnum):
    TRIGGERED = "triggered"
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ABORTED = "aborted"
    ERROR = "error"

    @property
    def completed(self) -> bool:
        return self not in (ProwJobState.TRIGGERED, ProwJobState.PENDING)


@dataclass(frozen=True, kw_only=True)
class ProwJobStatus:
    job_id: str
    job_name: str
    state: ProwJobState
    url: str | None = None
    start_time: str | None = None
    completion_time: str | None = None

    @property
    def completed(self) -> bool:
        return self.state.completed

    @property
    def build_id(self) -> str | None:
        """The run ID: the last segment of the job's URL (its artifact directory)."""
        if not self.url:
            return None
        return self.url.rstrip("/").rsplit("/", 1)[-1]


# --- the environment mapping (pure) --------------------------------------------------------


def payload_architecture(pull_spec: str) -> str:
    """The architecture a pullspec names, by substring as the original did."""
    for needle, arch in (
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("multi", "multi"),
        ("ppc64le", "ppc64le"),
    ):
        if needle in pull_spec:
            return arch
    return "amd64"


def is_stable_payload(pull_spec: str) -> bool:
    return pull_spec.startswith(STABLE_REPOSITORY + ":")


def x86_64_of(pull_spec: str) -> str:
    """``…/ocp-release:4.19.2-aarch64`` → ``…/ocp-release:4.19.2-x86_64``."""
    version = pull_spec.rsplit(":", 1)[-1].rsplit("-", 1)[0]
    return f"{STABLE_REPOSITORY}:{version}-x86_64"


def _prefix(arch: str) -> str:
    return {
        "arm64": "RELEASE_IMAGE_ARM64",
        "multi": "RELEASE_IMAGE_MULTI",
        "ppc64le": "RELEASE_IMAGE_PPC64LE",
    }.get(arch, "RELEASE_IMAGE")


def gangway_envs(
    *, payload: str | None = None, upgrade_from: str | None = None, upgrade_to: str | None = None
) -> dict[str, str]:
    """The job's environment: a payload to test, or an upgrade to ``upgrade_to`` (from
    ``upgrade_from``, or from the job's own default)."""
    if payload and (upgrade_from or upgrade_to):
        raise InvalidArgumentError(
            "payload", "give a payload to test, or upgrade_to (and upgrade_from), not both"
        )
    if upgrade_from and not upgrade_to:
        raise InvalidArgumentError("upgrade_to", "an upgrade from a payload needs upgrade_to")
    if payload:
        arch = payload_architecture(payload)
        envs = {f"{_prefix(arch)}_LATEST": payload}
        if arch == "arm64" and is_stable_payload(payload):
            envs["RELEASE_IMAGE_LATEST"] = x86_64_of(payload)
        return envs
    if upgrade_to:
        arch = payload_architecture(upgrade_to)
        envs = {f"{_prefix(arch)}_TARGET": upgrade_to}
        if upgrade_from:
            envs[f"{_prefix(arch)}_LATEST"] = upgrade_from
        elif arch == "arm64" and is_stable_payload(upgrade_to):
            envs["RELEASE_IMAGE_LATEST"] = x86_64_of(upgrade_to)
        return envs
    return {}


def job_envs(
    *,
    payload: str | None = None,
    upgrade_from: str | None = None,
    upgrade_to: str | None = None,
    envs: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a triggered run: ``envs`` as given, or the payload mapping."""
    if envs is not None:
        if payload or upgrade_from or upgrade_to:
            raise InvalidArgumentError("envs", "give envs, or a payload / upgrade, not both")
        return {str(k): str(v) for k, v in envs.items()}
    return gangway_envs(payload=payload, upgrade_from=upgrade_from, upgrade_to=upgrade_to)


def execution_request(envs: dict[str, str]) -> dict[str, Any]:
    """Gangway's body: a periodic execution, with the environment when there is one."""
    body: dict[str, Any] = {"job_execution_type": "1"}
    if envs:
        body["pod_spec_options"] = {"envs": envs}
    return body


def parse_prowjob(job_id: str, text: str) -> ProwJobStatus:
    """A prowjob's YAML (as Prow's ``/prowjob`` serves it) as a status."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise IntegrationError(SYSTEM, f"prowjob {job_id}: not YAML") from exc
    if not isinstance(data, dict):
        raise IntegrationError(SYSTEM, f"prowjob {job_id}: not a prowjob")
    spec = data.get("spec") or {}
    status = data.get("status") or {}
    try:
        state = ProwJobState(status.get("state") or "triggered")
    except ValueError:
        raise IntegrationError(
            SYSTEM, f"prowjob {job_id}: unknown state {status.get('state')!r}"
        ) from None

    def text_of(value: Any) -> str | None:
        return None if value in (None, "") else str(value)

    return ProwJobStatus(
        job_id=job_id,
        job_name=str(spec.get("job", "")),
        state=state,
        url=text_of(status.get("url")),
        start_time=text_of(status.get("startTime")),
        completion_time=text_of(status.get("completionTime")),
    )


def check_job_name(job_name: str) -> str:
    if not _JOB_NAME.match(job_name):
        raise InvalidArgumentError("job_name", f"{job_name!r} is not a Prow job name")
    return job_name


# --- the port ------------------------------------------------------------------------------


class ProwJobs(Protocol):
    async def trigger(
        self,
        job_name: str,
        *,
        payload: str | None = None,
        upgrade_from: str | None = None,
        upgrade_to: str | None = None,
        envs: Mapping[str, str] | None = None,
    ) -> str:
        """Start a run of a periodic job; return its prowjob ID. ``envs`` is the job's
        environment as given (a job with its own parameters, like the image consistency
        check's ``MULTISTAGE_PARAM_OVERRIDE_*``), instead of the payload mapping."""

    async def status(self, job_id: str) -> ProwJobStatus:
        """Where the run is now."""


# --- the real adapter (httpx) -------------------------------------------------------------


class GangwayProwJobs:
    """:class:`ProwJobs` over Gangway's REST API and Prow's ``/prowjob`` endpoint."""

    def __init__(
        self, *, gangway_url: str, prow_url: str, token: str | None, policy: CallPolicy
    ) -> None:
        self.gangway_url = gangway_url.rstrip("/")
        self.prow_url = prow_url.rstrip("/")
        self._token = token
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings) -> GangwayProwJobs:
        return cls(
            gangway_url=settings.gangway_url,
            prow_url=settings.prow_url,
            token=settings.prow_token.get_secret_value() if settings.prow_token else None,
            policy=CallPolicy.from_settings(
                settings, SYSTEM, CREDENTIAL, backoff=Backoff(delay=2.0, max_delay=30.0)
            ),
        )

    async def trigger(
        self,
        job_name: str,
        *,
        payload: str | None = None,
        upgrade_from: str | None = None,
        upgrade_to: str | None = None,
        envs: Mapping[str, str] | None = None,
    ) -> str:
        if not self._token:
            raise ConfigurationError(
                "APITOKEN is not set: triggering Prow jobs needs a Gangway token",
                variables=[CREDENTIAL],
            )
        body = execution_request(
            job_envs(payload=payload, upgrade_from=upgrade_from, upgrade_to=upgrade_to, envs=envs)
        )
        url = f"{self.gangway_url}/v1/executions/{check_job_name(job_name)}"
        headers = {"Authorization": f"Bearer {self._token}"}

        async def attempt() -> str:
            async with httpx.AsyncClient(timeout=self.policy.timeout) as client:
                response = await client.post(url, json=body, headers=headers)
                response.raise_for_status()
                try:
                    job_id = response.json()["id"]
                except (ValueError, KeyError, TypeError) as exc:
                    raise IntegrationError(SYSTEM, f"{job_name}: no execution ID") from exc
                return str(job_id)

        return await call(self.policy, f"trigger {job_name}", attempt, classify_httpx)

    async def status(self, job_id: str) -> ProwJobStatus:
        async def attempt() -> str:
            async with httpx.AsyncClient(timeout=self.policy.timeout) as client:
                response = await client.get(f"{self.prow_url}/prowjob", params={"prowjob": job_id})
                response.raise_for_status()
                return response.text

        text = await call(self.policy, f"prowjob {job_id}", attempt, classify_httpx)
        return parse_prowjob(job_id, text)
