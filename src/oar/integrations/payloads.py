"""The payload inspector: where a y-stream's newest stable payload says its errata live,
and whether that URL answers yet (reference §1.9, what the approval's background checker
waits for).

Two adapters find the URL. :class:`OcPayloadInspector` does what the original tool did:
``oc adm release info <pullspec> -o json`` and ``.metadata.metadata.url`` (the payload's
Cincinnati metadata). :class:`HttpPayloadInspector` uses only the release controller's
HTTP API: it reads ``metadata.url`` from the build's details. The public controller does
not publish that field (the sandbox's stand-in does), so against production the oc
inspector is the one to use; the HTTP one says so instead of answering None forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from oar.errors import (
    IntegrationError,
    IntegrationTimeoutError,
    IntegrationUnavailableError,
)
from oar.integrations.releasecontroller import (
    HttpReleaseStreams,
    ReleaseStreams,
    check_y_stream,
)
from oar.logs import get_logger

if TYPE_CHECKING:
    from oar.settings import Settings

log = get_logger(__name__)


class PayloadInspector(Protocol):
    async def metadata_url(self, y_stream: str) -> str | None:
        """The metadata URL of the newest stable payload of ``y_stream``; None without one."""

    async def is_accessible(self, url: str) -> bool:
        """Whether ``url`` answers below 400 within the timeout (errors count as no)."""


async def url_answers(url: str, *, timeout: float) -> bool:
    """One GET: True below 400. A failure is an answer too (not yet), never an error:
    the checker asks again on its own schedule."""
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        log.info("payload.metadata_unreachable", url=url, error=type(exc).__name__)
        return False
    return response.status_code < 400


class OcPayloadInspector:
    """The payload's own metadata, read with ``oc adm release info``."""

    def __init__(self, *, releases: ReleaseStreams, timeout: float, oc: str = "oc") -> None:
        self.releases = releases
        self.timeout = timeout
        self.oc = oc

    @classmethod
    def from_settings(cls, settings: Settings, *, oc: str = "oc") -> OcPayloadInspector:
        return cls(
            releases=HttpReleaseStreams.from_settings(settings),
            timeout=settings.integration_timeout,
            oc=oc,
        )

    async def metadata_url(self, y_stream: str) -> str | None:
        latest = await self.releases.latest(check_y_stream(y_stream), nightly=False)
        if latest is None or not latest.pull_spec:
            return None
        info = await self._release_info(latest.pull_spec)
        url = _dig(info, "metadata", "metadata", "url")
        return str(url) if url else None

    async def _release_info(self, pull_spec: str) -> dict[str, Any]:
        executable = shutil.which(self.oc)
        if executable is None:
            raise IntegrationUnavailableError(
                "oc",
                f"the OpenShift client {self.oc!r} is not installed or not on PATH;"
                " install it from mirror.openshift.com (or use the HTTP payload inspector)",
            )
        process = await asyncio.create_subprocess_exec(
            executable,
            "adm",
            "release",
            "info",
            pull_spec,
            "-o",
            "json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own group: a timeout kills whatever it started too
        )
        try:
            async with asyncio.timeout(self.timeout):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            # Every holder of the pipes is gone: drain them so the transport closes.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await process.communicate()
            raise IntegrationTimeoutError(
                "oc", f"oc adm release info {pull_spec}: no answer in {self.timeout:g}s"
            ) from None
        if process.returncode != 0:
            reason = stderr.decode(errors="replace").strip().splitlines()
            raise IntegrationError(
                "oc",
                f"oc adm release info {pull_spec} exited {process.returncode}:"
                f" {reason[-1] if reason else 'no message'}",
            )
        try:
            info = json.loads(stdout)
        except ValueError as exc:
            raise IntegrationError("oc", f"oc adm release info {pull_spec}: not JSON") from exc
        return info if isinstance(info, dict) else {}

    async def is_accessible(self, url: str) -> bool:
        return await url_answers(url, timeout=self.timeout)


class HttpPayloadInspector:
    """The metadata URL from the release controller's build details (``metadata.url``)."""

    def __init__(self, *, releases: ReleaseStreams, timeout: float) -> None:
        self.releases = releases
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpPayloadInspector:
        return cls(
            releases=HttpReleaseStreams.from_settings(settings),
            timeout=settings.integration_timeout,
        )

    async def metadata_url(self, y_stream: str) -> str | None:
        latest = await self.releases.latest(check_y_stream(y_stream), nightly=False)
        if latest is None:
            return None
        details = await self.releases.release(y_stream, latest.name, nightly=False)
        if details is None:
            return None
        url = _dig(details.raw, "metadata", "url")
        if not url:
            raise IntegrationError(
                "release controller",
                f"the details of {latest.name} carry no metadata.url: this controller does"
                " not publish payload metadata; use the oc payload inspector",
            )
        return str(url)

    async def is_accessible(self, url: str) -> bool:
        return await url_answers(url, timeout=self.timeout)


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
