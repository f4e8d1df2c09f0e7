"""``check-cve-tracker-bug`` on the seed releases' fakes: which trackers are missing, the
blocker issue (never duplicated, never a crash on re-runs) and ART's message."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar.errors import IntegrationError
from oar.integrations.elliott import BuildSystem
from oar.integrations.fakes import FakeElliott, FakeNotifier
from oar.release.checklist import TaskStatus
from oar.release.commands.cve import (
    NONE_MISSING,
    art_message,
    blocker_text,
    check_cve_tracker_bug,
    missing_trackers,
    tracker_keys,
)
from oar.release.tracking import ReleaseContext
from oar.sandbox import seed
from oar.sandbox.errata import seed_errata
from oar.sandbox.gitlab import seed_gitlab
from oar.testing.release import fake_ports
from tests.unit.release_world import release_context

BREW, KONFLUX = BuildSystem.BREW, BuildSystem.KONFLUX
ART_GROUP = {"openshift-art": "S0ART00001"}
ERRATA_GROUP = ("openshift-4.18", seed.ERRATA_RELEASE)
KONFLUX_GROUP = ("openshift-4.19", seed.RELEASE)
ERRATA_MISSING = seed.MISSING_CVE_TRACKERS[seed.ERRATA_RELEASE]  # attached to nothing
KONFLUX_MISSING = seed.MISSING_CVE_TRACKERS[seed.RELEASE]
ON_RHSA = "OCPBUGS-49001"  # attached to the errata release's rpm advisory (RHSA)
ON_RHBA = "OCPBUGS-49002"  # a CVE tracker attached to its image advisory (RHBA)
ON_KONFLUX_RHSA = "OCPBUGS-50005"  # the Konflux release's rpm advisory (RHSA)
ONLY_IN_SHIPMENT = "OCPBUGS-50006"  # only in the Konflux release's shipment YAML


async def context(
    tmp_path: Path, release: str, elliott: FakeElliott, notifier: FakeNotifier
) -> ReleaseContext:
    ports = fake_ports(
        errata=seed_errata(), gitlab=seed_gitlab(), elliott=elliott, notifier=notifier
    )
    ctx = await release_context(
        tmp_path,
        release,
        ports,
        task="check-cve-tracker-bug",
        OAR_JIRA_URL="https://jira.example",
    )
    await ctx.state.ensure_release(release)
    return ctx


# --- which trackers are missing (pure) --------------------------------------------------------
def test_every_advisory_kind_counts_but_microshift_each_key_once_in_key_order() -> None:
    found = {
        "rpm": ["OCPBUGS-10"],
        "rhcos": [],
        "image": ["OCPBUGS-9", "OCPBUGS-10"],
        "extras": ["OCPBUGS-11"],
        "metadata": ["OCPBUGS-12"],
        "microshift": ["OCPBUGS-13"],
    }
    assert tracker_keys(found) == ["OCPBUGS-9", "OCPBUGS-10", "OCPBUGS-11", "OCPBUGS-12"]


def test_attached_trackers_are_not_missing_and_both_sides_report_a_key_once() -> None:
    missing = missing_trackers(
        {BREW: {"rpm": ["OCPBUGS-1", "OCPBUGS-2"]}, KONFLUX: {"image": ["OCPBUGS-2", "OCPBUGS-3"]}},
        attached={"OCPBUGS-1", "OCPBUGS-3"},
    )
    assert missing.keys == ("OCPBUGS-2",)
    assert missing.by_side == {BREW: ("OCPBUGS-2",), KONFLUX: ("OCPBUGS-2",)}
    assert missing_trackers({BREW: {"rpm": ["OCPBUGS-1"]}}, attached={"OCPBUGS-1"}).keys == ()


def test_the_blocker_text_is_the_originals() -> None:
    both = missing_trackers(
        {BREW: {"rpm": ["OCPBUGS-2"]}, KONFLUX: {"image": ["OCPBUGS-2", "OCPBUGS-3"]}},
        attached=(),
    )
    assert blocker_text(both) == (
        "Found 2 missed CVE tracker bugs: 1 in advisories, 2 in shipments\n\n"
        "Missed CVE tracker bugs:\n- OCPBUGS-2\n- OCPBUGS-3"
    )
    advisories = missing_trackers({BREW: {"image": ["OCPBUGS-7"]}}, attached=())
    assert blocker_text(advisories) == (
        "Found 1 missed CVE tracker bugs in advisories\n\nMissed CVE tracker bugs:\n- OCPBUGS-7"
    )


def test_arts_message_links_each_tracker() -> None:
    assert art_message(["OCPBUGS-7"], group="<!subteam^S1>", jira_url="https://j.example/") == (
        "Hello <!subteam^S1>, Found new CVE tracker bugs not attached on advisories, could you"
        " take a look, thanks\n<https://j.example/browse/OCPBUGS-7|OCPBUGS-7> \n"
    )


# --- the command ------------------------------------------------------------------------------
async def test_errata_flow_image_trackers_count_and_a_rerun_reports_the_same_blocker(
    tmp_path: Path,
) -> None:
    elliott = FakeElliott(
        trackers={
            (*ERRATA_GROUP, BREW): {
                "rpm": [ON_RHSA],
                "image": [ERRATA_MISSING, ON_RHBA],
                "microshift": ["OCPBUGS-49999"],
            }
        }
    )
    notifier = FakeNotifier(groups=ART_GROUP)
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, elliott, notifier)

    outcome = await check_cve_tracker_bug(ctx)
    again = await check_cve_tracker_bug(ctx)  # the original crashed here

    assert elliott.calls == [(*ERRATA_GROUP, BREW)] * 2  # no Konflux side in the errata flow
    assert outcome.status is TaskStatus.FAIL
    assert outcome.data["missing"] == [ON_RHBA, ERRATA_MISSING]  # an RHBA one is not enough
    (issue,) = (await ctx.state.get(seed.ERRATA_RELEASE)).issues
    assert issue.text == (  # the store folds whitespace
        f"Found 2 missed CVE tracker bugs in advisories Missed CVE tracker bugs:"
        f" - {ON_RHBA} - {ERRATA_MISSING}"
    )
    assert len(notifier.messages) == 1  # ART told once
    assert (issue.blocker, issue.related_tasks) == (True, ["check-cve-tracker-bug"])
    (posted,) = notifier.messages
    assert posted.channel == "#forum-ocp-art"
    assert posted.text.startswith("Hello <!subteam^S0ART00001>, Found new CVE tracker bugs")
    assert f"<https://jira.example/browse/{ERRATA_MISSING}|{ERRATA_MISSING}> " in posted.text
    assert again.status is TaskStatus.FAIL
    assert again.data["issue"] == issue.id
    assert "already reports them" in again.message


async def test_konflux_flow_matches_rhsa_advisories_and_shipment_data_too(tmp_path: Path) -> None:
    elliott = FakeElliott(
        trackers={
            (*KONFLUX_GROUP, BREW): {"rpm": [ON_KONFLUX_RHSA, KONFLUX_MISSING], "rhcos": []},
            (*KONFLUX_GROUP, KONFLUX): {"image": [ONLY_IN_SHIPMENT, KONFLUX_MISSING]},
        }
    )
    notifier = FakeNotifier(groups=ART_GROUP)
    ctx = await context(tmp_path, seed.RELEASE, elliott, notifier)

    outcome = await check_cve_tracker_bug(ctx, notify=False)

    assert outcome.status is TaskStatus.FAIL
    assert outcome.data["missing"] == [KONFLUX_MISSING]  # once, though both sides found it
    (issue,) = (await ctx.state.get(seed.RELEASE)).issues
    assert issue.text.startswith("Found 1 missed CVE tracker bugs: 1 in advisories, 1 in")
    assert notifier.messages == []  # --no-notify
    assert "ART not told (--no-notify)" in outcome.message


async def test_nothing_missing_passes_without_issue_or_message(tmp_path: Path) -> None:
    elliott = FakeElliott(trackers={(*ERRATA_GROUP, BREW): {"rpm": [ON_RHSA], "image": []}})
    notifier = FakeNotifier(groups=ART_GROUP)
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, elliott, notifier)
    outcome = await check_cve_tracker_bug(ctx)
    assert (outcome.status, outcome.message) == (TaskStatus.PASS, NONE_MISSING)
    assert (await ctx.state.get(seed.ERRATA_RELEASE)).issues == []
    assert notifier.messages == []


async def test_an_elliott_failure_fails_the_command(tmp_path: Path) -> None:
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, FakeElliott(), FakeNotifier())
    with pytest.raises(IntegrationError, match="is not defined"):
        await check_cve_tracker_bug(ctx)
    assert (await ctx.state.get(seed.ERRATA_RELEASE)).issues == []
