"""In-memory Prow job artifacts (the port is :mod:`oar.integrations.gcs`)."""

from __future__ import annotations

from typing import Any

from oar.errors import IntegrationNotFoundError
from oar.integrations.gcs import SYSTEM, is_junit, is_test_results, parse_test_results, run_prefix


class FakeJobArtifacts:
    """In memory: object name → bytes."""

    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.objects = dict(objects or {})

    async def test_results(self, job_name: str, run_id: str) -> dict[str, Any] | None:
        prefix = run_prefix(job_name, run_id)
        for name in sorted(self.objects):
            if name.startswith(prefix) and is_test_results(name):
                return parse_test_results(self.objects[name].decode())
        return None

    async def junit_files(self, job_name: str, run_id: str) -> list[str]:
        prefix = run_prefix(job_name, run_id)
        return sorted(n for n in self.objects if n.startswith(prefix) and is_junit(n))

    async def read(self, name: str) -> bytes:
        if name not in self.objects:
            raise IntegrationNotFoundError(SYSTEM, f"no object {name}", status_code=404)
        return self.objects[name]
