"""Backoff between retries: grows, is capped, jitters within bounds, replays identically."""

from __future__ import annotations

import pytest

from oar.backoff import Backoff


def test_delays_grow_exponentially_until_the_cap() -> None:
    backoff = Backoff(delay=1, factor=2, max_delay=10, jitter=0)
    assert [backoff.delay_for(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_jitter_stays_within_its_band_and_never_makes_a_later_retry_shorter() -> None:
    backoff = Backoff(delay=5, factor=2, jitter=0.2)
    for seed in (f"task-{i}" for i in range(200)):
        delays = [backoff.delay_for(n, seed=seed) for n in range(1, 6)]
        for n, delay in enumerate(delays, start=1):
            assert 0.8 * backoff.base(n) <= delay <= 1.2 * backoff.base(n)
        assert delays == sorted(delays)


def test_the_same_seed_gives_the_same_delays_and_seeds_differ() -> None:
    backoff = Backoff(delay=5)
    assert backoff.delay_for(3, seed="a") == backoff.delay_for(3, seed="a")
    assert len({backoff.delay_for(1, seed=f"s{i}") for i in range(20)}) > 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delay": -1}, "must not be negative"),
        ({"delay": 1, "factor": 0.5}, "at least 1"),
        ({"delay": 1, "jitter": 1.0}, r"\[0, 1\)"),
    ],
)
def test_nonsensical_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)


def test_retry_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        Backoff(delay=1).delay_for(0)
