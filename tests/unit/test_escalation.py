"""The notificator's rules: the JQL, the exact comment texts, which step is due, and who
is mentioned when contacts are missing (reference §3.2-§3.5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from oar.agents.escalation import (
    ONCE,
    PENDING_LABEL,
    EscalationError,
    Missing,
    Notification,
    People,
    Stalled,
    Tier,
    comment_text,
    comment_tier,
    compose,
    entered_on_qa,
    merge_dates,
    next_step,
    notified_in_comments,
    on_qa_jql,
)
from oar.integrations.jira import JiraComment, JiraUser, StatusChange

QA = JiraUser(account_id="557058:qa", display_name="QA", email="qa@example.com")
DEV = JiraUser(account_id="557058:dev", display_name="Dev", email="dev@example.com")
BOSS = JiraUser(account_id="557058:boss", display_name="Boss", email="boss@example.com")
REPORTER = JiraUser(account_id="557058:rep", display_name="Reporter")
MONDAY = datetime(2026, 11, 9, 9, tzinfo=UTC)
TITLE_QA = (
    "Errata Reliability Team Notification - QA Contact Action Request\n"
    "This issue has been in the ON_QA state for over 24 hours.\n"
)


def test_jql_is_the_original_s_with_the_optional_date() -> None:
    assert on_qa_jql(["4.18.z", "4.19.z"]) == (
        "project = OCPBUGS AND issuetype in (Bug, Vulnerability) AND status = ON_QA"
        " AND 'Target Version' in (4.18.z, 4.19.z)"
    )
    assert on_qa_jql(["4.19.z"], date(2025, 7, 17)).endswith(
        " AND status changed to ON_QA after 2025-07-17"
    )
    with pytest.raises(ValueError, match="no target versions"):
        on_qa_jql([])


def test_comment_texts_are_the_original_s() -> None:
    assert comment_text(Tier.QA_CONTACT, [QA]) == (
        TITLE_QA + "[~accountId:557058:qa] Please verify the Issue as soon as possible."
    )
    assert comment_text(Tier.TEAM_LEAD, [QA]) == (
        "Errata Reliability Team Notification - Team Lead Action Request\n"
        "This issue has been in the ON_QA state for over 48 hours.\n"
        "[~accountId:557058:qa] Please verify the Issue as soon as possible or arrange a"
        " reassignment with your team lead."
    )
    assert comment_text(Tier.MANAGER, [BOSS]).endswith(
        "over 72 hours.\n[~accountId:557058:boss] Please prioritize the Issue verification or"
        " consider reassigning it to another available QA Contact."
    )
    assert comment_text(Tier.ASSIGNEE, [DEV, BOSS], missing=Missing.QA_CONTACT) == (
        "Errata Reliability Team Notification - Assignee Action Request\n"
        "This issue has been in the ON_QA state for over 24 hours.\n"
        "[~accountId:557058:dev] [~accountId:557058:boss] The QA contact is missing. Could you"
        " please help us identify someone who could verify the issue?"
    )
    assert comment_text(Tier.ASSIGNEE, [DEV], missing=Missing.MANAGER).endswith(
        "[~accountId:557058:dev] There has been no response from the QA contact and the"
        " Manager is not listed in Jira. Could you please help us identify someone who could"
        " verify the issue?"
    )
    assert comment_text(Tier.REPORTER, [REPORTER]).endswith(
        "[~accountId:557058:rep] This issue has no QA contact or assignee. Could you please"
        " assign someone who can verify the issue?"
    )
    assert comment_tier(comment_text(Tier.MANAGER, [BOSS])) is Tier.MANAGER
    assert comment_tier("an unrelated comment") is None


def _comment(tier: Tier, at: datetime) -> JiraComment:
    return JiraComment(id=str(at.timestamp()), body=comment_text(tier, [QA]), created=at)


def test_dates_come_from_ert_comments_after_the_latest_entry_into_on_qa() -> None:
    changes = [
        StatusChange(at=MONDAY - timedelta(days=20), from_status="MODIFIED", to_status="ON_QA"),
        StatusChange(at=MONDAY - timedelta(days=10), from_status="ON_QA", to_status="ASSIGNED"),
        StatusChange(at=MONDAY, from_status="MODIFIED", to_status="ON_QA"),
    ]
    on_qa = entered_on_qa(changes)
    assert on_qa == MONDAY
    assert entered_on_qa([]) is None
    comments = [
        _comment(Tier.QA_CONTACT, MONDAY - timedelta(days=15)),  # an earlier stay in ON_QA
        _comment(Tier.QA_CONTACT, MONDAY + timedelta(days=2)),
        JiraComment(id="1", body="Please verify", created=MONDAY + timedelta(days=3)),
    ]
    assert notified_in_comments(comments, MONDAY) == {Tier.QA_CONTACT: MONDAY + timedelta(days=2)}
    later = {Tier.QA_CONTACT: MONDAY + timedelta(days=4)}
    assert merge_dates(notified_in_comments(comments, MONDAY), later) == later


@pytest.mark.parametrize(
    ("notified", "now", "due"),
    [
        ({}, MONDAY + timedelta(hours=24), None),  # exactly 24 weekday hours: not yet
        ({}, MONDAY + timedelta(hours=25), Tier.QA_CONTACT),
        ({Tier.QA_CONTACT: MONDAY + timedelta(days=1)}, MONDAY + timedelta(days=1, hours=2), None),
        ({Tier.QA_CONTACT: MONDAY}, MONDAY + timedelta(days=2), Tier.TEAM_LEAD),
        (
            {Tier.QA_CONTACT: MONDAY, Tier.TEAM_LEAD: MONDAY},
            MONDAY + timedelta(days=2),
            Tier.MANAGER,
        ),
        (
            {Tier.QA_CONTACT: MONDAY, Tier.TEAM_LEAD: MONDAY, Tier.MANAGER: MONDAY},
            MONDAY + timedelta(days=2),
            Tier.LABEL,
        ),
        # Friday's notification: the next step waits over the weekend.
        ({Tier.QA_CONTACT: MONDAY + timedelta(days=4)}, MONDAY + timedelta(days=7), None),
    ],
)
def test_the_step_due(notified: dict[Tier, datetime], now: datetime, due: Tier | None) -> None:
    step = next_step(on_qa=MONDAY, notified=notified, labels=(), now=now, zone=UTC)
    assert step.tier is due
    if due is None:
        assert "not due" in step.reason


def test_the_label_is_removed_on_a_new_stay_and_not_added_twice() -> None:
    fresh = next_step(on_qa=MONDAY, notified={}, labels=(PENDING_LABEL,), now=MONDAY, zone=UTC)
    assert fresh.remove_label
    assert fresh.tier is None
    done = {Tier.QA_CONTACT: MONDAY, Tier.TEAM_LEAD: MONDAY, Tier.MANAGER: MONDAY}
    step = next_step(
        on_qa=MONDAY,
        notified=done,
        labels=(PENDING_LABEL,),
        now=MONDAY + timedelta(days=3),
        zone=UTC,
    )
    assert step.tier is None
    assert not step.remove_label


def _compose(tier: Tier, people: People, **kwargs: object) -> Notification | Stalled:
    return compose("OCPBUGS-1", tier, cycle="c", people=people, comments=(), **kwargs)  # type: ignore[arg-type]


def test_each_step_mentions_its_person() -> None:
    people = People(qa_contact=QA, assignee=DEV, reporter=REPORTER, qa_manager=BOSS)
    for tier, who in ((Tier.QA_CONTACT, QA), (Tier.TEAM_LEAD, QA), (Tier.MANAGER, BOSS)):
        planned = _compose(tier, people)
        assert isinstance(planned, Notification)
        assert (planned.tier, planned.users, planned.cycle) == (tier, (who,), "c")


def test_missing_contacts_fall_back_to_the_assignee_then_the_reporter_once() -> None:
    no_qa = People(qa_contact=None, assignee=DEV, reporter=REPORTER, assignee_manager=BOSS)
    planned = _compose(Tier.QA_CONTACT, no_qa)
    assert isinstance(planned, Notification)
    assert (planned.tier, planned.cycle, planned.instead_of) == (
        Tier.ASSIGNEE,
        ONCE,
        Tier.QA_CONTACT,
    )
    assert planned.users == (DEV, BOSS)
    assert "The QA contact is missing." in planned.text
    # Once per bug: asked already (database or comment), the bug stalls, as the original's.
    assert isinstance(_compose(Tier.QA_CONTACT, no_qa, asked=frozenset({Tier.ASSIGNEE})), Stalled)
    commented = compose(
        "OCPBUGS-1",
        Tier.QA_CONTACT,
        cycle="c",
        people=no_qa,
        comments=(_comment(Tier.ASSIGNEE, MONDAY),),
    )
    assert isinstance(commented, Stalled)

    no_manager = People(qa_contact=QA, assignee=DEV, reporter=None)
    planned = _compose(Tier.MANAGER, no_manager)
    assert isinstance(planned, Notification)
    assert planned.users == (DEV,)
    assert "the Manager is not listed in Jira" in planned.text

    only_reporter = People(qa_contact=None, assignee=None, reporter=REPORTER)
    planned = _compose(Tier.QA_CONTACT, only_reporter)
    assert isinstance(planned, Notification)
    assert (planned.tier, planned.users) == (Tier.REPORTER, (REPORTER,))

    with pytest.raises(EscalationError, match="nobody to notify"):
        _compose(Tier.QA_CONTACT, People(qa_contact=None, assignee=None, reporter=None))
