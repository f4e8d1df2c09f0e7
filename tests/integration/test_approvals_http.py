"""``/api/approvals``: OAR as an approval service, with its bad-input answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from oar.service import Service
from oar.web import create_app


@pytest.fixture
async def http(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service, owns_service=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://oar.test") as client:
        yield client


async def _create(http: httpx.AsyncClient, **extra: object) -> dict[str, object]:
    body = {
        "run_id": "run-9",
        "approval_type": "release_approval",
        "context": {"release": "4.19.3"},
    }
    response = await http.post("/api/approvals", json={**body, **extra})
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_create_list_show_resolve_and_a_second_resolve_conflicts(
    http: httpx.AsyncClient,
) -> None:
    created = await _create(http, timeout_seconds=60, session_id="s-1", requested_by="oar-cli")
    assert created["status"] == "pending"
    assert created["requested_by"] == "local"  # who authenticated (no token: local)
    approval_id = created["id"]

    listed = (
        await http.get("/api/approvals", params={"status": "pending", "run_id": "run-9"})
    ).json()
    assert [a["id"] for a in listed["approvals"]] == [approval_id]
    assert (await http.get(f"/api/approvals/{approval_id}")).json()["context"] == {
        "release": "4.19.3"
    }

    first = await http.post(
        f"/api/approvals/{approval_id}/resolve",
        json={"resolution": "approved", "feedback": "go", "by": "alice"},
    )
    assert first.status_code == 200
    assert first.json()["resolved_by"] == "local"  # "alice" is in the audit log's details
    assert first.json()["resolved_via"] == "http"
    assert first.json()["approved"] is True

    second = await http.post(
        f"/api/approvals/{approval_id}/resolve", json={"approved": False, "by": "bob"}
    )
    assert second.status_code == 409
    assert second.json()["approval"]["resolution"] == "approved"
    assert second.json()["error"]["message"] == (
        f"cannot resolve approval {approval_id}: it is resolved (approved by local)"
    )


async def test_long_poll_answers_when_the_decision_arrives(http: httpx.AsyncClient) -> None:
    approval_id = (await _create(http))["id"]

    async def decide_soon() -> None:
        await asyncio.sleep(0.3)
        await http.post(
            f"/api/approvals/{approval_id}/resolve", json={"approved": False, "by": "qe"}
        )

    decider = asyncio.create_task(decide_soon())
    waited = await http.get(f"/api/approvals/{approval_id}/wait", params={"timeout": 20})
    await decider
    assert waited.status_code == 200
    assert waited.json()["status"] == "resolved"
    assert waited.json()["resolution"] == "rejected"

    still = await _create(http)
    timed_out = await http.get(f"/api/approvals/{still['id']}/wait", params={"timeout": 0.2})
    assert timed_out.json()["status"] == "pending"


async def test_cancel_then_resolve_conflicts(http: httpx.AsyncClient) -> None:
    approval_id = (await _create(http))["id"]
    cancelled = await http.post(f"/api/approvals/{approval_id}/cancel", json={"by": "carol"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["resolved_by"] == "local"
    late = await http.post(f"/api/approvals/{approval_id}/resolve", json={"resolution": "approved"})
    assert late.status_code == 409
    again = await http.post(f"/api/approvals/{approval_id}/cancel")
    assert again.status_code == 409


async def test_metrics_count_pending_approvals_and_outcomes(http: httpx.AsyncClient) -> None:
    first = (await _create(http))["id"]
    await _create(http)
    await http.post(f"/api/approvals/{first}/resolve", json={"resolution": "rejected"})
    body = (await http.get("/metrics")).text
    assert "oar_approvals_pending 1.0" in body
    assert 'oar_approval_resolutions_total{outcome="rejected"}' in body
    assert "oar_approval_resolution_seconds_count" in body


async def test_bad_input_gets_clear_errors(http: httpx.AsyncClient) -> None:
    missing = await http.get("/api/approvals/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no approval with ID 'nope'"
    assert (
        await http.post("/api/approvals/nope/resolve", json={"approved": True})
    ).status_code == 404

    approval_id = (await _create(http))["id"]
    wrong = await http.post(f"/api/approvals/{approval_id}/resolve", json={"resolution": "approve"})
    assert wrong.status_code == 422
    assert "'approved', 'rejected' or 'modified'" in wrong.text
    both = await http.post(
        f"/api/approvals/{approval_id}/resolve", json={"resolution": "approved", "approved": True}
    )
    assert both.status_code == 422
    assert "exactly one of resolution" in both.text

    for timeout in (-1, 0, 10**9):
        bad = await http.post(
            "/api/approvals", json={"run_id": "r", "approval_type": "t", "timeout_seconds": timeout}
        )
        assert bad.status_code == 422, timeout
        assert "timeout_seconds" in bad.text
    for timeout in ("-1", "100000", "soon"):
        bad_wait = await http.get(f"/api/approvals/{approval_id}/wait", params={"timeout": timeout})
        assert bad_wait.status_code == 422
    assert (await http.post("/api/approvals", json={"approval_type": "t"})).status_code == 422
    assert (await http.get("/api/approvals", params={"status": "maybe"})).status_code == 422
