"""The Jira notificator: chase the ON_QA bugs of the active z-streams through their QA
contact, team lead and manager (``oarctl jira-notificator`` and the ``jira-notificator``
schedule).

One run: search Jira (the Cloud ``/search/jql`` endpoint, every page, with changelogs), then
for each bug work out the step due (:mod:`oar.agents.escalation`), skip it when its pull
requests were verified before they merged (:mod:`oar.agents.premerge`, read from the bug's
remote links and GitHub's labels), claim it in the database
(:mod:`oar.agents.escalationlog`), post it, record it. A bug that fails is reported in the
run's summary with the reason and the others are still processed; Jira's rate limits and
outages are retried by the adapters within bounds (``Retry-After`` honoured) and what still
fails is reported. A dry run writes nothing anywhere but its own run record: no comment, no
label, no Need Info From, no claim; its summary is the plan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from oar.agents import escalation, premerge
from oar.agents.escalation import (
    PENDING_LABEL,
    EscalationError,
    Notification,
    People,
    Stalled,
    Step,
    Tier,
)
from oar.agents.escalationlog import ClaimOutcome, ClaimStatus, EscalationLog, StepRecord
from oar.errors import IntegrationError, OarError
from oar.integrations.github import PullRequestLabels
from oar.integrations.jira import Jira, JiraIssue, JiraUser
from oar.integrations.ldap import Directory
from oar.jsonvalue import JSON
from oar.logs import get_logger

if TYPE_CHECKING:
    from oar.db import Database
    from oar.engine.schedules import ScheduleRegistry, ScheduleRun
    from oar.settings import Settings

log = get_logger(__name__)

SCHEDULE_NAME = "jira-notificator"
PRE_MERGE_OFF = (
    "pre-merge check off: GITHUB_TOKEN is not set, so no bug is skipped as pre-merge verified"
)


@dataclass(frozen=True, kw_only=True)
class NotificatorConfig:
    target_versions: tuple[str, ...]
    zone: tzinfo = UTC
    stale_after: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> NotificatorConfig:
        from zoneinfo import ZoneInfo

        return cls(
            target_versions=settings.jira_notificator_versions,
            zone=ZoneInfo(settings.jira_notificator_timezone),
        )


@dataclass(kw_only=True)
class RunSummary:
    """What a run did (or, dry, would do); stored as the run record's summary."""

    run_id: int
    dry_run: bool
    trigger: str
    jql: str
    started_at: datetime
    tick: str | None = None  # the schedule tick's workflow ID
    finished_at: datetime | None = None
    posted: list[dict[str, JSON]] = field(default_factory=list)  # or planned, when dry
    waiting: list[dict[str, JSON]] = field(default_factory=list)
    skipped: list[dict[str, JSON]] = field(default_factory=list)
    failed: list[dict[str, JSON]] = field(default_factory=list)
    # Bugs handled, but with a problem worth knowing (a pre-merge check that failed).
    warnings: list[dict[str, JSON]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the whole run, once each
    bugs: list[dict[str, JSON]] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        return "partial" if self.failed else "succeeded"

    def to_dict(self) -> dict[str, JSON]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "trigger": self.trigger,
            "tick": self.tick,
            "status": self.status,
            "jql": self.jql,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "posted": list(self.posted),
            "waiting": list(self.waiting),
            "skipped": list(self.skipped),
            "failed": list(self.failed),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "bugs": list(self.bugs),
            "error": self.error,
        }


def _user(user: JiraUser | None) -> dict[str, JSON] | None:
    if user is None:
        return None
    return {"account_id": user.account_id, "name": user.display_name}


