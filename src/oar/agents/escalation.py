"""The Jira notificator's rules: which ON_QA bug is due for which escalation, and what the
comment says (reference §3.1-§3.5). Pure: values in, values or typed errors out.

The ladder, each step 24 weekday hours after the one before: the QA contact when the bug has
been ON_QA for more than 24 weekday hours, then the "team lead" (the original never found one:
it mentions the QA contact again with the team-lead text, and so do we), then the QA contact's
manager, then the label ``ert:pending-onqa-over-96hrs``. A missing QA contact or manager falls
back, once per bug, to the assignee and the assignee's manager; with no assignee either, to the
reporter; with nobody at all, the bug is reported as a failure of the run.

When a step happened is read from the bug's own comments (every comment starting with the ERT
prefix, after the bug last entered ON_QA, the way the original read them) and from OAR's
database (``notified``), whichever says it happened.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from oar.agents.weekdayhours import more_than_weekday_hours
from oar.errors import OarError
from oar.integrations.jira import JiraComment, JiraUser, StatusChange

ERT_NOTIFICATION_PREFIX = "Errata Reliability Team Notification"
PENDING_LABEL = "ert:pending-onqa-over-96hrs"
ON_QA = "ON_QA"
# The cycle of the once-per-bug fallbacks (assignee, reporter): the original asks them once
# ever, not once per entry into ON_QA.
ONCE = "once"


class EscalationError(OarError):
    """A bug cannot be escalated."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


class Tier(enum.StrEnum):
    """A kind of notification; the first three and the label are the ladder."""

    QA_CONTACT = "qa_contact"
    TEAM_LEAD = "team_lead"
    MANAGER = "manager"
    LABEL = "label"
    ASSIGNEE = "assignee"
    REPORTER = "reporter"


class Missing(enum.StrEnum):
    """Who was missing when the assignee is asked instead."""

    QA_CONTACT = "QA Contact"
    TEAM_LEAD = "Team Lead"
    MANAGER = "Manager"


@dataclass(frozen=True, kw_only=True)
class NotificationType:
    hours: int
    label: str


# The original's NotificationType(hours, label) (reference §3.1), in its order.
TYPES: dict[Tier, NotificationType] = {
    Tier.QA_CONTACT: NotificationType(hours=24, label="QA Contact Action Request"),
    Tier.TEAM_LEAD: NotificationType(hours=48, label="Team Lead Action Request"),
    Tier.MANAGER: NotificationType(hours=72, label="Manager Action Request"),
    Tier.ASSIGNEE: NotificationType(hours=24, label="Assignee Action Request"),
    Tier.REPORTER: NotificationType(hours=24, label="Reporter Action Request"),
}
LADDER = (Tier.QA_CONTACT, Tier.TEAM_LEAD, Tier.MANAGER)

_BODIES = {
    Tier.QA_CONTACT: "Please verify the Issue as soon as possible.",
    Tier.TEAM_LEAD: (
        "Please verify the Issue as soon as possible or arrange a reassignment with your team lead."
    ),
    Tier.MANAGER: (
        "Please prioritize the Issue verification or consider reassigning it to another"
        " available QA Contact."
    ),
    Tier.REPORTER: (
        "This issue has no QA contact or assignee. Could you please assign someone who can"
        " verify the issue?"
    ),
}
_ASSIGNEE_NO_QA = (
    "The QA contact is missing. Could you please help us identify someone who could verify"
    " the issue?"
)
_ASSIGNEE_NO_ESCALATION = (
    "There has been no response from the QA contact and the {who} is not listed in Jira."
    " Could you please help us identify someone who could verify the issue?"
)


# --- JQL --------------------------------------------------------------------------------


def on_qa_jql(target_versions: Sequence[str], from_date: date | None = None) -> str:
    """The search for the ON_QA bugs to chase (the original's, reference §3.2)."""
    if not target_versions:
        raise ValueError("no target versions to search: name at least one (4.19.z, …)")
    jql = (
        "project = OCPBUGS AND issuetype in (Bug, Vulnerability) AND status = ON_QA"
        f" AND 'Target Version' in ({', '.join(target_versions)})"
    )
    if from_date is not None:
        jql += f" AND status changed to ON_QA after {from_date:%Y-%m-%d}"
    return jql


