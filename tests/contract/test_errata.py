"""The Errata Tool port's contract: the fake and the httpx adapter against the stand-in
agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.errata import (
    AdvisoryState,
    Errata,
    ErrataClient,
    PushStatus,
    SecurityAlerts,
    TestResult,
)
from oar.integrations.fakes.errata import FakeErrata, PushOutcome
from oar.sandbox import seed
from oar.sandbox.errata import (
    CVP_FAILED_NVR,
    CVP_FAILED_TEST,
    SANDBOX_TOKEN,
    ErrataStandIn,
    seed_errata,
)
from tests.waiting import eventually

KONFLUX = seed.ADVISORIES[seed.RELEASE]
ERRATA_FLOW = seed.ADVISORIES[seed.ERRATA_RELEASE]


@pytest.fixture(params=["fake", "stand-in"])
async def errata(request: pytest.FixtureRequest) -> AsyncIterator[Errata]:
    if request.param == "fake":
        fake = seed_errata(push_seconds=0.3)
        request.node.errata_state = fake
        yield fake
        return
    stand_in = ErrataStandIn(push_seconds=0.3)
    async with stand_in.serving() as url, ErrataClient(url, token=SANDBOX_TOKEN) as client:
        request.node.errata_state = stand_in.errata
        yield client


def recorded(errata: Errata, request: pytest.FixtureRequest) -> FakeErrata:
    """The state behind ``errata``: the fake itself, or the stand-in's."""
    state: FakeErrata = request.node.errata_state
    return state


async def test_advisories_of_the_release_are_in_qe(errata: Errata) -> None:
    ids = await errata.release_advisories(f"RHOSE-{seed.Y_STREAM}.z")
    assert sorted(ids) == sorted(KONFLUX.values())
    advisory = await errata.get_advisory(KONFLUX["rpm"])
    assert advisory.state is AdvisoryState.QE
    assert advisory.name.startswith(advisory.type + "-2026:")
    with pytest.raises(IntegrationNotFoundError):
        await errata.get_advisory(1)


async def test_take_ownership_and_move_to_rel_prep(errata: Errata) -> None:
    owned = await errata.set_qe_owner(KONFLUX["rpm"], seed.RELEASE_OWNER)
    assert owned.qe_owner == seed.RELEASE_OWNER
    moved = await errata.change_state(KONFLUX["rpm"], AdvisoryState.REL_PREP)
    assert moved.state is AdvisoryState.REL_PREP
    assert (await errata.get_advisory(KONFLUX["rpm"])).state is AdvisoryState.REL_PREP
    with pytest.raises(IntegrationError, match="REL_PREP => SHIPPED_LIVE"):
        await errata.change_state(KONFLUX["rpm"], AdvisoryState.SHIPPED_LIVE)


async def test_bugs_builds_alerts_and_cvp_results(errata: Errata) -> None:
    keys = [i.key for i in await errata.jira_issues(KONFLUX["rpm"])]
    assert keys == [b.key for b in seed.BUGS if b.advisory == KONFLUX["rpm"]]
    builds = await errata.builds(KONFLUX["rhcos"])
    assert [b.nvr.split("-")[0] for b in builds] == ["rhcos"]
    assert await errata.security_alerts(KONFLUX["rpm"]) == SecurityAlerts(blocking=False)
    results = await errata.cvp_results(ERRATA_FLOW["image"])
    assert {r.status for r in results} == {"PASSED"}
    assert {r.advisory_id for r in results} == {ERRATA_FLOW["image"]}
    assert await errata.cvp_results(KONFLUX["rpm"]) == []


async def test_a_failed_cvp_test_can_be_refetched_and_the_refetch_is_recorded(
    errata: Errata, request: pytest.FixtureRequest
) -> None:
    results = {r.id: r for r in await errata.cvp_results(ERRATA_FLOW["extras"])}
    failed = results[CVP_FAILED_TEST]
    assert (failed.status, failed.nvr, failed.advisory_id) == (
        "FAILED",
        CVP_FAILED_NVR,
        ERRATA_FLOW["extras"],
    )
    assert {r.status for r in results.values()} == {"FAILED", "WAIVED"}
    again = await errata.refetch_test(CVP_FAILED_TEST)
    assert (again.id, again.nvr, again.advisory_id) == (
        CVP_FAILED_TEST,
        CVP_FAILED_NVR,
        ERRATA_FLOW["extras"],
    )
    assert recorded(errata, request).refetched == [CVP_FAILED_TEST]
    with pytest.raises(IntegrationNotFoundError):
        await errata.refetch_test(1)


async def test_many_cvp_results_come_back_whole_across_pages(
    errata: Errata, request: pytest.FixtureRequest
) -> None:
    image = ERRATA_FLOW["image"]
    many = [
        TestResult(
            id=70000 + n, nvr=f"c-{n}-1-1", status="PASSED", external_id=f"x{n}", advisory_id=image
        )
        for n in range(45)  # more than two of the stand-in's pages
    ]
    recorded(errata, request).cvp[image] = many
    assert sorted(r.id for r in await errata.cvp_results(image)) == [r.id for r in many]


async def test_refreshing_security_alerts_answers_the_blocking_ones(
    errata: Errata, request: pytest.FixtureRequest
) -> None:
    rpm = ERRATA_FLOW["rpm"]
    state = recorded(errata, request)
    assert await errata.refresh_security_alerts(rpm) == SecurityAlerts(blocking=False)
    state.alerts[rpm] = SecurityAlerts(blocking=True, alerts=("cve_missing_impact",))
    assert await errata.refresh_security_alerts(rpm) == SecurityAlerts(
        blocking=True, alerts=("cve_missing_impact",)
    )
    assert await errata.security_alerts(rpm) == SecurityAlerts(
        blocking=True, alerts=("cve_missing_impact",)
    )
    assert state.alert_refreshes == [rpm, rpm]


