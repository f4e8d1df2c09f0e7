"""What the release-approval tests share: the sandbox's metadata switch and what they read
back from the stand-ins (advisory states, the release channel, a thread)."""

from __future__ import annotations

from typing import Any

import httpx

from oar.integrations.errata import AdvisoryState
from oar.sandbox import seed
from oar.sandbox.registry import Sandbox

RPM, RHCOS = seed.ADVISORIES[seed.RELEASE]["rpm"], seed.ADVISORIES[seed.RELEASE]["rhcos"]
RELEASE_CHANNEL = "#team-qe-release"
COMPLETED = f"Release approval completed for {seed.RELEASE}."


async def set_metadata(sandbox: Sandbox, **body: Any) -> None:
    """``live=True|False`` or ``live_after=N`` (N requests answer 404 first)."""
    base = sandbox.urls["release-controller"]
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base}/_sandbox/release-controller/metadata/{seed.Y_STREAM}", json=body
        )
        response.raise_for_status()


def states(sandbox: Sandbox) -> dict[int, AdvisoryState]:
    errata = sandbox.servers["errata"].errata  # type: ignore[attr-defined]
    return {i: errata.advisories[i].state for i in (RPM, RHCOS)}


def summaries(sandbox: Sandbox) -> list[str]:
    """The release channel's top-level messages."""
    slack = sandbox.servers["slack"]
    return [m["text"] for m in slack.channel_messages(RELEASE_CHANNEL)]  # type: ignore[attr-defined]


def thread_text(sandbox: Sandbox, channel: str, ts: str) -> str:
    slack = sandbox.servers["slack"]
    return "\n".join(m["text"] for m in slack.thread(channel, ts))  # type: ignore[attr-defined]
