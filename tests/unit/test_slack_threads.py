"""One operation per thread: claims are exclusive, released in finally, never stolen."""

from __future__ import annotations

from oar.slack.threads import ThreadClaims


def test_a_busy_thread_cannot_be_claimed_until_released() -> None:
    claims = ThreadClaims()
    first = claims.claim("C1", "1.0", "oar status")
    assert first is not None
    assert claims.claim("C1", "1.0", "oar other") is None
    assert claims.busy("C1", "1.0") is first
    assert claims.claim("C1", "2.0", "elsewhere") is not None  # other threads are free
    with claims.holding(first):
        pass
    assert claims.claim("C1", "1.0", "again") is not None


def test_the_watchdog_reports_long_operations_once_and_never_releases() -> None:
    now = [0.0]
    claims = ThreadClaims(clock=lambda: now[0])
    operation = claims.claim("C1", "1.0", "oar stage-testing")
    now[0] = 1000.0
    assert claims.overdue(900) == [operation]
    assert claims.overdue(900) == []  # reported once
    assert claims.busy("C1", "1.0") is operation  # still held


def test_releasing_a_stale_operation_does_not_free_a_newer_claim() -> None:
    claims = ThreadClaims()
    old = claims.claim("C1", "1.0", "a")
    assert old is not None
    claims.release(old)
    new = claims.claim("C1", "1.0", "b")
    claims.release(old)  # a second release of the old one must not drop the new claim
    assert claims.busy("C1", "1.0") is new
