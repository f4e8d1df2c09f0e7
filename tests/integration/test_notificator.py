"""The notificator's run on the fake Jira, directory and GitHub labels, with a real database
(SQLite and PostgreSQL): each step posted once also by overlapping runs, a dry run writes
nothing, a failed post is retried by the next run, one bad bug never stops the others, a
pre-merge verified bug is skipped and a pre-merge check that fails is reported."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from oar.agents.escalation import ERT_NOTIFICATION_PREFIX, PENDING_LABEL, Tier
from oar.agents.escalationlog import ClaimStatus, EscalationLog
from oar.agents.notificator import PRE_MERGE_OFF, Notificator, NotificatorConfig
from oar.db import Database
from oar.errors import IntegrationUnavailableError
from oar.integrations.fakes.github import FakePullRequestLabels
from oar.integrations.fakes.jira import FakeJira
from oar.integrations.github import PullRequestLabels
from oar.integrations.jira import JiraComment, RemoteLink
from oar.sandbox.jira import NOTIFICATOR_TARGET_VERSION, PRE_MERGE_VERIFIED, seed_jira
from oar.sandbox.ldap import seed_directory
from oar.sandbox.releasetests import PULL_REQUEST_LABELS

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)  # a Monday
CONFIG = NotificatorConfig(target_versions=(NOTIFICATOR_TARGET_VERSION, "4.19.z"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url) as database:
        await database.upgrade()
        yield database


def ert_comments(jira: FakeJira) -> Counter[tuple[str, str]]:
    """(bug, first line) of every ERT comment: a duplicate post shows as a count of 2."""
    return Counter(
        (key, c.body.splitlines()[0])
        for key, issue in jira.issues.items()
        for c in issue.comments
        if c.body.startswith(ERT_NOTIFICATION_PREFIX)
    )


def notificator(
    jira: FakeJira, db: Database, pulls: PullRequestLabels | None = None
) -> Notificator:
    return Notificator(
        jira=jira,
        directory=seed_directory(),
        pulls=pulls,
        log=EscalationLog(db),
        config=CONFIG,
        clock=lambda: NOW,
    )


async def test_dry_run_then_overlapping_runs_post_each_step_once(db: Database) -> None:
    jira = seed_jira()
    jira.clock = lambda: NOW
    before = dict(jira.issues)
    plan = await notificator(jira, db).run(dry_run=True)
    assert jira.issues == before, "a dry run changed Jira"
    assert await EscalationLog(db).steps() == [], "a dry run claimed steps"
    planned = {(p["key"], p["tier"]) for p in plan.posted}
    assert ("OCPBUGS-47001", "team_lead") in planned
    assert ("OCPBUGS-47002", "manager") in planned
    assert ("OCPBUGS-47003", "label") in planned
    assert ("OCPBUGS-50004", "assignee") in planned
    assert [f["key"] for f in plan.failed] == ["OCPBUGS-47004"]
    # No GitHub port: the pre-merge check is off, said once, and its bug is chased.
    assert plan.notes == [PRE_MERGE_OFF]
    assert (PRE_MERGE_VERIFIED, "qa_contact") in planned
    assert [r.dry_run for r in await EscalationLog(db).runs()] == [True]

    counts_before = ert_comments(jira)
    first, second = await asyncio.gather(notificator(jira, db).run(), notificator(jira, db).run())
    posted = [(p["key"], p["tier"]) for p in first.posted + second.posted]
    assert sorted(posted) == sorted(planned), "overlapping runs posted a step twice or missed one"
    new = ert_comments(jira) - counts_before
    assert all(n == 1 for n in new.values())
    assert PENDING_LABEL in jira.issues["OCPBUGS-47003"].labels
    manager = jira.issues["OCPBUGS-47002"]
    assert [u.display_name for u in manager.need_info_from] == ["Morgan Lead"]
    assert "[~accountId:557058:lead-0001] Please prioritize" in manager.comments[-1].body
    steps = await EscalationLog(db).steps()
    assert {(s.issue_key, s.tier.value) for s in steps} == planned
    assert {s.status for s in steps} == {ClaimStatus.POSTED}
    for run in (first, second):
        assert [f["key"] for f in run.failed] == ["OCPBUGS-47004"]

    again = await notificator(jira, db).run()
    assert again.posted == []
    assert ert_comments(jira) == counts_before + new


class FlakyJira(FakeJira):
    """Jira refusing comments on one bug (an outage that outlasted the retries)."""

    broken: str = ""

    async def add_comment(self, key: str, body: str) -> JiraComment:
        if key == self.broken:
            raise IntegrationUnavailableError("Jira", "HTTP 503: down (after 4 attempts)")
        return await super().add_comment(key, body)


async def test_a_failed_post_is_reported_and_retried_by_the_next_run(db: Database) -> None:
    seeded = seed_jira()
    jira = FlakyJira(**{f.name: getattr(seeded, f.name) for f in dataclasses.fields(seeded)})
    jira.broken = "OCPBUGS-50001"
    run = await notificator(jira, db).run()
    assert {
        "key": "OCPBUGS-50001",
        "reason": "Jira: HTTP 503: down (after 4 attempts)",
    } in run.failed
    assert ("OCPBUGS-50002", "qa_contact") in {(p["key"], p["tier"]) for p in run.posted}
    (claim,) = await EscalationLog(db).steps(["OCPBUGS-50001"])
    assert (claim.tier, claim.status) == (Tier.QA_CONTACT, ClaimStatus.FAILED)
    assert run.status == "partial"

    jira.broken = ""
    retried = await notificator(jira, db).run()
    assert [(p["key"], p["tier"]) for p in retried.posted] == [("OCPBUGS-50001", "qa_contact")]
    (claim,) = await EscalationLog(db).steps(["OCPBUGS-50001"])
    assert claim.status is ClaimStatus.POSTED


class LosingJira(FakeJira):
    """Jira that posts the comment but whose answer is lost (a timeout after the write)."""

    lose: str = ""

    async def add_comment(self, key: str, body: str) -> JiraComment:
        comment = await super().add_comment(key, body)
        if key == self.lose:
            raise IntegrationUnavailableError("Jira", "read timed out (after 4 attempts)")
        return comment


async def test_a_lost_answer_is_settled_and_an_abandoned_claim_taken_over(db: Database) -> None:
    seeded = seed_jira()
    jira = LosingJira(**{f.name: getattr(seeded, f.name) for f in dataclasses.fields(seeded)})
    jira.clock = lambda: NOW
    jira.lose = "OCPBUGS-50001"
    escalations = EscalationLog(db)
    # A run that died after claiming OCPBUGS-50002's step, an hour ago.
    dead_run = await escalations.start_run(trigger="cli", dry_run=False, now=NOW)
    cycle = "2026-11-18T15:30:00Z"  # when OCPBUGS-50002 entered ON_QA
    await escalations.claim(
        "OCPBUGS-50002", cycle, Tier.QA_CONTACT, run_id=dead_run, now=NOW.replace(hour=11)
    )

    first = await notificator(jira, db).run()
    assert "OCPBUGS-50001" in {f["key"] for f in first.failed}
    taken = {(p["key"], p["tier"]) for p in first.posted}
    assert ("OCPBUGS-50002", "qa_contact") in taken, "the abandoned claim was not taken over"

    jira.lose = ""
    second = await notificator(jira, db).run()
    assert "OCPBUGS-50001" not in {p["key"] for p in second.posted}
    (settled,) = await escalations.steps(["OCPBUGS-50001"])
    assert settled.status is ClaimStatus.POSTED
    assert set(ert_comments(jira).values()) == {1}


async def test_a_pre_merge_verified_bug_is_skipped_and_a_failed_check_reported(
    db: Database,
) -> None:
    jira = seed_jira()
    jira.clock = lambda: NOW
    # OCPBUGS-47001's pull request (origin#29002) is unknown to GitHub: its labels fail.
    labels = {k: v for k, v in PULL_REQUEST_LABELS.items() if k != ("openshift/origin", 29002)}
    pulls = FakePullRequestLabels(labels)
    skipped = {"key": PRE_MERGE_VERIFIED, "reason": "pre-merge verified (openshift/origin#29001)"}
    warning = {
        "key": "OCPBUGS-47001",
        "reason": "pre-merge check failed (openshift/origin#29002: GitHub: no pull request"
        " openshift/origin#29002); chased as not verified",
    }

    plan = await notificator(jira, db, pulls).run(dry_run=True)
    assert skipped in plan.skipped
    assert PRE_MERGE_VERIFIED not in {p["key"] for p in plan.posted}
    assert plan.notes == []

    run = await notificator(jira, db, pulls).run()
    assert skipped in run.skipped
    assert run.warnings == [warning]
    posted = {(p["key"], p["tier"]) for p in run.posted}
    assert PRE_MERGE_VERIFIED not in {key for key, _ in posted}
    assert {
        ("OCPBUGS-47001", "team_lead"),  # chased despite the failed check
        ("OCPBUGS-47002", "manager"),
        ("OCPBUGS-47003", "label"),
        ("OCPBUGS-50001", "qa_contact"),
    } <= posted
    assert await EscalationLog(db).steps([PRE_MERGE_VERIFIED]) == [], "a skipped bug got a tier"
    assert jira.issues[PRE_MERGE_VERIFIED].comments == ()
    (bug,) = [b for b in run.bugs if b["key"] == PRE_MERGE_VERIFIED]
    assert bug["pre_merge"] == skipped["reason"]
    assert run.status == "partial"  # OCPBUGS-47004 (nobody to ask), not the warning
    assert [f["key"] for f in run.failed] == ["OCPBUGS-47004"]


class LinklessJira(FakeJira):
    """Jira whose remote links of one bug cannot be read (an outage past the retries)."""

    broken: str = ""

    async def remote_links(self, key: str) -> list[RemoteLink]:
        if key == self.broken:
            raise IntegrationUnavailableError("Jira", "HTTP 503: down (after 4 attempts)")
        return await super().remote_links(key)


async def test_remote_links_that_cannot_be_read_chase_the_bug_and_say_why(db: Database) -> None:
    seeded = seed_jira()
    jira = LinklessJira(**{f.name: getattr(seeded, f.name) for f in dataclasses.fields(seeded)})
    jira.clock = lambda: NOW
    jira.broken = PRE_MERGE_VERIFIED
    run = await notificator(jira, db, FakePullRequestLabels(PULL_REQUEST_LABELS)).run()
    assert (PRE_MERGE_VERIFIED, "qa_contact") in {(p["key"], p["tier"]) for p in run.posted}
    assert run.warnings == [
        {
            "key": PRE_MERGE_VERIFIED,
            "reason": "pre-merge check failed (remote links: Jira: HTTP 503: down (after 4"
            " attempts)); chased as not verified",
        }
    ]
