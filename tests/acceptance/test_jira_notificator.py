"""``oarctl jira-notificator`` and its schedule against the sandbox's Jira, LDAP and GitHub
stand-ins: real ``oarctl`` processes, the real ``jira``, ldap3 and githubkit clients, a real
database.

One scenario (each process start costs seconds): a dry run leaves Jira unchanged and prints
the plan, the pre-merge verified bug skipped; a run posts each due step once, skips that bug
again, chases a bug whose pull request GitHub refused to show (and says why) and reports the
bug nobody can be asked about; a second run posts nothing new; the schedule then escalates a
bug that became due, and a worker killed and restarted does not post it again.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oar.agents.escalation import ERT_NOTIFICATION_PREFIX, PENDING_LABEL
from oar.agents.escalationlog import EscalationLog
from oar.integrations.fakes.jira import FakeJira
from oar.integrations.jira import StatusChange
from oar.sandbox.jira import NOTIFICATOR_TARGET_VERSION, PRE_MERGE_VERIFIED
from oar.sandbox.registry import STAND_INS, Sandbox
from oar.service import Service
from tests.acceptance.conftest import OarProcess, oar, wait_for, wait_for_worker

BAD = "OCPBUGS-47004"
LATE = "OCPBUGS-47005"  # entered ON_QA an hour before the sandbox started


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    entries = [e for e in STAND_INS if e.name in {"jira", "ldap", "github"}]
    async with Sandbox(base_port=0, entries=entries) as running:
        yield running


@pytest.fixture
def env(sandbox: Sandbox, subprocess_env: dict[str, str]) -> dict[str, str]:
    return {
        **subprocess_env,
        **sandbox.environment(),
        "OAR_JIRA_NOTIFICATOR_VERSIONS": f"{NOTIFICATOR_TARGET_VERSION},4.19.z",
    }


def jira_of(sandbox: Sandbox) -> FakeJira:
    state: FakeJira = sandbox.servers["jira"].jira  # type: ignore[attr-defined]
    return state


def ert_comments(jira: FakeJira) -> Counter[tuple[str, str]]:
    """(bug, title line) of every ERT comment: a step posted twice counts 2."""
    return Counter(
        (key, c.body.splitlines()[0])
        for key, issue in jira.issues.items()
        for c in issue.comments
        if c.body.startswith(ERT_NOTIFICATION_PREFIX)
    )


async def notificator(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return await oar("jira-notificator", *args, env=env, program="oarctl")


async def test_runs_post_each_due_step_once_and_the_schedule_survives_a_restart(
    env: dict[str, str],
    sandbox: Sandbox,
    client: Service,
    spawn: Callable[..., OarProcess],
) -> None:
    stand_in = sandbox.servers["jira"]
    jira = jira_of(sandbox)
    before = stand_in.snapshot()

    # Without Jira's credentials: refused before anything runs.
    no_token = {k: v for k, v in env.items() if k != "JIRA_TOKEN"}
    code, _, stderr = await notificator(no_token, "--dry-run")
    assert code == 2
    assert "JIRA_TOKEN" in stderr
    assert await EscalationLog(client.db).runs() == []

    # --dry-run: the plan, and Jira exactly as it was.
    code, stdout, stderr = await notificator(env, "--dry-run")
    assert code == 1, stderr  # the bug nobody can be asked about is a failure
    assert "(dry run: nothing written)" in stdout
    assert "would post OCPBUGS-47001: team_lead, mentioning Bob QA (557058:bob-0003)" in stdout
    assert "would post OCPBUGS-47002: manager, mentioning Morgan Lead" in stdout
    assert f"would post OCPBUGS-47003: label, label {PENDING_LABEL}" in stdout
    assert "would post OCPBUGS-50004: assignee instead of qa_contact" in stdout
    assert f"FAILED {BAD}: no QA contact, no assignee and no reporter" in stdout
    assert f"skipped {PRE_MERGE_VERIFIED}: pre-merge verified (openshift/origin#29001)" in stdout
    assert f"would post {PRE_MERGE_VERIFIED}" not in stdout
    assert "pre-merge check off" not in stdout
    assert stand_in.snapshot() == before, "--dry-run changed Jira"
    assert not [c for c in stand_in.calls() if c.method != "GET" and "/search/" not in c.path]

    # The run: each due step once; the bad bug reported, the others processed. Jira rate
    # limits the first comment (429, Retry-After): it is retried, not lost.
    stand_in.add_fault(
        path=r"/rest/api/2/issue/OCPBUGS-47001/comment", method="POST", status=429, retry_after=0.2
    )
    # GitHub will not show OCPBUGS-47001's pull request: the bug is chased, with a warning.
    sandbox.servers["github"].add_fault(
        path=r"^/repos/openshift/origin/issues/29002/labels$",
        method="GET",
        status=404,
        body={"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
    )
    code, stdout, stderr = await notificator(env, "--json")
    assert code == 1, stderr
    run = json.loads(stdout)
    posted = {(p["key"], p["tier"]) for p in run["posted"]}
    assert {
        ("OCPBUGS-47001", "team_lead"),
        ("OCPBUGS-47002", "manager"),
        ("OCPBUGS-47003", "label"),
        ("OCPBUGS-50001", "qa_contact"),
        ("OCPBUGS-50004", "assignee"),
    } <= posted
    assert [f["key"] for f in run["failed"]] == [BAD]
    assert {
        "key": PRE_MERGE_VERIFIED,
        "reason": "pre-merge verified (openshift/origin#29001)",
    } in run["skipped"]
    assert PRE_MERGE_VERIFIED not in {p["key"] for p in run["posted"]}
    assert run["warnings"] == [
        {
            "key": "OCPBUGS-47001",
            "reason": "pre-merge check failed (openshift/origin#29002: GitHub: labels of"
            " openshift/origin#29002: HTTP 404: Not Found); chased as not verified",
        }
    ]
    assert await EscalationLog(client.db).steps([PRE_MERGE_VERIFIED]) == []
    assert jira.issues[PRE_MERGE_VERIFIED].comments == ()
    assert len(stand_in.calls("/rest/api/2/issue/OCPBUGS-47001/comment", "POST")) == 2
    assert LATE in {w["key"] for w in run["waiting"]}
    manager = jira.issues["OCPBUGS-47002"].comments[-1].body
    assert manager == (
        "Errata Reliability Team Notification - Manager Action Request\n"
        "This issue has been in the ON_QA state for over 72 hours.\n"
        "[~accountId:557058:lead-0001] Please prioritize the Issue verification or consider"
        " reassigning it to another available QA Contact."
    )
    assert PENDING_LABEL in jira.issues["OCPBUGS-47003"].labels
    assert [u.display_name for u in jira.issues["OCPBUGS-50001"].need_info_from] == ["Alice QA"]
    after_first = ert_comments(jira)
    assert set(after_first.values()) == {1}

    # Again: nothing new.
    code, stdout, _ = await notificator(env, "--json")
    assert json.loads(stdout)["posted"] == []
    assert ert_comments(jira) == after_first

    # The API and the release page's section show the ON_QA bugs with their escalation.
    board, section = await _board(client, "4.19.3")
    states = {b["key"]: b["state"] for b in board["bugs"]}
    assert states["OCPBUGS-50001"] == "qa_contact"
    assert states["OCPBUGS-50004"] == "fallback"
    assert '<tr data-bug="OCPBUGS-50001" data-state="qa_contact">' in section

    # The schedule: the late bug becomes due; a worker posts it, is killed, a new one
    # keeps ticking and posts it no second time.
    late = jira.issues[LATE]
    jira.issues[LATE] = dataclasses.replace(
        late,
        status_changes=(
            StatusChange(
                at=datetime.now(UTC) - timedelta(days=8), from_status="MODIFIED", to_status="ON_QA"
            ),
        ),
    )
    schedule_env = {**env, "OAR_JIRA_NOTIFICATOR_INTERVAL": "2s"}
    log = EscalationLog(client.db)

    async def scheduled_runs() -> list[dict[str, Any]]:
        return [
            r.summary
            for r in await log.runs(limit=200)
            if r.trigger == "schedule" and r.summary is not None
        ]

    worker = spawn("worker", env=schedule_env, name="worker-1")
    await wait_for_worker(client, "test-executor", worker)
    asked = (LATE, f"{ERT_NOTIFICATION_PREFIX} - QA Contact Action Request")
    await wait_for(
        lambda: ert_comments(jira)[asked],
        timeout=60,
        what="the schedule escalating the late bug",
    )
    worker.kill9()
    seen = len(await scheduled_runs())
    restarted = spawn("worker", env=schedule_env, name="worker-2")
    await wait_for_worker(client, "test-executor", restarted)

    async def two_more_ticks() -> bool:
        return len(await scheduled_runs()) >= seen + 2

    await wait_for(two_more_ticks, timeout=60, what="ticks of the restarted worker")
    assert set(ert_comments(jira).values()) == {1}, "a step was posted twice"
    ticks = Counter(r["tick"] for r in await scheduled_runs())
    assert all(n == 1 for n in ticks.values()), f"a tick ran twice: {ticks}"
    assert restarted.terminate() == 0


async def _board(client: Service, release: str) -> tuple[dict[str, Any], str]:
    import httpx

    from oar.web.app import create_app

    app = create_app(client, owns_service=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.get(f"/api/releases/{release}/onqa")
        section = await http.get(f"/dashboard/fragments/releases/{release}/onqa")
    assert response.status_code == 200, response.text
    assert section.status_code == 200, section.text
    board: dict[str, Any] = response.json()
    return board, section.text