async def test_push_to_stage_waits_for_blocking_advisories(errata: Errata) -> None:
    image, rpm = ERRATA_FLOW["image"], ERRATA_FLOW["rpm"]
    assert await errata.blocking_advisories(image) == [str(rpm)]
    with pytest.raises(IntegrationError, match="dependencies"):
        await errata.push_to_stage(image)
    jobs = await errata.push_to_stage(rpm)
    assert {j.target for j in jobs} == {"cdn_stage", "cdn_docker_stage"}
    assert await errata.push_to_stage(rpm) == []  # already pushing: nothing new
    deadline = asyncio.get_running_loop().time() + 10
    while any(j.status is not PushStatus.COMPLETE for j in await errata.push_jobs(rpm)):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    assert {j.target for j in await errata.push_to_stage(image)} == {
        "cdn_stage",
        "cdn_docker_stage",
    }


@pytest.fixture(params=["fake", "stand-in"])
async def pushing(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Errata, FakeErrata]]:
    """The port, and the fake state whose push outcome the sandbox control sets."""
    if request.param == "fake":
        fake = seed_errata(push_seconds=0.2)
        yield fake, fake
        return
    stand_in = ErrataStandIn(push_seconds=0.2)
    async with stand_in.serving() as url, ErrataClient(url, token=SANDBOX_TOKEN) as client:
        yield client, stand_in.errata


async def statuses(errata: Errata, advisory: int) -> dict[str, PushStatus]:
    """The latest push job's status per target."""
    latest: dict[str, tuple[int, PushStatus]] = {}
    for job in await errata.push_jobs(advisory):
        if job.target not in latest or job.id > latest[job.target][0]:
            latest[job.target] = (job.id, job.status)
    return {target: status for target, (_, status) in latest.items()}


async def test_a_push_fails_on_demand_and_pushing_again_redoes_the_failed_targets(
    pushing: tuple[Errata, FakeErrata],
) -> None:
    errata, state = pushing
    rpm = KONFLUX["rpm"]
    state.set_push_outcome(PushOutcome.FAIL, rpm)
    first = await errata.push_to_stage(rpm)
    failed = {"cdn_stage": PushStatus.FAILED, "cdn_docker_stage": PushStatus.FAILED}
    await eventually(lambda: _equal(statuses(errata, rpm), failed), 10, what="both pushes to fail")
    state.set_push_outcome(PushOutcome.COMPLETE, rpm)
    again = await errata.push_to_stage(rpm)  # Errata Tool redoes failed pushes
    assert {j.target for j in again} == {"cdn_stage", "cdn_docker_stage"}
    assert min(j.id for j in again) > max(j.id for j in first)
    complete = dict.fromkeys(failed, PushStatus.COMPLETE)
    await eventually(lambda: _equal(statuses(errata, rpm), complete), 10, what="completion")


async def test_a_hanging_push_runs_until_its_outcome_changes(
    pushing: tuple[Errata, FakeErrata],
) -> None:
    errata, state = pushing
    rhcos, rpm = KONFLUX["rhcos"], KONFLUX["rpm"]
    state.set_push_outcome(PushOutcome.HANG, rhcos)
    await errata.push_to_stage(rhcos)
    await errata.push_to_stage(rpm)
    complete = dict.fromkeys(("cdn_stage", "cdn_docker_stage"), PushStatus.COMPLETE)
    # rpm's jobs, started after rhcos's, completing shows the push time has passed.
    await eventually(lambda: _equal(statuses(errata, rpm), complete), 10, what="rpm's pushes")
    assert set((await statuses(errata, rhcos)).values()) == {PushStatus.RUNNING}
    state.set_push_outcome(PushOutcome.COMPLETE)
    await eventually(lambda: _equal(statuses(errata, rhcos), complete), 10, what="completion")


async def _equal(found: Any, expected: dict[str, PushStatus]) -> bool:
    return bool(await found == expected)


async def test_removing_jira_issues_detaches_exactly_those_keys(errata: Errata) -> None:
    rpm = KONFLUX["rpm"]
    attached = [i.key for i in await errata.jira_issues(rpm)]
    assert len(attached) >= 2
    first, rest = attached[0], attached[1:]
    # A key that is a prefix of an attached one is not attached: nothing is removed.
    assert await errata.remove_jira_issues(rpm, [first[:-1]]) == []
    assert await errata.remove_jira_issues(rpm, [first, "OCPBUGS-1"]) == [first]
    assert [i.key for i in await errata.jira_issues(rpm)] == rest
    assert await errata.remove_jira_issues(rpm, [first]) == []  # already gone
    with pytest.raises(IntegrationNotFoundError):
        await errata.remove_jira_issues(1, [first])


async def test_a_drop_loses_the_doc_and_prodsec_approvals_which_can_be_asked_again(
    errata: Errata,
) -> None:
    rpm = KONFLUX["rpm"]  # an RHSA, docs and prodsec approved
    advisory = await errata.get_advisory(rpm)
    assert (advisory.type, advisory.doc_complete, advisory.security_approved) == (
        "RHSA",
        True,
        True,
    )
    key = (await errata.jira_issues(rpm))[0].key
    await errata.remove_jira_issues(rpm, [key])
    changed = await errata.get_advisory(rpm)
    assert (changed.doc_complete, changed.text_ready, changed.security_approved) == (
        False,
        False,
        None,
    )
    assert (await errata.request_doc_approval(rpm)).text_ready is True
    assert (await errata.request_prodsec_approval(rpm)).security_approved is False
    with pytest.raises(IntegrationError):
        await errata.request_prodsec_approval(KONFLUX["rhcos"])  # an RHBA
