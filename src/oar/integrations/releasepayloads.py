"""ReleasePayloads on the CI cluster: the QE gate's label ``release.openshift.io/qe_state``.

The original ran ``oc label releasepayloads/<build> release.openshift.io/qe_state=Accepted
-n <ns>`` (reference §5.9), with no ``--overwrite`` and errors only logged. Here the port
sets the label with a JSON merge patch on the Kubernetes API (what ``oc label`` sends),
over httpx with a bearer token; setting it again is a no-op, so a repeated pass is safe.
The namespace is ``ocp`` for amd64 and ``ocp-<arch>`` otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import httpx

from oar.backoff import Backoff
from oar.errors import ConfigurationError, IntegrationError, IntegrationNotFoundError
from oar.integrations.calls import CallPolicy, call
from oar.integrations.http import classify_httpx

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "ReleasePayload API"
CREDENTIAL = "OAR_KUBE_TOKEN"
QE_STATE_LABEL = "release.openshift.io/qe_state"
ACCEPTED = "Accepted"
_API = "apis/release.openshift.io/v1alpha1"


def namespace_of(arch: str) -> str:
    return "ocp" if arch == "amd64" else f"ocp-{arch}"


class ReleasePayloads(Protocol):
    async def check_access(self, *, arch: str) -> None:
        """Raise unless the credential may read the architecture's ReleasePayloads."""

    async def qe_state(self, build: str, *, arch: str) -> str | None:
        """The payload's ``qe_state`` label, or None when unset."""

    async def accept(self, build: str, *, arch: str) -> None:
        """Label the payload ``qe_state=Accepted`` (idempotent)."""


class KubeReleasePayloads:
    """:class:`ReleasePayloads` over the cluster's REST API (what ``oc label`` does)."""

    def __init__(self, *, api_url: str | None, token: str | None, policy: CallPolicy) -> None:
        self.api_url = (api_url or "").rstrip("/")
        self._token = token
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings) -> KubeReleasePayloads:
        return cls(
            api_url=settings.kube_api_url,
            token=settings.kube_token.get_secret_value() if settings.kube_token else None,
            policy=CallPolicy.from_settings(
                settings, SYSTEM, CREDENTIAL, backoff=Backoff(delay=1.0, max_delay=30.0)
            ),
        )

    def _headers(self) -> dict[str, str]:
        if not self.api_url:
            raise ConfigurationError(
                "OAR_KUBE_API_URL is not set: labelling ReleasePayloads needs the CI cluster's"
                " API URL",
                variables=["OAR_KUBE_API_URL"],
            )
        if not self._token:
            raise ConfigurationError(
                "OAR_KUBE_TOKEN is not set: labelling ReleasePayloads needs a token",
                variables=[CREDENTIAL],
            )
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    def _url(self, arch: str, build: str | None = None) -> str:
        base = f"{self.api_url}/{_API}/namespaces/{namespace_of(arch)}/releasepayloads"
        return base if build is None else f"{base}/{build}"

    async def check_access(self, *, arch: str) -> None:
        headers = self._headers()

        async def attempt() -> None:
            async with httpx.AsyncClient(timeout=self.policy.timeout) as client:
                response = await client.get(self._url(arch), params={"limit": "1"}, headers=headers)
                response.raise_for_status()

        await call(self.policy, f"list releasepayloads ({arch})", attempt, classify_httpx)

    async def qe_state(self, build: str, *, arch: str) -> str | None:
        headers = self._headers()

        async def attempt() -> str | None:
            async with httpx.AsyncClient(timeout=self.policy.timeout) as client:
                response = await client.get(self._url(arch, build), headers=headers)
                if response.status_code == 404:
                    raise IntegrationNotFoundError(SYSTEM, f"no releasepayload {build}")
                response.raise_for_status()
                try:
                    labels = response.json().get("metadata", {}).get("labels") or {}
                except (ValueError, AttributeError) as exc:
                    raise IntegrationError(SYSTEM, f"{build}: not a releasepayload") from exc
                value = labels.get(QE_STATE_LABEL)
                return None if value is None else str(value)

        return await call(self.policy, f"get releasepayload {build}", attempt, classify_httpx)

    async def accept(self, build: str, *, arch: str) -> None:
        headers = {**self._headers(), "Content-Type": "application/merge-patch+json"}
        body = {"metadata": {"labels": {QE_STATE_LABEL: ACCEPTED}}}

        async def attempt() -> None:
            async with httpx.AsyncClient(timeout=self.policy.timeout) as client:
                response = await client.patch(self._url(arch, build), json=body, headers=headers)
                if response.status_code == 404:
                    raise IntegrationNotFoundError(SYSTEM, f"no releasepayload {build}")
                response.raise_for_status()

        await call(self.policy, f"label releasepayload {build}", attempt, classify_httpx)
