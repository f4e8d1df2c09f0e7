"""Exponential backoff with jitter: a pure function of the attempt number.

Used by the task engine between attempts and by the integration adapters between
retries of transient errors. The jitter is derived from a seed (the task ID, say), so
the same attempt of the same task always waits the same time: replaying a durable
workflow gives the same answer, and tests can assert exact values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """``delay * factor**(n-1)``, capped at ``max_delay``, spread by ±``jitter``."""

    delay: float
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.delay < 0 or self.max_delay < 0:
            raise ValueError("backoff delays must not be negative")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("backoff jitter must be in [0, 1)")

    def base(self, retry: int) -> float:
        """The delay before retry number ``retry`` (1 = the first retry), without jitter."""
        if retry < 1:
            raise ValueError("retry numbers start at 1")
        exponent = min(retry - 1, 64)  # beyond this the cap applies anyway
        return float(min(self.max_delay, self.delay * self.factor**exponent))

    def delay_for(self, retry: int, *, seed: str = "") -> float:
        """The jittered delay before retry ``retry``; stable for a given ``seed``."""
        base = self.base(retry)
        if self.jitter == 0 or base == 0:
            return base
        digest = hashlib.blake2b(f"{seed}:{retry}".encode(), digest_size=8).digest()
        unit = int.from_bytes(digest, "big") / 2**64  # in [0, 1)
        spread = base * self.jitter * (2 * unit - 1)
        return float(min(self.max_delay, max(0.0, base + spread)))
