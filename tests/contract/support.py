"""Small helpers shared by the contract and fault tests."""

from __future__ import annotations

from oar.backoff import Backoff
from oar.integrations.calls import CallPolicy


def quick_policy(
    system: str, credential: str, *, timeout: float = 10.0, retries: int = 2
) -> CallPolicy:
    """A policy for tests: real retries, tiny backoff (a Retry-After still counts)."""
    return CallPolicy(
        system=system,
        credential=credential,
        timeout=timeout,
        retries=retries,
        backoff=Backoff(delay=0.01, max_delay=0.05, jitter=0),
    )
