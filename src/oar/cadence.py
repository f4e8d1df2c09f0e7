"""How often a schedule runs: an interval (``30s``, ``5m``, ``2h``, ``1d``) or a cron expression.

Pure values, no I/O: the settings validate ``OAR_SCHEDULES`` with it and the engine turns a
cadence into the cron expression its scheduler fires on. An interval must divide its unit
evenly (a minute, an hour, a day), so every tick falls on the same wall-clock grid in every
process: that grid is what makes a tick's workflow ID the same everywhere, and a tick run once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_HINT = (
    "use a number of seconds dividing 60 (1, 2, 5, 10, 15, 30…), minutes dividing 60 (1m, 5m,"
    " 15m, 30m…), hours dividing 24 (1h, 2h, 6h, 12h), 1d, or a cron expression"
)


@dataclass(frozen=True, kw_only=True)
class Cadence:
    """A schedule's rhythm: ``text`` as written, ``cron`` as the engine fires it."""

    text: str
    cron: str
    seconds: int | None = None  # for an interval; None for a cron expression

    def next_after(self, moment: datetime) -> datetime:
        """The first tick strictly after ``moment`` (an aware datetime, UTC for intervals)."""
        from croniter import croniter  # only when a next run is asked for (keeps imports lean)

        result: datetime = croniter(self.cron, moment, second_at_beginning=True).get_next(datetime)
        return result


def parse_cadence(text: str) -> Cadence:
    """``30s``/``5m``/``2h``/``1d`` (a bare number is seconds) or a 5- or 6-field cron.

    Raises ValueError saying what is wrong and what is accepted.
    """
    value = text.strip()
    if not value:
        raise ValueError(f"an empty schedule: {_HINT}")
    match = _INTERVAL.match(value)
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        return Cadence(text=value, cron=_interval_cron(value, seconds), seconds=seconds)
    if " " not in value:
        raise ValueError(f"{value!r} is neither an interval nor a cron expression: {_HINT}")
    return Cadence(text=value, cron=_checked_cron(value))


def _interval_cron(text: str, seconds: int) -> str:
    """The cron expression (seconds first) that fires every ``seconds`` on an even grid."""
    if seconds <= 0:
        raise ValueError(f"interval {text!r} must be longer than 0 seconds")
    if seconds < 60 and 60 % seconds == 0:
        return f"*/{seconds} * * * * *"
    if seconds % 60 == 0 and seconds < 3600 and 60 % (seconds // 60) == 0:
        return f"0 */{seconds // 60} * * * *"
    if seconds % 3600 == 0 and seconds < 86400 and 24 % (seconds // 3600) == 0:
        return f"0 0 */{seconds // 3600} * * *"
    if seconds == 86400:
        return "0 0 0 * * *"
    raise ValueError(
        f"interval {text!r} does not divide a minute, an hour or a day evenly: {_HINT}"
    )


def _checked_cron(expression: str) -> str:
    from croniter import croniter

    fields = expression.split()
    if len(fields) == 5:  # classic cron: fire at second 0
        expression = "0 " + " ".join(fields)
    elif len(fields) == 6:
        expression = " ".join(fields)
    else:
        raise ValueError(
            f"cron expression {expression!r} has {len(fields)} fields: write 5 (minute hour day"
            " month weekday) or 6 (seconds first)"
        )
    if not croniter.is_valid(expression, second_at_beginning=True):
        raise ValueError(f"{expression!r} is not a valid cron expression")
    return expression


# What ``OAR_SCHEDULES`` may say about one schedule besides a cadence.
OFF = "off"
ON = "on"


def parse_overrides(text: str) -> dict[str, str]:
    """``OAR_SCHEDULES``: ``name=30m,other=off,third=on`` → {name: value}, each value checked.

    A value is ``off``, ``on`` or a cadence (a cron expression there cannot contain commas:
    use ranges such as ``1-5``). Raises ValueError naming the entry that is wrong.
    """
    overrides: dict[str, str] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, value = entry.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f"{entry!r} is not name=value (e.g. detector=30m or detector=off)")
        if name in overrides:
            raise ValueError(f"schedule {name!r} is named twice")
        if value.lower() in (OFF, ON):
            value = value.lower()
        else:
            try:
                parse_cadence(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        overrides[name] = value
    return overrides
