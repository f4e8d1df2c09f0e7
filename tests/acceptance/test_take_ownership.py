"""``oar -r X take-ownership -e <email>`` as the QE release lead runs it: from a terminal
in the Konflux flow, from Slack in the errata flow. Real ``oar`` processes and real client
libraries against the sandbox's stand-ins in this test's event loop, a real database."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oar.cli.oarctl import programs
from oar.integrations.errata import AdvisoryState
from oar.integrations.gitlab import MergeRequestState
from oar.release.checklist import TaskStatus
from oar.release.state import ReleaseState
from oar.sandbox import releaseconfig, seed
from oar.sandbox.registry import Sandbox
from oar.sandbox.slack import SlackStandIn
from oar.service import Service
from oar.settings import load_settings
from tests.acceptance.conftest import oar

OWNER = seed.RELEASE_OWNER
OWNER_PERSON = next(p for p in seed.PEOPLE if p.email == OWNER)
INITIAL_OWNER = "ocp-qe-errata@example.com"
QE_RELEASE = seed.SLACK_CHANNELS["team-qe-release"]
ART = seed.SLACK_CHANNELS["forum-ocp-art"]
LEAD = "U0LEAD0001"  # a QE lead in the Slack stand-in
LEAD_NAME = "mlead"
NOTE = f"QE Release Lead is @{OWNER_PERSON.uid}"
STARTED = ("[Wed-Fri]", "[Mon-Wed]")  # the QE subtasks that move to In Progress


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
def env(sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_LOG_LEVEL": "INFO",
    }


def subtasks(sandbox: Sandbox, release: str) -> dict[str, tuple[str, str | None]]:
    """The ART ticket's subtasks in the Jira stand-in: summary -> (status, assignee)."""
    jira = sandbox.servers["jira"].jira  # type: ignore[attr-defined]
    found = {}
    for key in jira.issues[seed.JIRA_TICKETS[release]].subtasks:
        issue = jira.issues[key]
        found[issue.summary] = (issue.status, issue.assignee.account_id if issue.assignee else None)
    return found


def taken(sandbox: Sandbox, release: str) -> bool:
    """Every QE subtask assigned to the owner, and the right two in progress."""
    found = subtasks(sandbox, release)
    return len(found) == 3 and all(
        assignee == OWNER_PERSON.jira_account_id
        and (status == "In Progress") == summary.startswith(STARTED)
        for summary, (status, assignee) in found.items()
    )


def owners(sandbox: Sandbox, release: str) -> dict[str, str]:
    errata = sandbox.servers["errata"].errata  # type: ignore[attr-defined]
    return {i: errata.advisories[a].qe_owner for i, a in seed.ADVISORIES[release].items()}


def channel_texts(sandbox: Sandbox, channel: str) -> list[str]:
    slack = sandbox.servers["slack"]
    return [m["text"] for m in slack.channel_messages(channel)]  # type: ignore[attr-defined]


