"""``update-bug-list``'s rules on fake ports: what is recorded, what changed, who is asked
in Slack (grouped per QA contact, mentioned by Slack user), the managers' message and the
usage errors. No database, no network; the fakes hold the sandbox's seed releases."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

from oar.errors import InvalidArgumentError
from oar.integrations.fakes import FakeDirectory, FakeErrata, FakeGitLab, FakeJira, FakeNotifier
from oar.release.buglist import ChangeKind
from oar.release.bugs import Bug
from oar.release.commands import command
from oar.release.commands.bugs import (
    CVE_NOTE,
    JiraLinks,
    check_options,
    lookup_email,
    managers_message,
    on_qa_message,
    update_bug_list,
)
from oar.release.tracking import Outcome, ReleaseContext
from oar.sandbox import seed
from oar.sandbox.errata import seed_errata
from oar.sandbox.gitlab import SHIPMENT_BRANCH, SHIPMENT_FILE, seed_gitlab
from oar.sandbox.jira import seed_jira
from oar.sandbox.ldap import seed_directory
from oar.testing.release import FakeReleaseStore, fake_ports
from tests.unit.release_world import seed_context

JIRA_URL = "https://jira.example.com"
FORUM = "#forum-qe"
PEOPLE = {p.email: p for p in seed.PEOPLE}
ALICE, BOB, LEAD = "qa.alice@example.com", "qa.bob@example.com", "mlead@example.com"
SLACK_USERS = {p.email: p.slack_user_id for p in seed.PEOPLE}
LINKS = JiraLinks(jira_url=JIRA_URL)


def link(key: str) -> str:
    return f"<{JIRA_URL}/browse/{key}|{key}>"


def mention(email: str) -> str:
    return f"<@{PEOPLE[email].slack_user_id}>"


@dataclass
class World:
    errata: FakeErrata
    jira: FakeJira
    gitlab: FakeGitLab
    notifier: FakeNotifier
    ldap: FakeDirectory
    state: FakeReleaseStore
    release: str

    def context(self) -> ReleaseContext:
        opened: dict[str, Any] = {
            "errata": self.errata,
            "jira": self.jira,
            "notifier": self.notifier,
            "ldap": self.ldap,
        }
        if self.release == seed.RELEASE:
            opened["gitlab"] = self.gitlab
        return seed_context(
            self.release,
            fake_ports(**opened),
            task="update-bug-list",
            state=self.state,
            OAR_JIRA_URL=JIRA_URL,
        )

    async def run(self, **options: bool) -> Outcome:
        return await update_bug_list(self.context(), **options)

    def messages(self) -> list[str]:
        return [m.text for m in self.notifier.channel_messages(FORUM)]


def world(release: str = seed.RELEASE) -> World:
    return World(
        errata=seed_errata(),
        jira=seed_jira(),
        gitlab=seed_gitlab(),
        notifier=FakeNotifier(users=SLACK_USERS),
        ldap=seed_directory(),
        state=FakeReleaseStore(),
        release=release,
    )


def attached_bugs(release: str) -> set[str]:
    """The seed bugs of ``release``: on its advisory set or (Konflux) its shipment file."""
    advisories = {v for k, v in seed.ADVISORIES[release].items() if k != "microshift"}
    y = ".".join(release.split(".")[:2]) + ".z"
    return {
        b.key
        for b in seed.BUGS
        if b.advisory in advisories
        or (release == seed.RELEASE and b.target_version == y and b.in_shipment)
    }


# --- options ----------------------------------------------------------------------------------
def test_no_notify_with_notify_managers_is_a_usage_error_naming_both() -> None:
    with pytest.raises(InvalidArgumentError, match=r"--no-notify.*--notify-managers"):
        check_options(notify=False, notify_managers=True)
    check_options(notify=False, notify_managers=False)
    check_options(notify=True, notify_managers=True)
    spec = command("update-bug-list")
    with pytest.raises(InvalidArgumentError, match="--no-notify cannot be used together with"):
        spec.check_options({"notify": False, "notify_managers": True})
    spec.check_options({"notify": True, "notify_managers": True})


def test_the_command_is_registered_with_its_ports_and_options() -> None:
    spec = command("update-bug-list")
    assert set(spec.ports) == {"errata", "jira", "notifier", "ldap"}
    assert spec.konflux_ports == ("gitlab",)
    assert [(o.name, o.flags, o.default) for o in spec.options] == [
        ("notify", ("--notify/--no-notify",), True),
        ("notify_managers", ("--notify-managers",), None),
    ]
    assert spec.load_body() is update_bug_list


async def test_the_body_refuses_the_conflict_before_reading_anything() -> None:
    w = world()
    with pytest.raises(InvalidArgumentError):
        await w.run(notify=False, notify_managers=True)
    assert w.state.bug_records == {}
    assert w.notifier.messages == []


def test_plus_suffix_is_stripped_for_the_slack_lookup() -> None:
    assert lookup_email("a+jira@x.com") == "a@x.com"
    assert lookup_email("a@x.com") == "a@x.com"
    assert lookup_email("Alice QA") == "Alice QA"


# --- the message (pure) -----------------------------------------------------------------------
def test_on_qa_message_groups_per_qa_contact_with_mentions_and_cve_note() -> None:
    bugs = [
        Bug(key="OCPBUGS-1", summary="a", status="ON_QA", qa_contact=BOB),
        Bug(key="OCPBUGS-2", summary="CVE-2026-1 b", status="ON_QA", qa_contact=ALICE),
        Bug(key="OCPBUGS-3", summary="c", status="Verified", qa_contact=ALICE),
        Bug(key="OCPBUGS-4", summary="d", status="ON_QA", qa_contact=None),
        Bug(key="OCPBUGS-5", summary="e", status="ON_QA", qa_contact=BOB),
        Bug(key="OCPBUGS-6", summary="f", status="ON_QA", qa_contact="Hidden Person"),
    ]
    text = on_qa_message(
        bugs, release="4.19.3", mentions={BOB: "<@UBOB>", ALICE: "<@UALICE>"}, links=LINKS
    )
    assert text == (
        "[4.19.3] Please pay attention to following ON_QA bugs, let's verify them ASAP,"
        " thanks for your cooperation\n"
        f"<@UBOB>:\n{link('OCPBUGS-1')}\n{link('OCPBUGS-5')}\n"
        f"<@UALICE>:\n{link('OCPBUGS-2')}{CVE_NOTE}\n"
        f"Hidden Person:\n{link('OCPBUGS-6')}\n"
        f"Unknown QA contact:\n{link('OCPBUGS-4')}\n"
    )


def test_nothing_to_say_when_no_bug_is_on_qa() -> None:
    verified = [Bug(key="OCPBUGS-1", summary="a", status="Verified", qa_contact=ALICE)]
    assert on_qa_message(verified, release="4.19.3", mentions={}, links=LINKS) is None
    assert managers_message([], release="4.19.3", managers={}, links=LINKS) is None


# --- the Konflux flow -------------------------------------------------------------------------
async def test_konflux_first_run_records_every_bug_and_announces_per_qa_contact() -> None:
    w = world()
    outcome = await w.run()

    records = {r.key: r for r in await w.state.bugs(seed.RELEASE)}
    assert set(records) == attached_bugs(seed.RELEASE)
    assert seed.MISSING_CVE_TRACKERS[seed.RELEASE] not in records
    assert all(r.new and r.attached for r in records.values())
    assert records["OCPBUGS-50006"].sources == (f"shipment {SHIPMENT_FILE}",)
    assert records["OCPBUGS-50001"].sources == (
        f"advisory {seed.ADVISORIES[seed.RELEASE]['rpm']}",
        f"shipment {SHIPMENT_FILE}",
    )
    assert records["OCPBUGS-50005"].cve_tracker
    assert records["OCPBUGS-50006"].critical
    assert records["OCPBUGS-50007"].customer_case
    assert records["OCPBUGS-50001"].qa_contact == ALICE

    (text,) = w.messages()
    assert text.startswith(f"[{seed.RELEASE}] Please pay attention to following ON_QA bugs")
    assert f"{mention(ALICE)}:\n{link('OCPBUGS-50001')}\n{link('OCPBUGS-50005')}{CVE_NOTE}\n" in (
        text
    )
    assert f"{mention(BOB)}:\n{link('OCPBUGS-50002')}\n{link('OCPBUGS-50006')}\n" in text
    assert f"Unknown QA contact:\n{link('OCPBUGS-50004')}\n" in text
    assert "OCPBUGS-50003" not in text  # Verified
    assert "OCPBUGS-50007" not in text  # MODIFIED
    assert text.count(mention(ALICE)) == 1  # grouped: each person once

    assert outcome.status.value == "In Progress"  # not every bug is verified yet
    assert outcome.data["changed"] is True
    assert outcome.data["announced"] is True
    assert "new: " in outcome.message
    assert f"announced in {FORUM}" in outcome.message


async def test_a_second_run_records_no_duplicate_and_reports_no_change() -> None:
    w = world()
    await w.run(notify=False)
    before = await w.state.bugs(seed.RELEASE)
    outcome = await w.run(notify=False)
    after = await w.state.bugs(seed.RELEASE)
    assert [r.key for r in after] == [r.key for r in before]
    assert len(w.state.bug_records) == len(before)
    assert "no change since the last run" in outcome.message
    assert outcome.data["changes"] == []
    assert w.notifier.messages == []
    assert "not announced (--no-notify)" in outcome.message


async def test_status_changes_and_detached_bugs_are_reported() -> None:
    w = world()
    await w.run(notify=False)
    await w.jira.transition("OCPBUGS-50002", "Verify")
    rpm = seed.ADVISORIES[seed.RELEASE]["rpm"]
    w.errata.issues[rpm] = [i for i in w.errata.issues[rpm] if i.key != "OCPBUGS-50004"]
    project = w.gitlab.project(seed.SHIPMENT_PROJECT)
    text = project.files[(SHIPMENT_BRANCH, SHIPMENT_FILE)]
    project.files[(SHIPMENT_BRANCH, SHIPMENT_FILE)] = text.replace(
        "        - id: OCPBUGS-50004\n          source: redhat.atlassian.net\n", ""
    )

    outcome = await w.run(notify=False)

    changes = {(c["key"], c["kind"]) for c in outcome.data["changes"]}  # type: ignore[union-attr,index]
    assert changes == {("OCPBUGS-50002", "status"), ("OCPBUGS-50004", "detached")}
    assert "status changed: OCPBUGS-50002: ON_QA -> Verified" in outcome.message
    assert "detached: OCPBUGS-50004" in outcome.message
    records = {r.key: r for r in await w.state.bugs(seed.RELEASE)}
    assert records["OCPBUGS-50004"].attached is False
    assert records["OCPBUGS-50002"].status == "Verified"


async def test_all_verified_is_pass() -> None:
    w = world()
    for key, issue in list(w.jira.issues.items()):
        if key.startswith("OCPBUGS-"):
            w.jira.issues[key] = dataclasses.replace(issue, status="Verified")
    outcome = await w.run()
    assert outcome.status.value == "Pass"
    assert w.messages() == []  # nothing ON_QA: nothing sent
    assert "no bug is ON_QA: nothing announced" in outcome.message


async def test_an_unknown_slack_user_is_written_as_the_email() -> None:
    w = world()
    w.notifier.users.pop(BOB.casefold())
    await w.run()
    (text,) = w.messages()
    assert f"\n{BOB}:\n{link('OCPBUGS-50002')}" in text


async def test_slack_down_does_not_fail_the_run_and_is_said() -> None:
    w = world()
    w.notifier.failure = "service_unavailable"
    outcome = await w.run()
    assert "the announcement to #forum-qe failed" in outcome.message
    assert outcome.data["announced"] is False
    assert len(await w.state.bugs(seed.RELEASE)) == len(attached_bugs(seed.RELEASE))


# --- the errata flow --------------------------------------------------------------------------
async def test_errata_flow_reads_only_the_advisories() -> None:
    w = world(seed.ERRATA_RELEASE)
    await w.run()
    records = {r.key: r for r in await w.state.bugs(seed.ERRATA_RELEASE)}
    assert set(records) == attached_bugs(seed.ERRATA_RELEASE)
    assert all(r.shipment_files == () for r in records.values())
    assert records["OCPBUGS-49004"].critical
    assert records["OCPBUGS-49005"].customer_case
    assert records["OCPBUGS-49002"].cve_tracker
    (text,) = w.messages()
    assert f"{mention(ALICE)}:\n{link('OCPBUGS-49002')}{CVE_NOTE}\n{link('OCPBUGS-49004')}\n" in (
        text
    )
    assert f"{mention(BOB)}:\n{link('OCPBUGS-49001')}\n" in text


async def test_notify_managers_pings_the_managers_of_unverified_cve_trackers_only() -> None:
    w = world(seed.ERRATA_RELEASE)
    outcome = await w.run(notify_managers=True)
    (text,) = w.messages()
    assert text == (
        f"[{seed.ERRATA_RELEASE}] The following issues must be verified in this release. As the"
        " managers of the assigned QA contacts who have not yet verified these Jiras, could you"
        " please prioritize their verification or reassign them to other available QA"
        " contacts?\n"
        f"{link('OCPBUGS-49002')} {mention(LEAD)}\n"
    )
    assert outcome.data["announced"] is True


async def test_notify_managers_with_an_unknown_manager_leaves_the_mention_empty() -> None:
    w = world(seed.ERRATA_RELEASE)
    w.ldap = FakeDirectory.of((p.uid, p.name, p.email, None) for p in seed.PEOPLE)
    await w.run(notify_managers=True)
    (text,) = w.messages()
    assert text.endswith(f"\n{link('OCPBUGS-49002')}\n")


async def test_notify_managers_without_unverified_trackers_sends_nothing() -> None:
    w = world(seed.ERRATA_RELEASE)
    await w.jira.transition("OCPBUGS-49002", "Verify")
    outcome = await w.run(notify_managers=True)
    assert w.messages() == []
    assert "no unverified CVE tracker" in outcome.message


async def test_new_bug_attached_later_is_reported_new() -> None:
    w = world(seed.ERRATA_RELEASE)
    await w.run(notify=False)
    image = seed.ADVISORIES[seed.ERRATA_RELEASE]["image"]
    tracker = w.errata.issues[image][0]
    missing = seed.MISSING_CVE_TRACKERS[seed.ERRATA_RELEASE]
    w.errata.issues[image].append(dataclasses.replace(tracker, key=missing))
    outcome = await w.run(notify=False)
    assert [(c["key"], c["kind"]) for c in outcome.data["changes"]] == [  # type: ignore[union-attr,index]
        (missing, ChangeKind.NEW.value)
    ]
    record = {r.key: r for r in await w.state.bugs(seed.ERRATA_RELEASE)}[missing]
    assert record.new
    assert record.advisories == (image,)


def test_a_conflict_must_name_options_the_command_has() -> None:
    from oar.release.commands import Conflict, ReleaseCommand

    with pytest.raises(InvalidArgumentError, match="unknown options"):
        ReleaseCommand(
            name="update-bug-list",
            summary="s",
            help="h",
            body="m:f",
            conflicts=(Conflict(values={"nope": True}, message="x"),),
        )
