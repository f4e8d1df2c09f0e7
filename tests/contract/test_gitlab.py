"""The GitLab port's contract: the fake and python-gitlab against the stand-in agree."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.gitlab import GitLab, GitLabClient, MergeRequestState, PipelineStatus
from oar.sandbox import seed
from oar.sandbox.gitlab import (
    PROD_RELEASE_STAGE,
    SANDBOX_TOKEN,
    SANDBOX_USERNAME,
    SHIPMENT_BRANCH,
    SHIPMENT_FILE,
    STAGE_RELEASE_STAGE,
    GitLabStandIn,
    seed_gitlab,
)

PROJECT, IID = seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID


@pytest.fixture(params=["fake", "stand-in"])
async def gitlab(request: pytest.FixtureRequest) -> AsyncIterator[GitLab]:
    if request.param == "fake":
        yield seed_gitlab()
        return
    stand_in = GitLabStandIn()
    async with stand_in.serving() as url, GitLabClient(url, token=SANDBOX_TOKEN) as client:
        yield client


async def test_shipment_merge_request_is_open(gitlab: GitLab) -> None:
    mr = await gitlab.get_merge_request(PROJECT, IID)
    assert mr.state is MergeRequestState.OPENED
    assert mr.source_branch == SHIPMENT_BRANCH
    assert mr.web_url.endswith(f"{PROJECT}/-/merge_requests/{IID}")
    assert mr.labels == ()
    with pytest.raises(IntegrationNotFoundError):
        await gitlab.get_merge_request(PROJECT, 999)


async def test_qe_approval_is_added_once(gitlab: GitLab) -> None:
    assert await gitlab.approved_by(PROJECT, IID) == []
    assert await gitlab.approve(PROJECT, IID) is True
    assert await gitlab.approve(PROJECT, IID) is False
    assert await gitlab.approved_by(PROJECT, IID) == [SANDBOX_USERNAME]


async def test_stage_release_job_of_the_latest_pipeline(gitlab: GitLab) -> None:
    pipelines = await gitlab.pipelines(PROJECT, IID)
    assert pipelines
    jobs = await gitlab.pipeline_jobs(PROJECT, pipelines[0].id)
    by_stage = {j.stage: j.status for j in jobs}
    assert by_stage[STAGE_RELEASE_STAGE] is PipelineStatus.SUCCESS
    assert by_stage[PROD_RELEASE_STAGE] is PipelineStatus.MANUAL


async def test_notes_and_suggestions(gitlab: GitLab) -> None:
    before = await gitlab.notes(PROJECT, IID)
    note = await gitlab.add_note(PROJECT, IID, "QE release lead: Riley Owner")
    suggestion = await gitlab.add_suggestion(
        PROJECT, IID, path=SHIPMENT_FILE, line=3, replacement="    product: ocp", comment="keep"
    )
    assert "```suggestion:-0+0\n    product: ocp\n```" in suggestion.body
    after = await gitlab.notes(PROJECT, IID)
    assert [n.id for n in after] == [*(n.id for n in before), note.id, suggestion.id]
    assert after[-2].author == SANDBOX_USERNAME
    with pytest.raises(IntegrationError):
        await gitlab.add_suggestion(
            PROJECT, IID, path=SHIPMENT_FILE, line=999, replacement="x", comment="out of range"
        )


async def test_file_content_on_a_branch(gitlab: GitLab) -> None:
    text = await gitlab.file_content(PROJECT, SHIPMENT_FILE, ref=SHIPMENT_BRANCH)
    assert text is not None
    assert "OCPBUGS-50001" in text
    assert await gitlab.file_content(PROJECT, SHIPMENT_FILE, ref="main") is None


async def test_branch_commit_and_merge_request(gitlab: GitLab) -> None:
    await gitlab.create_branch(PROJECT, "drop-bugs-4.19.3", ref=SHIPMENT_BRANCH)
    sha = await gitlab.commit_files(
        PROJECT,
        "drop-bugs-4.19.3",
        message="Drop unverified bugs",
        files={SHIPMENT_FILE: "shipment: {}\n", "notes/dropped.txt": "OCPBUGS-50004\n"},
    )
    assert len(sha) == 40
    assert await gitlab.file_content(PROJECT, "notes/dropped.txt", ref="drop-bugs-4.19.3") == (
        "OCPBUGS-50004\n"
    )
    mr = await gitlab.create_merge_request(
        PROJECT,
        source_branch="drop-bugs-4.19.3",
        target_branch=SHIPMENT_BRANCH,
        title="Drop unverified bugs from 4.19.3",
    )
    assert mr.iid != IID
    assert mr.state is MergeRequestState.OPENED
    assert (await gitlab.get_merge_request(PROJECT, mr.iid)).title == mr.title
    with pytest.raises(IntegrationError):
        await gitlab.create_branch(PROJECT, "drop-bugs-4.19.3", ref=SHIPMENT_BRANCH)


async def test_a_user_is_found_by_public_email(gitlab: GitLab) -> None:
    person = seed.PEOPLE[4]
    assert await gitlab.user_by_email(person.email) == person.uid
    assert await gitlab.user_by_email(person.email.upper()) == person.uid
    assert await gitlab.user_by_email("nobody@example.com") is None


async def test_open_merge_requests_are_found_by_title(gitlab: GitLab) -> None:
    title = f"{seed.RELEASE} drop bugs"
    assert await gitlab.merge_requests(PROJECT, state=MergeRequestState.OPENED, search=title) == []
    await gitlab.create_branch(PROJECT, "drop-bugs-for-4.19.3", ref=SHIPMENT_BRANCH)
    created = await gitlab.create_merge_request(
        PROJECT,
        source_branch="drop-bugs-for-4.19.3",
        target_branch=SHIPMENT_BRANCH,
        title=title,
    )
    found = await gitlab.merge_requests(
        PROJECT, state=MergeRequestState.OPENED, search=title.upper()
    )
    assert [(mr.iid, mr.title, mr.web_url) for mr in found] == [
        (created.iid, title, created.web_url)
    ]
    shipment = await gitlab.merge_requests(
        PROJECT, state=MergeRequestState.OPENED, search="Shipment for"
    )
    assert [mr.iid for mr in shipment] == [IID]
    assert await gitlab.merge_requests(PROJECT, state=MergeRequestState.MERGED, search=title) == []


async def test_changed_files_of_the_shipment_merge_request(gitlab: GitLab) -> None:
    changes = await gitlab.changed_files(PROJECT, IID)
    assert [c.path for c in changes] == [SHIPMENT_FILE]
    assert changes[0].new_file is True
    assert changes[0].deleted_file is False
    with pytest.raises(IntegrationNotFoundError):
        await gitlab.changed_files(PROJECT, 999)
