"""``update-bug-list``: record the release's bugs and ask QE to verify the ON_QA ones.

Reference: oar-commands.md §3. The release's bugs (:mod:`oar.release.bugs`: the advisory
set's Jira issues and, in the Konflux flow, the shipment files' issues) are recorded in the
release state (:mod:`oar.release.buglist`): newly attached ones are marked new, a bug no
longer attached is marked detached, and the outcome says what changed since the last run
("no change" when nothing did). Running it again updates, never duplicates.

With notifications on (the default), the ON_QA bugs are announced in the QE forum channel,
grouped per QA contact, each contact mentioned as a Slack user looked up by e-mail (the
e-mail itself when Slack does not know it); a CVE tracker's line says it must be verified.
With ``--notify-managers`` the message instead goes to the managers (LDAP) of the QA
contacts of the ON_QA CVE trackers (§3.8). Nothing is sent when no bug is ON_QA, or with
``--no-notify`` (which cannot go with ``--notify-managers``).

Unlike the original: both flows are supported (main refused Konflux and failed on the
errata flow), the list is one record per bug (the errata branch concatenated duplicates),
a bug is never deleted, and a QA contact's ``+suffix`` is stripped before the Slack
lookup for every message (§0.2.2).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from oar.errors import InvalidArgumentError
from oar.integrations.ldap import Directory
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.buglist import BugListUpdate, ChangeKind
from oar.release.bugs import (
    Bug,
    by_qa_contact,
    is_cve_tracker,
    needs_verification,
    release_bugs,
)
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)

QE_FORUM = "qe-forum"
ON_QA_HEADER = (
    "[{release}] Please pay attention to following ON_QA bugs, let's verify them ASAP,"
    " thanks for your cooperation"
)
MANAGERS_HEADER = (
    "[{release}] The following issues must be verified in this release. As the managers of"
    " the assigned QA contacts who have not yet verified these Jiras, could you please"
    " prioritize their verification or reassign them to other available QA contacts?"
)
CVE_NOTE = " This is a CVE bug and must be verified."
UNKNOWN_CONTACT = "Unknown QA contact"
CONFLICT = "--no-notify cannot be used together with --notify-managers"

Mention = Callable[[str], Awaitable[str]]


def check_options(*, notify: bool, notify_managers: bool) -> None:
    """``--no-notify`` with ``--notify-managers`` is a usage error naming both."""
    if notify_managers and not notify:
        raise InvalidArgumentError("--notify/--no-notify/--notify-managers", CONFLICT)


def lookup_email(email: str) -> str:
    """The address Slack knows: ``a+jira@x`` is ``a@x`` (the original's rule, §0.2.2)."""
    local, at, domain = email.partition("@")
    if not at:
        return email
    return f"{local.split('+', 1)[0]}@{domain}"


@dataclass(frozen=True, kw_only=True)
class JiraLinks:
    """Where the messages point: Jira's web address."""

    jira_url: str

    def issue(self, key: str) -> str:
        return f"<{self.jira_url.rstrip('/')}/browse/{key}|{key}>"


# --- the messages (pure, mentions given) ------------------------------------------------------
def on_qa_bugs(bugs: Sequence[Bug]) -> list[Bug]:
    """The bugs to announce: ON_QA, in the given (key) order."""
    return [b for b in bugs if needs_verification(b)]


def on_qa_message(
    bugs: Sequence[Bug], *, release: str, mentions: Mapping[str, str], links: JiraLinks
) -> str | None:
    """The QE forum's message: the ON_QA bugs grouped per QA contact, each contact's
    mention (``mentions``: QA contact -> mention) on its own line, then their bugs; None
    when no bug is ON_QA (nothing is sent)."""
    waiting = on_qa_bugs(bugs)
    if not waiting:
        return None
    lines = [ON_QA_HEADER.format(release=release)]
    groups = by_qa_contact(waiting)
    # People first (in first-seen order), the bugs nobody is QA contact of last.
    for contact in [c for c in groups if c is not None] + ([None] if None in groups else []):
        who = mentions.get(contact, contact) if contact is not None else UNKNOWN_CONTACT
        lines.append(f"{who}:")
        for bug in groups[contact]:
            note = CVE_NOTE if is_cve_tracker(bug) else ""
            lines.append(f"{links.issue(bug.key)}{note}")
    return "\n".join(lines) + "\n"


def unverified_cve_trackers(bugs: Sequence[Bug]) -> list[Bug]:
    """ON_QA CVE trackers: the ones whose QA contacts' managers hear about (§3.8)."""
    return [b for b in bugs if needs_verification(b) and is_cve_tracker(b)]


def managers_message(
    trackers: Sequence[Bug], *, release: str, managers: Mapping[str, str], links: JiraLinks
) -> str | None:
    """The managers' message: one line per tracker with its QA contact's manager's mention
    (``managers``: bug key -> mention; empty when unknown, as the original); None when
    there is no tracker."""
    if not trackers:
        return None
    lines = [MANAGERS_HEADER.format(release=release)]
    lines.extend(f"{links.issue(b.key)} {managers.get(b.key, '')}".rstrip() for b in trackers)
    return "\n".join(lines) + "\n"


def change_report(update: BugListUpdate) -> str:
    """What changed since the last run, one kind a line; ``no change`` when nothing did."""
    if not update.changed:
        return "no change since the last run"
    labels = (
        (ChangeKind.NEW, "new"),
        (ChangeKind.REATTACHED, "attached again"),
        (ChangeKind.STATUS, "status changed"),
        (ChangeKind.UPDATED, "updated"),
        (ChangeKind.DETACHED, "detached"),
    )
    lines = []
    for kind, label in labels:
        found = update.of_kind(kind)
        if found:
            lines.append(f"{label}: {', '.join(c.describe() for c in found)}")
    return "\n".join(lines)


def summary(update: BugListUpdate, *, announced: str) -> str:
    attached = [r for r in update.records if r.attached]
    unfinished = [r for r in attached if not r.finished]
    on_qa = [r for r in attached if r.on_qa]
    lines = [
        f"{len(attached)} bugs attached ({len(on_qa)} ON_QA, {len(unfinished)} not verified,"
        f" {sum(1 for r in attached if r.high_severity)} high severity)",
        change_report(update),
    ]
    if update.unreadable:
        lines.append(f"Jira would not show: {', '.join(update.unreadable)} (kept as they were)")
    lines.append(announced)
    return "\n".join(lines)


def to_data(update: BugListUpdate, *, announced: bool) -> dict[str, JSON]:
    return {
        "bugs": [r.to_dict() for r in update.records],
        "changes": [c.to_dict() for c in update.changes],
        "changed": update.changed,
        "unreadable": list(update.unreadable),
        "announced": announced,
    }


# --- the steps --------------------------------------------------------------------------------
async def contact_mentions(bugs: Sequence[Bug], mention: Mention) -> dict[str, str]:
    """Each QA contact of an ON_QA bug -> its Slack mention (looked up once per person)."""
    found: dict[str, str] = {}
    for bug in on_qa_bugs(bugs):
        contact = bug.qa_contact
        if contact is None or contact in found:
            continue
        found[contact] = await mention(lookup_email(contact)) if "@" in contact else contact
    return found


async def manager_mentions(
    trackers: Sequence[Bug], directory: Directory, mention: Mention
) -> dict[str, str]:
    """Each tracker's key -> its QA contact's manager's mention; a tracker whose manager
    LDAP does not know is left out (and logged)."""
    found: dict[str, str] = {}
    for bug in trackers:
        manager = None
        if bug.qa_contact is not None and "@" in bug.qa_contact:
            manager = await directory.manager_of(lookup_email(bug.qa_contact))
        if manager is None:
            log.warning("bugs.manager_unknown", issue=bug.key)
            continue
        found[bug.key] = await mention(lookup_email(manager.email))
    return found


async def update_bug_list(
    ctx: ReleaseContext, *, notify: bool = True, notify_managers: bool = False
) -> Outcome:
    """Record the release's bugs and announce the ON_QA ones (see the module docstring)."""
    check_options(notify=notify, notify_managers=notify_managers)
    config, ports = ctx.config, ctx.ports
    channel = config.slack_channel(QE_FORUM) if notify else None  # refuses before any work
    shipment_mr = config.shipment_mr() if config.is_konflux else None
    attachments, fetched = await release_bugs(
        ports.errata,
        ports.jira,
        config.advisories(),
        gitlab=ports.gitlab if shipment_mr else None,
        shipment_mr=shipment_mr,
    )
    update = await ctx.state.record_bugs(
        ctx.release, fetched.bugs, attached=[a.key for a in attachments]
    )
    for change in update.changes:
        log.info("bugs.changed", release=ctx.release, issue=change.key, kind=change.kind.value)

    sent = False
    if channel is None:
        announced = "not announced (--no-notify)"
    else:
        links = JiraLinks(jira_url=ctx.settings.jira_url)
        notifier = ports.notifier
        if notify_managers:
            trackers = unverified_cve_trackers(fetched.bugs)
            managers = await manager_mentions(trackers, ports.ldap, notifier.user_mention)
            text = managers_message(trackers, release=ctx.release, managers=managers, links=links)
            nothing = "no unverified CVE tracker: nothing to tell the managers"
        else:
            mentions = await contact_mentions(fetched.bugs, notifier.user_mention)
            text = on_qa_message(fetched.bugs, release=ctx.release, mentions=mentions, links=links)
            nothing = "no bug is ON_QA: nothing announced"
        if text is None:
            announced = nothing
        else:
            delivery = await notifier.summary(
                channel, text, source=f"update-bug-list:{ctx.release}"
            )
            sent = delivery.ok
            announced = (
                f"announced in {channel}"
                if delivery.ok
                else f"the announcement to {channel} failed: {delivery.error}"
            )
    message = summary(update, announced=announced)
    data = to_data(update, announced=sent)
    if all(r.finished for r in update.records if r.attached):
        return Outcome.passed(message, data=data)
    # As the original's sheet cell: In Progress until every attached bug is verified.
    return Outcome.in_progress(message, data=data)
