"""``drop-bugs``' rules on fake ports: which bugs are dropped, which wait for their owner's
approval, which are kept; the Errata and Konflux drops; ``--dry-run``; the shipment edit;
the ``bug-drop`` follow's decisions. No database, no network.

The fakes hold the sandbox's release (4.19.3 on Konflux, 4.18.40 on errata) with its mix
of bugs (seed.BUGS): plain ON_QA ones, a Verified one, CVE trackers, critical and
customer-case bugs, one only in the shipment YAML.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oar.engine.approvals import ApprovalInfo, ApprovalStatus, Resolution
from oar.errors import (
    CredentialsRefusedError,
    IntegrationAuthError,
    InvalidArgumentError,
    ShipmentEditError,
)
from oar.integrations.fakes import FakeErrata, FakeGitLab, FakeJira, FakeNotifier
from oar.release.bugs import Bug
from oar.release.checklist import TaskStatus
from oar.release.commands import command
from oar.release.commands.drop import Fate, channel_message, drop_bugs_command, plan
from oar.release.dropapprovals import BugDropKind, WaitingDrop, approval_message
from oar.release.drops import attachment_data
from oar.release.follows import Check, FollowInfo, FollowStatus
from oar.release.shipments import fixed_issues, without_issues
from oar.release.tracking import ReleaseContext
from oar.release.versions import ReleaseVersion
from oar.sandbox import seed
from oar.sandbox.errata import seed_errata
from oar.sandbox.gitlab import SHIPMENT_BRANCH, SHIPMENT_FILE, seed_gitlab
from oar.sandbox.jira import seed_jira
from oar.testing.release import FakeDrops, fake_ports
from tests.unit.release_world import running_follow, seed_context

JIRA_URL = "https://jira.example.com"
LEADS = {"4.19-qe-leads": "S0419QELDS", "4.18-qe-leads": "S0418QELDS"}
USERS = {p.email: p.slack_user_id for p in seed.PEOPLE}
QE_RELEASE = "#team-qe-release"
KONFLUX = seed.ADVISORIES[seed.RELEASE]
ERRATA = seed.ADVISORIES[seed.ERRATA_RELEASE]
DROP_TITLE = f"{seed.RELEASE} drop bugs"


def bug(**changes: Any) -> Bug:
    base = Bug(key="OCPBUGS-1", summary="a bug", status="ON_QA", priority="Major")
    return dataclasses.replace(base, **changes)


def waiting(key: str, decision: str | None = None) -> WaitingDrop:
    return WaitingDrop(
        bug=key,
        approval_id=f"a-{key}",
        follow_id=f"drop-bug:4.19.3:{key}",
        owner="qa@example.com",
        decision=decision,
        decided_by="slack:U1" if decision else None,
    )


# --- the plan (pure) ----------------------------------------------------------------------------
def test_each_unverified_bug_gets_its_fate() -> None:
    bugs = [
        bug(key="OCPBUGS-1"),
        bug(key="OCPBUGS-2", status="Verified", priority="Blocker"),
        bug(key="OCPBUGS-3", status="Release Pending"),
        bug(key="OCPBUGS-4", status="MODIFIED"),
        bug(key="OCPBUGS-5", summary="CVE-2026-1 golang", priority="Blocker"),
        bug(key="OCPBUGS-6", priority="Critical"),
        bug(key="OCPBUGS-7", labels=("TestBlocker",)),
        bug(key="OCPBUGS-8", sfdc_cases_counter=1.0),
        bug(key="OCPBUGS-9", release_blocker="Proposed"),
        bug(key="OCPBUGS-10", status="POST", sfdc_cases_links="https://case"),
    ]
    fates = {d.key: d.fate for d in plan(bugs, {}).decisions}
    assert fates == {
        "OCPBUGS-1": Fate.DROP,
        "OCPBUGS-4": Fate.DROP,  # MODIFIED and POST are unverified too (§4.3)
        "OCPBUGS-5": Fate.KEEP,  # a CVE tracker is kept, even when critical
        "OCPBUGS-6": Fate.ASK,
        "OCPBUGS-7": Fate.ASK,
        "OCPBUGS-8": Fate.ASK,
        "OCPBUGS-9": Fate.ASK,
        "OCPBUGS-10": Fate.ASK,
    }
    assert [d.key for d in plan(bugs, {}).decisions][-1] == "OCPBUGS-10"  # key order


def test_an_earlier_approval_decides_what_a_rerun_does() -> None:
    bugs = [bug(key=f"OCPBUGS-{n}", priority="Critical") for n in range(1, 6)]
    recorded = {
        "OCPBUGS-1": waiting("OCPBUGS-1"),
        "OCPBUGS-2": waiting("OCPBUGS-2", "rejected"),
        "OCPBUGS-3": waiting("OCPBUGS-3", "approved"),
        "OCPBUGS-4": waiting("OCPBUGS-4", "expired"),
    }
    recorded["OCPBUGS-5"] = dataclasses.replace(
        waiting("OCPBUGS-5", "approved"), acting=True
    )  # decided, its follow still dropping it
    decided = {d.key: d for d in plan(bugs, recorded).decisions}
    assert decided["OCPBUGS-1"].fate is Fate.WAITING  # never asked twice
    assert "waiting for approval a-OCPBUGS-1" in decided["OCPBUGS-1"].reason
    assert decided["OCPBUGS-2"].fate is Fate.KEEP  # rejected: kept, not asked again
    assert "rejected" in decided["OCPBUGS-2"].reason
    assert decided["OCPBUGS-3"].fate is Fate.DROP  # approved but still attached
    assert decided["OCPBUGS-4"].fate is Fate.ASK  # nobody answered: asked again
    assert "approval a-OCPBUGS-4 expired" in decided["OCPBUGS-4"].reason
    assert decided["OCPBUGS-5"].fate is Fate.WAITING  # not asked again, not dropped twice
    assert "approved by slack:U1, being carried out" in decided["OCPBUGS-5"].reason


def test_the_owner_is_the_qa_contact_else_the_assignee() -> None:
    with_qa = plan([bug(priority="Blocker", qa_contact="qa@x.com", assignee="dev@x.com")], {})
    without = plan([bug(priority="Blocker", assignee="dev@x.com")], {})
    assert with_qa.decisions[0].owner == "qa@x.com"
    assert without.decisions[0].owner == "dev@x.com"


def test_the_channel_message_keeps_the_original_wording() -> None:
    text = channel_message(
        release="4.18.40",
        group="<!subteam^S1>",
        jira_url=JIRA_URL,
        konflux=False,
        dropped=["OCPBUGS-1"],
        asked=[("OCPBUGS-2", "<@U2>", "a-2")],
        kept_cve=["OCPBUGS-3"],
    )
    assert text.startswith(
        "[4.18.40] Hello <!subteam^S1>, following bugs are dropped from advisories\n"
        f"<{JIRA_URL}/browse/OCPBUGS-1|OCPBUGS-1>\n"
    )
    assert f"<{JIRA_URL}/browse/OCPBUGS-2|OCPBUGS-2> <@U2> (approval a-2)\n" in text
    assert "CVE can not be dropped" in text
    konflux = channel_message(
        release="4.19.3",
        group="@g",
        jira_url=JIRA_URL,
        konflux=True,
        dropped=["OCPBUGS-1"],
        asked=[],
        kept_cve=[],
    )
    assert "dropped from advisories and shipment data" in konflux
    assert "Critical" not in konflux
    empty = channel_message(
        release="4.19.3",
        group="@g",
        jira_url=JIRA_URL,
        konflux=True,
        dropped=[],
        asked=[],
        kept_cve=[],
    )
    assert empty == ""


# --- the shipment edit (pure) -------------------------------------------------------------------
SHIPMENT = """\
shipment:
  data:
    releaseNotes:
      issues:
        fixed:
        # the release's bugs
        - id: OCPBUGS-12
          source: redhat.atlassian.net
        - id: OCPBUGS-123  # keep me
          source: redhat.atlassian.net
        - id: '1234567'
          source: bugzilla.redhat.com
  environments: {stage: x}