# --- comment texts ---------------------------------------------------------------------------


def title(tier: Tier) -> str:
    """``create_notification_title``: the same two lines for every type."""
    kind = TYPES[tier]
    return (
        f"{ERT_NOTIFICATION_PREFIX} - {kind.label}\n"
        f"This issue has been in the ON_QA state for over {kind.hours} hours.\n"
    )


def mentions(users: Iterable[JiraUser]) -> str:
    """Jira Cloud mentions, each followed by a space (the original's trailing one included)."""
    return "".join(f"[~accountId:{u.account_id}] " for u in users)


def comment_text(tier: Tier, users: Sequence[JiraUser], *, missing: Missing | None = None) -> str:
    """The exact comment the original posts for ``tier`` mentioning ``users``."""
    if tier is Tier.LABEL:
        raise ValueError("the label step posts no comment")
    if tier is Tier.ASSIGNEE:
        if missing is None or missing is Missing.QA_CONTACT:
            body = _ASSIGNEE_NO_QA
        else:
            body = _ASSIGNEE_NO_ESCALATION.format(who=missing.value)
    else:
        body = _BODIES[tier]
    return title(tier) + mentions(users) + body


def comment_tier(body: str) -> Tier | None:
    """The type of an ERT comment, by its label (a substring, as the original matched)."""
    for tier, kind in TYPES.items():
        if kind.label in body:
            return tier
    return None


# --- when things happened -----------------------------------------------------------------


def entered_on_qa(changes: Iterable[StatusChange]) -> datetime | None:
    """When the bug last moved to ON_QA, from its changelog."""
    moments = [c.at for c in changes if c.to_status == ON_QA]
    return max(moments) if moments else None


def cycle_of(on_qa: datetime) -> str:
    """The key of one stay in ON_QA: a bug moved back and forth climbs the ladder again."""
    return on_qa.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def notified_in_comments(comments: Iterable[JiraComment], on_qa: datetime) -> dict[Tier, datetime]:
    """The latest ERT comment of each type posted since the bug entered ON_QA."""
    dates: dict[Tier, datetime] = {}
    for comment in comments:
        if not comment.body.startswith(ERT_NOTIFICATION_PREFIX) or comment.created < on_qa:
            continue
        tier = comment_tier(comment.body)
        if tier is None:
            continue
        if tier not in dates or comment.created > dates[tier]:
            dates[tier] = comment.created
    return dates


def asked_ever(comments: Iterable[JiraComment], tier: Tier) -> bool:
    """Whether a once-per-bug fallback (assignee, reporter) was ever posted on the bug."""
    start = f"{ERT_NOTIFICATION_PREFIX} - {TYPES[tier].label}"
    return any(c.body.startswith(start) for c in comments)


def merge_dates(*sources: Mapping[Tier, datetime]) -> dict[Tier, datetime]:
    """Each tier's latest date over several sources (the comments, the database)."""
    merged: dict[Tier, datetime] = {}
    for source in sources:
        for tier, at in source.items():
            if tier not in merged or at > merged[tier]:
                merged[tier] = at
    return merged


# --- what is due ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Step:
    """What one bug needs now."""

    tier: Tier | None  # the ladder step due (a LADDER tier or LABEL), None: nothing yet
    since: datetime  # the moment the wait for this step started
    remove_label: bool = False  # back in ON_QA with the pending label still on
    reason: str = ""


