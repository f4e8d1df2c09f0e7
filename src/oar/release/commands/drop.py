"""``drop-bugs``: take the release's unverified bugs out of it, high severity only with a yes.

The release's bugs (:mod:`oar.release.bugs`: its advisories' Jira issues and, Konflux, the
shipment MR's files) that are not finished (Verified, Closed, Release Pending) are sorted
into (reference §4, its defects fixed):

* **dropped now**: neither high severity nor a CVE tracker — removed from their advisories
  and, Konflux, from the shipment data through the release's ``<release> drop bugs`` MR;
* **waiting for confirmation**: critical (Critical/Blocker priority, TestBlocker, Release
  Blocker) or customer-case bugs — each becomes a durable human approval posted in Slack to
  the bug's owner (QA contact, else assignee), and is dropped only when approved
  (:mod:`oar.release.dropapprovals`); a bug already waiting is not asked about twice, one whose
  drop was rejected is kept (not asked again), one whose approval expired is asked again;
* **kept**: CVE trackers — "CVE can not be dropped": they must be verified, never dropped,
  not even with an approval.

``--dry-run`` reads everything and changes nothing anywhere (no approval, no Slack
message, no commit, no MR, no removal): it prints exactly what a run would do.

Unlike the original, every key dropped is logged (not only the last one), the shipment
edit matches whole keys, critical and customer-case bugs are never dropped silently, and
everything that can refuse (the credentials) is settled before the first change. The doc
and prodsec approvals a drop takes away are asked for again (§4.5; the original never
asked prodsec again) and the approvers are told (§4.7).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from oar.engine.approvals import MAX_TIMEOUT
from oar.errors import InvalidArgumentError
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.advisories import advisory_impetuses
from oar.release.bugs import (
    Attachment,
    Bug,
    Severity,
    is_finished,
    key_order,
    release_bugs,
)
from oar.release.configstore import ConfigStore
from oar.release.dropapprovals import DropRequest, WaitingDrop
from oar.release.drops import (
    Approvers,
    Dropped,
    Reapproval,
    drop_bugs,
    tell_approvers,
    where_text,
)
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)

DEFAULT_APPROVAL_TIMEOUT = 2 * 24 * 3600.0  # two days, like the approval watch
REASONS = {
    Severity.CRITICAL: "critical",
    Severity.CUSTOMER_CASE: "customer case",
    Severity.CVE_TRACKER: "CVE tracker",
}


class Fate(enum.StrEnum):
    """What drop-bugs does with an unverified bug."""

    DROP = "drop"  # dropped now
    ASK = "ask"  # its owner is asked (a new approval)
    WAITING = "waiting"  # its owner was asked before and has not decided
    KEEP = "keep"  # kept (CVE tracker, or its drop was rejected)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """One unverified bug's fate, and why."""

    bug: Bug
    fate: Fate
    reason: str
    waiting: WaitingDrop | None = None

    @property
    def key(self) -> str:
        return self.bug.key

    @property
    def owner(self) -> str | None:
        """Who decides: the QA contact, else the assignee."""
        return self.bug.qa_contact or self.bug.assignee


@dataclass(kw_only=True)
class Plan:
    """Every unverified bug's fate, in key order."""

    decisions: list[Decision] = field(default_factory=list)

    def of(self, fate: Fate) -> list[Decision]:
        return [d for d in self.decisions if d.fate is fate]


def reasons(bug: Bug) -> tuple[str, ...]:
    """Why the bug is high severity, in people's words (critical, customer case, …)."""
    return tuple(REASONS[s] for s in Severity if s in bug.severity)


