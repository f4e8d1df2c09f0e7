"""``take-ownership``: an engineer becomes the QE owner of the release.

For ``-e/--email`` (reference: oar-commands.md §2, oar-behaviour.md §7.2): the QE owner of
every advisory of the release (microshift and dropped ones aside) becomes the owner; in the
Konflux flow the shipment MR gets the comment ``QE Release Lead is @<gitlab user>``;
advisories still in NEW_FILES become one blocker issue of the release, linked to
push-to-cdn-staging (and ART hears about them); the ART ticket's QE subtasks are assigned
to the owner, the ``[Wed-Fri]`` and ``[Mon-Wed]`` ones moved to In Progress; the QE release
channel is told.

Unlike the original, everything that can refuse is settled before the first change: the
e-mail, the credentials (one cheap read each), the owner's Jira and GitLab accounts and the
Slack contacts. A step that still fails later leaves the outcome saying what was already
done (each change goes through :meth:`ReleaseContext.did`). Running it again changes only
what is not so yet: an owner already set is not set again, the MR comment and the blocker
are not added twice, a subtask already assigned or in progress is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from oar.errors import InvalidArgumentError
from oar.integrations.errata import AdvisoryState, Errata
from oar.integrations.gitlab import GitLab, MergeRequestState, merge_request_ref
from oar.integrations.jira import Jira, JiraUser
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.advisories import EXCLUDED_IMPETUS
from oar.release.approval import QE_SUBTASK_SUMMARIES, Done
from oar.release.commands import check_email
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)

OPTION = "-e/--email"
LEAD_NOTE = "QE Release Lead is @{username}"
BLOCKER_TEXT = "Advisories in abnormal state (NEW_FILES instead of QE): {ids}"
BLOCKED_TASK = "push-to-cdn-staging"
# The QE subtasks that start when QE takes the release (the others are only assigned).
STARTED_PREFIXES = ("[Wed-Fri]", "[Mon-Wed]")
IN_PROGRESS = "In Progress"
_FINISHED = frozenset({"closed", "done", "resolved"})


@dataclass(frozen=True, kw_only=True)
class Links:
    """Where the messages point: Errata Tool's and Jira's web addresses."""

    errata_url: str
    jira_url: str

    def advisory(self, advisory_id: int) -> str:
        return f"<{self.errata_url.rstrip('/')}/advisory/{advisory_id}|{advisory_id}>"

    def issue(self, key: str) -> str:
        return f"<{self.jira_url.rstrip('/')}/browse/{key}|{key}>"


@dataclass(kw_only=True)
class Ownership:
    """What the command found and did, for its messages and its ``--json`` data."""

    owner: str
    advisories: list[int] = field(default_factory=list)  # every advisory now owned
    changed: list[int] = field(default_factory=list)  # those whose owner this run set
    abnormal: list[int] = field(default_factory=list)  # in NEW_FILES
    dropped: list[int] = field(default_factory=list)
    subtasks: list[str] = field(default_factory=list)  # every QE subtask now assigned
    assigned: list[str] = field(default_factory=list)  # those this run assigned
    started: list[str] = field(default_factory=list)  # moved to In Progress by this run
    mr_note: str | None = None  # what became of the QE release lead comment
    blocker: int | None = None  # the release issue reporting the abnormal advisories

    def to_data(self) -> dict[str, JSON]:
        return {
            "owner": self.owner,
            "advisories": list(self.advisories),
            "owner_changed": list(self.changed),
            "abnormal": list(self.abnormal),
            "dropped": list(self.dropped),
            "subtasks": list(self.subtasks),
            "subtasks_assigned": list(self.assigned),
            "subtasks_started": list(self.started),
            "mr_note": self.mr_note,
            "blocker": self.blocker,
        }


# --- the messages (pure) ----------------------------------------------------------------------
def owner_message(
    ownership: Ownership,
    *,
    release: str,
    group: str,
    links: Links,
    shipment_mr: str | None,
) -> str:
    """The QE release channel's message, as the original worded it per flow (§2.7, §2.8)."""
    advisories = "".join(f"{links.advisory(a)} " for a in ownership.advisories)
    subtasks = "".join(f"{links.issue(k)} " for k in ownership.subtasks)
    if shipment_mr is None:
        text = (
            f"Hello {group}, owner of [{release}] advisories and jira subtasks are changed to"
            f" {ownership.owner}\n"
            f"Updated advisories:\n{advisories}\n"
            f"Updated jira subtasks:\n{subtasks}"
        )
    else:
        text = (
            f"[{release}] Hello {group}, owner of advisories and jira subtasks are changed to"
            f" {ownership.owner}\n"
            f"Shipment merge request: <{shipment_mr}|{shipment_mr}>\n"
            f"Updated advisories:\n{advisories}\n"
        )
        if ownership.subtasks:
            text += f"Updated jira subtasks:\n{subtasks}"
    if ownership.abnormal:
        abnormal = "".join(f"{links.advisory(a)} " for a in ownership.abnormal)
        text += f"\nFound some abnormal advisories that state is not QE\n{abnormal}"
    return text


