"""The Errata Tool port's contract: the fake and the httpx adapter against the stand-in
agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.errata import (
    AdvisoryState,
    Errata,
    ErrataClient,
    PushStatus,
    SecurityAlerts,
)
from oar.sandbox import seed
from oar.sandbox.errata import SANDBOX_TOKEN, ErrataStandIn, seed_errata

KONFLUX = seed.ADVISORIES[seed.RELEASE]
ERRATA_FLOW = seed.ADVISORIES[seed.ERRATA_RELEASE]


@pytest.fixture(params=["fake", "stand-in"])
async def errata(request: pytest.FixtureRequest) -> AsyncIterator[Errata]:
    if request.param == "fake":
        yield seed_errata(push_seconds=0.3)
        return
    stand_in = ErrataStandIn(push_seconds=0.3)
    async with stand_in.serving() as url, ErrataClient(url, token=SANDBOX_TOKEN) as client:
        yield client


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
    assert await errata.cvp_results(KONFLUX["rpm"]) == []


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
