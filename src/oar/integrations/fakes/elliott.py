"""An in-memory elliott (the port is :mod:`oar.integrations.elliott`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from oar.errors import IntegrationError
from oar.integrations.elliott import SYSTEM, BuildSystem, Trackers


@dataclass(kw_only=True)
class FakeElliott:
    """``find-bugs --cve-only`` answers per (group, assembly, build system); an assembly
    it does not know fails as elliott does. ``calls`` records every query."""

    trackers: dict[tuple[str, str, BuildSystem], Trackers] = field(default_factory=dict)
    calls: list[tuple[str, str, BuildSystem]] = field(default_factory=list)

    async def find_cve_trackers(
        self, *, group: str, assembly: str, build_system: BuildSystem
    ) -> Trackers:
        key = (group, assembly, BuildSystem(build_system))
        self.calls.append(key)
        found = self.trackers.get(key)
        if found is None:
            raise IntegrationError(
                SYSTEM,
                f"find-bugs --cve-only ({build_system}) exited 1:\n"
                f"assembly {assembly!r} is not defined in {group}",
            )
        return {kind: sorted(set(keys)) for kind, keys in found.items()}