def plan(bugs: Iterable[Bug], recorded: Mapping[str, WaitingDrop]) -> Plan:
    """Each unverified bug's fate (pure). ``recorded``: the release's drop approvals by
    key (waiting or decided)."""
    result = Plan()
    for bug in sorted(bugs, key=lambda b: key_order(b.key)):
        if is_finished(bug):
            continue
        severity = bug.severity
        earlier = recorded.get(bug.key)
        if Severity.CVE_TRACKER in severity:
            decision = Decision(
                bug=bug, fate=Fate.KEEP, reason="CVE tracker: CVE can not be dropped"
            )
        elif not severity:
            decision = Decision(bug=bug, fate=Fate.DROP, reason=f"{bug.status}, not high severity")
        elif earlier is not None and earlier.pending:
            decision = Decision(
                bug=bug,
                fate=Fate.WAITING,
                reason=f"{', '.join(reasons(bug))}: waiting for approval {earlier.approval_id}",
                waiting=earlier,
            )
        elif earlier is not None and earlier.acting:  # decided a moment ago: its follow acts
            decision = Decision(
                bug=bug,
                fate=Fate.WAITING,
                reason=f"{', '.join(reasons(bug))}: approval {earlier.approval_id}"
                f" {earlier.decision} by {earlier.decided_by}, being carried out",
                waiting=earlier,
            )
        elif earlier is not None and earlier.decision == "rejected":
            decision = Decision(
                bug=bug,
                fate=Fate.KEEP,
                reason=f"{', '.join(reasons(bug))}: dropping it was rejected"
                f" (approval {earlier.approval_id}, by {earlier.decided_by})",
                waiting=earlier,
            )
        elif earlier is not None and earlier.decision in ("approved", "modified"):
            decision = Decision(
                bug=bug,
                fate=Fate.DROP,
                reason=f"{', '.join(reasons(bug))}: dropping it was approved"
                f" (approval {earlier.approval_id}, by {earlier.decided_by})",
                waiting=earlier,
            )
        else:
            again = f" (approval {earlier.approval_id} {earlier.decision})" if earlier else ""
            decision = Decision(
                bug=bug,
                fate=Fate.ASK,
                reason=f"{', '.join(reasons(bug))}: its owner decides{again}",
            )
        result.decisions.append(decision)
    return result


# --- the texts (pure) ---------------------------------------------------------------------------
def _link(jira_url: str, key: str) -> str:
    return f"<{jira_url.rstrip('/')}/browse/{key}|{key}>"


def channel_message(
    *,
    release: str,
    group: str,
    jira_url: str,
    konflux: bool,
    dropped: Sequence[str],
    asked: Sequence[tuple[str, str, str]],
    kept_cve: Sequence[str],
) -> str:
    """The QE release channel's message (§4.6's texts; the high-severity part now says the
    owners are asked). ``asked``: (key, owner mention, approval id). Empty: nothing."""
    parts = []
    if dropped:
        where = "advisories and shipment data" if konflux else "advisories"
        lines = "".join(f"{_link(jira_url, k)}\n" for k in dropped)
        parts.append(f"[{release}] Hello {group}, following bugs are dropped from {where}\n{lines}")
    if asked:
        lines = "".join(
            f"{_link(jira_url, k)} {mention} (approval {approval})\n"
            for k, mention, approval in asked
        )
        parts.append(
            f"[{release}] Hello {group}, following bugs are Critical/Blocker/Customer Case:"
            " their owners are asked in Slack whether they can be dropped; OAR drops each one"
            f" only when approved. Thanks\n{lines}"
        )
    if kept_cve:
        lines = "".join(f"{_link(jira_url, k)}\n" for k in kept_cve)
        parts.append(
            f"[{release}] Hello {group}, following bugs are CVE Trackers: CVE can not be"
            f" dropped, they must be verified. Thanks\n{lines}"
        )
    return "\n".join(parts)


def describe(decision: Decision, *, dry_run: bool) -> str:
    """One line of the outcome for a bug."""
    where = where_text(_attachment(decision.bug))
    verbs = {
        Fate.DROP: ("would drop", "dropped"),
        Fate.ASK: ("would ask its owner about", "asked its owner about"),
        Fate.WAITING: ("would leave waiting", "waiting for confirmation:"),
        Fate.KEEP: ("would keep", "kept"),
    }
    verb = verbs[decision.fate][0 if dry_run else 1]
    owner = f", owner {decision.owner}" if decision.fate in (Fate.ASK, Fate.WAITING) else ""
    return f"{verb} {decision.key} ({decision.reason}; {where}{owner})"


def _attachment(bug: Bug) -> Attachment:
    return Attachment(key=bug.key, advisories=bug.advisories, shipment_files=bug.shipment_files)


