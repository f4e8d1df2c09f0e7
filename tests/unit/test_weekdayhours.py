"""Weekday hours: the original notificator's own test cases (reference §3.3), then the edge
cases it did not write down: weekend starts, time zones, exactly 24 hours, naive input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from oar.agents.weekdayhours import more_than_weekday_hours, weekday_ticks

TUESDAY = datetime(2025, 7, 22, 10, tzinfo=UTC)
FRIDAY = datetime(2025, 7, 18, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "now", "expected"),
    [
        # test_is_more_than_24_weekday_hours, as the original wrote it
        (TUESDAY, TUESDAY + timedelta(hours=23), False),
        (TUESDAY, TUESDAY + timedelta(hours=24), False),  # exactly 24: not "more than"
        (TUESDAY, TUESDAY + timedelta(hours=24, minutes=1), True),
        (TUESDAY, TUESDAY + timedelta(hours=25), True),
        (FRIDAY, datetime(2025, 7, 21, 9, tzinfo=UTC), False),  # the weekend does not count
        (FRIDAY, datetime(2025, 7, 21, 10, tzinfo=UTC), False),
        (FRIDAY, datetime(2025, 7, 21, 10, 1, tzinfo=UTC), True),
        (FRIDAY, datetime(2025, 7, 21, 11, tzinfo=UTC), True),
    ],
)
def test_the_original_s_cases(start: datetime, now: datetime, expected: bool) -> None:
    assert more_than_weekday_hours(start, now, zone=UTC) is expected


def test_a_start_in_the_future_or_now_is_never_due() -> None:
    assert not more_than_weekday_hours(TUESDAY, TUESDAY, zone=UTC)
    assert not more_than_weekday_hours(TUESDAY + timedelta(days=9), TUESDAY, zone=UTC)
    assert weekday_ticks(TUESDAY, TUESDAY - timedelta(hours=1), zone=UTC) == 0


def test_a_weekend_start_counts_from_monday() -> None:
    saturday = datetime(2025, 7, 19, 10, 30, tzinfo=UTC)
    # The reference's example: Sat 10:30 -> Tue 00:15 is 24 ticks (Mon 00:30 … Mon 23:30),
    # not more than 24, although 24.25 weekday hours passed (ticks keep the start's minutes).
    assert weekday_ticks(saturday, datetime(2025, 7, 22, 0, 15, tzinfo=UTC), zone=UTC) == 24
    assert not more_than_weekday_hours(saturday, datetime(2025, 7, 22, 0, 15, tzinfo=UTC), zone=UTC)
    assert more_than_weekday_hours(saturday, datetime(2025, 7, 22, 0, 31, tzinfo=UTC), zone=UTC)


def test_more_than_three_days_is_due_without_counting() -> None:
    assert more_than_weekday_hours(FRIDAY, FRIDAY + timedelta(days=3, seconds=1), zone=UTC)


def test_the_zone_decides_what_a_weekday_is() -> None:
    # Friday 20:00 UTC: in UTC four hours of Friday remain; in Tokyo (UTC+9) it is already
    # Saturday 05:00, so the same instants count differently (explicitly, here).
    start = datetime(2025, 7, 18, 20, tzinfo=UTC)
    now = datetime(2025, 7, 21, 8, tzinfo=UTC)  # Monday 08:00 UTC = Monday 17:00 Tokyo
    assert weekday_ticks(start, now, zone=UTC) == 4 + 8
    assert weekday_ticks(start, now, zone=ZoneInfo("Asia/Tokyo")) == 17  # Mon 00:00 … 16:00
    # The instants' own offsets do not matter, only the zone passed in.
    plus_two = timezone(timedelta(hours=2))
    assert weekday_ticks(start.astimezone(plus_two), now, zone=UTC) == 12


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="start must be time-zone aware"):
        more_than_weekday_hours(datetime(2025, 7, 22, 10), TUESDAY, zone=UTC)
    with pytest.raises(ValueError, match="now must be time-zone aware"):
        weekday_ticks(TUESDAY, datetime(2025, 7, 23, 10), zone=UTC)
