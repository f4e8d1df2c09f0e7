"""An in-memory ocp-build-data (the port is :mod:`oar.integrations.builddata`).

It serves only the files it is given (tests pass the sandbox seed's,
``oar.sandbox.seed.build_data_files()``): nothing here reads the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping

from oar.errors import IntegrationNotFoundError
from oar.integrations.builddata import DEFAULT_URL, SYSTEM, build_data_url


class FakeBuildData:
    """In memory: y-stream → ``releases.yml`` text; ``fetches`` lists the y-streams asked for."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)
        self.fetches: list[str] = []

    def url(self, y_stream: str) -> str:
        return build_data_url(DEFAULT_URL, y_stream)

    async def releases(self, y_stream: str) -> str:
        self.fetches.append(y_stream)
        text = self.files.get(y_stream)
        if text is None:
            raise IntegrationNotFoundError(
                SYSTEM, f"GET {self.url(y_stream)}: HTTP 404", status_code=404
            )
        return text