async def test_konflux_from_the_cli_with_an_abnormal_advisory_and_a_rerun(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    rhcos = seed.ADVISORIES[seed.RELEASE]["rhcos"]
    errata = sandbox.servers["errata"].errata  # type: ignore[attr-defined]
    errata.advisories[rhcos] = dataclasses.replace(
        errata.advisories[rhcos], state=AdvisoryState.NEW_FILES
    )
    state = ReleaseState(client.db)

    # A typo is a usage error naming the option: nothing runs, nothing is recorded.
    code, _, stderr = await oar("-r", seed.RELEASE, "take-ownership", "-e", "rowner@", env=env)
    assert code == 2, stderr
    assert "'-e' / '--email'" in stderr
    assert "rowner@ is not a valid email" in stderr
    assert not await state.exists(seed.RELEASE)

    code, stdout, stderr = await oar(
        "-r", seed.RELEASE, "take-ownership", "-e", OWNER, "--json", env=env
    )

    assert code == 0, stderr
    outcome = json.loads(stdout)
    assert outcome["status"] == "Pass"
    assert owners(sandbox, seed.RELEASE) == {"rpm": OWNER, "rhcos": OWNER}
    gitlab = sandbox.servers["gitlab"].gitlab  # type: ignore[attr-defined]
    notes = [n.body for n in await gitlab.notes(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID)]
    assert notes[-1] == NOTE
    assert taken(sandbox, seed.RELEASE), subtasks(sandbox, seed.RELEASE)
    (blocker,) = (await state.get(seed.RELEASE)).issues
    assert blocker.text == f"Advisories in abnormal state (NEW_FILES instead of QE): {rhcos}"
    assert (blocker.blocker, blocker.related_tasks) == (True, ["push-to-cdn-staging"])
    (announcement,) = channel_texts(sandbox, QE_RELEASE)
    assert announcement.startswith(
        f"[{seed.RELEASE}] Hello <!subteam^S0419QELDS>, owner of advisories and jira subtasks"
        f" are changed to {OWNER}\nShipment merge request: <{seed.SHIPMENT_MR_URL}|"
    )
    assert "Found some abnormal advisories that state is not QE" in announcement
    (to_art,) = channel_texts(sandbox, ART)
    assert to_art.startswith("Hello <!subteam^S0ART00001>, Can you help to check following")
    assert len(outcome["done"]) == 8  # 2 owners, the comment, 3 subtasks assigned, 2 started

    # Again: nothing is changed twice, the same blocker stands, the channel hears it again.
    code, stdout, stderr = await oar("-r", seed.RELEASE, "take-ownership", "-e", OWNER, env=env)

    assert code == 0, stderr
    assert f"already says '{NOTE}'" in stdout
    notes = [n.body for n in await gitlab.notes(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID)]
    assert notes.count(NOTE) == 1
    assert len((await state.get(seed.RELEASE)).issues) == 1
    runs = await state.runs(seed.RELEASE, task="take-ownership")
    assert [r.status for r in runs] == [TaskStatus.PASS, TaskStatus.PASS]


async def test_is_shipped_says_why_not_then_shipped_once_the_shipment_mr_is_merged(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    """``oar is-shipped``: the sandbox's Konflux release is not shipped (its MR is open, its
    prod release manual, its advisories in QE); once the MR is merged it is. Exit 0 both
    ways; the verdict is kept in the release's metadata for the dashboard's badge."""
    code, stdout, stderr = await oar("-r", seed.RELEASE, "is-shipped", "--json", env=env)

    assert code == 0, stderr
    data = json.loads(stdout)["data"]
    assert (data["shipped"], data["flow_type"]) == (False, "konflux")
    assert {d["item"]: d["detail"] for d in data["details"]} == {
        f"shipment MR !{seed.SHIPMENT_MR_IID}": "opened",
        "prod release": "manual",
        f"advisory {seed.ADVISORIES[seed.RELEASE]['rpm']} (rpm)": "QE",
        f"advisory {seed.ADVISORIES[seed.RELEASE]['rhcos']} (rhcos)": "QE",
    }

    gitlab = sandbox.servers["gitlab"].gitlab  # type: ignore[attr-defined]
    project = gitlab.project(seed.SHIPMENT_PROJECT)
    merge_request = project.merge_requests[seed.SHIPMENT_MR_IID]
    project.merge_requests[seed.SHIPMENT_MR_IID] = dataclasses.replace(
        merge_request, state=MergeRequestState.MERGED
    )
    code, stdout, stderr = await oar("-r", seed.RELEASE, "is-shipped", env=env)

    assert code == 0, stderr
    assert f"{seed.RELEASE} is shipped (konflux flow)" in stdout
    assert f"✓ shipment MR !{seed.SHIPMENT_MR_IID}: merged" in stdout
    info = await ReleaseState(client.db).get(seed.RELEASE)
    assert info.metadata["shipment"]["shipped"] is True
    assert info.metadata["shipment"]["checked_at"]
    assert await ReleaseState(client.db).runs(seed.RELEASE) == []  # not a checklist task


@contextlib.asynccontextmanager
async def bot_service(sandbox: Sandbox, environ: dict[str, str]) -> AsyncIterator[SlackStandIn]:
    """The service as ``oarctl serve`` runs it with the Slack tokens set (bot role)."""
    slack: SlackStandIn = sandbox.servers["slack"]  # type: ignore[assignment]
    connected = slack.connections
    async with Service(
        load_settings(environ=environ), roles={"bot"}, programs=programs()
    ) as service:
        assert service.bot is not None
        service.bot.runner.environ.update(environ)  # what the bot's own environment holds
        await slack.wait_for(lambda: slack.connections > connected, 10, "socket connection")
        yield slack


async def test_errata_flow_from_a_slack_thread(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    command = f"oar -r {seed.ERRATA_RELEASE} take-ownership -e {OWNER}"

    async with bot_service(sandbox, env) as slack:
        root = await slack.post_message(QE_RELEASE, LEAD, command)

        def thread() -> str:
            return "\n".join(m["text"] for m in slack.thread(QE_RELEASE, root)[1:])

        await slack.wait_for(lambda: "finished" in thread(), 90, "the command's end in Slack")

    assert "QE owner of advisories" in thread(), thread()
    expected = dict.fromkeys(seed.ADVISORIES[seed.ERRATA_RELEASE], OWNER)
    expected["microshift"] = INITIAL_OWNER
    assert owners(sandbox, seed.ERRATA_RELEASE) == expected
    assert taken(sandbox, seed.ERRATA_RELEASE), subtasks(sandbox, seed.ERRATA_RELEASE)
    (announcement,) = [t for t in channel_texts(sandbox, QE_RELEASE) if t.startswith("Hello")]
    assert announcement.startswith(
        f"Hello <!subteam^S0418QELDS>, owner of [{seed.ERRATA_RELEASE}] advisories and jira"
        f" subtasks are changed to {OWNER}\nUpdated advisories:\n"
    )
    assert announcement.count("/advisory/") == 5  # microshift is not the release lead's
    assert announcement.count("/browse/ART-") == 3
    assert channel_texts(sandbox, ART) == []
    state = ReleaseState(client.db)
    (run,) = await state.runs(seed.ERRATA_RELEASE, task="take-ownership")
    assert (run.status, run.actor, run.interface, run.slack_thread) == (
        TaskStatus.PASS,
        LEAD_NAME,
        "slack",
        root,
    )
    assert (await state.get(seed.ERRATA_RELEASE)).issues == []