def art_message(abnormal: Sequence[int], *, release: str, group: str, links: Links) -> str:
    """ART's message about advisories still in NEW_FILES (§2.9)."""
    advisories = "".join(f"{links.advisory(a)} " for a in abnormal)
    return (
        f"Hello {group}, Can you help to check following [{release}] advisories, issue: state"
        f" is NEW_FILES, thanks\n{advisories}\n"
    )


def blocker_text(abnormal: Sequence[int]) -> str:
    return BLOCKER_TEXT.format(ids=", ".join(str(a) for a in abnormal))


# --- the steps ----------------------------------------------------------------------------------
def owned_impetuses(advisories: Mapping[str, int]) -> dict[str, int]:
    """The advisories take-ownership owns: every impetus but microshift (§0.1)."""
    return {k: v for k, v in advisories.items() if k not in EXCLUDED_IMPETUS}


async def jira_account(jira: Jira, email: str) -> JiraUser:
    """The owner's Jira account: the user with this e-mail, or the only user Jira's search
    finds for it (Jira Cloud hides most users' e-mail); else an error naming the option."""
    found = [u for u in await jira.find_users(email) if u.active]
    exact = [u for u in found if (u.email or "").casefold() == email.casefold()]
    if len(exact) == 1:
        return exact[0]
    if len(found) == 1 and not exact:
        return found[0]
    if not found:
        raise InvalidArgumentError(OPTION, f"Jira has no active user with the e-mail {email}")
    names = ", ".join(sorted(u.display_name for u in (exact or found)))
    raise InvalidArgumentError(
        OPTION, f"Jira has several users for {email} ({names}); give an unambiguous address"
    )


async def gitlab_username(gitlab: GitLab, email: str) -> str:
    """The owner's GitLab username (GitLab's user search, first hit, as the original)."""
    username = await gitlab.user_by_email(email)
    if username is None:
        raise InvalidArgumentError(
            OPTION,
            f"no GitLab user found for {email}: the shipment MR's QE Release Lead comment"
            " needs one (their public e-mail must be this address)",
        )
    return username


async def set_owners(
    errata: Errata, advisories: Mapping[str, int], ownership: Ownership, done: Done
) -> None:
    """Make ``ownership.owner`` the QE owner of each advisory; note the ones in NEW_FILES."""
    owner = ownership.owner
    for impetus, advisory_id in advisories.items():
        advisory = await errata.get_advisory(advisory_id)
        if advisory.state is AdvisoryState.DROPPED_NO_SHIP:
            log.info("ownership.advisory_dropped", advisory=advisory_id, impetus=impetus)
            ownership.dropped.append(advisory_id)
            continue
        if advisory.state is AdvisoryState.NEW_FILES:
            log.warning(
                "ownership.advisory_abnormal",
                advisory=advisory_id,
                impetus=impetus,
                state=advisory.state.value,
            )
            ownership.abnormal.append(advisory_id)
        if advisory.qe_owner.casefold() != owner.casefold():
            await errata.set_qe_owner(advisory_id, owner)
            done(f"set the QE owner of advisory {advisory_id} ({impetus})")
            ownership.changed.append(advisory_id)
            log.info("ownership.advisory_owner_set", advisory=advisory_id, impetus=impetus)
        else:
            log.info("ownership.advisory_owner_kept", advisory=advisory_id, impetus=impetus)
        ownership.advisories.append(advisory_id)


async def comment_lead(
    gitlab: GitLab, shipment_mr: str, username: str, done: Done
) -> tuple[str, bool]:
    """Comment ``QE Release Lead is @<username>`` on the open shipment MR, once; returns
    what became of it and whether this call added it."""
    project, iid = merge_request_ref(shipment_mr)
    mr = await gitlab.get_merge_request(project, iid)
    if mr.state is not MergeRequestState.OPENED:
        log.info("ownership.mr_not_open", mr=iid, state=mr.state.value)
        return f"shipment MR !{iid} is {mr.state.value}: no comment", False
    body = LEAD_NOTE.format(username=username)
    if any(note.body.strip() == body for note in await gitlab.notes(project, iid)):
        log.info("ownership.mr_note_present", mr=iid)
        return f"shipment MR !{iid} already says {body!r}", False
    await gitlab.add_note(project, iid, body)
    done(f"commented {body!r} on shipment MR !{iid}")
    log.info("ownership.mr_note_added", mr=iid)
    return f"commented {body!r} on shipment MR !{iid}", True


