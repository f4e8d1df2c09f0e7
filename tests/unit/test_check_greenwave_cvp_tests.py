"""``check-greenwave-cvp-tests`` on the seed releases' fakes: the status rule, the table,
the refetches, the blocker issue and the one message to the QE leads."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar.integrations.errata import TestResult
from oar.integrations.fakes import FakeErrata, FakeNotifier
from oar.release.checklist import TaskStatus
from oar.release.commands.greenwave import (
    CvpRow,
    abnormal,
    check_greenwave_cvp_tests,
    cvp_passed,
    issue_text,
    leads_message,
    to_refetch,
)
from oar.release.tracking import ReleaseContext
from oar.sandbox import seed
from oar.sandbox.errata import CVP_FAILED_NVR, CVP_FAILED_TEST, seed_errata
from oar.testing.release import fake_ports
from tests.unit.release_world import release_context

ERRATA = seed.ADVISORIES[seed.ERRATA_RELEASE]
LEADS = {"4.18-qe-leads": "S0418QELDS", "4.19-qe-leads": "S0419QELDS"}
QE_RELEASE = "#team-qe-release"


def row(status: str, test: int = 1, advisory: int = 10) -> CvpRow:
    return CvpRow(
        advisory_id=advisory,
        impetus="image",
        test=TestResult(
            id=test, nvr=f"c-{test}-1", status=status, external_id="x", advisory_id=advisory
        ),
    )


async def context(
    tmp_path: Path, release: str, errata: FakeErrata, notifier: FakeNotifier
) -> ReleaseContext:
    ctx = await release_context(
        tmp_path,
        release,
        fake_ports(errata=errata, notifier=notifier),
        task="check-greenwave-cvp-tests",
        OAR_ERRATA_URL="https://errata.example",
    )
    await ctx.state.ensure_release(release)
    return ctx


# --- the status rule ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "passes"),
    [
        ("PASSED", True),
        ("WAIVED", True),
        ("passed", True),
        ("FAILED", False),
        ("PENDING", False),
        ("INELIGIBLE", False),
        ("", False),
    ],
)
def test_only_passed_and_waived_pass(status: str, passes: bool) -> None:
    assert cvp_passed(status) is passes


def test_every_abnormal_test_is_reported_and_every_ended_one_refetched() -> None:
    rows = [row("PASSED", 1), row("FAILED", 2), row("PENDING", 3), row("INELIGIBLE", 4)]
    assert [r.test.id for r in abnormal(rows)] == [2, 3, 4]
    assert [r.test.id for r in to_refetch(rows)] == [2, 4]


def test_the_issue_names_advisories_and_test_runs_but_not_the_statuses() -> None:
    failed = [row("FAILED", 7, advisory=20), row("PENDING", 3, advisory=10)]
    refetched = [row("PENDING", 7, advisory=20), row("PENDING", 3, advisory=10)]
    assert issue_text(failed) == (
        "Greenwave CVP tests not passed in advisories 10, 20: test runs 3, 7"
    )
    assert issue_text(refetched) == issue_text(failed)


def test_the_message_links_each_failed_test_run_in_errata_tool() -> None:
    text = leads_message(
        [row("FAILED", 7, advisory=20)],
        release="4.18.40",
        group="<!subteam^S1>",
        errata_url="https://et.example/",
    )
    assert text.splitlines() == [
        "[4.18.40] Hello <!subteam^S1>, there are Greenwave CVP failures in advisories. Please"
        " contact CVP team. Failed tests (a refetch was requested for each that ended):",
        "<https://et.example/advisory/20/test_run/7|7> c-7-1 (FAILED) in advisory"
        " <https://et.example/advisory/20|20>",
    ]


# --- the command ------------------------------------------------------------------------------
async def test_a_failed_test_fails_the_task_refetches_it_and_tells_the_leads_once(
    tmp_path: Path,
) -> None:
    errata, notifier = seed_errata(), FakeNotifier(groups=LEADS)
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, errata, notifier)

    outcome = await check_greenwave_cvp_tests(ctx)

    assert outcome.status is TaskStatus.FAIL
    assert errata.refetched == [CVP_FAILED_TEST]
    assert outcome.data["failed"] == [CVP_FAILED_TEST]
    table = outcome.message
    assert "Greenwave CVP tests" in table
    assert "FAILED (not passed)" in table
    assert "WAIVED" in table
    assert "PASSED" in table
    assert str(ERRATA["extras"]) in table
    assert CVP_FAILED_NVR[:30] in table
    (issue,) = (await ctx.state.get(seed.ERRATA_RELEASE)).issues
    assert issue.text == (
        f"Greenwave CVP tests not passed in advisories {ERRATA['extras']}:"
        f" test runs {CVP_FAILED_TEST}"
    )
    assert (issue.blocker, issue.related_tasks) == (True, ["check-greenwave-cvp-tests"])
    (posted,) = notifier.messages
    channel, text = posted.channel, posted.text
    assert channel == QE_RELEASE
    assert text.startswith(f"[{seed.ERRATA_RELEASE}] Hello <!subteam^S0418QELDS>, there are")
    assert (
        f"<https://errata.example/advisory/{ERRATA['extras']}/test_run/{CVP_FAILED_TEST}|" in text
    )
    assert ctx.done == [
        f"requested a refetch of CVP test {CVP_FAILED_TEST} ({CVP_FAILED_NVR}) of advisory"
        f" {ERRATA['extras']}"
    ]

    again = await check_greenwave_cvp_tests(ctx)

    assert again.status is TaskStatus.FAIL
    assert errata.refetched == [CVP_FAILED_TEST, CVP_FAILED_TEST]  # asked again
    assert len((await ctx.state.get(seed.ERRATA_RELEASE)).issues) == 1
    assert len(notifier.messages) == 1  # told once
    assert "already reports them" in again.message


async def test_all_passed_or_waived_passes_and_changes_nothing(tmp_path: Path) -> None:
    errata, notifier = seed_errata(), FakeNotifier(groups=LEADS)
    errata.cvp[ERRATA["extras"]] = [
        r if r.status != "FAILED" else TestResult(**{**r.__dict__, "status": "WAIVED"})
        for r in errata.cvp[ERRATA["extras"]]
    ]
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, errata, notifier)
    outcome = await check_greenwave_cvp_tests(ctx)
    assert outcome.status is TaskStatus.PASS
    assert len(outcome.data["results"]) == 4  # type: ignore[arg-type]
    assert errata.refetched == []
    assert notifier.messages == []
    assert (await ctx.state.get(seed.ERRATA_RELEASE)).issues == []
    assert ctx.done == []


async def test_a_konflux_release_without_cvp_tests_passes(tmp_path: Path) -> None:
    ctx = await context(tmp_path, seed.RELEASE, seed_errata(), FakeNotifier(groups=LEADS))
    outcome = await check_greenwave_cvp_tests(ctx)
    assert outcome.status is TaskStatus.PASS
    assert outcome.message == "no Greenwave CVP tests in the release's advisories"


async def test_a_pending_test_fails_but_is_not_refetched(tmp_path: Path) -> None:
    errata, notifier = seed_errata(), FakeNotifier(groups=LEADS)
    image = ERRATA["image"]
    errata.cvp[image] = [
        TestResult(id=1, nvr="c-1", status="PENDING", external_id="x", advisory_id=image)
    ]
    errata.cvp.pop(ERRATA["extras"])
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, errata, notifier)
    outcome = await check_greenwave_cvp_tests(ctx)
    assert outcome.status is TaskStatus.FAIL
    assert errata.refetched == []
    assert "refetch requested for tests: none (all pending)" in outcome.message
