"""Which releases are active: the original's discovery rule (``release_discovery.py``). Pure.

For every y-stream in ART's z-stream files, its latest release (semantic versioning) is a
candidate; a candidate is **active** while ``today <= release date + keep days`` (one day
by default), the release date being the one its report recorded (ocp-build-data's
``group/release_date``, written ``2026-Nov-26``). A candidate without a recorded date —
no report yet, or a report made before the date was known — is not active, and says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from oar.jsonvalue import JSON

DATE_FORMAT = "%Y-%b-%d"  # 2026-Nov-26, as ocp-build-data and the StateBox write it
KEEP_DAYS = 1


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """The latest release of one y-stream, with the release date its report recorded."""

    y_stream: str
    release: str
    release_date: str | None = None


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A candidate and whether it is active (and, when not, why)."""

    y_stream: str
    release: str
    release_date: date | None
    active: bool
    reason: str

    def to_dict(self) -> dict[str, JSON]:
        return {
            "y_stream": self.y_stream,
            "release": self.release,
            "release_date": self.release_date.isoformat() if self.release_date else None,
            "active": self.active,
            "reason": self.reason,
        }


def parse_release_date(text: str) -> date | None:
    """``2026-Nov-26`` (or ISO ``2026-11-26``) as a date; None when it is neither."""
    for form in (DATE_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    return None


def is_active(release_date: date, *, today: date, keep_days: int = KEEP_DAYS) -> bool:
    """The original's rule: active until ``keep_days`` after the release date."""
    return today <= release_date + timedelta(days=keep_days)


def judge(candidate: Candidate, *, today: date, keep_days: int = KEEP_DAYS) -> Verdict:
    """Whether ``candidate`` is active on ``today``, and why."""
    if candidate.release_date is None:
        return Verdict(
            y_stream=candidate.y_stream,
            release=candidate.release,
            release_date=None,
            active=False,
            reason="no release date recorded (no report yet)",
        )
    when = parse_release_date(candidate.release_date)
    if when is None:
        return Verdict(
            y_stream=candidate.y_stream,
            release=candidate.release,
            release_date=None,
            active=False,
            reason=f"release date {candidate.release_date!r} is not YYYY-Mon-DD",
        )
    active = is_active(when, today=today, keep_days=keep_days)
    last = when + timedelta(days=keep_days)
    reason = (
        f"releases {when.isoformat()}, active until {last.isoformat()}"
        if active
        else f"released {when.isoformat()}, inactive since {(last + timedelta(days=1)).isoformat()}"
    )
    return Verdict(
        y_stream=candidate.y_stream,
        release=candidate.release,
        release_date=when,
        active=active,
        reason=reason,
    )


def discover(
    candidates: Iterable[Candidate], *, today: date, keep_days: int = KEEP_DAYS
) -> list[Verdict]:
    """Every candidate's verdict, in y-stream order (numeric: 4.9 before 4.10)."""
    verdicts = [judge(c, today=today, keep_days=keep_days) for c in candidates]
    return sorted(verdicts, key=lambda v: tuple(int(p) for p in v.y_stream.split(".")))