async def take_subtasks(
    jira: Jira, ticket: str, account: JiraUser, ownership: Ownership, done: Done
) -> None:
    """Assign the ticket's QE subtasks to ``account``; start the [Wed-Fri] and [Mon-Wed]
    ones. A subtask already assigned or in progress is left as it is, a finished one is
    assigned but not reopened."""
    for sub in await jira.subtasks(ticket):
        if sub.summary.strip() not in QE_SUBTASK_SUMMARIES:
            continue
        if sub.assignee is None or sub.assignee.account_id != account.account_id:
            await jira.assign(sub.key, account.account_id)
            done(f"assigned QE subtask {sub.key} to the new owner")
            ownership.assigned.append(sub.key)
            log.info("ownership.subtask_assigned", issue=sub.key, ticket=ticket)
        ownership.subtasks.append(sub.key)
        if not sub.summary.startswith(STARTED_PREFIXES):
            continue
        status = sub.status.casefold()
        if status == IN_PROGRESS.casefold():
            continue
        if status in _FINISHED:
            log.warning("ownership.subtask_finished", issue=sub.key, status=sub.status)
            continue
        await jira.transition(sub.key, IN_PROGRESS)
        done(f"moved QE subtask {sub.key} to {IN_PROGRESS}")
        ownership.started.append(sub.key)
        log.info("ownership.subtask_started", issue=sub.key, ticket=ticket)


def summary(ownership: Ownership, *, mr_note: str | None, announced: str) -> str:
    """The command's one-paragraph outcome."""
    changed = ", ".join(str(a) for a in ownership.changed) or "none"
    lines = [
        f"QE owner of advisories {', '.join(str(a) for a in ownership.advisories) or '(none)'}"
        f" is {ownership.owner} (changed now: {changed})"
    ]
    if mr_note is not None:
        lines.append(mr_note)
    if ownership.abnormal:
        lines.append(
            f"blocker #{ownership.blocker} of {BLOCKED_TASK}: advisories in NEW_FILES:"
            f" {', '.join(str(a) for a in ownership.abnormal)}"
        )
    if ownership.subtasks:
        started = ", ".join(ownership.started) or "none"
        lines.append(
            f"QE subtasks assigned: {', '.join(ownership.subtasks)} (moved to"
            f" {IN_PROGRESS} now: {started})"
        )
    else:
        lines.append("no QE subtasks to assign")
    lines.append(announced)
    return "\n".join(lines)


async def take_ownership(ctx: ReleaseContext, *, email: str) -> Outcome:
    """Take QE ownership of the release for ``email`` (see the module's docstring)."""
    owner = check_email(email, option=OPTION)
    config, ports, settings = ctx.config, ctx.ports, ctx.settings
    shipment_mr = config.shipment_mr() if config.is_konflux else None
    advisories = owned_impetuses(config.advisories())
    ticket = config.jira_ticket()
    # Everything that can refuse, before the first change: the Slack contacts, the
    # credentials (one cheap read each), the owner's accounts.
    channel, group_handle = config.qe_release_channel(), config.qe_leads_group()
    art_channel, art_handle = config.slack_channel("art"), config.slack_group_id("art")
    await ctx.prove(
        *(("errata", "gitlab", "jira") if shipment_mr else ("errata", "jira")),
        advisories=advisories,
    )
    account = await jira_account(ports.jira, owner) if ticket else None
    username = await gitlab_username(ports.gitlab, owner) if shipment_mr else None

    ownership = Ownership(owner=owner)
    await set_owners(ports.errata, advisories, ownership, ctx.did)
    mr_note = None
    if shipment_mr is not None and username is not None:
        mr_note, _ = await comment_lead(ports.gitlab, shipment_mr, username, ctx.did)
        ownership.mr_note = mr_note
    if ownership.abnormal:
        issue = await ctx.state.add_issue(
            ctx.release,
            blocker_text(ownership.abnormal),
            blocker=True,
            related_tasks=[BLOCKED_TASK],
            actor=ctx.actor,
        )
        ownership.blocker = issue.id
        log.info("ownership.blocker", release=ctx.release, issue_id=issue.id)
    if ticket is not None and account is not None:
        await take_subtasks(ports.jira, ticket, account, ownership, ctx.did)
    else:
        log.warning("ownership.no_ticket", release=ctx.release)

    # Slack is told last and never fails the command (the notifier records what happened).
    notifier = ports.notifier
    links = Links(errata_url=settings.errata_url, jira_url=settings.jira_url)
    source = f"take-ownership:{ctx.release}"
    text = owner_message(
        ownership,
        release=ctx.release,
        group=await notifier.group_mention(group_handle),
        links=links,
        shipment_mr=shipment_mr,
    )
    delivery = await notifier.summary(channel, text, source=source)
    announced = (
        f"announced in {channel}"
        if delivery.ok
        else f"the announcement to {channel} failed: {delivery.error}"
    )
    if ownership.abnormal:
        art = art_message(
            ownership.abnormal,
            release=ctx.release,
            group=await notifier.group_mention(art_handle),
            links=links,
        )
        to_art = await notifier.summary(art_channel, art, source=source)
        announced += (
            f"; ART asked in {art_channel} to check the NEW_FILES advisories"
            if to_art.ok
            else f"; the message to ART in {art_channel} failed: {to_art.error}"
        )
    data = {**ownership.to_data(), "announced": delivery.ok}
    return Outcome.passed(summary(ownership, mr_note=mr_note, announced=announced), data=data)
