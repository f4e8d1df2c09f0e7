"""The in-memory Jira's JQL: OAR's own queries select what Jira would, and anything else
is refused rather than misread."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oar.errors import IntegrationError
from oar.integrations.jira import JiraIssue, JiraUser, StatusChange
from oar.integrations.jql import compile_jql

ALICE = JiraUser(account_id="557058:a", display_name="Alice QA", email="qa.alice@example.com")


def issue(key: str = "OCPBUGS-1", status: str = "ON_QA", **changes: object) -> JiraIssue:
    fields: dict[str, object] = {
        "summary": "etcd defrag alert fires too early",
        "issue_type": "Bug",
        "target_versions": ("4.19.z",),
        "qa_contact": ALICE,
        "status_changes": (
            StatusChange(
                at=datetime(2026, 11, 16, 9, tzinfo=UTC), from_status="MODIFIED", to_status="ON_QA"
            ),
        ),
    }
    fields.update(changes)
    return JiraIssue(key=key, status=status, **fields)  # type: ignore[arg-type]


NOTIFICATOR_JQL = (
    "project = OCPBUGS AND issuetype in (Bug, Vulnerability) AND status = ON_QA AND"
    " 'Target Version' in (4.12.z, 4.13.z, 4.14.z, 4.15.z, 4.16.z, 4.17.z, 4.18.z, 4.19.z,"
    " 4.20.z, 4.21.z, 4.22.z)"
)


@pytest.mark.parametrize(
    ("jql", "candidate", "selected"),
    [
        (NOTIFICATOR_JQL, issue(), True),
        (NOTIFICATOR_JQL, issue(status="Verified"), False),
        (NOTIFICATOR_JQL, issue(target_versions=("5.0.z",)), False),
        (NOTIFICATOR_JQL, issue(key="ART-1"), False),
        (NOTIFICATOR_JQL + " AND status changed to ON_QA after 2026-11-15", issue(), True),
        (NOTIFICATOR_JQL + " AND status changed to ON_QA after 2026-11-17", issue(), False),
        ('"QA Contact" = "qa.alice@example.com"', issue(), True),
        ('"QA Contact" is EMPTY', issue(qa_contact=None), True),
        ("labels not in (ert:pending-onqa-over-96hrs)", issue(), True),
        ("summary ~ defrag ORDER BY key DESC", issue(), True),
        ("status = Verified OR (key = OCPBUGS-1 AND NOT labels = x)", issue(), True),
        ("", issue(), True),
    ],
)
def test_queries_select_like_jira(jql: str, candidate: JiraIssue, selected: bool) -> None:
    assert compile_jql(jql)(candidate) is selected


@pytest.mark.parametrize(
    ("jql", "complaint"),
    [
        ("fixVersion = 4.19.3", "field 'fixVersion' is not supported"),
        ("status = ", "ends too early"),
        ("status in (ON_QA", "ends too early"),
        ("assignee changed to x", "CHANGED is supported for status only"),
        ("status changed after 2026/11/01", "YYYY-MM-DD"),
    ],
)
def test_unsupported_queries_are_refused(jql: str, complaint: str) -> None:
    with pytest.raises(IntegrationError, match=complaint) as caught:
        compile_jql(jql)
    assert caught.value.status_code == 400
