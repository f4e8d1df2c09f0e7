"""The advisory gates as a QE release lead runs them from a terminal: real ``oar``
processes, the real Errata Tool client (and the real elliott adapter running the
sandbox's elliott executable) against the sandbox's stand-ins, a real database.

``check-blocking-sec-alerts``, ``check-greenwave-cvp-tests`` and ``check-cve-tracker-bug``:
one test each, both flows where they differ."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oar.integrations.errata import SecurityAlerts
from oar.integrations.fakes import FakeErrata
from oar.release.state import ReleaseState
from oar.sandbox import releaseconfig, seed
from oar.sandbox.errata import CVP_FAILED_TEST
from oar.sandbox.registry import Sandbox
from oar.service import Service
from tests.acceptance.conftest import oar

KONFLUX = seed.ADVISORIES[seed.RELEASE]
ERRATA = seed.ADVISORIES[seed.ERRATA_RELEASE]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
def env(sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_LOG_LEVEL": "INFO",
    }


def errata_of(sandbox: Sandbox) -> FakeErrata:
    state: FakeErrata = sandbox.servers["errata"].errata  # type: ignore[attr-defined]
    return state


async def test_check_blocking_sec_alerts_fails_on_a_blocking_alert_and_passes_without(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    errata = errata_of(sandbox)
    errata.alerts[KONFLUX["rpm"]] = SecurityAlerts(blocking=True, alerts=("cve_missing_impact",))
    state = ReleaseState(client.db)

    code, stdout, stderr = await oar(
        "-r", seed.RELEASE, "check-blocking-sec-alerts", "--json", env=env
    )

    assert code == 1, stderr
    outcome = json.loads(stdout)
    assert outcome["status"] == "Fail"
    assert outcome["data"]["blocking"] == [KONFLUX["rpm"]]
    assert f"RHSA {KONFLUX['rpm']} (rpm): cve_missing_impact" in outcome["message"]
    (issue,) = (await state.get(seed.RELEASE)).issues
    assert issue.text == f"ALERT: Blocking Sec-Alert: {KONFLUX['rpm']}"
    assert issue.related_tasks == ["change-advisory-status"]
    assert errata.alert_refreshes == [KONFLUX["rpm"]]  # refreshed through the wire
    assert await state.runs(seed.RELEASE) == []  # not a checklist task: nothing recorded

    # The errata flow's release: only its RHSA advisory is checked; nothing blocks.
    code, stdout, stderr = await oar(
        "-r", seed.ERRATA_RELEASE, "check-blocking-sec-alerts", env=env
    )

    assert code == 0, stderr
    assert f"No blocking security alerts found (RHSA advisories checked: {ERRATA['rpm']})" in (
        stdout
    )
    assert errata.alert_refreshes == [KONFLUX["rpm"], ERRATA["rpm"]]
    assert (await state.get(seed.ERRATA_RELEASE)).issues == []


def channel_texts(sandbox: Sandbox, channel: str) -> list[str]:
    slack = sandbox.servers["slack"]
    return [m["text"] for m in slack.channel_messages(channel)]  # type: ignore[attr-defined]


async def test_check_greenwave_cvp_tests_fails_on_the_failed_test_and_refetches_it(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    """The errata flow's release (its extras advisory has the seed's failed CVP test); a
    Konflux release's rpm and rhcos advisories have no CVP tests (unit-tested)."""
    errata = errata_of(sandbox)
    state = ReleaseState(client.db)

    code, stdout, stderr = await oar(
        "-r", seed.ERRATA_RELEASE, "check-greenwave-cvp-tests", "--json", env=env
    )

    assert code == 1, stderr
    outcome = json.loads(stdout)
    assert outcome["status"] == "Fail"
    assert outcome["data"]["failed"] == [CVP_FAILED_TEST]
    assert {(r["test"], r["status"]) for r in outcome["data"]["results"]} == {
        (61001, "PASSED"),
        (61002, "PASSED"),
        (CVP_FAILED_TEST, "FAILED"),
        (61004, "WAIVED"),
    }
    assert "FAILED (not passed)" in outcome["message"]  # the table
    assert errata.refetched == [CVP_FAILED_TEST]  # the refetch reached Errata Tool
    (issue,) = (await state.get(seed.ERRATA_RELEASE)).issues
    assert issue.related_tasks == ["check-greenwave-cvp-tests"]
    (told,) = channel_texts(sandbox, seed.SLACK_CHANNELS["team-qe-release"])
    assert told.startswith(
        f"[{seed.ERRATA_RELEASE}] Hello <!subteam^S0418QELDS>, there are Greenwave CVP failures"
    )
    assert f"/advisory/{ERRATA['extras']}/test_run/{CVP_FAILED_TEST}|" in told
    (run,) = await state.runs(seed.ERRATA_RELEASE, task="check-greenwave-cvp-tests")
    assert run.status.value == "Fail"


async def test_check_cve_tracker_bug_runs_elliott_and_reports_the_missing_trackers(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    """The real adapter runs the sandbox's elliott program. Errata flow: the tracker under
    ``image`` (which the original ignored) is missing; a re-run reports the same blocker
    and does not tell ART again. Konflux flow: both elliott sides and the shipment data."""
    state = ReleaseState(client.db)
    art = seed.SLACK_CHANNELS["forum-ocp-art"]
    missing = seed.MISSING_CVE_TRACKERS[seed.ERRATA_RELEASE]

    code, stdout, stderr = await oar(
        "-r", seed.ERRATA_RELEASE, "check-cve-tracker-bug", "--json", env=env
    )

    assert code == 1, stderr
    outcome = json.loads(stdout)
    assert outcome["status"] == "Fail"
    assert outcome["data"]["missing"] == [missing]
    assert outcome["data"]["found"]["brew"]["image"] == [missing]
    (told,) = channel_texts(sandbox, art)
    assert told.startswith("Hello <!subteam^S0ART00001>, Found new CVE tracker bugs")
    assert f"/browse/{missing}|{missing}>" in told

    code, stdout, stderr = await oar("-r", seed.ERRATA_RELEASE, "check-cve-tracker-bug", env=env)

    assert code == 1, stderr
    assert "already reports them" in stdout
    (issue,) = (await state.get(seed.ERRATA_RELEASE)).issues
    assert issue.text.endswith(f"Missed CVE tracker bugs: - {missing}")
    assert len(channel_texts(sandbox, art)) == 1
    runs = await state.runs(seed.ERRATA_RELEASE, task="check-cve-tracker-bug")
    assert [r.status.value for r in runs] == ["Fail", "Fail"]

    code, stdout, stderr = await oar(
        "-r", seed.RELEASE, "check-cve-tracker-bug", "--no-notify", "--json", env=env
    )

    assert code == 1, stderr
    outcome = json.loads(stdout)
    konflux_missing = seed.MISSING_CVE_TRACKERS[seed.RELEASE]
    assert outcome["data"]["missing"] == [konflux_missing]
    assert outcome["data"]["by_side"] == {"brew": [konflux_missing], "konflux": [konflux_missing]}
    (issue,) = (await state.get(seed.RELEASE)).issues
    assert issue.text.startswith("Found 1 missed CVE tracker bugs: 1 in advisories, 1 in")
    assert len(channel_texts(sandbox, art)) == 1  # --no-notify
