"""``take-ownership``'s rules on fake ports: no database, no network.

The fakes hold the sandbox's fictional release (4.19.3 on Konflux, 4.18.40 on errata), so
the advisories, the ART ticket's QE subtasks, the shipment MR and the people agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from oar.errors import (
    CredentialsRefusedError,
    IntegrationAuthError,
    IntegrationError,
    InvalidArgumentError,
)
from oar.integrations.errata import AdvisoryState
from oar.integrations.fakes import FakeErrata, FakeGitLab, FakeJira, FakeNotifier
from oar.integrations.gitlab import MergeRequestState
from oar.integrations.jira import JiraUser
from oar.release.commands import check_email, command
from oar.release.commands.ownership import (
    BLOCKED_TASK,
    Links,
    Ownership,
    art_message,
    owner_message,
    take_ownership,
)
from oar.release.tracking import ReleaseContext
from oar.sandbox import seed
from oar.sandbox.errata import seed_errata
from oar.sandbox.gitlab import seed_gitlab
from oar.sandbox.jira import seed_jira
from oar.testing.release import FakeReleaseStore, fake_ports
from tests.unit.release_world import seed_context

OWNER = seed.RELEASE_OWNER
OWNER_PERSON = next(p for p in seed.PEOPLE if p.email == OWNER)
ERRATA_URL = "https://errata.example.com"
JIRA_URL = "https://jira.example.com"
LEADS = {"4.19-qe-leads": "S0419QELDS", "4.18-qe-leads": "S0418QELDS", "openshift-art": "S0ART"}
QE_RELEASE = "#team-qe-release"
ART = "#forum-ocp-art"
KONFLUX_ADVISORIES = list(seed.ADVISORIES[seed.RELEASE].values())
ERRATA_ADVISORIES = [
    a for impetus, a in seed.ADVISORIES[seed.ERRATA_RELEASE].items() if impetus != "microshift"
]


@dataclass
class World:
    errata: FakeErrata
    jira: FakeJira
    gitlab: FakeGitLab | None  # None: not opened (the errata flow never uses GitLab)
    notifier: FakeNotifier
    state: FakeReleaseStore
    release: str

    def context(self) -> ReleaseContext:
        opened: dict[str, Any] = {
            "errata": self.errata,
            "jira": self.jira,
            "notifier": self.notifier,
        }
        if self.gitlab is not None:
            opened["gitlab"] = self.gitlab
        return seed_context(
            self.release,
            fake_ports(**opened),
            task="take-ownership",
            state=self.state,
            OAR_ERRATA_URL=ERRATA_URL,
            OAR_JIRA_URL=JIRA_URL,
        )

    async def run(self, email: str = OWNER) -> tuple[Any, ReleaseContext]:
        ctx = self.context()
        return await take_ownership(ctx, email=email), ctx

    def owners(self, advisories: Sequence[int]) -> set[str]:
        return {self.errata.advisories[a].qe_owner for a in advisories}

    def subtasks(self) -> dict[str, tuple[str, str | None]]:
        ticket = self.jira.issues[seed.JIRA_TICKETS[self.release]]
        return {
            self.jira.issues[k].summary: (
                self.jira.issues[k].status,
                a.account_id if (a := self.jira.issues[k].assignee) else None,
            )
            for k in ticket.subtasks
        }

    def notes(self) -> list[str]:
        assert self.gitlab is not None
        project = self.gitlab.project(seed.SHIPMENT_PROJECT)
        return [n.body for n in project.notes[seed.SHIPMENT_MR_IID]]


def world(release: str = seed.RELEASE) -> World:
    return World(
        errata=seed_errata(),
        jira=seed_jira(),
        gitlab=seed_gitlab(),
        notifier=FakeNotifier(groups=LEADS),
        state=FakeReleaseStore(),
        release=release,
    )


STARTED = "In Progress"
EXPECTED_SUBTASKS = {
    "[Fri/Mon] QE moves advisories to REL_PREP": ("To Do", OWNER_PERSON.jira_account_id),
    "[Wed-Fri] QE does release verification": (STARTED, OWNER_PERSON.jira_account_id),
    "[Mon-Wed] QE notifies ON_QA bugzilla owners and analyze ci failures": (
        STARTED,
        OWNER_PERSON.jira_account_id,
    ),
}


# --- the e-mail -----------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["a.b+c@example.co", "X_y%z@sub.example.org", " a@b.io "])
def test_an_email_address_is_accepted(value: str) -> None:
    assert check_email(value) == value.strip()


@pytest.mark.parametrize(
    "value", ["", "alice", "alice@example", "@example.com", "a@b.c", "a b@example.com", "a@b.c0m"]
)
def test_a_bad_email_is_refused_naming_the_option(value: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^-e/--email: .* is not a valid email"):
        check_email(value)


async def test_the_body_refuses_a_bad_email_before_touching_anything() -> None:
    w = world()
    with pytest.raises(InvalidArgumentError, match="-e/--email"):
        await w.run("not-an-address")
    assert w.owners(KONFLUX_ADVISORIES) == {"ocp-qe-errata@example.com"}
    assert w.notifier.messages == []


def test_the_command_is_registered_with_its_ports_and_option() -> None:
    spec = command("take-ownership")
    assert set(spec.ports) == {"errata", "jira", "notifier"}
    assert spec.konflux_ports == ("gitlab",)
    (option,) = spec.options
    assert (option.name, option.flags, option.required) == ("email", ("-e", "--email"), True)
    assert spec.load_body() is take_ownership


# --- the Konflux flow -------------------------------------------------------------------------
async def test_konflux_owner_set_mr_commented_subtasks_taken_and_channel_told() -> None:
    w = world()

    outcome, ctx = await w.run()

    assert w.owners(KONFLUX_ADVISORIES) == {OWNER}
    assert w.notes()[-1] == f"QE Release Lead is @{OWNER_PERSON.uid}"
    assert w.subtasks() == EXPECTED_SUBTASKS
    assert w.state.issues == []  # every advisory is in QE: no blocker
    (message,) = w.notifier.messages
    assert message.channel == QE_RELEASE
    rpm, rhcos = KONFLUX_ADVISORIES
    ticket = w.jira.issues[seed.JIRA_TICKETS[seed.RELEASE]]
    assert message.text == (
        f"[{seed.RELEASE}] Hello <!subteam^S0419QELDS>, owner of advisories and jira subtasks"
        f" are changed to {OWNER}\n"
        f"Shipment merge request: <{seed.SHIPMENT_MR_URL}|{seed.SHIPMENT_MR_URL}>\n"
        "Updated advisories:\n"
        f"<{ERRATA_URL}/advisory/{rpm}|{rpm}> <{ERRATA_URL}/advisory/{rhcos}|{rhcos}> \n"
        "Updated jira subtasks:\n"
        + "".join(f"<{JIRA_URL}/browse/{k}|{k}> " for k in ticket.subtasks)
    )
    assert outcome.status.value == "Pass"
    assert outcome.data["owner_changed"] == KONFLUX_ADVISORIES
    assert outcome.data["subtasks_started"] == list(ticket.subtasks[1:])
    assert ctx.done[:2] == [
        f"set the QE owner of advisory {rpm} (rpm)",
        f"set the QE owner of advisory {rhcos} (rhcos)",
    ]
    assert any("commented 'QE Release Lead is @rowner'" in step for step in ctx.done)


async def test_a_second_run_changes_nothing_and_does_not_comment_twice() -> None:
    w = world()
    await w.run()
    notes = w.notes()

    outcome, ctx = await w.run()

    assert w.notes() == notes
    assert ctx.done == []
    assert outcome.data["owner_changed"] == []
    assert outcome.data["subtasks_assigned"] == []
    assert outcome.data["subtasks_started"] == []
    assert "already says 'QE Release Lead is @rowner'" in outcome.message
    assert w.subtasks() == EXPECTED_SUBTASKS


async def test_a_new_owner_takes_over_from_the_previous_one() -> None:
    w = world()
    await w.run("qa.alice@example.com")

    await w.run()

    assert w.owners(KONFLUX_ADVISORIES) == {OWNER}
    assert w.notes()[-2:] == ["QE Release Lead is @aqa", "QE Release Lead is @rowner"]
    assert {a for _, a in w.subtasks().values()} == {OWNER_PERSON.jira_account_id}


async def test_an_owner_without_a_gitlab_account_changes_nothing() -> None:
    w = world()
    assert w.gitlab is not None
    w.gitlab.users.pop(OWNER_PERSON.uid)

    with pytest.raises(InvalidArgumentError, match="-e/--email: no GitLab user found"):
        await w.run()

    assert w.owners(KONFLUX_ADVISORIES) == {"ocp-qe-errata@example.com"}
    assert {a for _, a in w.subtasks().values()} == {None}


async def test_an_owner_unknown_to_jira_changes_nothing() -> None:
    w = world()
    w.jira.users = [u for u in w.jira.users if u.email != OWNER]

    with pytest.raises(InvalidArgumentError, match="Jira has no active user"):
        await w.run()

    assert w.owners(KONFLUX_ADVISORIES) == {"ocp-qe-errata@example.com"}
    assert len(w.notes()) == 1


async def test_a_jira_user_whose_email_is_hidden_is_the_only_active_match() -> None:
    """Jira Cloud finds a user by e-mail without showing it; a deactivated account that
    matches too does not make the match ambiguous."""
    w = world()
    # The fake searches names and visible e-mails: the name stands for Cloud's hidden match.
    hidden = JiraUser(
        account_id=OWNER_PERSON.jira_account_id, display_name=f"Riley ({OWNER})", email=None
    )
    gone = JiraUser(account_id="557058:gone", display_name=f"old {OWNER}", active=False)
    w.jira.users = [u for u in w.jira.users if u.email != OWNER] + [hidden, gone]

    await w.run()

    assert {a for _, a in w.subtasks().values()} == {OWNER_PERSON.jira_account_id}


async def test_several_active_jira_matches_are_refused_before_any_change() -> None:
    w = world()
    w.jira.users.append(JiraUser(account_id="557058:twin", display_name="Twin", email=OWNER))

    with pytest.raises(InvalidArgumentError, match="Jira has several users"):
        await w.run()

    assert w.owners(KONFLUX_ADVISORIES) == {"ocp-qe-errata@example.com"}


async def test_refused_credentials_change_nothing() -> None:
    class RefusingErrata(FakeErrata):
        async def get_advisory(self, advisory_id: int) -> Any:
            raise IntegrationAuthError("Errata Tool", "ERRATA_TOKEN", status_code=401)

    w = world()
    w.errata = RefusingErrata(advisories=w.errata.advisories)

    with pytest.raises(CredentialsRefusedError, match="ERRATA_TOKEN"):
        await w.run()

    assert {a.qe_owner for a in w.errata.advisories.values()} == {"ocp-qe-errata@example.com"}
    assert len(w.notes()) == 1
    assert w.notifier.messages == []


async def test_a_failure_after_changes_leaves_them_recorded_as_done() -> None:
    class BrokenJira(FakeJira):
        async def assign(self, key: str, account_id: str | None) -> None:
            raise IntegrationError("Jira", "HTTP 500: boom", status_code=500)

    w = world()
    w.jira = BrokenJira(issues=w.jira.issues, users=w.jira.users, me=w.jira.me)
    ctx = w.context()

    with pytest.raises(IntegrationError, match="boom"):
        await take_ownership(ctx, email=OWNER)

    rpm, rhcos = KONFLUX_ADVISORIES
    assert ctx.done == [
        f"set the QE owner of advisory {rpm} (rpm)",
        f"set the QE owner of advisory {rhcos} (rhcos)",
        f"commented 'QE Release Lead is @rowner' on shipment MR !{seed.SHIPMENT_MR_IID}",
    ]


async def test_a_merged_shipment_mr_gets_no_comment() -> None:
    w = world()
    assert w.gitlab is not None
    project = w.gitlab.project(seed.SHIPMENT_PROJECT)
    mr = project.merge_requests[seed.SHIPMENT_MR_IID]
    w.gitlab.set_merge_request(dataclasses.replace(mr, state=MergeRequestState.MERGED))

    outcome, _ = await w.run()

    assert len(w.notes()) == 1
    assert f"shipment MR !{seed.SHIPMENT_MR_IID} is merged: no comment" in outcome.message
    assert w.owners(KONFLUX_ADVISORIES) == {OWNER}


# --- abnormal advisories ----------------------------------------------------------------------
async def test_new_files_advisories_become_one_blocker_and_art_is_asked() -> None:
    w = world()
    _, rhcos = KONFLUX_ADVISORIES
    w.errata.advisories[rhcos] = dataclasses.replace(
        w.errata.advisories[rhcos], state=AdvisoryState.NEW_FILES
    )

    outcome, _ = await w.run()
    await w.run()  # a re-run reports the same blocker, not a second one

    assert w.owners(KONFLUX_ADVISORIES) == {OWNER}  # abnormal ones are owned too
    (issue,) = w.state.issues
    assert issue.text == f"Advisories in abnormal state (NEW_FILES instead of QE): {rhcos}"
    assert issue.blocker
    assert issue.related_tasks == [BLOCKED_TASK]
    assert outcome.data["blocker"] == issue.id
    assert outcome.data["abnormal"] == [rhcos]
    owner_text = w.notifier.channel_messages(QE_RELEASE)[0].text
    assert owner_text.endswith(
        "\nFound some abnormal advisories that state is not QE\n"
        f"<{ERRATA_URL}/advisory/{rhcos}|{rhcos}> "
    )
    art = w.notifier.channel_messages(ART)[0].text
    assert art == (
        f"Hello <!subteam^S0ART>, Can you help to check following [{seed.RELEASE}] advisories,"
        f" issue: state is NEW_FILES, thanks\n<{ERRATA_URL}/advisory/{rhcos}|{rhcos}> \n"
    )


async def test_rel_prep_and_dropped_advisories() -> None:
    w = world()
    rpm, rhcos = KONFLUX_ADVISORIES
    w.errata.advisories[rpm] = dataclasses.replace(
        w.errata.advisories[rpm], state=AdvisoryState.REL_PREP
    )
    w.errata.advisories[rhcos] = dataclasses.replace(
        w.errata.advisories[rhcos], state=AdvisoryState.DROPPED_NO_SHIP
    )

    outcome, _ = await w.run()

    assert w.errata.advisories[rpm].qe_owner == OWNER  # REL_PREP is not abnormal
    assert w.errata.advisories[rhcos].qe_owner == "ocp-qe-errata@example.com"
    assert outcome.data["advisories"] == [rpm]
    assert outcome.data["dropped"] == [rhcos]
    assert w.state.issues == []
    assert w.notifier.channel_messages(ART) == []


# --- the errata flow --------------------------------------------------------------------------
async def test_errata_flow_without_gitlab_and_microshift_left_alone() -> None:
    w = world(seed.ERRATA_RELEASE)
    w.gitlab = None  # the errata flow never opens GitLab: using it would be an error
    microshift = seed.ADVISORIES[seed.ERRATA_RELEASE]["microshift"]

    outcome, _ = await w.run()

    assert w.owners(ERRATA_ADVISORIES) == {OWNER}
    assert w.errata.advisories[microshift].qe_owner == "ocp-qe-errata@example.com"
    assert w.subtasks() == EXPECTED_SUBTASKS
    ticket = w.jira.issues[seed.JIRA_TICKETS[seed.ERRATA_RELEASE]]
    (message,) = w.notifier.messages
    assert message.text == (
        f"Hello <!subteam^S0418QELDS>, owner of [{seed.ERRATA_RELEASE}] advisories and jira"
        f" subtasks are changed to {OWNER}\n"
        "Updated advisories:\n"
        + "".join(f"<{ERRATA_URL}/advisory/{a}|{a}> " for a in ERRATA_ADVISORIES)
        + "\nUpdated jira subtasks:\n"
        + "".join(f"<{JIRA_URL}/browse/{k}|{k}> " for k in ticket.subtasks)
    )
    assert outcome.data["mr_note"] is None


# --- subtasks ---------------------------------------------------------------------------------
async def test_only_the_qe_subtasks_are_taken_and_finished_ones_not_reopened() -> None:
    w = world()
    ticket_key = seed.JIRA_TICKETS[seed.RELEASE]
    ticket = w.jira.issues[ticket_key]
    wed_fri = ticket.subtasks[1]
    w.jira.issues[wed_fri] = dataclasses.replace(w.jira.issues[wed_fri], status="Closed")
    other = dataclasses.replace(
        w.jira.issues[ticket.subtasks[0]], key="ART-20999", summary="[Thu] ART builds the release"
    )
    w.jira.issues[other.key] = other
    w.jira.issues[ticket_key] = dataclasses.replace(ticket, subtasks=(*ticket.subtasks, other.key))

    outcome, _ = await w.run()

    assert w.jira.issues[wed_fri].status == "Closed"
    assert w.jira.issues[wed_fri].assignee is not None
    assert w.jira.issues["ART-20999"].assignee is None
    assert outcome.data["subtasks"] == list(ticket.subtasks)
    assert outcome.data["subtasks_started"] == [ticket.subtasks[2]]


async def test_slack_down_still_passes_and_says_so() -> None:
    w = world()
    w.notifier.failure = "service_unavailable"

    outcome, _ = await w.run()

    assert outcome.status.value == "Pass"
    assert outcome.data["announced"] is False
    assert "the announcement to #team-qe-release failed" in outcome.message
    assert w.owners(KONFLUX_ADVISORIES) == {OWNER}


def test_messages_without_subtasks_follow_the_original() -> None:
    links = Links(errata_url="https://et", jira_url="https://j")
    ownership = Ownership(owner="o@x.io", advisories=[1], subtasks=[])
    konflux = owner_message(
        ownership, release="4.19.3", group="@g", links=links, shipment_mr="https://mr"
    )
    errata = owner_message(ownership, release="4.18.40", group="@g", links=links, shipment_mr=None)

    assert konflux == (
        "[4.19.3] Hello @g, owner of advisories and jira subtasks are changed to o@x.io\n"
        "Shipment merge request: <https://mr|https://mr>\n"
        "Updated advisories:\n<https://et/advisory/1|1> \n"
    )
    assert errata.endswith(
        "Updated advisories:\n<https://et/advisory/1|1> \nUpdated jira subtasks:\n"
    )
    assert art_message([7, 8], release="4.19.3", group="@a", links=links).count("<https://et") == 2
