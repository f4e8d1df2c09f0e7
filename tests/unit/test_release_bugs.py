"""The release's bugs (oar.release.bugs): which bugs the release has, where each is
attached, and how each is classified — on values and fake ports, no network."""

from __future__ import annotations

import dataclasses

import pytest

from oar.errors import IntegrationAuthError, IntegrationNotFoundError, ShipmentDataError
from oar.integrations.errata import AdvisoryState
from oar.integrations.fakes import FakeJira
from oar.integrations.jira import JiraIssue, JiraUser
from oar.release.advisories import advisory_set
from oar.release.bugs import (
    Attachment,
    Bug,
    Collection,
    Severity,
    by_qa_contact,
    collect,
    fetch,
    is_critical,
    is_customer_case,
    is_cve_tracker,
    is_finished,
    is_high_severity,
    needs_verification,
    release_bugs,
    severity,
    shipment_issue_keys,
    unverified,
)
from oar.sandbox import seed
from oar.sandbox.errata import seed_errata
from oar.sandbox.gitlab import SHIPMENT_BRANCH, SHIPMENT_FILE, seed_gitlab
from oar.sandbox.jira import seed_jira

KONFLUX = seed.ADVISORIES[seed.RELEASE]
ERRATA = seed.ADVISORIES[seed.ERRATA_RELEASE]


def bug(**changes: object) -> Bug:
    base = Bug(key="OCPBUGS-1", summary="a bug", status="ON_QA", priority="Major")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# --- classification ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "finished"),
    [
        ("Verified", True),
        ("Closed", True),
        ("Release Pending", True),  # only reachable from Verified: a verified fix
        ("ON_QA", False),
        ("MODIFIED", False),
        ("POST", False),
        ("ASSIGNED", False),
        ("verified", False),  # Jira's status names are exact
    ],
)
def test_finished_statuses(status: str, finished: bool) -> None:
    assert is_finished(bug(status=status)) is finished
    assert (bug(status=status) in unverified([bug(status=status)])) is not finished


def test_only_on_qa_needs_verification() -> None:
    assert needs_verification(bug(status="ON_QA"))
    assert not needs_verification(bug(status="MODIFIED"))
    assert not needs_verification(bug(status="Verified"))


@pytest.mark.parametrize(
    ("summary", "labels", "tracker"),
    [
        ("CVE-2026-1 golang: net/http [openshift-4.19]", (), True),
        ("a bug", ("SecurityTracking", "CVE-2026-1"), True),
        ("a bug", ("SecurityTracking",), False),
        ("fix for CVE-2026-1", (), False),  # the summary must start with CVE
        ("a bug", ("pscomponent:cve",), False),
    ],
)
def test_cve_tracker_by_summary_or_label(
    summary: str, labels: tuple[str, ...], tracker: bool
) -> None:
    assert is_cve_tracker(bug(summary=summary, labels=labels)) is tracker


@pytest.mark.parametrize(
    ("changes", "critical"),
    [
        ({"priority": "Critical"}, True),
        ({"priority": "Blocker"}, True),
        ({"priority": "Major"}, False),
        ({"priority": None}, False),
        ({"labels": ("TestBlocker",)}, True),
        ({"labels": ("testblocker",)}, False),
        ({"release_blocker": "Approved"}, True),
        ({"release_blocker": "Proposed"}, True),
        ({"release_blocker": "Rejected"}, False),
    ],
)
def test_critical_rules(changes: dict[str, object], critical: bool) -> None:
    assert is_critical(bug(**changes)) is critical


@pytest.mark.parametrize(
    ("counter", "links", "customer"),
    [
        (None, None, False),  # the errata branch raised TypeError here
        (0.0, None, False),
        (2.0, None, True),
        (None, "https://access.redhat.com/support/cases/#/case/1", True),
        (0.0, "", False),
    ],
)
def test_customer_case_is_null_safe(
    counter: float | None, links: str | None, customer: bool
) -> None:
    assert is_customer_case(bug(sfdc_cases_counter=counter, sfdc_cases_links=links)) is customer


def test_high_severity_is_any_of_the_three_and_says_which() -> None:
    plain = bug()
    assert severity(plain) == frozenset()
    assert not is_high_severity(plain)
    everything = bug(summary="CVE-2026-1 x", priority="Blocker", sfdc_cases_counter=1.0)
    assert everything.severity == {
        Severity.CVE_TRACKER,
        Severity.CRITICAL,
        Severity.CUSTOMER_CASE,
    }
    for one in (bug(labels=("CVE-1",)), bug(priority="Critical"), bug(sfdc_cases_links="x")):
        assert one.high_severity
        assert len(one.severity) == 1


def test_grouping_per_qa_contact_keeps_first_seen_order() -> None:
    bugs = [
        bug(key="OCPBUGS-1", qa_contact="b@x"),
        bug(key="OCPBUGS-2", qa_contact="a@x"),
        bug(key="OCPBUGS-3", qa_contact="b@x"),
        bug(key="OCPBUGS-4", qa_contact=None),
    ]
    groups = by_qa_contact(bugs)
    assert list(groups) == ["b@x", "a@x", None]
    assert [b.key for b in groups["b@x"]] == ["OCPBUGS-1", "OCPBUGS-3"]