"""


def test_only_whole_keys_are_removed_and_everything_else_stays() -> None:
    text, removed = without_issues(SHIPMENT, ["OCPBUGS-12"])
    assert removed == ["OCPBUGS-12"]
    assert text == SHIPMENT.replace(
        "        - id: OCPBUGS-12\n          source: redhat.atlassian.net\n", ""
    )
    assert "OCPBUGS-123  # keep me" in text  # the original's substring match dropped it too
    assert fixed_issues(text) == ["OCPBUGS-123", "1234567"]
    unchanged, none = without_issues(SHIPMENT, ["OCPBUGS-1", "OCPBUGS-1234"])
    assert (unchanged, none) == (SHIPMENT, [])


def test_the_last_issue_and_an_emptied_list() -> None:
    text, removed = without_issues(SHIPMENT, ["1234567"])
    assert removed == ["1234567"]
    assert text.endswith(
        "# keep me\n          source: redhat.atlassian.net\n  environments: {stage: x}\n"
    )
    emptied, gone = without_issues(SHIPMENT, ["OCPBUGS-12", "OCPBUGS-123", "1234567"])
    assert len(gone) == 3
    assert "        fixed: []\n" in emptied
    assert fixed_issues(emptied) == []


def test_a_shipment_file_oar_cannot_edit_exactly_is_refused() -> None:
    flow = "shipment:\n  data:\n    releaseNotes:\n      issues:\n        fixed: [{id: X-1}]\n"
    with pytest.raises(ShipmentEditError, match="flow list"):
        without_issues(flow, ["X-1"], path="a.yaml")
    with pytest.raises(ShipmentEditError, match="not YAML"):
        without_issues("shipment: [", ["X-1"], path="a.yaml")
    assert without_issues("other: 1\n", ["X-1"]) == ("other: 1\n", [])


# --- the command on fake ports ----------------------------------------------------------------
@dataclass
class World:
    errata: FakeErrata
    jira: FakeJira
    gitlab: FakeGitLab
    notifier: FakeNotifier
    drops: FakeDrops
    release: str

    def context(self, **overrides: Any) -> ReleaseContext:
        opened: dict[str, Any] = {
            "errata": self.errata,
            "jira": self.jira,
            "notifier": self.notifier,
            "drops": self.drops,
            **overrides,
        }
        if ReleaseVersion.parse(self.release).y_stream == seed.Y_STREAM:
            opened.setdefault("gitlab", self.gitlab)
        return seed_context(
            self.release, fake_ports(**opened), task="drop-bugs", OAR_JIRA_URL=JIRA_URL
        )

    def attached(self, advisory_id: int) -> list[str]:
        return [i.key for i in self.errata.issues[advisory_id]]

    def snapshot(self) -> Any:
        return copy.deepcopy(
            (
                self.errata.issues,
                self.gitlab.projects,
                self.notifier.messages,
                self.drops.requests,
                self.jira.issues,
            )
        )


def world(release: str) -> World:
    return World(
        errata=seed_errata(),
        jira=seed_jira(),
        gitlab=seed_gitlab(),
        notifier=FakeNotifier(groups=LEADS, users=USERS),
        drops=FakeDrops(),
        release=release,
    )


def test_the_command_is_registered_with_its_ports_and_options() -> None:
    spec = command("drop-bugs")
    assert spec.ports == ("errata", "jira", "notifier", "drops")
    assert spec.konflux_ports == ("gitlab",)
    assert [o.name for o in spec.options] == ["dry_run", "approval_timeout"]


async def test_errata_flow_drops_plain_bugs_asks_owners_and_keeps_cve_trackers() -> None:
    w = world(seed.ERRATA_RELEASE)
    ctx = w.context()

    outcome = await drop_bugs_command(ctx)

    assert w.attached(ERRATA["rpm"]) == []  # OCPBUGS-49001, ON_QA, not high severity
    assert w.attached(ERRATA["image"]) == ["OCPBUGS-49002", "OCPBUGS-49003"]  # CVE, Verified
    assert w.attached(ERRATA["extras"]) == ["OCPBUGS-49004"]  # critical: waits
    assert w.attached(ERRATA["metadata"]) == ["OCPBUGS-49005"]  # customer case: waits
    asked = {r.bug: r for r in w.drops.requests}
    assert set(asked) == {"OCPBUGS-49004", "OCPBUGS-49005"}
    critical = asked["OCPBUGS-49004"]
    assert critical.reasons == ("critical",)
    assert critical.owner == "qa.alice@example.com"
    assert critical.mention == "<@U0ALICE002>"
    assert critical.channel == QE_RELEASE  # from a terminal: the release channel
    assert "<@U0ALICE002>" in approval_message(critical)
    assert asked["OCPBUGS-49005"].reasons == ("customer case",)
    assert outcome.status is TaskStatus.IN_PROGRESS  # the decisions are still to come
    data = outcome.data
    assert [d["key"] for d in data["dropped"]] == ["OCPBUGS-49001"]  # type: ignore[index,union-attr]
    assert data["dropped"][0]["removed_from"] == [f"advisory {ERRATA['rpm']}"]  # type: ignore[index]
    assert [d["key"] for d in data["waiting"]] == ["OCPBUGS-49004", "OCPBUGS-49005"]  # type: ignore[index,union-attr]
    assert data["waiting"][0]["approval_id"] == "approval-1"  # type: ignore[index]
    assert [d["key"] for d in data["kept"]] == ["OCPBUGS-49002"]  # type: ignore[index,union-attr]
    (message,) = w.notifier.channel_messages(QE_RELEASE)
    assert message.text.startswith(
        f"[{seed.ERRATA_RELEASE}] Hello <!subteam^S0418QELDS>, following bugs are dropped from"
        f" advisories\n<{JIRA_URL}/browse/OCPBUGS-49001|OCPBUGS-49001>\n"
    )
    assert "<@U0ALICE002> (approval approval-1)" in message.text
    assert ctx.done == [
        f"removed OCPBUGS-49001 from advisory {ERRATA['rpm']}",
        f"asked again for the doc approval of advisory {ERRATA['rpm']}",
        f"asked again for the prodsec approval of advisory {ERRATA['rpm']}",
        "asked qa.alice@example.com to approve dropping OCPBUGS-49004",
        "asked qa.bob@example.com to approve dropping OCPBUGS-49005",
    ]
    # The drop took the RHSA's doc and prodsec approvals: both are asked for again.
    rpm = w.errata.advisories[ERRATA["rpm"]]
    assert (rpm.text_ready, rpm.security_approved) == (True, False)
    assert data["doc_approval_requested"] == data["prodsec_approval_requested"] == [ERRATA["rpm"]]
    (to_approvers,) = w.notifier.channel_messages("#forum-ocp-art")
    assert to_approvers.text == (
        f"[{seed.ERRATA_RELEASE}] Hello @sandbox-approval-doc, Could you approve doc for"
        f" advisories:[{ERRATA['rpm']}], thanks!\n"
        f"[{seed.ERRATA_RELEASE}] Hello <@U0LEAD0001> <@U0RILEY005>, Could you approve"
        f" Prodsec for advisories:[{ERRATA['rpm']}], thanks!"
    )
    assert w.errata.advisories[ERRATA["image"]].text_ready  # untouched: nothing dropped there
    assert set(w.drops.kept_alive) == {
        f"drop-bug:{seed.ERRATA_RELEASE}:OCPBUGS-49004",
        f"drop-bug:{seed.ERRATA_RELEASE}:OCPBUGS-49005",
    }


async def test_a_rerun_asks_nobody_twice_and_passes_once_everything_is_decided() -> None:
    w = world(seed.ERRATA_RELEASE)
    await drop_bugs_command(w.context())
    again = await drop_bugs_command(w.context())
    assert len(w.drops.requests) == 2
    assert again.status is TaskStatus.IN_PROGRESS
    assert "waiting for confirmation: OCPBUGS-49004" in again.message
    assert again.data["dropped"] == []

    w.drops.decide(seed.ERRATA_RELEASE, "OCPBUGS-49004", "rejected")
    w.drops.decide(seed.ERRATA_RELEASE, "OCPBUGS-49005", "rejected")
    last = await drop_bugs_command(w.context())
    assert last.status is TaskStatus.PASS
    assert len(w.drops.requests) == 2
    assert "kept OCPBUGS-49004" in last.message
    assert w.attached(ERRATA["extras"]) == ["OCPBUGS-49004"]


async def test_konflux_drops_from_advisories_and_the_shipment_through_one_mr() -> None:
    w = world(seed.RELEASE)
    ctx = w.context()

    outcome = await drop_bugs_command(ctx)

    # 50001, 50002, 50004: plain ON_QA; 50005 a CVE tracker, 50006 (Blocker, shipment
    # only) and 50007 (customer case) wait; 50003 is Verified.
    assert w.attached(KONFLUX["rpm"]) == ["OCPBUGS-50005"]
    project = w.gitlab.project(seed.SHIPMENT_PROJECT)
    (drop_mr,) = [mr for mr in project.merge_requests.values() if mr.title == DROP_TITLE]
    assert drop_mr.target_branch == SHIPMENT_BRANCH
    assert drop_mr.source_branch.startswith(f"drop-bugs-for-{seed.RELEASE}-")
    edited = project.files[(drop_mr.source_branch, SHIPMENT_FILE)]
    original = project.files[(SHIPMENT_BRANCH, SHIPMENT_FILE)]  # the MR carries the edit
    dropped_keys = {"OCPBUGS-50001", "OCPBUGS-50002", "OCPBUGS-50004"}
    assert dropped_keys <= set(fixed_issues(original))
    assert fixed_issues(edited) == [k for k in fixed_issues(original) if k not in dropped_keys]
    assert "OCPBUGS-50006" in fixed_issues(edited)  # waits for its owner
    notes = [n.body for n in project.notes[seed.SHIPMENT_MR_IID]]
    assert notes[-1] == f"Drop bug in MR: {drop_mr.web_url}"
    assert {r.bug for r in w.drops.requests} == {"OCPBUGS-50006", "OCPBUGS-50007"}
    shipment_only = next(r for r in w.drops.requests if r.bug == "OCPBUGS-50006")
    assert shipment_only.attachment.shipment_files == (SHIPMENT_FILE,)
    assert shipment_only.shipment_mr == seed.SHIPMENT_MR_URL
    dropped = {d["key"]: d["removed_from"] for d in outcome.data["dropped"]}  # type: ignore[index,union-attr]
    assert dropped["OCPBUGS-50002"] == [
        f"shipment data (MR {drop_mr.web_url})",
        f"advisory {KONFLUX['rpm']}",
    ]
    (message,) = w.notifier.channel_messages(QE_RELEASE)
    assert "following bugs are dropped from advisories and shipment data" in message.text

    # A second run: nothing left to drop, no second MR, no second note, nobody asked again.
    await drop_bugs_command(w.context())
    assert [mr.title for mr in project.merge_requests.values()].count(DROP_TITLE) == 1
    assert [n.body for n in project.notes[seed.SHIPMENT_MR_IID]].count(notes[-1]) == 1
    assert len(w.drops.requests) == 2


async def test_an_open_drop_mr_is_reused() -> None:
    w = world(seed.RELEASE)
    project = w.gitlab.project(seed.SHIPMENT_PROJECT)
    await w.gitlab.create_branch(seed.SHIPMENT_PROJECT, "earlier-drop", ref=SHIPMENT_BRANCH)
    earlier = await w.gitlab.create_merge_request(
        seed.SHIPMENT_PROJECT,
        source_branch="earlier-drop",
        target_branch=SHIPMENT_BRANCH,
        title=DROP_TITLE,
    )
    await drop_bugs_command(w.context())
    assert [mr.iid for mr in project.merge_requests.values() if mr.title == DROP_TITLE] == [
        earlier.iid
    ]
    assert "OCPBUGS-50001" not in fixed_issues(project.files[("earlier-drop", SHIPMENT_FILE)])


@pytest.mark.parametrize("release", [seed.ERRATA_RELEASE, seed.RELEASE])
async def test_dry_run_changes_nothing_anywhere_and_says_what_would_happen(release: str) -> None:
    w = world(release)
    before = w.snapshot()

    outcome = await drop_bugs_command(w.context(), dry_run=True)

    assert w.snapshot() == before
    assert w.drops.kept_alive == []
    assert outcome.status is TaskStatus.IN_PROGRESS  # a dry run passes nothing
    assert outcome.message.startswith("dry run: nothing was changed\n")
    first = "OCPBUGS-49001" if release == seed.ERRATA_RELEASE else "OCPBUGS-50001"
    assert f"would drop {first} (ON_QA, not high severity;" in outcome.message
    assert "would ask its owner about" in outcome.message
    assert "would keep" in outcome.message
    assert outcome.data["dry_run"] is True
    assert outcome.data["ask"]  # listed, not asked


async def test_refused_credentials_change_nothing() -> None:
    class Refusing(FakeErrata):
        async def get_advisory(self, advisory_id: int) -> Any:
            raise IntegrationAuthError("Errata Tool", "ERRATA_TOKEN", status_code=401)

    w = world(seed.ERRATA_RELEASE)
    refusing = Refusing(issues=w.errata.issues, advisories=w.errata.advisories)
    before = w.snapshot()
    with pytest.raises(CredentialsRefusedError, match="ERRATA_TOKEN"):
        await drop_bugs_command(w.context(errata=refusing))
    assert w.snapshot() == before


@pytest.mark.parametrize("timeout", [0, -1, 31 * 24 * 3600])
async def test_an_approval_timeout_out_of_range_is_refused_before_anything(timeout: float) -> None:
    w = world(seed.ERRATA_RELEASE)
    before = w.snapshot()
    with pytest.raises(InvalidArgumentError, match="--approval-timeout"):
        await drop_bugs_command(w.context(), approval_timeout=timeout)
    assert w.snapshot() == before


async def test_slack_down_still_drops_and_asks() -> None:
    w = world(seed.ERRATA_RELEASE)
    w.notifier.failure = "service_unavailable"
    outcome = await drop_bugs_command(w.context())
    assert w.attached(ERRATA["rpm"]) == []
    assert w.drops.requests[0].mention == "qa.alice@example.com"  # the e-mail, as the original
    assert "the announcement to #team-qe-release failed" in outcome.message


# --- the bug-drop follow's decisions --------------------------------------------------------------
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


class FakeApprovals:
    """What the kind asks of the approval manager."""

    def __init__(self, info: ApprovalInfo) -> None:
        self.info = info
        self.waiters: list[str] = []

    async def set_waiter(self, approval_id: str, workflow_id: str) -> bool:
        self.waiters.append(workflow_id)
        return True

    async def get(self, approval_id: str) -> ApprovalInfo:
        return self.info


def approval(status: ApprovalStatus, resolution: Resolution | None = None) -> ApprovalInfo:
    return ApprovalInfo(
        id="a-1",
        run_id="4.18.40 OCPBUGS-49004",
        session_id=None,
        approval_type="drop-bug",
        context={},
        status=status,
        resolution=resolution,
        feedback=None,
        modifications=None,
        created_at=NOW,
        expires_at=NOW + timedelta(days=2),
        resolved_at=None,
        requested_by="tester",
        requested_via="cli",
        resolved_by="slack:U0ALICE002" if resolution else None,
        resolved_via="slack" if resolution else None,
        workflow_id=None,
        announce_channel=None,
        announce_ts=None,
    )


def follow(key: str = "OCPBUGS-49004", advisory: int = ERRATA["extras"]) -> FollowInfo:
    from oar.release.bugs import Attachment

    return running_follow(
        kind="bug-drop",
        key=f"drop-bug:4.18.40:{key}",
        subject=key,
        release="4.18.40",
        task=None,
        channel=QE_RELEASE,
        started_at=NOW,
        deadline=timedelta(days=2),
        interval=300.0,
        data={
            "approval_id": "a-1",
            "owner": "qa.alice@example.com",
            "attached": attachment_data(Attachment(key=key, advisories=(advisory,))),
            "shipment_mr": None,
        },
    )


def kind(
    info: ApprovalInfo, errata: FakeErrata, jira: FakeJira
) -> tuple[BugDropKind, FakeApprovals]:
    approvals = FakeApprovals(info)
    return (
        BugDropKind(errata=errata, gitlab=None, jira=jira, approvals=lambda: approvals),  # type: ignore[arg-type,return-value]
        approvals,
    )


async def test_a_pending_approval_keeps_the_follow_waiting_on_it() -> None:
    drop, approvals = kind(approval(ApprovalStatus.PENDING), seed_errata(), seed_jira())
    check = await drop.check(follow(), 1)
    assert not check.done
    assert approvals.waiters == ["drop-bug:4.18.40:OCPBUGS-49004"]  # told of the decision


async def test_approved_drops_the_bug_from_its_advisories() -> None:
    errata = seed_errata()
    notifier = FakeNotifier(users=USERS)
    approvals = FakeApprovals(approval(ApprovalStatus.RESOLVED, Resolution.APPROVED))
    drop = BugDropKind(
        errata=errata,
        gitlab=None,
        jira=seed_jira(),
        approvals=lambda: approvals,  # type: ignore[arg-type,return-value]
        notifier=lambda: notifier,
    )
    approvers = {"channel": "#approvers", "doc_group": "docs", "prodsec": ["mlead@example.com"]}
    decided = dataclasses.replace(follow(), data={**follow().data, "approvers": approvers})
    check = await drop.check(decided, 2)
    assert check.done
    assert check.data["decision"] == "approved"
    finished = await drop.act(decided, check)
    assert finished.ok
    assert finished.line == (
        f"OCPBUGS-49004 dropped after <@U0ALICE002> approved: removed from advisory"
        f" {ERRATA['extras']} (doc approval asked again for {ERRATA['extras']}; approvers"
        " asked in #approvers)"
    )
    assert errata.advisories[ERRATA["extras"]].text_ready
    (told,) = notifier.channel_messages("#approvers")
    assert told.text == (
        f"[4.18.40] Hello @docs, Could you approve doc for advisories:[{ERRATA['extras']}], thanks!"
    )
    assert errata.issues[ERRATA["extras"]] == []
    summary = await drop.summary(
        dataclasses.replace(follow(), log=[f"2026-11-30T01:00:00Z: {finished.line}"]),
        FollowStatus.SUCCEEDED,
        None,
        FakeNotifier(),
    )
    assert summary == f"[4.18.40] {finished.line}"


@pytest.mark.parametrize(
    ("info", "line"),
    [
        (
            approval(ApprovalStatus.RESOLVED, Resolution.REJECTED),
            "OCPBUGS-49004 kept: <@U0ALICE002> rejected dropping it",
        ),
        (
            approval(ApprovalStatus.EXPIRED),
            "OCPBUGS-49004 kept: nobody decided before the approval expired",
        ),
        (approval(ApprovalStatus.CANCELLED), "OCPBUGS-49004 kept: the approval was cancelled"),
    ],
)
async def test_rejected_expired_or_cancelled_keeps_the_bug(info: ApprovalInfo, line: str) -> None:
    errata = seed_errata()
    drop, _ = kind(info, errata, seed_jira())
    finished = await drop.act(follow(), await drop.check(follow(), 1))
    assert (finished.ok, finished.line) == (True, line)
    assert [i.key for i in errata.issues[ERRATA["extras"]]] == ["OCPBUGS-49004"]


async def test_a_bug_verified_while_its_owner_decided_is_kept() -> None:
    errata, jira = seed_errata(), seed_jira()
    jira.issues["OCPBUGS-49004"] = dataclasses.replace(
        jira.issues["OCPBUGS-49004"], status="Verified"
    )
    drop, _ = kind(approval(ApprovalStatus.RESOLVED, Resolution.APPROVED), errata, jira)
    finished = await drop.act(follow(), Check.finished("approved", decision="approved", by="x"))
    assert finished.line.startswith("OCPBUGS-49004 kept: it is Verified now")
    assert [i.key for i in errata.issues[ERRATA["extras"]]] == ["OCPBUGS-49004"]


async def test_without_errata_tool_the_drop_fails_and_says_why() -> None:
    drop = BugDropKind(errata=None, gitlab=None, jira=None, problems=["no ERRATA_TOKEN"])
    finished = await drop.act(follow(), Check.finished("approved", decision="approved", by="x"))
    assert (finished.ok, finished.error) == (False, "no ERRATA_TOKEN")


async def test_an_approved_shipment_bug_is_dropped_through_the_drop_mr() -> None:
    from oar.release.bugs import Attachment

    gitlab = seed_gitlab()
    drop = BugDropKind(errata=seed_errata(), gitlab=gitlab, jira=seed_jira())
    shipment_only = dataclasses.replace(
        follow("OCPBUGS-50006"),
        release=seed.RELEASE,
        data={
            "approval_id": "a-1",
            "attached": attachment_data(
                Attachment(key="OCPBUGS-50006", shipment_files=(SHIPMENT_FILE,))
            ),
            "shipment_mr": seed.SHIPMENT_MR_URL,
        },
    )
    finished = await drop.act(shipment_only, Check.finished("ok", decision="approved", by="x"))
    project = gitlab.project(seed.SHIPMENT_PROJECT)
    (mr,) = [m for m in project.merge_requests.values() if m.title == DROP_TITLE]
    assert finished.line == (
        f"OCPBUGS-50006 dropped after x approved: removed from shipment data (MR {mr.web_url})"
    )
    assert "OCPBUGS-50006" not in fixed_issues(project.files[(mr.source_branch, SHIPMENT_FILE)])


def test_which_lost_approvals_are_asked_for_again() -> None:
    from oar.integrations.errata import Advisory, AdvisoryState
    from oar.release.drops import Reapproval, lost_approvals

    def adv(n: int, kind: str = "RHSA", **state: Any) -> Advisory:
        base = Advisory(
            id=n,
            name=f"{kind}-2026:{n}",
            type=kind,
            state=AdvisoryState.QE,
            synopsis="",
            qe_owner="",
            qe_group="",
            product="",
            release="",
        )
        return dataclasses.replace(base, **state)

    approved = {"doc_complete": True, "text_ready": True, "security_approved": True}
    before = {n: adv(n, **approved) for n in (1, 2, 3)} | {4: adv(4, "RHBA", doc_complete=True)}
    after = {
        1: adv(1),  # lost both
        2: adv(2, text_ready=True, security_approved=False),  # both already asked again
        3: adv(3, **approved),  # kept both
        4: adv(4, "RHBA"),  # an RHBA has no prodsec approval
    }
    assert lost_approvals(before, after) == Reapproval(doc=(1, 4), prodsec=(1,))


async def test_a_decision_being_carried_out_lets_the_run_pass_without_acting_twice() -> None:
    w = world(seed.ERRATA_RELEASE)
    await drop_bugs_command(w.context())
    key = (seed.ERRATA_RELEASE, "OCPBUGS-49004")
    w.drops.decide(*key, "approved")
    w.drops.drops[key] = dataclasses.replace(w.drops.drops[key], acting=True)
    w.drops.decide(seed.ERRATA_RELEASE, "OCPBUGS-49005", "rejected")

    outcome = await drop_bugs_command(w.context())

    assert outcome.status is TaskStatus.PASS
    assert "approved by slack:U0LEAD0001, being carried out" in outcome.message
    assert w.attached(ERRATA["extras"]) == ["OCPBUGS-49004"]  # the follow drops it, not the rerun
    assert len(w.drops.requests) == 2