def next_step(
    *,
    on_qa: datetime,
    notified: Mapping[Tier, datetime],
    labels: Sequence[str],
    now: datetime,
    zone: tzinfo,
) -> Step:
    """The ladder step due at ``now`` (the original's ``check_issue_…``, §3.4 step 4)."""
    since = on_qa
    for tier in LADDER:
        at = notified.get(tier)
        if at is None:
            remove = tier is Tier.QA_CONTACT and PENDING_LABEL in labels
            if more_than_weekday_hours(since, now, zone=zone):
                return Step(tier=tier, since=since, remove_label=remove)
            previous = "entering ON_QA" if since == on_qa else "the previous notification"
            return Step(
                tier=None,
                since=since,
                remove_label=remove,
                reason=f"{tier.value} not due: 24 weekday hours since {previous} not yet passed",
            )
        since = at
    if PENDING_LABEL in labels:
        return Step(tier=None, since=since, reason="already labelled " + PENDING_LABEL)
    if more_than_weekday_hours(since, now, zone=zone):
        return Step(tier=Tier.LABEL, since=since)
    return Step(tier=None, since=since, reason="label not due yet")


# --- who is told ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class People:
    """The people of a bug, with the managers the notificator looked up (None: not found)."""

    qa_contact: JiraUser | None
    assignee: JiraUser | None
    reporter: JiraUser | None
    qa_manager: JiraUser | None = None
    assignee_manager: JiraUser | None = None


@dataclass(frozen=True, kw_only=True)
class Notification:
    """A comment to post: ``tier`` is what is recorded (the fallback's, when one fired)."""

    tier: Tier
    cycle: str
    users: tuple[JiraUser, ...]
    text: str
    instead_of: Tier | None = None  # the ladder step a fallback stands in for


@dataclass(frozen=True, kw_only=True)
class Stalled:
    """Nothing can be posted: the fallback was already asked (the original stalls too)."""

    reason: str


def needs_qa_manager(tier: Tier, people: People) -> bool:
    return tier is Tier.MANAGER and people.qa_contact is not None


def needs_assignee_manager(tier: Tier, people: People) -> bool:
    """Whether the step falls back to the assignee (whose manager is then looked up)."""
    if people.assignee is None:
        return False
    if people.qa_contact is None:
        return True
    return tier is Tier.MANAGER and people.qa_manager is None


def compose(
    key: str,
    tier: Tier,
    *,
    cycle: str,
    people: People,
    comments: Sequence[JiraComment],
    asked: frozenset[Tier] = frozenset(),
) -> Notification | Stalled:
    """The comment for ladder step ``tier``, with its fallbacks (§3.4 step 5).

    ``asked``: the once-per-bug fallbacks OAR's database says were already posted.
    """
    if tier not in LADDER:
        raise ValueError(f"{tier.value} is not a step that comments")
    if people.qa_contact is None:
        return _fallback(key, tier, Missing.QA_CONTACT, people, comments, asked)
    if tier is Tier.MANAGER:
        if people.qa_manager is None:
            return _fallback(key, tier, Missing.MANAGER, people, comments, asked)
        users: tuple[JiraUser, ...] = (people.qa_manager,)
    else:
        users = (people.qa_contact,)  # the team lead step too: no team lead is known
    return Notification(tier=tier, cycle=cycle, users=users, text=comment_text(tier, users))


def _fallback(  # noqa: PLR0917 - private, one call site each
    key: str,
    tier: Tier,
    missing: Missing,
    people: People,
    comments: Sequence[JiraComment],
    asked: frozenset[Tier],
) -> Notification | Stalled:
    if people.assignee is not None:
        if Tier.ASSIGNEE in asked or asked_ever(comments, Tier.ASSIGNEE):
            return Stalled(
                reason=f"no {missing.value.lower()}; the assignee was already asked to help"
            )
        users = tuple(u for u in (people.assignee, people.assignee_manager) if u is not None)
        return Notification(
            tier=Tier.ASSIGNEE,
            cycle=ONCE,
            users=users,
            text=comment_text(Tier.ASSIGNEE, users, missing=missing),
            instead_of=tier,
        )
    if people.reporter is not None:
        if Tier.REPORTER in asked or asked_ever(comments, Tier.REPORTER):
            return Stalled(reason="no QA contact or assignee; the reporter was already asked")
        users = (people.reporter,)
        return Notification(
            tier=Tier.REPORTER,
            cycle=ONCE,
            users=users,
            text=comment_text(Tier.REPORTER, users),
            instead_of=tier,
        )
    raise EscalationError(key, "no QA contact, no assignee and no reporter: nobody to notify")
