"""Brew (Red Hat's Koji): build tags from the hub, build metadata from the download server.

The release approval refuses when the kernel inside the RHCOS build of the image or rhcos
advisory carries the ``early-kernel-stop-ship`` tag (reference §1.10). Finding it takes
three reads: the advisory's builds (Errata: the ``rhcos-x86…`` NVR), that build's
``metadata.json`` on the download server (its ``kernel`` component), and the kernel
build's tags (the hub's ``listTags``).

The hub speaks Koji's XML-RPC. The ``koji`` client library cannot be installed here (it
requires ``requests-gssapi``, which needs Kerberos headers this machine lacks), so the
adapter speaks the same protocol with the standard library's XML-RPC codec over httpx;
keyword arguments are encoded as Koji does (a struct with ``__starstar`` set). Both reads
are anonymous, as in the original.
"""

from __future__ import annotations

import re
import xmlrpc.client
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from oar.backoff import Backoff
from oar.errors import IntegrationError
from oar.integrations.calls import CallPolicy, call
from oar.integrations.http import classify_httpx

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "Brew"
CREDENTIAL = "OAR_BREW_HUB_URL"  # anonymous: errors name where it is configured
STOP_SHIP_TAG = "early-kernel-stop-ship"
_NVR_TAIL = re.compile(r"^(?P<name>.+)-(?P<version>[\d.]+)-(?P<release>\d+)$")


def download_path(nvr: str) -> str:
    """``rhcos-x86_64-419.96.2026-0`` → ``rhcos-x86_64/419.96.2026/0`` (brewroot layout)."""
    match = _NVR_TAIL.match(nvr)
    if match is None:
        raise IntegrationError(SYSTEM, f"{nvr!r} is not an NVR ending in -<version>-<release>")
    return f"{match['name']}/{match['version']}/{match['release']}"


def kernel_nvr(metadata: dict[str, Any]) -> str | None:
    """The NVR of the ``kernel`` component of a build's ``metadata.json`` (Koji CG format)."""
    for output in metadata.get("output") or []:
        for component in output.get("components") or []:
            if component.get("name") == "kernel":
                return f"kernel-{component['version']}-{component['release']}"
    return None


def koji_call(method: str, *args: Any, **kwargs: Any) -> bytes:
    """An XML-RPC request body as Koji sends it (keyword arguments in a ``__starstar`` struct)."""
    params: tuple[Any, ...] = args
    if kwargs:
        params = (*args, {**kwargs, "__starstar": True})
    return xmlrpc.client.dumps(params, methodname=method, allow_none=True).encode()


class Brew(Protocol):
    async def build_metadata(self, nvr: str) -> dict[str, Any] | None:
        """The build's ``metadata.json``; None when the download server has none."""

    async def build_tags(self, nvr: str) -> list[str]:
        """The names of the tags the build is in."""


class BrewClient:
    """:class:`Brew` over the hub's XML-RPC and the download server (httpx)."""

    def __init__(self, *, hub_url: str, download_url: str, policy: CallPolicy) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.download_url = download_url.rstrip("/")
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings) -> BrewClient:
        return cls(
            hub_url=settings.brew_hub_url,
            download_url=settings.brew_download_url,
            policy=CallPolicy.from_settings(
                settings, SYSTEM, CREDENTIAL, backoff=Backoff(delay=1.0, max_delay=30.0)
            ),
        )

    async def build_metadata(self, nvr: str) -> dict[str, Any] | None:
        url = f"{self.download_url}/packages/{download_path(nvr)}/metadata.json"

        async def attempt() -> dict[str, Any] | None:
            async with httpx.AsyncClient(timeout=self.policy.timeout) as client:
                response = await client.get(url)
                if response.status_code == 404:
                    return None
                response.raise_for_status()
                try:
                    data = response.json()
                except ValueError as exc:
                    raise IntegrationError(SYSTEM, f"{url} did not answer JSON") from exc
                if not isinstance(data, dict):
                    raise IntegrationError(SYSTEM, f"{url} did not answer a JSON object")
                return data

        return await call(self.policy, f"GET metadata.json of {nvr}", attempt, classify_httpx)

    async def _rpc(self, method: str, *args: Any, **kwargs: Any) -> Any:
        body = koji_call(method, *args, **kwargs)

        async def attempt() -> Any:
            async with httpx.AsyncClient(timeout=self.policy.timeout) as client:
                response = await client.post(
                    self.hub_url, content=body, headers={"Content-Type": "text/xml"}
                )
                response.raise_for_status()
            try:
                (result,), _ = xmlrpc.client.loads(response.content)
            except xmlrpc.client.Fault as fault:
                raise IntegrationError(SYSTEM, f"{method}: {fault.faultString}") from None
            except Exception as exc:  # not XML-RPC at all
                raise IntegrationError(
                    SYSTEM, f"{method}: the hub's answer is not XML-RPC"
                ) from exc
            return result

        return await call(self.policy, method, attempt, classify_httpx)

    async def build_tags(self, nvr: str) -> list[str]:
        tags = await self._rpc("listTags", build=nvr)
        return [str(tag["name"]) for tag in tags or []]
