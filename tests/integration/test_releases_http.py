"""``/api/releases``: the release state over HTTP, with clear 400 / 404 answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from oar.release.bugs import Bug
from oar.release.checklist import TASKS, Flow, ReleaseMetadata
from oar.release.state import ReleaseState
from oar.sandbox import seed
from oar.service import Service
from oar.settings import load_settings
from oar.web import create_app
from tests.conftest import fast_environment


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service, owns_service=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://oar.test") as http:
        yield http


async def seed_state(service: Service) -> ReleaseState:
    state = ReleaseState(service.db)
    await state.ensure_release(
        seed.RELEASE,
        ReleaseMetadata(
            release=seed.RELEASE,
            y_stream=seed.Y_STREAM,
            flow=Flow.KONFLUX,
            jira_ticket=seed.JIRA_TICKETS[seed.RELEASE],
            advisory_ids=seed.ADVISORIES[seed.RELEASE],
            shipment_mr=seed.SHIPMENT_MR_URL,
        ),
    )
    await state.ensure_release(seed.ERRATA_RELEASE)
    run_id = await state.start_task(seed.RELEASE, "stage-testing", actor="a", interface="cli")
    await state.finish_task(seed.RELEASE, "stage-testing", "Fail", log_text="boom", run_id=run_id)
    await state.add_issue(seed.RELEASE, "Stage pipeline broken", actor="a")
    return state


async def test_list_and_show_releases(client: httpx.AsyncClient, service: Service) -> None:
    await seed_state(service)
    listed = (await client.get("/api/releases")).json()["releases"]
    assert [r["release"] for r in listed] == [seed.RELEASE, seed.ERRATA_RELEASE]
    assert listed[0]["overall_status"] == "blocked"
    assert listed[0]["tasks"] == {"Fail": 1}
    assert listed[1]["overall_status"] == "not started"
    only = (await client.get("/api/releases", params={"y_stream": "4.18"})).json()["releases"]
    assert [r["release"] for r in only] == [seed.ERRATA_RELEASE]

    shown = (await client.get(f"/api/releases/{seed.RELEASE}")).json()
    assert shown["overall_status"] == "blocked"
    assert shown["flow"] == "konflux"
    assert [t["name"] for t in shown["tasks"]] == list(TASKS)
    assert "log" not in shown["tasks"][0]
    assert [b["issue"] for b in shown["blockers"]] == ["Stage pipeline broken"]
    with_logs = (await client.get(f"/api/releases/{seed.RELEASE}?logs=true")).json()
    stage = next(t for t in with_logs["tasks"] if t["name"] == "stage-testing")
    assert stage["log"] == "boom"

    runs = (await client.get(f"/api/releases/{seed.RELEASE}/runs?task=stage-testing")).json()
    assert [r["status"] for r in runs["runs"]] == ["Fail"]
    document = yaml.safe_load((await client.get(f"/api/releases/{seed.RELEASE}/statebox")).text)
    assert document["schema_version"] == "1.0"


async def test_bad_versions_and_unknown_releases_are_explained(
    client: httpx.AsyncClient, service: Service
) -> None:
    bad = await client.get("/api/releases/4.19")
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "InvalidVersionError"
    assert "expected X.Y.Z" in bad.json()["error"]["message"]
    missing = await client.get("/api/releases/4.19.9")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "release 4.19.9 is not tracked"
    assert (await client.get("/api/releases/4.19.9/runs")).status_code == 404
    assert (await client.get("/api/releases", params={"y_stream": "four"})).status_code == 400
    await seed_state(service)
    wrong_task = await client.get(f"/api/releases/{seed.RELEASE}/runs?task=nope")
    assert wrong_task.status_code == 422


async def test_bugs_of_a_release(client: httpx.AsyncClient, service: Service) -> None:
    state = await seed_state(service)
    assert (await client.get(f"/api/releases/{seed.RELEASE}/bugs")).json()["bugs"] == []
    first = [
        Bug(key="OCPBUGS-50001", summary="a", status="ON_QA", qa_contact="qa.alice@example.com"),
        Bug(key="OCPBUGS-50005", summary="CVE-2026-31001 x", status="ON_QA", advisories=(1,)),
    ]
    await state.record_bugs(seed.RELEASE, first, attached=["OCPBUGS-50001", "OCPBUGS-50005"])
    await state.record_bugs(seed.RELEASE, first[1:], attached=["OCPBUGS-50005"])
    body = (await client.get(f"/api/releases/{seed.RELEASE}/bugs")).json()
    assert body["release"] == seed.RELEASE
    assert [(b["key"], b["attached"]) for b in body["bugs"]] == [
        ("OCPBUGS-50001", False),
        ("OCPBUGS-50005", True),
    ]
    tracker = body["bugs"][1]
    assert tracker["cve_tracker"] is True
    assert tracker["severity"] == ["cve_tracker"]
    assert tracker["advisories"] == [1]
    assert tracker["new"] is False
    attached = (await client.get(f"/api/releases/{seed.RELEASE}/bugs?attached=true")).json()
    assert [b["key"] for b in attached["bugs"]] == ["OCPBUGS-50005"]
    assert (await client.get("/api/releases/4.19.9/bugs")).status_code == 404


async def test_delete_needs_the_token_and_is_refused_while_a_run_is_in_progress(
    database_url: str, tmp_path: Path
) -> None:
    token = "releases-token-0123456789abcdef"
    env = {**fast_environment(database_url, tmp_path / "data"), "OAR_API_TOKEN": token}
    bearer = {"Authorization": f"Bearer {token}"}
    async with Service(load_settings(environ=env), roles={"web"}) as service:
        transport = httpx.ASGITransport(app=create_app(service, owns_service=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://oar.test") as http:
            state = await seed_state(service)  # a Fail run of stage-testing, an issue
            path = f"/api/releases/{seed.RELEASE}"
            assert (await http.delete(path)).status_code == 401
            run_id = await state.start_task(seed.RELEASE, "drop-bugs", actor="a", interface="cli")
            busy = await http.delete(path, headers=bearer)
            assert busy.status_code == 409
            assert f"run #{run_id} of drop-bugs is In Progress" in busy.json()["error"]["message"]
            await state.finish_task(seed.RELEASE, "drop-bugs", "Pass", run_id=run_id)
            deleted = await http.delete(path, headers=bearer)
            assert deleted.status_code == 200, deleted.text
            assert deleted.json()["deleted"] is True
            assert (await http.get(path, headers=bearer)).status_code == 404
            assert (await http.delete(path, headers=bearer)).status_code == 404
            listed = (await http.get("/api/releases", headers=bearer)).json()["releases"]
            assert [r["release"] for r in listed] == [seed.ERRATA_RELEASE]  # the other stays
