"""An in-memory Brew: build metadata and tags by NVR (the port is :mod:`oar.integrations.brew`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oar.errors import IntegrationError
from oar.integrations.brew import SYSTEM


@dataclass
class FakeBrew:
    """In memory: metadata by build NVR, tags by build NVR."""

    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)

    async def build_metadata(self, nvr: str) -> dict[str, Any] | None:
        return self.metadata.get(nvr)

    async def build_tags(self, nvr: str) -> list[str]:
        if nvr not in self.tags:
            raise IntegrationError(SYSTEM, f"listTags: GenericError: No such build: {nvr}")
        return list(self.tags[nvr])