def _entry(decision: Decision, **extra: JSON) -> dict[str, JSON]:
    return {
        "key": decision.key,
        "status": decision.bug.status,
        "reason": decision.reason,
        "owner": decision.owner,
        "advisories": list(decision.bug.advisories),
        "shipment_files": list(decision.bug.shipment_files),
        **extra,
    }


# --- the body -----------------------------------------------------------------------------------
def dry_run_outcome(decided: Plan, unreadable: Sequence[str]) -> Outcome:
    """What a run would do, changing nothing (recorded In Progress: a dry run passes
    nothing)."""
    lines = [describe(d, dry_run=True) for d in decided.decisions]
    if unreadable:
        lines.append(f"not readable in Jira (left alone): {', '.join(unreadable)}")
    data: dict[str, JSON] = {"dry_run": True, "unreadable": list(unreadable)}
    for fate in Fate:
        data[fate.value] = [_entry(d) for d in decided.of(fate)]
    text = "dry run: nothing was changed\n" + ("\n".join(lines) or "no unverified bug")
    return Outcome.in_progress(text, data=data)


async def ask_owners(
    ctx: ReleaseContext, decisions: Sequence[Decision], *, timeout: float
) -> list[tuple[Decision, WaitingDrop, str]]:
    """Ask each bug's owner (once per bug), in the command's Slack thread when it came from
    Slack, else in the QE release channel; returns (bug, its approval, the owner's
    mention)."""
    config, ports = ctx.config, ctx.ports
    channel = config.qe_release_channel()
    shipment_mr = config.shipment_mr() if config.is_konflux else None
    asked = []
    for d in decisions:
        mention = (
            await ports.notifier.user_mention(d.owner) if d.owner else "(no QA contact or assignee)"
        )
        waiting = await ports.drops.request(
            DropRequest(
                release=ctx.release,
                bug=d.key,
                summary=d.bug.summary,
                reasons=reasons(d.bug),
                owner=d.owner,
                mention=mention,
                attachment=_attachment(d.bug),
                shipment_mr=shipment_mr,
                channel=ctx.slack_channel or channel,
                thread=ctx.slack_thread,
                release_channel=channel,
                approvers=approvers(config),
                requested_by=ctx.actor,
                interface=ctx.interface,
                slack_channel=ctx.slack_channel,
                slack_thread=ctx.slack_thread,
                timeout=timeout,
            )
        )
        if waiting.created:
            ctx.did(f"asked {d.owner or 'nobody'} to approve dropping {d.key}")
        log.info("drop_bugs.asked", release=ctx.release, issue=d.key, approval=waiting.approval_id)
        asked.append((d, waiting, mention))
    return asked


async def announce(
    ctx: ReleaseContext,
    *,
    dropped: Sequence[str],
    asked: Sequence[tuple[Decision, WaitingDrop, str]],
    kept_cve: Sequence[str],
) -> str | None:
    """Tell the QE release channel (never fails the command); what became of it."""
    channel = ctx.config.qe_release_channel()
    notifier = ctx.ports.notifier
    text = channel_message(
        release=ctx.release,
        group=await notifier.group_mention(ctx.config.qe_leads_group()),
        jira_url=ctx.settings.jira_url,
        konflux=ctx.config.is_konflux,
        dropped=dropped,
        asked=[(d.key, mention, w.approval_id) for d, w, mention in asked],
        kept_cve=kept_cve,
    )
    if not text:
        return None
    delivery = await notifier.summary(channel, text, source=f"drop-bugs:{ctx.release}")
    if delivery.ok:
        return f"announced in {channel}"
    return f"the announcement to {channel} failed: {delivery.error}"


def approvers(config: ConfigStore) -> Approvers:
    """Who approves docs and prodsec, from ``contacts.slack.approver``."""
    contact = config.slack_contact("approver")
    return Approvers(
        channel=str(contact.get("channel")),
        doc_group=str(contact.get("doc_id", "")),
        prodsec=tuple(config.prodsec_approvers()),
    )


async def ask_approvers(ctx: ReleaseContext, reapproval: Reapproval) -> str:
    """Tell the doc and prodsec approvers; what became of it."""
    return await tell_approvers(
        ctx.ports.notifier,
        approvers(ctx.config),
        release=ctx.release,
        reapproval=reapproval,
        source=f"drop-bugs:{ctx.release}",
    )


