"""In-memory ReleasePayloads (the port is :mod:`oar.integrations.releasepayloads`)."""

from __future__ import annotations

from oar.errors import IntegrationAuthError, IntegrationNotFoundError
from oar.integrations.releasepayloads import ACCEPTED, CREDENTIAL, QE_STATE_LABEL, SYSTEM


class FakeReleasePayloads:
    """Payloads by (arch, build) → labels; ``refuse`` makes every call a refused token."""

    def __init__(self, payloads: dict[tuple[str, str], dict[str, str]] | None = None) -> None:
        self.payloads = payloads if payloads is not None else {}
        self.refuse = False
        self.labelled: list[tuple[str, str]] = []

    def add(self, build: str, *, arch: str = "amd64") -> None:
        self.payloads.setdefault((arch, build), {})

    def _check(self) -> None:
        if self.refuse:
            raise IntegrationAuthError(SYSTEM, CREDENTIAL, status_code=401)

    async def check_access(self, *, arch: str) -> None:
        self._check()

    async def qe_state(self, build: str, *, arch: str) -> str | None:
        self._check()
        labels = self.payloads.get((arch, build))
        if labels is None:
            raise IntegrationNotFoundError(SYSTEM, f"no releasepayload {build}")
        return labels.get(QE_STATE_LABEL)

    async def accept(self, build: str, *, arch: str) -> None:
        self._check()
        labels = self.payloads.get((arch, build))
        if labels is None:
            raise IntegrationNotFoundError(SYSTEM, f"no releasepayload {build}")
        labels[QE_STATE_LABEL] = ACCEPTED
        self.labelled.append((arch, build))
