"""The dashboard over HTTP (the app in-process and on a live port): what the pages show,
approving from the page, the token's session cookie and CSRF, the live change feed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from oar.agents.jobruns import JobRuns
from oar.engine.schedules import ScheduleRegistry, ScheduleRun
from oar.integrations.errata import AdvisoryState
from oar.release.bugs import Bug
from oar.release.checklist import ReleaseMetadata, TaskStatus
from oar.release.follows import Follows
from oar.release.shipment import RECORD_KEY, AdvisoryCheck, errata_shipment, record
from oar.release.state import ReleaseState
from oar.service import Service
from oar.settings import Settings, load_settings
from oar.web import create_app
from tests.conftest import fast_environment
from tests.follow_kinds import flag_request
from tests.live_server import live_server
from tests.waiting import eventually

RELEASE = "4.18.3"
OTHER = "4.17.9"
TOKEN = "dashboard-token-0123456789abcdef"


async def _seed(service: Service, tmp_path: Path) -> str:
    """Two releases: one mid-way with a blocker, bugs, a follow and a pending approval."""
    state = ReleaseState(service.db)
    run = await state.start_task(RELEASE, "take-ownership", actor="alice", interface="cli")
    await state.finish_task(RELEASE, "take-ownership", TaskStatus.PASS, log_text="owner set")
    await state.start_task(RELEASE, "image-consistency-check", actor="bob", interface="slack")
    await state.set_task_status(
        OTHER,
        "create-test-report",
        TaskStatus.FAIL,
        actor="carol",
        interface="cli",
        note="report job failed",
    )
    await state.add_issue(RELEASE, "payload images missing", actor="alice")
    await state.record_bugs(
        RELEASE,
        [Bug(key="OCPBUGS-101", summary="router drops idle connections", status="ON_QA")],
        attached=["OCPBUGS-101"],
    )
    await Follows(service.db, service.tasks).start(flag_request(tmp_path, release=RELEASE))
    assert run
    return await service.approvals.request_approval(
        f"{RELEASE} OCPBUGS-101", "drop_bug", {"release": RELEASE, "bug": "OCPBUGS-101"}, 600
    )


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service, owns_service=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


async def test_the_overview_and_the_release_page_show_the_release_state(
    service: Service, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    approval_id = await _seed(service, tmp_path)

    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert html.index(f'href="/releases/{RELEASE}"') < html.index(f'href="/releases/{OTHER}"')
    assert 'data-task="take-ownership" data-status="Pass"' in html
    assert 'data-task="image-consistency-check" data-status="In Progress"' in html
    assert "by alice (cli)" in html  # who ran it, in the cell's title
    assert 'data-task="create-test-report" data-status="Fail"' in html
    assert "▲ blocked" in html  # symbol and word: blocked by a blocker / a failed task
    assert f'href="/releases/{RELEASE}#approvals-h"' in html  # where to decide the approval

    release = (await client.get(f"/releases/{RELEASE}")).text
    assert "payload images missing" in release  # the blocker
    assert "1 open blockers" in release
    assert "owner set" in release  # the run's full log
    assert 'data-bug="OCPBUGS-101"' in release
    assert "router drops idle connections" in release
    assert "the flag" in release  # the running follow, with next check and deadline
    assert f'action="/dashboard/approvals/{approval_id}/resolve"' in release
    other = (await client.get(f"/releases/{OTHER}")).text
    assert approval_id not in other  # the approval is about 4.18.3 only
    assert "report job failed" in other
    assert (await client.get("/releases/4.99.1")).status_code == 404
    assert (await client.get("/releases/not-a-version")).status_code == 400


async def test_the_release_page_shows_the_shipment_badge_and_the_ci_gates_results(
    service: Service, client: httpx.AsyncClient
) -> None:
    """The Shipment badge says unknown until is-shipped recorded a verdict; QE test
    results show each candidate build's CI-gate state, or that none is recorded."""
    state = ReleaseState(service.db)
    nightly = "4.18.0-0.nightly-2026-11-29-101010"
    arm = "4.18.0-0.nightly-arm64-2026-11-29-101010"
    await state.ensure_release(
        RELEASE,
        ReleaseMetadata(
            release=RELEASE,
            y_stream="4.18",
            advisory_ids={"rpm": 150101, "image": 150102},
            candidate_builds={
                "x86_64": f"registry.ci.openshift.org/ocp/release:{nightly}",
                "aarch64": f"registry.ci.openshift.org/ocp-arm64/release-arm64:{arm}",
            },
        ),
    )
    page = (await client.get(f"/releases/{RELEASE}")).text
    assert 'data-shipment="unknown"' in page
    assert f"oar -r {RELEASE} is-shipped" in page  # how to know
    assert page.count("no CI-gate result recorded for this build") == 2
    assert 'href="/tests/4.18"' in page

    job = "periodic-ci-openshift-openshift-tests-private-release-4.18-automated-release-aws-ipi"
    first = {"jobID": "j1", "jobState": "success", "jobURL": "https://deck/j1"}
    document = {
        "result": [{"jobName": job, "firstJob": first, "retriedJobs": []}],
        "aggregated": True,
        "accepted": False,
    }
    await JobRuns(service.db).record_build(document, build=nightly, arch="amd64")
    seen = [
        AdvisoryCheck(impetus="rpm", advisory_id=150101, state=AdvisoryState.REL_PREP),
        AdvisoryCheck(impetus="image", advisory_id=150102, state=AdvisoryState.QE),
    ]
    checked = record(
        errata_shipment(seen), checked_at=datetime(2026, 11, 30, 5, 0, tzinfo=UTC), advisories=seen
    )
    await state.set_metadata(RELEASE, RECORD_KEY, checked)

    page = (await client.get(f"/releases/{RELEASE}")).text
    assert 'data-shipment="not-shipped">Not shipped<' in page
    assert '<td>150101</td><td data-state="REL_PREP">' in page  # the states it saw
    assert '<td>150102</td><td data-state="QE">' in page
    assert "checked 2026-11-30 05:00:00 UTC" in page
    assert f'data-qe-build="{nightly}"' in page
    assert 'data-state="Rejected"' in page
    assert "aws-ipi" in page  # the job's summary line
    assert page.count("no CI-gate result recorded for this build") == 1  # arm64's


