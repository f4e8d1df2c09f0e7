"""The OpenShift release controller: release streams, their builds, one host per architecture.

URLs follow ``ReleaseStreamURLResolver`` of the original tool (reference §5.4): one
controller per architecture (``OAR_RELEASE_CONTROLLER_URL`` with ``{arch}``), nightly
streams ``<y>.0-0.nightly[-<arch>]``, stable ``<major>-stable[-<arch>]`` filtered by the
y-stream prefix, falling back to ``<major>-dev-preview[-<arch>]`` when the y-stream has no
stable build yet. The fallback keeps the prefix (the original dropped it and could answer a
build of another y-stream).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from oar.backoff import Backoff
from oar.errors import IntegrationError, InvalidArgumentError
from oar.integrations.calls import CallPolicy, call
from oar.integrations.http import classify_httpx

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "release controller"
# Unauthenticated: errors name the variable that says where it is.
CREDENTIAL = "OAR_RELEASE_CONTROLLER_URL"
ARCHITECTURES = ("amd64", "arm64", "multi", "ppc64le", "s390x")


@dataclass(frozen=True, kw_only=True)
class Release:
    """One build (tag) of a release stream, as the controller reports it."""

    name: str
    phase: str
    pull_spec: str = ""
    download_url: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def accepted(self) -> bool:
        return self.phase == "Accepted"

    @property
    def digest(self) -> str | None:
        """The payload digest (``changeLogJson.to.digest``) of a release's details."""
        to = self.raw.get("changeLogJson", {}).get("to", {})
        digest = to.get("digest") if isinstance(to, dict) else None
        return str(digest) if digest else None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Release:
        return cls(
            name=str(data["name"]),
            phase=str(data.get("phase", "")),
            pull_spec=str(data.get("pullSpec", "")),
            download_url=str(data.get("downloadURL", "")),
            raw=data,
        )


# --- pure URL rules -------------------------------------------------------------------


def check_architecture(arch: str) -> str:
    if arch not in ARCHITECTURES:
        raise InvalidArgumentError("arch", f"{arch!r} is not one of {', '.join(ARCHITECTURES)}")
    return arch


def check_y_stream(y_stream: str) -> str:
    major, _, minor = y_stream.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise InvalidArgumentError("release", f"{y_stream!r} is not a y-stream such as 4.19")
    return y_stream


def _suffix(arch: str) -> str:
    return "" if check_architecture(arch) == "amd64" else f"-{arch}"


def nightly_stream(y_stream: str, arch: str = "amd64") -> str:
    return f"{check_y_stream(y_stream)}.0-0.nightly{_suffix(arch)}"


def stable_stream(y_stream: str, arch: str = "amd64") -> str:
    return f"{check_y_stream(y_stream).split('.')[0]}-stable{_suffix(arch)}"


def dev_preview_stream(y_stream: str, arch: str = "amd64") -> str:
    return f"{check_y_stream(y_stream).split('.')[0]}-dev-preview{_suffix(arch)}"


def controller_url(template: str, arch: str) -> str:
    """The controller of ``arch``: ``OAR_RELEASE_CONTROLLER_URL`` with ``{arch}`` filled in."""
    return template.replace("{arch}", check_architecture(arch)).rstrip("/")


def release_stream_url(
    template: str, y_stream: str, *, nightly: bool, arch: str = "amd64", build: str | None = None
) -> str:
    """The URL the original tool used: ``…/latest``, or ``…/release/<build>`` for a build."""
    base = f"{controller_url(template, arch)}/api/v1/releasestream"
    if nightly:
        stream, query = nightly_stream(y_stream, arch), ""
    else:
        stream, query = stable_stream(y_stream, arch), f"?prefix={y_stream}"
    if build is not None:
        return f"{base}/{stream}/release/{build}"
    return f"{base}/{stream}/latest{query}"


def in_y_stream(name: str, y_stream: str) -> bool:
    return name.startswith(f"{y_stream}.")


# --- the port --------------------------------------------------------------------------


class ReleaseStreams(Protocol):
    """Builds of the release streams of one y-stream, per architecture."""

    async def latest(self, y_stream: str, *, nightly: bool, arch: str = "amd64") -> Release | None:
        """The newest accepted build; stable falls back to dev-preview; None when neither."""

    async def release(
        self, y_stream: str, name: str, *, nightly: bool, arch: str = "amd64"
    ) -> Release | None:
        """A build with its details, or None when the controller no longer has it (recycled)."""

    async def tags(self, y_stream: str, *, nightly: bool, arch: str = "amd64") -> list[Release]:
        """Every build of the y-stream, newest first."""


# --- the real adapter (httpx) ------------------------------------------------------------


class HttpReleaseStreams:
    """:class:`ReleaseStreams` over the controller's JSON API."""

    def __init__(self, *, url_template: str, policy: CallPolicy) -> None:
        self.url_template = url_template
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpReleaseStreams:
        return cls(
            url_template=settings.release_controller_url,
            policy=CallPolicy.from_settings(
                settings, SYSTEM, CREDENTIAL, backoff=Backoff(delay=1.0, max_delay=30.0)
            ),
        )

    async def _get(
        self, arch: str, stream: str, tail: str, params: dict[str, str] | None = None
    ) -> Any:
        """The JSON answer, or None for a 404."""
        url = f"{controller_url(self.url_template, arch)}/api/v1/releasestream/{stream}/{tail}"

        async def attempt() -> Any:
            async with httpx.AsyncClient(timeout=self.policy.timeout) as client:
                response = await client.get(url, params=params)
                if response.status_code == 404:
                    return None
                response.raise_for_status()
                try:
                    return response.json()
                except ValueError as exc:
                    raise IntegrationError(SYSTEM, f"{url} did not answer JSON") from exc

        return await call(self.policy, f"GET {stream}/{tail}", attempt, classify_httpx)

    async def latest(self, y_stream: str, *, nightly: bool, arch: str = "amd64") -> Release | None:
        if nightly:
            data = await self._get(arch, nightly_stream(y_stream, arch), "latest")
        else:
            prefix = {"prefix": y_stream}
            data = await self._get(arch, stable_stream(y_stream, arch), "latest", prefix)
            if data is None:
                data = await self._get(arch, dev_preview_stream(y_stream, arch), "latest", prefix)
        return None if data is None else Release.from_json(data)

    async def release(
        self, y_stream: str, name: str, *, nightly: bool, arch: str = "amd64"
    ) -> Release | None:
        streams = (
            [nightly_stream(y_stream, arch)]
            if nightly
            else [stable_stream(y_stream, arch), dev_preview_stream(y_stream, arch)]
        )
        for stream in streams:
            data = await self._get(arch, stream, f"release/{name}")
            if data is not None:
                return Release.from_json(data)
        return None

    async def tags(self, y_stream: str, *, nightly: bool, arch: str = "amd64") -> list[Release]:
        stream = nightly_stream(y_stream, arch) if nightly else stable_stream(y_stream, arch)
        data = await self._get(arch, stream, "tags")
        if data is None:
            return []
        releases = [Release.from_json(tag) for tag in data.get("tags", [])]
        return [r for r in releases if nightly or in_y_stream(r.name, y_stream)]
