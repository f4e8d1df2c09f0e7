"""``oar -r X drop-bugs`` against the sandbox: real ``oar`` processes, real client libraries
against the stand-ins, the service (worker and Slack bot) in this test's event loop, a real
database.

Errata flow, end to end: the critical bug's approval is posted to its owner in the Slack
stand-in, the service restarts between the post and the click, a double click on Approve
drops it once, a click on Reject keeps the customer-case bug, and the run passes when the
last decision is in. Konflux flow: the drop merge request, and ``--dry-run`` changing no
stand-in's state in either flow.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from oar.cli.oarctl import programs
from oar.release.checklist import TaskStatus
from oar.release.shipments import fixed_issues
from oar.release.state import ReleaseState
from oar.sandbox import releaseconfig, seed
from oar.sandbox.gitlab import SHIPMENT_BRANCH, SHIPMENT_FILE
from oar.sandbox.registry import Sandbox
from oar.sandbox.slack import SlackStandIn
from oar.service import Service
from oar.settings import load_settings
from tests.acceptance.conftest import oar, wait_for

QE_RELEASE = seed.SLACK_CHANNELS["team-qe-release"]
ALICE, BOB = "U0ALICE002", "U0BOB00003"
APPROVE, REJECT = "oar_approval_approve", "oar_approval_reject"
ERRATA = seed.ADVISORIES[seed.ERRATA_RELEASE]
KONFLUX = seed.ADVISORIES[seed.RELEASE]


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


@contextlib.asynccontextmanager
async def serving(sandbox: Sandbox, env: dict[str, str]) -> AsyncIterator[Service]:
    """``oarctl serve`` with the Slack tokens set: the worker (the drop follows) and the
    bot (it posts the approvals and takes the clicks)."""
    slack: SlackStandIn = sandbox.servers["slack"]  # type: ignore[assignment]
    connected = slack.connections
    async with Service(
        load_settings(environ=env), roles={"worker", "bot"}, programs=programs()
    ) as service:
        await slack.wait_for(lambda: slack.connections > connected, 10, "socket connection")
        yield service


def approval_message(slack: SlackStandIn, approval_id: str) -> dict[str, Any] | None:
    """The Slack message carrying the approval's buttons (or its outcome, once decided)."""
    for message in slack.channel_messages(QE_RELEASE):
        if approval_id in json.dumps(message.get("blocks", [])):
            return message
    return None


def attached(sandbox: Sandbox, advisory_id: int) -> list[str]:
    errata = sandbox.servers["errata"].errata  # type: ignore[attr-defined]
    return [i.key for i in errata.issues[advisory_id]]


def channel_texts(slack: SlackStandIn) -> list[str]:
    return [str(m.get("text", "")) for m in slack.channel_messages(QE_RELEASE)]


async def drop_bugs(release: str, env: dict[str, str], *more: str) -> dict[str, Any]:
    code, stdout, stderr = await oar("-r", release, "drop-bugs", "--json", *more, env=env)
    assert code == 0, stderr
    outcome: dict[str, Any] = json.loads(stdout)
    return outcome


