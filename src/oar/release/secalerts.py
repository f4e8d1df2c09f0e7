"""Blocking security alerts: the one rule ``check-blocking-sec-alerts`` reports and
``change-advisory-status`` refuses on (reference §6).

Only RHSA advisories have ProdSec security alerts, so only they are checked (RHBA and
RHEA ones are skipped, as the original did); each one's alerts are refreshed from the
review service first (``POST .../security_alerts/refresh``), so a stale "not blocking"
never lets a release through. Unlike the original, an advisory whose alerts cannot be
read is an error, never a silent "not blocking".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from oar.integrations.errata import Advisory, AdvisoryState, Errata, SecurityAlerts
from oar.jsonvalue import JSON
from oar.logs import get_logger

log = get_logger(__name__)

SECURITY_ADVISORY = "RHSA"


@dataclass(frozen=True, kw_only=True)
class AlertCheck:
    """What one advisory's security alerts say."""

    advisory_id: int
    impetus: str
    alerts: SecurityAlerts

    @property
    def blocking(self) -> bool:
        return self.alerts.blocking

    def to_data(self) -> dict[str, JSON]:
        return {
            "advisory": self.advisory_id,
            "impetus": self.impetus,
            "blocking": self.alerts.blocking,
            "alerts": list(self.alerts.alerts),
        }


def checked(advisory: Advisory) -> bool:
    """Whether the rule looks at ``advisory``: an RHSA one that has not been dropped."""
    return (
        advisory.type.upper() == SECURITY_ADVISORY
        and advisory.state is not AdvisoryState.DROPPED_NO_SHIP
    )


def blocking(checks: Sequence[AlertCheck]) -> list[AlertCheck]:
    """The checks whose advisory is blocked by a security alert."""
    return [c for c in checks if c.blocking]


def refusal(check: AlertCheck) -> str:
    """Why ``check``'s advisory may not move on (for errors and messages)."""
    names = ", ".join(check.alerts.alerts) or "unnamed alert"
    return f"advisory {check.advisory_id} ({check.impetus}) has a blocking security alert: {names}"


async def check_alerts(errata: Errata, impetus: str, advisory: Advisory) -> AlertCheck | None:
    """Refresh and read ``advisory``'s security alerts; None when the rule skips it."""
    if not checked(advisory):
        log.info(
            "secalerts.skipped",
            advisory=advisory.id,
            impetus=impetus,
            type=advisory.type,
            state=advisory.state.value,
        )
        return None
    alerts = await errata.refresh_security_alerts(advisory.id)
    check = AlertCheck(advisory_id=advisory.id, impetus=impetus, alerts=alerts)
    if check.blocking:
        log.warning(
            "secalerts.blocking", advisory=advisory.id, impetus=impetus, alerts=alerts.alerts
        )
    else:
        log.info("secalerts.not_blocking", advisory=advisory.id, impetus=impetus)
    return check


async def check_advisories(errata: Errata, advisories: Mapping[str, int]) -> list[AlertCheck]:
    """:func:`check_alerts` for each advisory (impetus -> ID), in impetus order."""
    checks = []
    for impetus, advisory_id in sorted(advisories.items()):
        found = await check_alerts(errata, impetus, await errata.get_advisory(advisory_id))
        if found is not None:
            checks.append(found)
    return checks
