"""Weekday hours: how long a bug has waited, counting Monday to Friday only.

Pure: both instants and the time zone that decides what a weekday is are parameters (no
clock, no environment). The arithmetic is the original notificator's
(``is_more_than_24_weekday_hours``, reference §3.3) so that the same bug escalates at the
same moment: hourly ticks from ``start`` (inclusive, keeping its minutes) to ``now``
(exclusive) that land on Mon-Fri are counted, and "more than 24" means at least 25 ticks.

The one deliberate difference: the original counts weekdays in whatever offset ``start``
happened to carry (Jira sends each user's own), so the same two instants could give two
answers. Here the zone is explicit (the notificator passes its configured zone, UTC by
default) and both instants must be time-zone aware.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

HOUR = timedelta(hours=1)
# Beyond three days, at least 25 hourly ticks fall on weekdays whatever the start (a
# weekend is 48 ticks), so the original answers "yes" without counting.
_SHORTCUT = timedelta(days=3)
THRESHOLD = 24  # hours


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be time-zone aware, got {value.isoformat()}")


def weekday_ticks(start: datetime, now: datetime, *, zone: tzinfo) -> int:
    """Hourly ticks from ``start`` (inclusive) to ``now`` (exclusive) on Mon-Fri in ``zone``."""
    _aware(start, "start")
    _aware(now, "now")
    if start >= now:
        return 0
    # Whole-hour steps in absolute time; each tick's weekday is read in ``zone``.
    ticks = -(-(now - start) // HOUR)  # ceil: the number of ticks strictly before now
    count = 0
    for n in range(ticks):
        if (start + n * HOUR).astimezone(zone).weekday() < 5:
            count += 1
    return count


def more_than_weekday_hours(
    start: datetime, now: datetime, *, zone: tzinfo, hours: int = THRESHOLD
) -> bool:
    """Whether more than ``hours`` weekday hours passed from ``start`` to ``now`` (the
    original's rule for 24, including its three-day shortcut)."""
    _aware(start, "start")
    _aware(now, "now")
    if start >= now:
        return False
    if hours == THRESHOLD and now - start > _SHORTCUT:
        return True
    return weekday_ticks(start, now, zone=zone) > hours