def test_bug_of_a_jira_issue_keeps_the_rule_fields_and_the_sources() -> None:
    issue = JiraIssue(
        key="OCPBUGS-7",
        summary="s",
        status="ON_QA",
        priority="Blocker",
        labels=("TestBlocker",),
        qa_contact=JiraUser(account_id="a", display_name="Alice", email="alice@x"),
        assignee=JiraUser(account_id="c", display_name="Carol Dev"),  # e-mail hidden
        release_blocker="Proposed",
        sfdc_cases_counter=3.0,
        sfdc_cases_links="link",
    )
    found = Bug.of(issue, Attachment(key="OCPBUGS-7", advisories=(1, 2), shipment_files=("f",)))
    assert found.qa_contact == "alice@x"
    assert found.assignee == "Carol Dev"
    assert (found.priority, found.release_blocker) == ("Blocker", "Proposed")
    assert (found.sfdc_cases_counter, found.sfdc_cases_links) == (3.0, "link")
    assert (found.advisories, found.shipment_files) == ((1, 2), ("f",))


# --- the collection ---------------------------------------------------------------------------
SHIPMENT = """\
shipment:
  data:
    releaseNotes:
      issues:
        fixed:
          - id: OCPBUGS-10
            source: redhat.atlassian.net
          - id: OCPBUGS-9
            source: redhat.atlassian.net
          - id: '2300001'
            source: bugzilla.redhat.com
          - id: OCPBUGS-9
            source: redhat.atlassian.net
"""


def test_shipment_yaml_lists_only_jira_issues_sorted_once() -> None:
    assert shipment_issue_keys(SHIPMENT, path="a.yaml") == ["OCPBUGS-9", "OCPBUGS-10"]


@pytest.mark.parametrize(
    "text",
    ["", "shipment: {}\n", "shipment:\n  data:\n    releaseNotes: null\n", "- a list\n"],
)
def test_yaml_without_the_fixed_list_has_no_issue(text: str) -> None:
    assert shipment_issue_keys(text, path="a.yaml") == []


def test_invalid_yaml_names_the_file() -> None:
    with pytest.raises(ShipmentDataError) as caught:
        shipment_issue_keys("shipment: [unclosed\n", path="ocp/x.yaml")
    assert caught.value.path == "ocp/x.yaml"
    assert "ocp/x.yaml" in str(caught.value)


def test_collection_merges_sources_per_key() -> None:
    collection = Collection()
    collection.add_advisory(2, ["OCPBUGS-10", "OCPBUGS-9"])
    collection.add_advisory(1, ["OCPBUGS-10", "OCPBUGS-10"])
    collection.add_shipment_file("b.yaml", ["OCPBUGS-10"])
    collection.add_shipment_file("a.yaml", ["OCPBUGS-11", "OCPBUGS-10"])
    assert collection.attachments() == [
        Attachment(key="OCPBUGS-9", advisories=(2,)),
        Attachment(key="OCPBUGS-10", advisories=(1, 2), shipment_files=("a.yaml", "b.yaml")),
        Attachment(key="OCPBUGS-11", shipment_files=("a.yaml",)),
    ]
    assert collection.attachments()[1].sources == (
        "advisory 1",
        "advisory 2",
        "shipment a.yaml",
        "shipment b.yaml",
    )


async def test_advisory_set_leaves_out_microshift_and_dropped() -> None:
    errata = seed_errata()
    errata.advisories[ERRATA["extras"]] = dataclasses.replace(
        errata.advisories[ERRATA["extras"]], state=AdvisoryState.DROPPED_NO_SHIP
    )
    members = await advisory_set(errata, ERRATA)
    assert "microshift" not in members
    assert "extras" not in members
    assert set(members) == {"image", "metadata", "rpm", "rhcos"}


async def test_errata_flow_collects_every_advisory_issue() -> None:
    errata = seed_errata()
    members = await advisory_set(errata, ERRATA)
    attachments = await collect(errata, members.values())
    expected = {b.key: b.advisory for b in seed.BUGS if b.advisory in members.values()}
    assert {a.key: a.advisories for a in attachments} == {k: (v,) for k, v in expected.items()}
    assert seed.MISSING_CVE_TRACKERS[seed.ERRATA_RELEASE] not in expected


