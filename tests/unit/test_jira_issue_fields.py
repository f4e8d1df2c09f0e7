"""Jira Cloud's JSON for an OCPBUGS issue (tests/fixtures/jira) parsed into the fields the
bug rules need: priority, labels, QA contact, Release Blocker, SFDC cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oar.integrations.jira import (
    RELEASE_BLOCKER_FIELD,
    SFDC_CASES_COUNTER_FIELD,
    SFDC_CASES_LINKS_FIELD,
    parse_issue,
    render_issue,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "jira" / "issue-cve-tracker.json"


def raw_issue() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


def test_cloud_issue_gives_the_bug_rule_fields() -> None:
    issue = parse_issue(raw_issue())
    assert issue.key == "OCPBUGS-61234"
    assert issue.status == "ON_QA"
    assert issue.priority == "Major"
    assert issue.release_blocker == "Proposed"
    assert issue.sfdc_cases_counter == 3.0
    assert issue.sfdc_cases_links is not None
    assert issue.sfdc_cases_links.count("https://") == 2
    assert issue.qa_contact is not None
    assert issue.qa_contact.email == "qa.alice@example.com"
    assert "CVE-2025-22871" in issue.labels


def test_unset_custom_fields_are_none() -> None:
    raw = raw_issue()
    for name in (RELEASE_BLOCKER_FIELD, SFDC_CASES_COUNTER_FIELD, SFDC_CASES_LINKS_FIELD):
        raw["fields"][name] = None
    raw["fields"]["priority"] = None
    issue = parse_issue(raw)
    assert (issue.priority, issue.release_blocker) == (None, None)
    assert (issue.sfdc_cases_counter, issue.sfdc_cases_links) == (None, None)


def test_odd_values_do_not_break_parsing() -> None:
    raw = raw_issue()
    raw["fields"][SFDC_CASES_COUNTER_FIELD] = "not a number"
    raw["fields"][SFDC_CASES_LINKS_FIELD] = "   "
    raw["fields"][RELEASE_BLOCKER_FIELD] = "Approved"  # Server sends the bare value
    issue = parse_issue(raw)
    assert issue.sfdc_cases_counter is None
    assert issue.sfdc_cases_links is None
    assert issue.release_blocker == "Approved"


def test_render_and_parse_agree() -> None:
    issue = parse_issue(raw_issue())
    again = parse_issue(render_issue(issue, base_url="https://jira.example", changelog=False))
    assert again.priority == issue.priority
    assert again.release_blocker == issue.release_blocker
    assert again.sfdc_cases_counter == issue.sfdc_cases_counter
    assert again.sfdc_cases_links == issue.sfdc_cases_links