async def test_approving_on_the_page_resolves_it_and_records_the_actor(
    service: Service, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    approval_id = await _seed(service, tmp_path)
    form = {"resolution": "approved", "by": "Dana", "next": f"/releases/{RELEASE}"}
    path = f"/dashboard/approvals/{approval_id}/resolve"

    forged = await client.post(path, data=form, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403  # CSRF: another site's form is refused
    assert (await service.approvals.get(approval_id)).status.value == "pending"

    answer = await client.post(path, data=form, headers={"Origin": "http://127.0.0.1"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/releases/{RELEASE}"
    info = await service.approvals.get(approval_id)
    assert (info.status.value, info.resolution and info.resolution.value) == (
        "resolved",
        "approved",
    )
    assert (info.resolved_by, info.resolved_via) == ("local", "dashboard")
    again = await client.post(path, data=form, headers={"Origin": "http://127.0.0.1"})
    assert again.status_code == 409
    assert "it was not changed" in again.text
    page = (await client.get(f"/releases/{RELEASE}")).text
    assert f'action="/dashboard/approvals/{approval_id}/resolve"' not in page


async def test_with_a_token_the_page_asks_for_it_once_and_refuses_actions_without_it(
    database_url: str, tmp_path: Path
) -> None:
    env = {**fast_environment(database_url, tmp_path / "data"), "OAR_API_TOKEN": TOKEN}
    async with Service(load_settings(environ=env), roles={"web", "worker"}) as service:
        approval_id = await _seed(service, tmp_path)
        transport = httpx.ASGITransport(app=create_app(service, owns_service=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            origin = {"Origin": "http://127.0.0.1"}
            path = f"/dashboard/approvals/{approval_id}/resolve"
            form = {"resolution": "rejected", "next": "/"}

            first = await http.get(f"/releases/{RELEASE}")
            assert first.status_code == 303
            assert first.headers["location"] == f"/dashboard/login?next=/releases/{RELEASE}"
            refused = await http.post(path, data=form, headers=origin)
            assert refused.status_code == 401
            issue = {"text": "forged blocker"}
            issues = f"/dashboard/releases/{RELEASE}/issues"
            assert (await http.post(issues, data=issue, headers=origin)).status_code == 401
            hide = f"/dashboard/releases/{RELEASE}/hide"
            assert (await http.post(hide, headers=origin)).status_code == 401
            assert (await http.get("/operations")).status_code == 303
            wrong = await http.post("/dashboard/login", data={"token": "guess"}, headers=origin)
            assert wrong.status_code == 403
            assert "session" not in wrong.headers.get("set-cookie", "")

            login = await http.post(
                "/dashboard/login", data={"token": TOKEN, "next": "/"}, headers=origin
            )
            assert login.status_code == 303
            cookie = login.headers["set-cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=strict" in cookie
            assert TOKEN not in cookie
            assert (await http.get(f"/releases/{RELEASE}")).status_code == 200
            # The cookie is for the dashboard only, not the JSON API.
            assert (await http.get("/api/releases")).status_code == 401
            forged = await http.post(path, data=form, headers={"Origin": "https://evil.example"})
            assert forged.status_code == 403
            assert (await service.approvals.get(approval_id)).status.value == "pending"

            forged_issue = await http.post(
                issues, data=issue, headers={"Origin": "https://evil.example"}
            )
            assert forged_issue.status_code == 403
            reported = await http.post(issues, data={"text": "real blocker"}, headers=origin)
            assert reported.status_code == 303
            texts = [
                (i.text, i.reported_by)
                for i in (await ReleaseState(service.db).get(RELEASE)).issues
            ]
            assert ("real blocker", "api-token") in texts
            assert all(text != "forged blocker" for text, _ in texts)
            assert (await http.get("/operations")).status_code == 200

            done = await http.post(path, data=form, headers=origin)
            assert done.status_code == 303
            info = await service.approvals.get(approval_id)
            assert info.resolution is not None
            assert (info.resolution.value, info.resolved_by) == ("rejected", "api-token")


async def test_the_change_socket_tells_the_page_when_another_writer_changes_a_release(
    service: Service,
) -> None:
    """A write through another ReleaseState (as another process would make it) reaches a
    connected page through the change feed: NOTIFY on PostgreSQL, the poll on SQLite."""
    await ReleaseState(service.db).ensure_release(RELEASE)
    async with (
        live_server(create_app(service, owns_service=False)) as port,
        connect(f"ws://127.0.0.1:{port}/dashboard/ws") as socket,
    ):
        other_writer = ReleaseState(service.db)
        await other_writer.finish_task(RELEASE, "take-ownership", TaskStatus.PASS)
        seen: list[dict[str, str]] = []
        async with asyncio.timeout(2):  # the page re-fetches on it: live within ~a second
            while {"kind": "release", "id": RELEASE} not in seen:
                seen.append(json.loads(await socket.recv(decode=True)))


async def test_a_follows_check_and_a_task_reach_the_page_within_a_second(
    service: Service, tmp_path: Path
) -> None:
    """The operations page and the release page's follows section hear of every write to
    a follow's row (each check) and a task's row, in any process, within a second."""
    follows = Follows(service.db, service.tasks)
    async with (
        live_server(create_app(service, owns_service=False)) as port,
        connect(f"ws://127.0.0.1:{port}/dashboard/ws") as socket,
    ):
        follow, _ = await follows.start(flag_request(tmp_path, release=RELEASE))
        seen: list[dict[str, str]] = []
        async with asyncio.timeout(5):  # the first check runs when a worker takes it
            while (await follows.get(follow.id)).checks < 1:
                seen.append(json.loads(await socket.recv(decode=True)))
        (tmp_path / "flag").touch()
        await follows.check_now(follow.id, actor="tester")
        seen.clear()
        async with asyncio.timeout(1.5):  # the check that finds the flag, and its task ending
            wanted = ({"kind": "follow", "id": follow.id}, {"kind": "task", "id": follow.id})
            while any(change not in seen for change in wanted):
                seen.append(json.loads(await socket.recv(decode=True)))


async def test_a_schedules_pause_resumption_and_run_reach_the_page_within_a_second(
    settings: Settings,
) -> None:
    """A schedule's rows are the engine's own: a pause and a resumption (made as
    ``oarctl schedules`` makes them, with no page involved) and a run enqueued and finished
    each reach a connected page as ``{"kind": "schedule"}`` within a second."""
    registry = ScheduleRegistry()
    ran: list[str] = []

    async def nightly(run: ScheduleRun) -> str:  # not by the clock in this test: daily
        ran.append(run.workflow_id)
        return "done"

    registry.register("test.nightly", nightly, every="1d")
    wanted = {"kind": "schedule", "id": "test.nightly"}
    async with (
        Service(settings, roles={"web", "worker"}, schedules=registry) as service,
        live_server(create_app(service, owns_service=False)) as port,
        connect(f"ws://127.0.0.1:{port}/dashboard/ws") as socket,
    ):

        async def heard(within: float) -> None:
            async with asyncio.timeout(within):
                while json.loads(await socket.recv(decode=True)) != wanted:
                    pass

        await heard(5)  # the feed's first look at the schedules, once the page subscribed
        await service.schedules.pause("test.nightly", actor="alice", interface="cli")
        await heard(1)
        await service.schedules.resume("test.nightly", actor="alice", interface="cli")
        await heard(1)
        workflow_id = await service.schedules.run_now("test.nightly", actor="alice")
        await heard(1)  # enqueued, as a tick is: the page's last run changes
        await eventually(lambda: ran, what="the run-now to run")
        assert ran == [workflow_id]


async def test_releases_are_added_hidden_and_their_issues_handled_over_http(
    client: httpx.AsyncClient, service: Service
) -> None:
    """The API the dashboard's forms share: add (a bad name is a 400 naming it), hide,
    show, report and resolve an issue, with the caller recorded."""
    bad = await client.post("/api/releases", json={"release": "4.18"})
    assert bad.status_code == 400
    assert "invalid release '4.18'" in bad.json()["error"]["message"]
    added = await client.post("/api/releases", json={"release": " 4.18.3 "})
    assert (added.status_code, added.json()["created"]) == (201, True)
    again = await client.post("/api/releases", json={"release": "4.18.3"})
    assert again.json()["created"] is False
    assert (await client.post("/api/releases/4.18.3/hide")).json()["hidden"] is True
    listed = (await client.get("/api/releases")).json()["releases"]
    assert [(r["release"], r["hidden"]) for r in listed] == [("4.18.3", True)]
    page = await client.get("/")
    assert 'data-hidden="4.18.3"' in page.text
    assert 'data-release="4.18.3"' not in page.text
    assert (await client.post("/api/releases/4.18.3/show")).json()["hidden"] is False
    assert (await client.post("/api/releases/4.9.9/hide")).status_code == 404
    issue = await client.post(
        "/api/releases/4.18.3/issues", json={"text": "no arm64 payload", "tasks": ["drop-bugs"]}
    )
    assert issue.status_code == 201
    body = issue.json()
    assert (body["blocker"], body["reported_by"]) == (True, "local")
    resolved = await client.post(
        f"/api/releases/4.18.3/issues/{body['id']}/resolve", json={"resolution": "rebuilt"}
    )
    assert (resolved.json()["resolved"], resolved.json()["resolved_by"]) == (True, "local")
    missing = await client.post("/api/releases/4.18.3/issues/999/resolve", json={"resolution": "x"})
    assert missing.status_code == 404
