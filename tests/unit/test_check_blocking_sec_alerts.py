"""``check-blocking-sec-alerts`` and the one security-alert rule it shares with
``change-advisory-status``, on the seed release's fakes (no network, no database)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from oar.errors import ApprovalRefusedError
from oar.integrations.errata import AdvisoryState, SecurityAlerts
from oar.integrations.fakes import FakeErrata
from oar.release.approval import move_to_rel_prep
from oar.release.checklist import TaskStatus
from oar.release.commands.secalerts import check_blocking_sec_alerts, issue_text
from oar.release.secalerts import AlertCheck, blocking, check_advisories
from oar.release.tracking import ReleaseContext
from oar.sandbox import seed
from oar.sandbox.errata import seed_errata
from oar.testing.release import fake_ports
from tests.unit.release_world import release_context

ERRATA = seed.ADVISORIES[seed.ERRATA_RELEASE]
KONFLUX = seed.ADVISORIES[seed.RELEASE]
ALERT = SecurityAlerts(blocking=True, alerts=("cve_missing_impact",))


async def context(tmp_path: Path, release: str, errata: FakeErrata) -> ReleaseContext:
    ctx = await release_context(
        tmp_path, release, fake_ports(errata=errata), task="check-blocking-sec-alerts"
    )
    await ctx.state.ensure_release(release)  # as every run does before the body
    return ctx


def as_rhsa(errata: FakeErrata, advisory_id: int) -> None:
    advisory = errata.advisories[advisory_id]
    errata.advisories[advisory_id] = dataclasses.replace(advisory, type="RHSA")


# --- the rule ---------------------------------------------------------------------------------
async def test_only_rhsa_advisories_are_checked_and_each_is_refreshed_first() -> None:
    errata = seed_errata()
    errata.alerts[ERRATA["image"]] = ALERT  # an RHBA advisory: not the rule's business
    checks = await check_advisories(errata, ERRATA)
    assert [(c.advisory_id, c.impetus) for c in checks] == [(ERRATA["rpm"], "rpm")]
    assert blocking(checks) == []
    assert errata.alert_refreshes == [ERRATA["rpm"]]


async def test_a_blocking_alert_on_an_rhsa_advisory_is_found_with_its_names() -> None:
    errata = seed_errata()
    errata.alerts[ERRATA["rpm"]] = ALERT
    (found,) = blocking(await check_advisories(errata, ERRATA))
    assert (found.advisory_id, found.alerts.alerts) == (ERRATA["rpm"], ("cve_missing_impact",))


async def test_a_dropped_rhsa_advisory_is_not_checked() -> None:
    errata = seed_errata()
    rpm = ERRATA["rpm"]
    errata.alerts[rpm] = ALERT
    errata.advisories[rpm] = dataclasses.replace(
        errata.advisories[rpm], state=AdvisoryState.DROPPED_NO_SHIP
    )
    assert await check_advisories(errata, ERRATA) == []


async def test_the_approval_checks_with_the_same_rule() -> None:
    errata = seed_errata()
    moved = await move_to_rel_prep(errata, seed.ERRATA_RELEASE, ERRATA)
    assert str(ERRATA["image"]) in moved
    assert errata.alert_refreshes == [ERRATA["rpm"]]  # the RHSA one, refreshed

    errata = seed_errata()
    errata.alerts[ERRATA["rpm"]] = ALERT
    with pytest.raises(ApprovalRefusedError, match="blocking security alert: cve_missing_impact"):
        await move_to_rel_prep(errata, seed.ERRATA_RELEASE, ERRATA)
    assert errata.alert_refreshes == [ERRATA["rpm"]]


def test_the_issue_text_is_the_originals_cell_text() -> None:
    one = AlertCheck(advisory_id=1, impetus="rpm", alerts=ALERT)
    two = AlertCheck(advisory_id=2, impetus="image", alerts=ALERT)
    assert issue_text([one]) == "ALERT: Blocking Sec-Alert: 1"
    assert issue_text([one, two]) == "ALERT: Blocking Sec-Alerts: 1, 2"


# --- the command ------------------------------------------------------------------------------
async def test_no_blocking_alert_passes_and_opens_nothing(tmp_path: Path) -> None:
    ctx = await context(tmp_path, seed.RELEASE, seed_errata())
    outcome = await check_blocking_sec_alerts(ctx)
    assert outcome.status is TaskStatus.PASS
    assert outcome.message == (
        f"No blocking security alerts found (RHSA advisories checked: {KONFLUX['rpm']})"
    )
    assert (await ctx.state.get(seed.RELEASE)).issues == []


async def test_blocking_alerts_fail_and_open_one_blocker_of_the_approval_even_when_rerun(
    tmp_path: Path,
) -> None:
    errata = seed_errata()
    as_rhsa(errata, ERRATA["extras"])
    errata.alerts[ERRATA["rpm"]] = ALERT
    errata.alerts[ERRATA["extras"]] = SecurityAlerts(blocking=True, alerts=("embargoed",))
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, errata)

    outcome = await check_blocking_sec_alerts(ctx)
    again = await check_blocking_sec_alerts(ctx)

    assert outcome.status is TaskStatus.FAIL
    assert outcome.message.splitlines()[:3] == [
        "BLOCKING SECURITY ALERTS FOUND:",
        f"  RHSA {ERRATA['extras']} (extras): embargoed",
        f"  RHSA {ERRATA['rpm']} (rpm): cve_missing_impact",
    ]
    (issue,) = (await ctx.state.get(seed.ERRATA_RELEASE)).issues
    assert issue.text == f"ALERT: Blocking Sec-Alerts: {ERRATA['extras']}, {ERRATA['rpm']}"
    assert (issue.blocker, issue.related_tasks) == (True, ["change-advisory-status"])
    assert outcome.data["blocking"] == [ERRATA["extras"], ERRATA["rpm"]]
    assert again.status is TaskStatus.FAIL
    assert again.data["issue"] == issue.id


async def test_check_only_reports_without_opening_an_issue(tmp_path: Path) -> None:
    errata = seed_errata()
    errata.alerts[KONFLUX["rpm"]] = ALERT
    ctx = await context(tmp_path, seed.RELEASE, errata)
    outcome = await check_blocking_sec_alerts(ctx, check_only=True)
    assert outcome.status is TaskStatus.FAIL
    assert (await ctx.state.get(seed.RELEASE)).issues == []


async def test_once_cleared_it_passes_and_points_at_the_blocker_still_open(
    tmp_path: Path,
) -> None:
    errata = seed_errata()
    errata.alerts[KONFLUX["rpm"]] = ALERT
    ctx = await context(tmp_path, seed.RELEASE, errata)
    failed = await check_blocking_sec_alerts(ctx)
    errata.alerts[KONFLUX["rpm"]] = SecurityAlerts(blocking=False)
    cleared = await check_blocking_sec_alerts(ctx)
    assert cleared.status is TaskStatus.PASS
    assert cleared.data["open"] == [failed.data["issue"]]
    assert f"still open (#{failed.data['issue']})" in cleared.message
