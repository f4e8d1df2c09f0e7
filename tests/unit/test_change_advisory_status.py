"""``change-advisory-status``'s rules, on fake ports: no database, no network.

The errata flow (4.18.40) approves at once; the Konflux flow (4.19.3) adds the QE approval
on the shipment MR, then moves the advisories when the payload metadata URL answers or
starts (or joins) the durable watch.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from oar.errors import ApprovalRefusedError, CredentialsRefusedError, IntegrationAuthError
from oar.integrations.errata import AdvisoryState, SecurityAlerts
from oar.integrations.fakes import FakeErrata, FakeGitLab, FakeJira, FakeNotifier
from oar.integrations.fakes.brew import FakeBrew
from oar.integrations.fakes.payloads import FakePayloadInspector
from oar.release.approval import ApprovalResult
from oar.release.checklist import TaskStatus
from oar.release.commands.approval import change_advisory_status
from oar.release.ports import Ports
from oar.release.tracking import Outcome, ReleaseContext
from oar.sandbox import seed
from oar.testing.release import FakeWatches
from tests.unit.release_world import METADATA_URL, release_context, seeded_ports

TASK = "change-advisory-status"
ERRATA = seed.ADVISORIES[seed.ERRATA_RELEASE]
KONFLUX = seed.ADVISORIES[seed.RELEASE]


async def context(tmp_path: Path, release: str, ports: Ports) -> ReleaseContext:
    return await release_context(tmp_path, release, ports, task=TASK)


def states(ports: Ports) -> dict[int, AdvisoryState]:
    errata = ports.errata
    assert isinstance(errata, FakeErrata)
    return {advisory_id: a.state for advisory_id, a in errata.advisories.items()}


def subtask_statuses(ports: Ports, ticket: str) -> list[str]:
    jira = ports.jira
    assert isinstance(jira, FakeJira)
    return [i.status for i in jira.issues.values() if i.parent == ticket]


def set_state(ports: Ports, advisory_id: int, state: AdvisoryState) -> None:
    errata = ports.errata
    assert isinstance(errata, FakeErrata)
    errata.advisories[advisory_id] = replace(errata.advisories[advisory_id], state=state)


# --- errata flow ------------------------------------------------------------------------------
async def test_errata_flow_moves_every_qe_advisory_but_microshift_at_once(tmp_path: Path) -> None:
    ports = seeded_ports()
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, ports)
    outcome = await change_advisory_status(ctx)
    assert outcome.status is TaskStatus.PASS
    after = states(ports)
    moved = {i for i in ERRATA.values() if after[i] is AdvisoryState.REL_PREP}
    assert moved == {i for impetus, i in ERRATA.items() if impetus != "microshift"}
    assert after[ERRATA["microshift"]] is AdvisoryState.QE
    assert outcome.data["result"] == ApprovalResult.APPROVED.value
    # every irreversible step is told, in order: the moves, then the subtasks closed
    assert [s for s in ctx.done if s.startswith("moved")] == [
        f"moved advisory {ERRATA[i]} ({i}) to REL_PREP" for i in sorted(ERRATA) if i != "microshift"
    ]
    assert len([s for s in ctx.done if s.startswith("closed QE subtask")]) == 3


async def test_the_qe_subtasks_of_the_ticket_are_closed(tmp_path: Path) -> None:
    ports = seeded_ports()
    ticket = seed.JIRA_TICKETS[seed.ERRATA_RELEASE]
    assert set(subtask_statuses(ports, ticket)) == {"To Do"}
    outcome = await change_advisory_status(await context(tmp_path, seed.ERRATA_RELEASE, ports))
    assert set(subtask_statuses(ports, ticket)) == {"Closed"}
    assert len(outcome.data["subtasks_closed"]) == 3  # type: ignore[arg-type]


async def test_a_dropped_advisory_is_left_out_and_one_not_in_qe_is_skipped(
    tmp_path: Path,
) -> None:
    ports = seeded_ports()
    set_state(ports, ERRATA["extras"], AdvisoryState.DROPPED_NO_SHIP)
    set_state(ports, ERRATA["metadata"], AdvisoryState.NEW_FILES)
    outcome = await change_advisory_status(await context(tmp_path, seed.ERRATA_RELEASE, ports))
    after = states(ports)
    assert after[ERRATA["extras"]] is AdvisoryState.DROPPED_NO_SHIP
    assert after[ERRATA["metadata"]] is AdvisoryState.NEW_FILES
    assert after[ERRATA["image"]] is AdvisoryState.REL_PREP
    assert f"skipped (not in QE): {ERRATA['metadata']} (NEW_FILES)" in outcome.message
    assert str(ERRATA["extras"]) not in outcome.message


async def test_a_blocking_security_alert_refuses_before_any_advisory_moves(
    tmp_path: Path,
) -> None:
    ports = seeded_ports()
    errata = ports.errata
    assert isinstance(errata, FakeErrata)
    errata.alerts[ERRATA["rpm"]] = SecurityAlerts(blocking=True, alerts=("cve_missing_impact",))
    ctx = await context(tmp_path, seed.ERRATA_RELEASE, ports)
    with pytest.raises(ApprovalRefusedError, match="blocking security alert: cve_missing_impact"):
        await change_advisory_status(ctx)
    assert set(states(ports).values()) == {AdvisoryState.QE}
    assert ctx.done == []


async def test_a_stop_ship_kernel_refuses_before_anything_changes(tmp_path: Path) -> None:
    ports = seeded_ports()
    brew = ports.brew
    assert isinstance(brew, FakeBrew)
    kernel = seed.RHCOS_KERNELS[seed.RELEASE]
    brew.tags[kernel] = ["early-kernel-stop-ship"]
    ctx = await context(tmp_path, seed.RELEASE, ports)
    with pytest.raises(ApprovalRefusedError, match=f"kernel {kernel} .* early-kernel-stop-ship"):
        await change_advisory_status(ctx)
    gitlab = ports.gitlab
    assert isinstance(gitlab, FakeGitLab)
    assert await gitlab.approved_by(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID) == []
    assert set(states(ports).values()) == {AdvisoryState.QE}
    assert ctx.done == []


class RefusingJira(FakeJira):
    """Jira refusing the token: every read is a 401."""

    async def get_issue(self, key: str, *, changelog: bool = False):  # type: ignore[no-untyped-def]
        raise IntegrationAuthError("Jira", "JIRA_TOKEN", status_code=401)


async def test_credentials_are_proven_before_anything_changes(tmp_path: Path) -> None:
    ports = seeded_ports(jira=RefusingJira())
    ctx = await context(tmp_path, seed.RELEASE, ports)
    with pytest.raises(CredentialsRefusedError) as refused:
        await change_advisory_status(ctx)
    assert refused.value.variables == ("JIRA_TOKEN",)
    assert "while trying to read ART-20003" in refused.value.message
    gitlab = ports.gitlab
    assert isinstance(gitlab, FakeGitLab)
    assert await gitlab.approved_by(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID) == []
    assert set(states(ports).values()) == {AdvisoryState.QE}
    assert ctx.done == []


# --- Konflux flow -----------------------------------------------------------------------------
async def test_konflux_starts_a_watch_when_the_metadata_url_is_not_live(tmp_path: Path) -> None:
    ports = seeded_ports()
    ctx = await context(tmp_path, seed.RELEASE, ports)
    outcome = await change_advisory_status(ctx)
    assert outcome.status is TaskStatus.IN_PROGRESS
    assert outcome.message.startswith("scheduled: payload metadata URL of 4.19 not live yet")
    assert set(states(ports).values()) == {AdvisoryState.QE}  # the watch moves them later
    watches = ports.watches
    assert isinstance(watches, FakeWatches)
    assert watches.kept_alive == ["approve-release:4.19"]  # a worker will run it
    assert ctx.done[:2] == [
        f"added the QE approval to shipment MR !{seed.SHIPMENT_MR_IID}",
        "started the approval watch approve-release:4.19",
    ]
    watch = outcome.data["watch"]
    assert isinstance(watch, dict)
    assert watch["id"] == "approve-release:4.19"


async def test_a_second_run_joins_the_running_watch(tmp_path: Path) -> None:
    ports = seeded_ports()
    await change_advisory_status(await context(tmp_path, seed.RELEASE, ports))
    again = await context(tmp_path, seed.RELEASE, ports)
    outcome = await change_advisory_status(again)
    assert outcome.data["result"] == ApprovalResult.ALREADY_SCHEDULED.value
    assert outcome.message.startswith("already scheduled: watch approve-release:4.19")
    assert "joined the approval watch approve-release:4.19" in again.done
    # the QE approval was given by the first run: not counted as done again
    assert not any(s.startswith("added the QE approval") for s in again.done)


async def test_konflux_approves_at_once_and_tells_the_channel_when_the_url_is_live(
    tmp_path: Path,
) -> None:
    notifier = FakeNotifier(groups={"4.19-qe-leads": "S0419QELDS"})
    ports = seeded_ports(
        payloads=FakePayloadInspector({seed.Y_STREAM: METADATA_URL}, accessible={METADATA_URL}),
        notifier=notifier,
    )
    outcome = await change_advisory_status(await context(tmp_path, seed.RELEASE, ports))
    assert outcome.status is TaskStatus.PASS
    assert {states(ports)[i] for i in KONFLUX.values()} == {AdvisoryState.REL_PREP}
    [summary] = notifier.channel_messages("#team-qe-release")
    assert "Release approval completed for 4.19.3" in summary.text
    assert "<!subteam^S0419QELDS>" in summary.text


def test_the_outcome_as_json_lists_the_irreversible_steps_done() -> None:
    outcome = replace(
        Outcome.passed("release approved", data={"result": "approved"}),
        done=("moved advisory 1 (rpm) to REL_PREP",),
    )
    assert outcome.to_dict() == {
        "status": "Pass",
        "message": "release approved",
        "data": {"result": "approved"},
        "done": ["moved advisory 1 (rpm) to REL_PREP"],
    }