class Notificator:
    """One run at a time per call of :meth:`run`; ports and clock injected.

    ``pulls`` reads pull requests' labels for the pre-merge check; None (no GitHub
    credentials) turns the check off, as the original did without ``GITHUB_TOKEN``.
    """

    def __init__(
        self,
        *,
        jira: Jira,
        directory: Directory,
        log: EscalationLog,
        config: NotificatorConfig,
        pulls: PullRequestLabels | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.jira = jira
        self.directory = directory
        self.pulls = pulls
        self.log = log
        self.config = config
        self.clock = clock

    async def run(
        self,
        *,
        dry_run: bool = False,
        from_date: date | None = None,
        trigger: str = "cli",
        tick: str | None = None,
    ) -> RunSummary:
        """Search, decide, post (or plan); the summary lists every bug's outcome."""
        jql = escalation.on_qa_jql(self.config.target_versions, from_date)
        started = self.clock()
        run_id = await self.log.start_run(trigger=trigger, dry_run=dry_run, now=started)
        summary = RunSummary(
            run_id=run_id,
            dry_run=dry_run,
            trigger=trigger,
            jql=jql,
            started_at=started,
            tick=tick,
        )
        if self.pulls is None:
            summary.notes.append(PRE_MERGE_OFF)
        log.info(
            "notificator.started",
            run_id=run_id,
            dry_run=dry_run,
            trigger=trigger,
            pre_merge_check=self.pulls is not None,
        )
        try:
            issues = await self.jira.search(jql, changelog=True)
            steps = await self.log.steps([i.key for i in issues])
            for issue in issues:
                await self._one(issue, [s for s in steps if s.issue_key == issue.key], summary)
        except IntegrationError as exc:  # the search itself failed, after its retries
            summary.error = exc.message
            log.warning("notificator.search_failed", run_id=run_id, error=exc.message)
        summary.finished_at = self.clock()
        await self.log.finish_run(
            run_id, status=summary.status, summary=summary.to_dict(), now=summary.finished_at
        )
        log.info(
            "notificator.finished",
            run_id=run_id,
            status=summary.status,
            posted=len(summary.posted),
            failed=len(summary.failed),
            warnings=len(summary.warnings),
        )
        return summary

    async def _one(self, issue: JiraIssue, steps: list[StepRecord], summary: RunSummary) -> None:
        """One bug; whatever goes wrong with it is reported, never raised."""
        try:
            await self._escalate(issue, steps, summary)
        except (OarError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, EscalationError) else str(exc)
            summary.failed.append({"key": issue.key, "reason": reason})
            log.warning("notificator.issue_failed", key=issue.key, reason=reason)
        except Exception as exc:  # a defect must not cost the other bugs their turn
            reason = f"unexpected {type(exc).__name__}: {exc}"
            summary.failed.append({"key": issue.key, "reason": reason})
            log.exception("notificator.issue_crashed", key=issue.key)

    async def _escalate(
        self, issue: JiraIssue, steps: list[StepRecord], summary: RunSummary
    ) -> None:
        now = self.clock()
        on_qa = escalation.entered_on_qa(issue.status_changes)
        bug: dict[str, JSON] = {
            "key": issue.key,
            "summary": issue.summary,
            "target_versions": list(issue.target_versions),
            "qa_contact": _user(issue.qa_contact),
            "assignee": _user(issue.assignee),
            "on_qa_since": on_qa.isoformat() if on_qa else None,
        }
        summary.bugs.append(bug)
        if on_qa is None:
            raise EscalationError(issue.key, "its changelog has no transition to ON_QA")
        cycle = escalation.cycle_of(on_qa)
        in_comments = escalation.notified_in_comments(issue.comments, on_qa)
        recorded = {
            s.tier: s.posted_at
            for s in steps
            if s.cycle == cycle and s.status is ClaimStatus.POSTED and s.posted_at is not None
        }
        if not summary.dry_run:  # a claim the comments show as posted was (a lost response)
            for s in steps:
                if (
                    s.cycle == cycle
                    and s.status is not ClaimStatus.POSTED
                    and s.tier in in_comments
                ):
                    await self.log.settle(issue.key, cycle, s.tier, at=in_comments[s.tier])
        notified = escalation.merge_dates(in_comments, recorded)
        step = escalation.next_step(
            on_qa=on_qa, notified=notified, labels=issue.labels, now=now, zone=self.config.zone
        )
        bug["notified"] = {t.value: at.isoformat() for t, at in notified.items()}
        bug["due"] = step.tier.value if step.tier else None
        if step.remove_label:
            await self._set_labels(issue, [x for x in issue.labels if x != PENDING_LABEL], summary)
        if step.tier is None:
            summary.waiting.append({"key": issue.key, "reason": step.reason})
            return
        # Checked only for a bug with a step due: a bug that waits costs no GitHub call.
        if self.pulls is not None:
            verdict = await self._pre_merge(issue.key, self.pulls)
            bug["pre_merge"] = verdict.reason
            if verdict.problem is not None:
                summary.warnings.append({"key": issue.key, "reason": verdict.problem})
                log.warning(
                    "notificator.pre_merge_check_failed", key=issue.key, reason=verdict.problem
                )
            if verdict.verified:  # nothing posted, nothing claimed: no step recorded
                summary.skipped.append({"key": issue.key, "reason": verdict.reason})
                return
        if step.tier is Tier.LABEL:
            await self._label(issue, cycle, summary)
            return
        # Posted fallbacks only: a failed or abandoned claim is the claim's to settle.
        asked = frozenset(
            s.tier for s in steps if s.cycle == escalation.ONCE and s.status is ClaimStatus.POSTED
        )
        people = await self._people(issue, step)
        planned = escalation.compose(
            issue.key, step.tier, cycle=cycle, people=people, comments=issue.comments, asked=asked
        )
        if isinstance(planned, Stalled):
            summary.skipped.append({"key": issue.key, "reason": planned.reason})
            return
        await self._post(issue, planned, summary)

    async def _pre_merge(self, key: str, pulls: PullRequestLabels) -> premerge.Verdict:
        """The bug's pull requests (its remote links) and their labels, read up to the first
        that settles it; an error is part of the verdict, never raised."""
        try:
            links = await self.jira.remote_links(key)
        except IntegrationError as exc:
            return premerge.check_failed(f"remote links: {exc.message}")
        urls = [link.url for link in links]
        labels: dict[premerge.PullRequest, list[str]] = {}
        unreadable: dict[premerge.PullRequest, str] = {}
        for pr in premerge.pull_requests(urls):
            try:
                labels[pr] = await pulls.labels(pr.repo, pr.number)
            except IntegrationError as exc:
                unreadable[pr] = exc.message
                continue
            if not premerge.passes(labels[pr]):
                break  # settled: not verified, whatever the others say
        return premerge.verdict(urls, labels, unreadable=unreadable)

    async def _people(self, issue: JiraIssue, step: Step) -> People:
        """The bug's people, and the managers the step may need (LDAP, then Jira)."""
        tier = step.tier or Tier.QA_CONTACT
        people = People(
            qa_contact=issue.qa_contact, assignee=issue.assignee, reporter=issue.reporter
        )
        if escalation.needs_qa_manager(tier, people):
            people = dataclasses.replace(people, qa_manager=await self._manager(issue.qa_contact))
        if escalation.needs_assignee_manager(tier, people):
            people = dataclasses.replace(
                people, assignee_manager=await self._manager(issue.assignee)
            )
        return people

    async def _manager(self, user: JiraUser | None) -> JiraUser | None:
        """The manager's Jira account: LDAP's ``manager`` of the person's email, then an
        exact email match among Jira's users (the original's lookup)."""
        if user is None or not user.email:
            return None
        manager = await self.directory.manager_of(user.email)
        if manager is None or not manager.email:
            return None
        wanted = manager.email.casefold()
        for found in await self.jira.find_users(manager.email):
            if (found.email or "").casefold() == wanted:
                return found
        return None

    async def _post(self, issue: JiraIssue, planned: Notification, summary: RunSummary) -> None:
        entry: dict[str, JSON] = {
            "key": issue.key,
            "tier": planned.tier.value,
            "instead_of": planned.instead_of.value if planned.instead_of else None,
            "mentions": [_user(u) for u in planned.users],
            "text": planned.text,
        }
        if summary.dry_run:
            summary.posted.append(entry)
            return
        now = self.clock()
        outcome, claim_id = await self.log.claim(
            issue.key, planned.cycle, planned.tier, run_id=summary.run_id, now=now
        )
        if outcome is not ClaimOutcome.CLAIMED or claim_id is None:
            why = "already posted" if outcome is ClaimOutcome.DONE else "another run is posting it"
            summary.skipped.append({"key": issue.key, "reason": f"{planned.tier.value}: {why}"})
            return
        try:
            comment = await self.jira.add_comment(issue.key, planned.text)
        except IntegrationError as exc:
            await self.log.failed(claim_id, error=exc.message)
            raise
        await self.log.posted(
            claim_id,
            at=comment.created,
            mentioned=[u.account_id for u in planned.users],
            comment_id=comment.id,
        )
        summary.posted.append(entry)
        log.info(
            "notificator.posted", key=issue.key, tier=planned.tier.value, run_id=summary.run_id
        )
        # Need Info From: who is asked, added to whoever already is (after the comment: a
        # failure here is reported, and the comment is not posted again).
        have = [u.account_id for u in issue.need_info_from]
        wanted = have + [u.account_id for u in planned.users if u.account_id not in have]
        if wanted != have:
            try:
                await self.jira.set_need_info_from(issue.key, wanted)
            except IntegrationError as exc:
                raise EscalationError(
                    issue.key, f"commented, but Need Info From not updated: {exc.message}"
                ) from exc

    async def _label(self, issue: JiraIssue, cycle: str, summary: RunSummary) -> None:
        entry: dict[str, JSON] = {
            "key": issue.key,
            "tier": Tier.LABEL.value,
            "label": PENDING_LABEL,
        }
        if summary.dry_run:
            summary.posted.append(entry)
            return
        outcome, claim_id = await self.log.claim(
            issue.key, cycle, Tier.LABEL, run_id=summary.run_id, now=self.clock()
        )
        if outcome is not ClaimOutcome.CLAIMED or claim_id is None:
            summary.skipped.append({"key": issue.key, "reason": "label: already handled"})
            return
        try:
            await self.jira.set_labels(issue.key, [*issue.labels, PENDING_LABEL])
        except IntegrationError as exc:
            await self.log.failed(claim_id, error=exc.message)
            raise
        await self.log.posted(claim_id, at=self.clock())
        summary.posted.append(entry)

    async def _set_labels(self, issue: JiraIssue, labels: list[str], summary: RunSummary) -> None:
        """Back in ON_QA: the pending label goes (the original did it even when dry)."""
        if summary.dry_run:
            summary.posted.append({"key": issue.key, "tier": "unlabel", "label": PENDING_LABEL})
            return
        await self.jira.set_labels(issue.key, labels)


# --- composition: the command and the schedule -----------------------------------------------


async def run_once(
    settings: Settings,
    db: Database,
    *,
    dry_run: bool = False,
    from_date: date | None = None,
    trigger: str = "cli",
    tick: str | None = None,
) -> RunSummary:
    """One run on the real adapters (Jira Cloud, LDAP) configured by ``settings``.

    Jira's credentials are checked before anything is written (ConfigurationError).
    """
    from oar.integrations.github import GitHubPullRequestLabels
    from oar.integrations.jira import JiraClient
    from oar.integrations.ldap import LdapDirectory

    jira = JiraClient.from_settings(settings)
    # Without GITHUB_TOKEN the pre-merge check is off (the summary says so), as the original.
    pulls = GitHubPullRequestLabels.from_settings(settings) if settings.github_token else None
    async with jira:
        notificator = Notificator(
            jira=jira,
            directory=LdapDirectory.from_settings(settings),
            pulls=pulls,
            log=EscalationLog(db),
            config=NotificatorConfig.from_settings(settings),
        )
        return await notificator.run(
            dry_run=dry_run, from_date=from_date, trigger=trigger, tick=tick
        )


def register_schedule(registry: ScheduleRegistry, settings: Settings, db: Database) -> None:
    """The ``jira-notificator`` schedule: on at OAR_JIRA_NOTIFICATOR_INTERVAL, else off
    (``OAR_SCHEDULES=jira-notificator=1h`` turns it on too)."""

    async def jira_notificator(run: ScheduleRun) -> dict[str, JSON]:
        """Chase ON_QA bugs: QA contact, team lead, manager, then the pending label."""

        async def once() -> dict[str, JSON]:
            summary = await run_once(settings, db, trigger="schedule", tick=run.workflow_id)
            return {
                "run_id": summary.run_id,
                "status": summary.status,
                "posted": len(summary.posted),
                "failed": len(summary.failed),
                "warnings": len(summary.warnings),
                "error": summary.error,
            }

        # One step: a worker killed mid-run runs it again when the tick resumes, and the
        # claims (not the step) keep every escalation from being posted twice.
        result: dict[str, JSON] = await run.step("notify", once)
        return result

    interval = settings.jira_notificator_interval
    registry.register(
        SCHEDULE_NAME,
        jira_notificator,
        every=interval if interval and not _is_cron(interval) else (None if interval else "1h"),
        cron=interval if interval and _is_cron(interval) else None,
        enabled=interval is not None,
    )


def _is_cron(text: str) -> bool:
    return len(text.split()) >= 5


# --- what the dashboard shows -------------------------------------------------------------


async def on_qa_board(log: EscalationLog, target_version: str) -> dict[str, JSON]:
    """The ON_QA bugs of one target version (``4.19.z``) as the latest real run saw them,
    each with the steps recorded for its current stay in ON_QA."""
    runs = await log.runs(limit=1, dry_run=False)
    latest = runs[0] if runs else None
    summary = (latest.summary or {}) if latest else {}
    bugs = [
        dict(b)
        for b in summary.get("bugs") or []
        if target_version in (b.get("target_versions") or [])
    ]
    steps = await log.steps([str(b["key"]) for b in bugs]) if bugs else []
    for bug in bugs:
        since = bug.get("on_qa_since")
        cycle = escalation.cycle_of(datetime.fromisoformat(str(since))) if since else None
        mine = [
            s for s in steps if s.issue_key == bug["key"] and s.cycle in (cycle, escalation.ONCE)
        ]
        bug["steps"] = [s.to_dict() for s in mine]
        posted = [s.tier for s in mine if s.status is ClaimStatus.POSTED]
        ladder = [t for t in (*escalation.LADDER, Tier.LABEL) if t in posted]
        bug["state"] = ladder[-1].value if ladder else ("fallback" if posted else "none")
    run: dict[str, JSON] | None = None
    if latest is not None:
        run = {
            "id": latest.id,
            "status": latest.status,
            "trigger": latest.trigger,
            "started_at": latest.started_at.isoformat(),
            "finished_at": latest.finished_at.isoformat() if latest.finished_at else None,
        }
    shown: list[JSON] = list(bugs)
    return {"target_version": target_version, "run": run, "bugs": shown}