async def drop_bugs_command(
    ctx: ReleaseContext,
    *,
    dry_run: bool = False,
    approval_timeout: float = DEFAULT_APPROVAL_TIMEOUT,
) -> Outcome:
    """Drop the release's unverified bugs (see the module's docstring)."""
    if not 0 < approval_timeout <= MAX_TIMEOUT:
        raise InvalidArgumentError(
            "--approval-timeout",
            f"{approval_timeout:g} is not more than 0 and at most {MAX_TIMEOUT:g} s (30 days)",
        )
    config, ports = ctx.config, ctx.ports
    konflux = config.is_konflux
    shipment_mr = config.shipment_mr() if konflux else None
    if not dry_run:  # nothing changes until every credential that changes something works
        await ctx.prove(
            *(("errata", "gitlab", "jira") if konflux else ("errata", "jira")),
            advisories=advisory_impetuses(config.advisories()),
        )
    _, fetched = await release_bugs(
        ports.errata,
        ports.jira,
        config.advisories(),
        gitlab=ports.gitlab if konflux else None,
        shipment_mr=shipment_mr,
    )
    decided = plan(fetched.bugs, await ports.drops.recorded(ctx.release))
    if dry_run:
        log.info("drop_bugs.dry_run", release=ctx.release, bugs=len(decided.decisions))
        return dry_run_outcome(decided, fetched.unreadable)

    to_drop = decided.of(Fate.DROP)
    dropped = Dropped(places={})
    if to_drop:
        dropped = await drop_bugs(
            errata=ports.errata,
            gitlab=ports.gitlab if konflux else None,
            release=ctx.release,
            shipment_mr=shipment_mr,
            attachments=[_attachment(d.bug) for d in to_drop],
            now=datetime.now(UTC),
            done=ctx.did,
        )
    places = dropped.places
    for d in to_drop:  # every key (the original logged only the last one)
        log.info("drop_bugs.dropped", release=ctx.release, issue=d.key, places=places[d.key])
    asked = await ask_owners(ctx, decided.of(Fate.ASK), timeout=approval_timeout)
    started = None
    for _, waiting, _ in asked:  # one worker started serves every queued drop
        started = await ports.drops.keep_alive(waiting.follow_id)
        if started:
            break
    kept_cve = [d.key for d in decided.of(Fate.KEEP) if Severity.CVE_TRACKER in d.bug.severity]
    announced = await announce(
        ctx, dropped=[d.key for d in to_drop if places.get(d.key)], asked=asked, kept_cve=kept_cve
    )
    reapproval = dropped.reapproval
    if reapproval.doc or reapproval.prodsec:
        announced = "; ".join(
            part for part in (announced, await ask_approvers(ctx, reapproval)) if part
        )

    lines = []
    for d in decided.decisions:
        removed = f" from {', '.join(places[d.key])}" if places.get(d.key) else ""
        lines.append(describe(d, dry_run=False) + removed)
    lines += [f"approval {w.approval_id} asks {w.owner or 'nobody'}" for _, w, _ in asked]
    if fetched.unreadable:
        lines.append(f"not readable in Jira (left alone): {', '.join(fetched.unreadable)}")
    lines += [line for line in (started, announced) if line]
    waiting_now = [(d, w) for d, w, _ in asked] + [
        (d, d.waiting) for d in decided.of(Fate.WAITING) if d.waiting is not None
    ]
    undecided = [w for _, w in waiting_now if w.pending]
    data: dict[str, JSON] = {
        "dry_run": False,
        "dropped": [_entry(d, removed_from=list(places.get(d.key, []))) for d in to_drop],
        "waiting": [_entry(d, approval_id=w.approval_id) for d, w in waiting_now],
        "kept": [_entry(d) for d in decided.of(Fate.KEEP)],
        "unreadable": list(fetched.unreadable),
        "doc_approval_requested": list(reapproval.doc),
        "prodsec_approval_requested": list(reapproval.prodsec),
    }
    if reapproval.text():
        lines.append(reapproval.text())
    message = "\n".join(lines) or "no unverified bug: nothing to drop"
    if undecided:  # the last drop follow to act on a decision passes the run
        return Outcome.in_progress(message, data=data)
    return Outcome.passed(message, data=data)