async def test_errata_flow_approvals_survive_a_restart_and_decide_once(
    env: dict[str, str], sandbox: Sandbox
) -> None:
    slack: SlackStandIn = sandbox.servers["slack"]  # type: ignore[assignment]
    errata = sandbox.servers["errata"]
    async with serving(sandbox, env):
        outcome = await drop_bugs(seed.ERRATA_RELEASE, env)

        assert outcome["status"] == "In Progress", outcome
        assert [d["key"] for d in outcome["data"]["dropped"]] == ["OCPBUGS-49001"]
        assert attached(sandbox, ERRATA["rpm"]) == []
        assert [d["key"] for d in outcome["data"]["kept"]] == ["OCPBUGS-49002"]  # CVE
        # The rpm RHSA lost its doc and prodsec approvals: asked for again, approvers told.
        assert outcome["data"]["prodsec_approval_requested"] == [ERRATA["rpm"]]
        approvers = slack.channel_messages(seed.SLACK_CHANNELS["forum-ocp-art"])
        assert [m["text"] for m in approvers] == [
            f"[{seed.ERRATA_RELEASE}] Hello @sandbox-approval-doc, Could you approve doc for"
            f" advisories:[{ERRATA['rpm']}], thanks!\n[{seed.ERRATA_RELEASE}] Hello"
            " <@U0LEAD0001> <@U0RILEY005>, Could you approve Prodsec for"
            f" advisories:[{ERRATA['rpm']}], thanks!"
        ]
        waiting = {w["key"]: w["approval_id"] for w in outcome["data"]["waiting"]}
        assert set(waiting) == {"OCPBUGS-49004", "OCPBUGS-49005"}
        critical, customer = waiting["OCPBUGS-49004"], waiting["OCPBUGS-49005"]
        # Posted to the owner: the critical bug's QA contact, mentioned by Slack user.
        await wait_for(
            lambda: approval_message(slack, critical) and approval_message(slack, customer),
            timeout=30,
            what="the approvals in Slack",
        )
        posted = approval_message(slack, critical)
        assert posted is not None
        assert f"<@{ALICE}>" in posted["text"]
        assert "*OCPBUGS-49004* (critical) is not verified" in posted["text"]

    # The service restarts between the post and the click; a rerun asks nobody twice.
    async with serving(sandbox, env) as service:
        again = await drop_bugs(seed.ERRATA_RELEASE, env)
        assert {w["key"]: w["approval_id"] for w in again["data"]["waiting"]} == waiting
        assert (
            sum(
                critical in json.dumps(m.get("blocks", []))
                for m in slack.channel_messages(QE_RELEASE)
            )
            == 1
        )

        message = approval_message(slack, critical)
        assert message is not None
        await slack.click(QE_RELEASE, message["ts"], ALICE, APPROVE, critical)
        await slack.click(QE_RELEASE, message["ts"], ALICE, APPROVE, critical)  # double click
        rejected = approval_message(slack, customer)
        assert rejected is not None
        await slack.click(QE_RELEASE, rejected["ts"], BOB, REJECT, customer)

        dropped = f"[{seed.ERRATA_RELEASE}] OCPBUGS-49004 dropped after <@{ALICE}> approved:"
        kept = f"[{seed.ERRATA_RELEASE}] OCPBUGS-49005 kept: <@{BOB}> rejected dropping it"
        await wait_for(
            lambda: (
                any(t.startswith(dropped) for t in channel_texts(slack))
                and kept in channel_texts(slack)
            ),
            timeout=30,
            what="both decisions acted on and reported",
        )
        assert attached(sandbox, ERRATA["extras"]) == []  # the critical bug, dropped …
        puts = errata.calls(f"/api/v1/erratum/{ERRATA['extras']}", "PUT")  # type: ignore[attr-defined]
        bodies = [json.loads(call.body)["advisory"] for call in puts]
        assert [b for b in bodies if "idsfixed" in b] == [{"idsfixed": ""}]  # … once
        assert [b for b in bodies if "text_ready" in b] == [{"text_ready": 1}]  # docs asked again
        assert attached(sandbox, ERRATA["metadata"]) == ["OCPBUGS-49005"]  # rejected: kept
        approvers = slack.channel_messages(seed.SLACK_CHANNELS["forum-ocp-art"])
        assert approvers[-1]["text"] == (  # the approved drop took the docs' approval
            f"[{seed.ERRATA_RELEASE}] Hello @sandbox-approval-doc, Could you approve doc for"
            f" advisories:[{ERRATA['extras']}], thanks!"
        )
        state = ReleaseState(service.db)

        async def settled() -> bool:
            runs = await state.runs(seed.ERRATA_RELEASE, task="drop-bugs")
            return [r.status for r in runs] == [TaskStatus.PASS, TaskStatus.PASS]

        await wait_for(settled, timeout=30, what="the drop-bugs runs to pass")


async def test_konflux_flow_drops_through_one_mr_and_dry_runs_change_nothing(
    env: dict[str, str], sandbox: Sandbox
) -> None:
    slack: SlackStandIn = sandbox.servers["slack"]  # type: ignore[assignment]
    gitlab = sandbox.servers["gitlab"].gitlab  # type: ignore[attr-defined]
    before = sandbox.snapshot()
    for release in (seed.ERRATA_RELEASE, seed.RELEASE):
        outcome = await drop_bugs(release, env, "--dry-run")
        assert outcome["message"].startswith("dry run: nothing was changed\n"), outcome
        assert outcome["data"]["drop"], outcome
        assert outcome["data"]["ask"], outcome
        # A dry run records no run: the checklist does not show drop-bugs In Progress.
        code, stdout, stderr = await oar("-r", release, "task", "drop-bugs", "--json", env=env)
        assert code == 0, stderr
        assert json.loads(stdout)["runs"] == [], stdout
    assert sandbox.snapshot() == before

    async with serving(sandbox, env):
        outcome = await drop_bugs(seed.RELEASE, env)

        project = gitlab.project(seed.SHIPMENT_PROJECT)
        (mr,) = [m for m in project.merge_requests.values() if m.title == "4.19.3 drop bugs"]
        assert mr.target_branch == SHIPMENT_BRANCH
        shipped = fixed_issues(project.files[(mr.source_branch, SHIPMENT_FILE)])
        assert not {"OCPBUGS-50001", "OCPBUGS-50002", "OCPBUGS-50004"} & set(shipped)
        assert {"OCPBUGS-50005", "OCPBUGS-50006", "OCPBUGS-50007"} <= set(shipped)
        notes = [n.body for n in project.notes[seed.SHIPMENT_MR_IID]]
        assert notes[-1] == f"Drop bug in MR: {mr.web_url}"
        assert attached(sandbox, KONFLUX["rpm"]) == ["OCPBUGS-50005"]  # the CVE tracker
        waiting = {w["key"]: w["approval_id"] for w in outcome["data"]["waiting"]}
        assert set(waiting) == {"OCPBUGS-50006", "OCPBUGS-50007"}
        await wait_for(
            lambda: all(approval_message(slack, a) for a in waiting.values()),
            timeout=30,
            what="the approvals in Slack",
        )
        announcement = next(t for t in channel_texts(slack) if "following bugs are dropped" in t)
        assert "dropped from advisories and shipment data" in announcement
