"""An in-memory signature server (the port is :mod:`oar.integrations.signatures`).

:class:`FakeSignatures` is also the state of the sandbox's signature stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oar.errors import OarError
from oar.integrations.signatures import check_digest, signature_url

DEFAULT_BASE = "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release/"


@dataclass(kw_only=True)
class FakeSignatures:
    """The published digests in memory; ``error`` (when set) is raised by every lookup,
    as a server that cannot be reached would; ``lookups`` counts them."""

    base_url: str = DEFAULT_BASE
    published: set[str] = field(default_factory=set)
    error: OarError | None = None
    lookups: int = 0

    def publish(self, digest: str) -> None:
        self.published.add(check_digest(digest))

    def unpublish(self, digest: str) -> None:
        self.published.discard(check_digest(digest))

    def url(self, digest: str) -> str:
        return signature_url(self.base_url, digest)

    async def is_signed(self, digest: str) -> bool:
        digest = check_digest(digest)
        self.lookups += 1
        if self.error is not None:
            raise self.error
        return digest in self.published
