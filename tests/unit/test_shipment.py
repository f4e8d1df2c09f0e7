"""The is-shipped rule (:mod:`oar.release.shipment`): errata advisories at REL_PREP or
later; Konflux shipment MR merged, or prod release succeeded with rpm/rhcos at REL_PREP."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oar.integrations.errata import AdvisoryState
from oar.integrations.gitlab import MergeRequestState, PipelineJob, PipelineStatus
from oar.release.checklist import Flow
from oar.release.commands.shipped import is_shipped
from oar.release.shipment import (
    AdvisoryCheck,
    Badge,
    errata_shipment,
    konflux_shipment,
    prod_release_status,
    record,
)
from oar.sandbox import seed
from oar.sandbox.errata import seed_errata
from oar.testing.release import fake_ports
from tests.unit.release_world import release_context

S = AdvisoryState


def advisories(**states: AdvisoryState) -> list[AdvisoryCheck]:
    return [
        AdvisoryCheck(impetus=impetus, advisory_id=100 + n, state=state)
        for n, (impetus, state) in enumerate(states.items())
    ]


@pytest.mark.parametrize("late", [S.REL_PREP, S.PUSH_READY, S.IN_PUSH, S.SHIPPED_LIVE])
def test_errata_release_is_shipped_when_every_advisory_is_rel_prep_or_later(
    late: AdvisoryState,
) -> None:
    shipment = errata_shipment(advisories(image=late, rpm=S.REL_PREP, extras=S.SHIPPED_LIVE))
    assert shipment.shipped
    assert shipment.flow is Flow.ERRATA
    assert all(item.ok for item in shipment.items)


def test_one_advisory_still_in_qe_means_not_shipped_and_names_it() -> None:
    shipment = errata_shipment(advisories(image=S.REL_PREP, rpm=S.QE))
    assert not shipment.shipped
    report = shipment.report("4.18.40")
    assert report.splitlines()[0] == "4.18.40 is not shipped (errata flow)"
    assert "✗ advisory 101 (rpm): QE" in report
    assert "✓ advisory 100 (image): REL_PREP" in report


def test_a_dropped_advisory_is_not_counted_and_no_advisory_is_not_shipped() -> None:
    assert errata_shipment(advisories(image=S.REL_PREP, metadata=S.DROPPED_NO_SHIP)).shipped
    empty = errata_shipment([])
    assert not empty.shipped
    assert empty.to_data()["details"] == [
        {"item": "advisories", "ok": False, "detail": "none recorded"}
    ]


def test_konflux_release_with_its_shipment_mr_merged_is_shipped() -> None:
    shipment = konflux_shipment(mr_iid=301, mr_state=MergeRequestState.MERGED)
    assert shipment.shipped
    assert shipment.to_data() == {
        "shipped": True,
        "flow_type": "konflux",
        "details": [{"item": "shipment MR !301", "ok": True, "detail": "merged"}],
    }


def test_konflux_release_with_an_open_mr_and_no_prod_release_is_not_shipped() -> None:
    shipment = konflux_shipment(
        mr_iid=301,
        mr_state=MergeRequestState.OPENED,
        prod_release=PipelineStatus.MANUAL,
        advisories=advisories(rpm=S.REL_PREP, rhcos=S.REL_PREP),
    )
    assert not shipment.shipped
    assert "✗ prod release: manual" in shipment.report("4.19.3")


@pytest.mark.parametrize(
    ("rhcos", "shipped"), [(S.REL_PREP, True), (S.SHIPPED_LIVE, True), (S.QE, False)]
)
def test_konflux_prod_release_success_ships_only_with_rpm_and_rhcos_at_rel_prep(
    rhcos: AdvisoryState, shipped: bool
) -> None:
    shipment = konflux_shipment(
        mr_iid=301,
        mr_state=MergeRequestState.OPENED,
        prod_release=PipelineStatus.SUCCESS,
        advisories=advisories(rpm=S.REL_PREP, rhcos=rhcos, image=S.QE),  # image not counted
    )
    assert shipment.shipped is shipped


def test_the_prod_release_label_counts_as_a_successful_prod_release() -> None:
    shipment = konflux_shipment(
        mr_iid=301, mr_state=MergeRequestState.OPENED, mr_labels=("prod-release-success",)
    )
    assert shipment.shipped


def test_prod_release_status_is_the_first_job_of_the_prod_stage() -> None:
    jobs = [
        PipelineJob(
            id=3, name="prod-release", stage="prod-release-triggers", status=PipelineStatus.SUCCESS
        ),
        PipelineJob(
            id=2, name="stage-release", stage="stage-release-triggers", status=PipelineStatus.FAILED
        ),
    ]
    assert prod_release_status(jobs) is PipelineStatus.SUCCESS
    assert prod_release_status(jobs[1:]) is None


def test_the_badge_reads_the_recorded_verdict_and_when_it_was_checked() -> None:
    at = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    shipped = konflux_shipment(mr_iid=1, mr_state=MergeRequestState.MERGED)
    assert Badge.of({"shipment": record(shipped, checked_at=at)}) == Badge(
        label="Shipped", css="shipped", checked_at=at
    )
    not_shipped = errata_shipment([])
    assert Badge.of({"shipment": record(not_shipped, checked_at=at)}).label == "Not shipped"
    assert Badge.of({}) == Badge(label="unknown", css="unknown", checked_at=None)
    assert Badge.of({"shipment": "garbage"}).label == "unknown"


async def test_is_shipped_on_the_errata_seed_release_reads_errata_and_keeps_the_verdict(
    tmp_path: Path,
) -> None:
    """The body in the errata flow (no GitLab): every advisory but microshift is read;
    the verdict is the outcome's data and the release's ``shipment`` metadata."""
    errata = seed_errata()
    advisories = seed.ADVISORIES[seed.ERRATA_RELEASE]
    ctx = await release_context(
        tmp_path, seed.ERRATA_RELEASE, fake_ports(errata=errata), task="is-shipped"
    )
    outcome = await is_shipped(ctx)
    assert outcome.data["shipped"] is False
    assert outcome.message.startswith(f"{seed.ERRATA_RELEASE} is not shipped (errata flow)")
    assert "microshift" not in outcome.message

    for impetus, advisory_id in advisories.items():
        errata.advisories[advisory_id] = dataclasses.replace(
            errata.advisories[advisory_id], state=S.PUSH_READY if impetus == "image" else S.REL_PREP
        )
    outcome = await is_shipped(ctx)
    assert outcome.data["shipped"] is True
    kept = (await ctx.state.get(seed.ERRATA_RELEASE)).metadata["shipment"]
    assert (kept["shipped"], kept["flow_type"]) == (True, "errata")
