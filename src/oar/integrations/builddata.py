"""ocp-build-data as a port: the ``releases.yml`` text of a y-stream.

``HttpBuildData`` fetches it over HTTP (raw.githubusercontent.com, or the sandbox's
stand-in) with a deadline and bounded retries. The in-memory fake is
:class:`oar.integrations.fakes.builddata.FakeBuildData`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import httpx

from oar.backoff import Backoff
from oar.errors import ConfigurationError
from oar.integrations.calls import CallPolicy, Failure, Kind, call, failure_for_status

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "ocp-build-data"
# Read anonymously: errors name the variable that says where it is.
CREDENTIAL = "OAR_BUILD_DATA_URL"
DEFAULT_URL = "https://raw.githubusercontent.com/openshift-eng/ocp-build-data/%s/releases.yml"


class BuildData(Protocol):
    """Where ocp-build-data's ``releases.yml`` comes from."""

    def url(self, y_stream: str) -> str:
        """The file's address for ``y_stream`` (shown in errors)."""

    async def releases(self, y_stream: str) -> str:
        """The ``releases.yml`` text of ``y_stream`` (``"4.19"``); IntegrationNotFoundError
        when the branch has none."""


def build_data_url(template: str, y_stream: str) -> str:
    """Fill the template's ``%s`` with the branch ``openshift-<y>``."""
    if "%s" not in template:
        raise ConfigurationError(
            f"the build data URL template {template!r} has no %s for the branch (openshift-<y>)",
            variables=[CREDENTIAL],
        )
    return template.replace("%s", f"openshift-{y_stream}", 1)


def _classify(exc: BaseException) -> Failure | None:
    if isinstance(exc, httpx.HTTPStatusError):
        return failure_for_status(exc.response.status_code, f"HTTP {exc.response.status_code}")
    if isinstance(exc, httpx.TransportError):
        return Failure(kind=Kind.TRANSIENT, message=f"{type(exc).__name__}: {exc}")
    return None


class HttpBuildData:
    """``releases.yml`` over HTTP, one short-lived client per fetch."""

    def __init__(
        self,
        template: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: Backoff | None = None,
    ) -> None:
        self.template = template
        self.policy = CallPolicy(
            system=SYSTEM,
            credential=CREDENTIAL,
            timeout=timeout,
            retries=retries,
            backoff=backoff or Backoff(delay=0.5, max_delay=30.0),
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, config_template: str | None) -> HttpBuildData:
        """OAR_BUILD_DATA_URL, else the configuration's ``build_data_url``, else GitHub's."""
        template = settings.build_data_url or config_template or DEFAULT_URL
        return cls(
            template, timeout=settings.integration_timeout, retries=settings.integration_retries
        )

    def url(self, y_stream: str) -> str:
        return build_data_url(self.template, y_stream)

    async def releases(self, y_stream: str) -> str:
        url = self.url(y_stream)

        async def fetch() -> str:
            async with httpx.AsyncClient(timeout=self.policy.timeout) as client:
                response = await client.get(url)
                response.raise_for_status()
                return response.text

        return await call(self.policy, f"GET {url}", fetch, _classify)
