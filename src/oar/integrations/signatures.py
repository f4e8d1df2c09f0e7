"""The release-image signature server: is a payload digest's signature published?

OpenShift publishes the signature of a release payload on mirror.openshift.com, one
directory per digest: ``<OAR_SIGNATURE_URL>sha256=<hex>/signature-1`` (the ``:`` of the
digest becomes ``=``; reference oar-commands.md §11). The original ``image-signed-check``
fetched that URL once; here the port answers signed / not yet (404) and a follow asks
again until a deadline (:mod:`oar.release.signing`).

:class:`HttpSignatures` is the adapter on httpx (anonymous, like the mirror); the fake is
:class:`oar.integrations.fakes.signatures.FakeSignatures`, the stand-in
:class:`oar.sandbox.signatures.SignatureStandIn`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

import httpx

from oar.backoff import Backoff
from oar.errors import InvalidArgumentError
from oar.integrations.calls import CallPolicy, call
from oar.integrations.http import classify_httpx

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "signature server"
# Unauthenticated: errors name the variable that says where it is.
CREDENTIAL = "OAR_SIGNATURE_URL"
SIGNATURE_FILE = "signature-1"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def check_digest(digest: str) -> str:
    """``digest`` (``sha256:<64 hex>``, blanks trimmed), else an error naming it."""
    text = digest.strip()
    if not _DIGEST.fullmatch(text):
        raise InvalidArgumentError(
            "digest", f"{digest!r} is not a payload digest such as sha256:<64 hex digits>"
        )
    return text


def signature_path(digest: str) -> str:
    """The signature's path under the server's base: ``sha256=<hex>/signature-1``."""
    return f"{check_digest(digest).replace(':', '=')}/{SIGNATURE_FILE}"


def signature_url(base_url: str, digest: str) -> str:
    """Where the signature of ``digest`` is published under ``base_url``."""
    return f"{base_url.rstrip('/')}/{signature_path(digest)}"


class Signatures(Protocol):
    """What OAR needs from the signature server."""

    def url(self, digest: str) -> str:
        """Where the signature of ``digest`` is (or will be) published."""

    async def is_signed(self, digest: str) -> bool:
        """Whether the signature of ``digest`` is published (False: not yet, a 404)."""


class HttpSignatures:
    """:class:`Signatures` on the mirror's plain HTTP layout (httpx, anonymous)."""

    def __init__(self, *, base_url: str, policy: CallPolicy) -> None:
        self.base_url = base_url
        self.policy = policy
        self._http = httpx.AsyncClient(timeout=policy.timeout, follow_redirects=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpSignatures:
        return cls(
            base_url=settings.signature_url,
            policy=CallPolicy.from_settings(
                settings, SYSTEM, CREDENTIAL, backoff=Backoff(delay=1.0, max_delay=30.0)
            ),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> HttpSignatures:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def url(self, digest: str) -> str:
        return signature_url(self.base_url, digest)

    async def is_signed(self, digest: str) -> bool:
        url = self.url(digest)

        async def attempt() -> bool:
            response = await self._http.get(url)
            if response.status_code == 404:
                return False
            response.raise_for_status()
            return True

        return await call(self.policy, "GET signature", attempt, classify_httpx)