async def test_konflux_flow_adds_the_shipment_files_issues_at_the_source_branch() -> None:
    errata, gitlab = seed_errata(), seed_gitlab()
    # A change on the target branch only is not what the MR ships.
    project = gitlab.project(seed.SHIPMENT_PROJECT)
    project.files[("main", SHIPMENT_FILE)] = SHIPMENT
    attachments = await collect(
        errata, KONFLUX.values(), gitlab=gitlab, shipment_mr=seed.SHIPMENT_MR_URL
    )
    by_key = {a.key: a for a in attachments}
    shipped = [b.key for b in seed.BUGS if b.target_version == "4.19.z" and b.in_shipment]
    for key in shipped:
        assert by_key[key].shipment_files == (SHIPMENT_FILE,)
    assert by_key["OCPBUGS-50006"].advisories == ()  # only in the shipment
    assert by_key["OCPBUGS-50001"].advisories == (KONFLUX["rpm"],)
    assert "OCPBUGS-9" not in by_key
    assert seed.MISSING_CVE_TRACKERS[seed.RELEASE] not in by_key


async def test_shipment_skips_non_yaml_and_deleted_files_and_reads_every_yaml() -> None:
    errata, gitlab = seed_errata(), seed_gitlab()
    project = gitlab.project(seed.SHIPMENT_PROJECT)
    project.files[(SHIPMENT_BRANCH, "notes.txt")] = "OCPBUGS-77 is fixed\n"
    project.files[(SHIPMENT_BRANCH, "other/extra.yml")] = SHIPMENT
    project.files[("main", "gone.yaml")] = SHIPMENT.replace("OCPBUGS-10", "OCPBUGS-12")
    attachments = await collect(errata, [], gitlab=gitlab, shipment_mr=seed.SHIPMENT_MR_URL)
    by_key = {a.key: a for a in attachments}
    assert by_key["OCPBUGS-10"].shipment_files == ("other/extra.yml",)
    assert "OCPBUGS-12" not in by_key
    assert "OCPBUGS-77" not in by_key


async def test_a_broken_shipment_file_fails_naming_it() -> None:
    gitlab = seed_gitlab()
    gitlab.project(seed.SHIPMENT_PROJECT).files[(SHIPMENT_BRANCH, "bad.yaml")] = "a: [b\n"
    with pytest.raises(ShipmentDataError, match=r"bad\.yaml"):
        await collect(seed_errata(), [], gitlab=gitlab, shipment_mr=seed.SHIPMENT_MR_URL)


class RefusingJira(FakeJira):
    """A Jira that refuses some keys with a given error."""

    refused: dict[str, Exception]

    async def get_issue(self, key: str, *, changelog: bool = False) -> JiraIssue:
        if key in self.refused:
            raise self.refused[key]
        return await super().get_issue(key, changelog=changelog)


def refusing(refused: dict[str, Exception]) -> RefusingJira:
    jira = RefusingJira(issues=seed_jira().issues)
    jira.refused = refused
    return jira


async def test_unreadable_keys_are_reported_not_fatal() -> None:
    jira = refusing(
        {
            "OCPBUGS-50002": IntegrationAuthError("Jira", "JIRA_TOKEN", status_code=403),
        }
    )
    attachments = [
        Attachment(key="OCPBUGS-50001", advisories=(1,)),
        Attachment(key="OCPBUGS-50002", advisories=(1,)),
        Attachment(key="OCPBUGS-404", advisories=(1,)),
    ]
    fetched = await fetch(jira, attachments)
    assert [b.key for b in fetched.bugs] == ["OCPBUGS-50001"]
    assert fetched.unreadable == ("OCPBUGS-50002", "OCPBUGS-404")


async def test_a_refused_credential_still_fails() -> None:
    jira = refusing({"OCPBUGS-50001": IntegrationAuthError("Jira", "JIRA_TOKEN", status_code=401)})
    with pytest.raises(IntegrationAuthError):
        await fetch(jira, [Attachment(key="OCPBUGS-50001")])


async def test_release_bugs_of_the_seed_konflux_release_are_classified() -> None:
    attachments, fetched = await release_bugs(
        seed_errata(),
        seed_jira(),
        KONFLUX,
        gitlab=seed_gitlab(),
        shipment_mr=seed.SHIPMENT_MR_URL,
    )
    assert fetched.unreadable == ()
    by_key = {b.key: b for b in fetched.bugs}
    assert len(by_key) == len(attachments)
    assert by_key["OCPBUGS-50003"].status == "Verified"
    assert by_key["OCPBUGS-50005"].severity == {Severity.CVE_TRACKER}
    assert by_key["OCPBUGS-50006"].severity == {Severity.CRITICAL}
    assert by_key["OCPBUGS-50007"].severity == {Severity.CUSTOMER_CASE}
    assert by_key["OCPBUGS-50001"].severity == frozenset()
    on_qa = {b.qa_contact for b in fetched.bugs if needs_verification(b)}
    assert {"qa.alice@example.com", "qa.bob@example.com"} <= on_qa


async def test_not_found_is_the_cloud_answer_for_hidden_issues() -> None:
    jira = refusing({"OCPBUGS-50001": IntegrationNotFoundError("Jira", "no permission")})
    fetched = await fetch(jira, [Attachment(key="OCPBUGS-50001")])
    assert fetched.bugs == ()
    assert fetched.unreadable == ("OCPBUGS-50001",)
