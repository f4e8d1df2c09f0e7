"""The Jira port's contract: the fake and the real adapter (jira library) against the
stand-in behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.jira import Jira, JiraClient
from oar.sandbox import seed
from oar.sandbox.jira import (
    PRE_MERGE_VERIFIED,
    QE_SUBTASK_SUMMARIES,
    SANDBOX_TOKEN,
    SANDBOX_USERNAME,
    JiraStandIn,
    seed_jira,
)

ON_QA_JQL = (
    "project = OCPBUGS AND issuetype in (Bug, Vulnerability) AND status = ON_QA"
    " AND 'Target Version' in (4.18.z, 4.19.z)"
)
ALICE = next(p for p in seed.PEOPLE if p.email == "qa.alice@example.com")
BOB = next(p for p in seed.PEOPLE if p.email == "qa.bob@example.com")


@pytest.fixture(params=["fake", "stand-in"])
async def jira(request: pytest.FixtureRequest) -> AsyncIterator[Jira]:
    if request.param == "fake":
        yield seed_jira()
        return
    stand_in = JiraStandIn()
    async with (
        stand_in.serving() as url,
        JiraClient(url, username=SANDBOX_USERNAME, token=SANDBOX_TOKEN) as client,
    ):
        yield client


async def test_search_returns_every_page_of_on_qa_bugs(jira: Jira) -> None:
    found = await jira.search(ON_QA_JQL, page_size=2)
    expected = sorted(b.key for b in seed.BUGS if b.status == "ON_QA")
    assert sorted(i.key for i in found) == expected
    assert all(i.status == "ON_QA" for i in found)


async def test_search_with_changelog_gives_the_on_qa_time(jira: Jira) -> None:
    found = await jira.search("key = OCPBUGS-50001", changelog=True)
    assert len(found) == 1
    on_qa = [c for c in found[0].status_changes if c.to_status == "ON_QA"]
    assert on_qa[-1].at.isoformat() == "2026-11-16T09:00:00+00:00"
    assert (await jira.search("key = OCPBUGS-50001"))[0].status_changes == ()


async def test_get_issue_reads_the_qa_contact_and_target_version(jira: Jira) -> None:
    issue = await jira.get_issue("OCPBUGS-50001")
    assert issue.qa_contact is not None
    assert issue.qa_contact.email == ALICE.email
    assert issue.qa_contact.account_id == ALICE.jira_account_id
    assert issue.target_versions == ("4.19.z",)
    assert (await jira.get_issue("OCPBUGS-50004")).qa_contact is None


async def test_missing_issue_is_not_found(jira: Jira) -> None:
    with pytest.raises(IntegrationNotFoundError):
        await jira.get_issue("OCPBUGS-1")


async def test_comment_is_added_and_read_back(jira: Jira) -> None:
    comment = await jira.add_comment("OCPBUGS-50002", "Errata Reliability Team Notification - x")
    assert comment.body.startswith("Errata Reliability Team Notification")
    issue = await jira.get_issue("OCPBUGS-50002")
    assert [c.id for c in issue.comments] == [comment.id]


async def test_transition_by_target_status_and_refusal_of_an_unknown_one(jira: Jira) -> None:
    names = {t.to_status for t in await jira.transitions("OCPBUGS-50002")}
    assert "Verified" in names
    await jira.transition("OCPBUGS-50002", "verified")
    issue = await jira.get_issue("OCPBUGS-50002", changelog=True)
    assert issue.status == "Verified"
    assert issue.status_changes[-1].from_status == "ON_QA"
    with pytest.raises(IntegrationError, match="no transition to 'Released'"):
        await jira.transition("OCPBUGS-50002", "Released")


async def test_assign_and_custom_fields(jira: Jira) -> None:
    await jira.assign("OCPBUGS-50004", BOB.jira_account_id)
    await jira.set_qa_contact("OCPBUGS-50004", ALICE.jira_account_id)
    await jira.set_need_info_from("OCPBUGS-50004", [ALICE.jira_account_id, BOB.jira_account_id])
    await jira.set_labels("OCPBUGS-50004", ["ert:pending-onqa-over-96hrs"])
    issue = await jira.get_issue("OCPBUGS-50004")
    assert issue.assignee is not None
    assert issue.assignee.email == BOB.email
    assert issue.qa_contact is not None
    assert issue.qa_contact.email == ALICE.email
    assert [u.email for u in issue.need_info_from] == [ALICE.email, BOB.email]
    assert issue.labels == ("ert:pending-onqa-over-96hrs",)
    await jira.set_qa_contact("OCPBUGS-50004", None)
    assert (await jira.get_issue("OCPBUGS-50004")).qa_contact is None


async def test_user_search_finds_by_email(jira: Jira) -> None:
    users = await jira.find_users(ALICE.email)
    assert [u.account_id for u in users] == [ALICE.jira_account_id]
    assert await jira.find_users("nobody@example.com") == []


async def test_art_ticket_has_the_qe_subtasks(jira: Jira) -> None:
    subtasks = await jira.subtasks(seed.JIRA_TICKETS[seed.RELEASE])
    assert [s.summary for s in subtasks] == list(QE_SUBTASK_SUMMARIES)
    assert all(s.parent == seed.JIRA_TICKETS[seed.RELEASE] for s in subtasks)
    await jira.transition(subtasks[0].key, "Closed")
    assert (await jira.get_issue(subtasks[0].key)).status == "Closed"


async def test_get_issue_reads_the_fields_the_bug_rules_need(jira: Jira) -> None:
    tracker = await jira.get_issue("OCPBUGS-50005")
    assert tracker.summary.startswith("CVE-2026-31001")
    assert "CVE-2026-31001" in tracker.labels
    assert tracker.priority == "Major"
    critical = await jira.get_issue("OCPBUGS-49004")
    assert critical.priority == "Critical"
    assert critical.release_blocker == "Approved"
    assert "TestBlocker" in critical.labels
    customer = await jira.get_issue("OCPBUGS-50007")
    assert customer.sfdc_cases_counter == 2.0
    assert customer.sfdc_cases_links is not None
    assert customer.sfdc_cases_links.startswith("https://access.redhat.com/")
    plain = await jira.get_issue("OCPBUGS-50001")
    assert plain.release_blocker is None
    assert plain.sfdc_cases_counter is None
    assert plain.sfdc_cases_links is None
    assert plain.assignee is not None
    assert plain.assignee.email == "dev.carol@example.com"


async def test_notificator_search_gives_comments_changelog_and_missing_people(jira: Jira) -> None:
    found = await jira.search(
        "project = OCPBUGS AND issuetype in (Bug, Vulnerability) AND status = ON_QA"
        " AND 'Target Version' in (4.17.z) AND status changed to ON_QA after 2026-11-01",
        changelog=True,
        page_size=2,
    )
    by_key = {i.key: i for i in found}
    assert set(by_key) >= {"OCPBUGS-47001", "OCPBUGS-47002", "OCPBUGS-47003", "OCPBUGS-47004"}
    asked = by_key["OCPBUGS-47002"]
    assert [c.body.splitlines()[0] for c in asked.comments] == [
        "Errata Reliability Team Notification - QA Contact Action Request",
        "Errata Reliability Team Notification - Team Lead Action Request",
    ]
    assert asked.comments[0].created.isoformat() == "2026-11-11T09:00:00+00:00"
    assert [c.to_status for c in asked.status_changes][-1] == "ON_QA"
    nobody = by_key["OCPBUGS-47004"]
    assert (nobody.qa_contact, nobody.assignee, nobody.reporter) == (None, None, None)


async def test_remote_links_give_the_linked_pull_requests(jira: Jira) -> None:
    links = await jira.remote_links(PRE_MERGE_VERIFIED)
    assert [(link.url, link.title) for link in links] == [
        ("https://github.com/openshift/origin/pull/29001", "openshift/origin#29001")
    ]
    assert links[0].id.isdigit()
    assert len(await jira.remote_links("OCPBUGS-47001")) == 2
    assert await jira.remote_links("OCPBUGS-47002") == []
    with pytest.raises(IntegrationNotFoundError):
        await jira.remote_links("OCPBUGS-1")
