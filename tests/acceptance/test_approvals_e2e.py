"""Approvals across real processes: WebSocket clients, waiters elsewhere, kill -9."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from oar.engine import TaskStatus
from oar.service import Service
from tests.acceptance.conftest import PLUGIN, OarProcess, wait_for
from tests.acceptance.test_cli import free_port

Spawn = Callable[..., OarProcess]


async def _serve(
    spawn: Spawn, name: str = "serve", port: int | None = None
) -> tuple[OarProcess, int]:
    port = port or free_port()
    server = spawn("serve", "--port", str(port), "--plugin", PLUGIN, name=name)

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await wait_for(ready, timeout=60, what="the server to be ready")
    except BaseException:
        print(server.output())
        raise
    return server, port


async def _next(ws: ClientConnection, event_type: str, timeout: float = 15) -> dict[str, Any]:
    """The next event of ``event_type`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            event: dict[str, Any] = json.loads(await ws.recv())
            if event["event_type"] == event_type:
                return event


async def test_a_websocket_resolution_wakes_a_waiter_in_another_process(
    client: Service, spawn: Spawn
) -> None:
    _, port = await _serve(spawn)
    approval_id = await client.approvals.request_approval(
        "run-ws", "release_approval", {"release": "4.19.3"}, 60, session_id="s-1"
    )
    waiter = asyncio.create_task(client.approvals.wait_for_approval(approval_id, 30))

    async with connect(f"ws://127.0.0.1:{port}/ws?run_id=run-ws") as ws:
        requested = await _next(ws, "approval_requested")
        assert requested["data"]["approval_id"] == approval_id
        assert requested["run_id"] == "run-ws"
        assert requested["session_id"] == "s-1"
        assert requested["data"]["context"] == {"release": "4.19.3"}
        await ws.send(
            json.dumps(
                {
                    "type": "approval_response",
                    "approval_id": approval_id,
                    "approved": True,
                    "feedback": "lgtm",
                    "user": "frank",
                }
            )
        )
        received = await _next(ws, "approval_received")
        assert received["data"]["approval_id"] == approval_id
        assert received["data"]["approved"] is True
        assert received["data"]["resolution"] == "approved"

    decision = await asyncio.wait_for(waiter, 30)
    assert decision == {"resolution": "approved", "feedback": "lgtm", "modifications": {}}
    info = await client.approvals.get(approval_id)
    # The connection authenticated as "local" (no token); "frank" is only what it claimed.
    assert (info.resolved_by, info.resolved_via) == ("local", "websocket")


async def test_a_reconnecting_client_gets_every_pending_approval_and_bad_messages_get_errors(
    client: Service, spawn: Spawn
) -> None:
    _, port = await _serve(spawn)
    first = await client.approvals.request_approval("run-r", "t", {"n": 1}, 60)
    url = f"ws://127.0.0.1:{port}/ws"

    async with connect(url) as ws:
        assert (await _next(ws, "approval_requested"))["data"]["approval_id"] == first
        await ws.send("{not json")
        assert (await _next(ws, "error"))["data"]["message"].startswith("malformed JSON")
        await ws.send(
            json.dumps({"type": "resolve_approval", "approval_id": first, "resolution": "approve"})
        )
        assert (
            "use one of approved, rejected, modified"
            in (await _next(ws, "error"))["data"]["message"]
        )
        await ws.send(json.dumps({"type": "dance"}))
        assert "unknown message type 'dance'" in (await _next(ws, "error"))["data"]["message"]
        await ws.send(json.dumps({"type": "ping"}))
        await _next(ws, "pong")  # still open after the errors

    second = await client.approvals.request_approval("run-r", "t", {"n": 2}, 60)
    async with connect(url) as ws:  # the "refresh": pending state comes from the database
        seen = {(await _next(ws, "approval_requested"))["data"]["approval_id"] for _ in range(2)}
        assert seen == {first, second}
        await ws.send(
            json.dumps({"type": "resolve_approval", "approval_id": first, "resolution": "rejected"})
        )
        assert (await _next(ws, "approval_received"))["data"]["resolution"] == "rejected"
        await ws.send(
            json.dumps({"type": "resolve_approval", "approval_id": first, "resolution": "approved"})
        )
        error = await _next(ws, "error")
        assert (
            error["data"]["message"]
            == f"approval {first} was not resolved: it is resolved (rejected by local)"
        )
        await client.approvals.cancel_approval(second, cancelled_by="ops")
        assert (await _next(ws, "approval_cancelled"))["data"]["approval_id"] == second


async def test_a_workflow_waiting_for_approval_survives_kill_9_and_continues_when_resolved(
    client: Service, spawn: Spawn
) -> None:
    server, port = await _serve(spawn, name="serve-1")
    task_id = await client.tasks.enqueue("acceptance.gate", {"release": "4.19.7"})

    async def requested() -> list[dict[str, Any]]:
        return await client.approvals.get_pending_for_run(task_id)

    await wait_for(requested, timeout=60, what="the workflow to request its approval")
    approval = (await requested())[0]
    server.kill9()

    await _serve(spawn, name="serve-2", port=port)
    async with httpx.AsyncClient() as http:
        resolved = await http.post(
            f"http://127.0.0.1:{port}/api/approvals/{approval['id']}/resolve",
            json={"resolution": "approved", "feedback": "after the restart", "by": "alice"},
        )
    assert resolved.status_code == 200, resolved.text

    info = await client.tasks.wait(str(task_id), timeout=60)
    assert info.status is TaskStatus.SUCCEEDED
    assert info.result == {
        "resolution": "approved",
        "feedback": "after the restart",
        "modifications": {},
    }
    final = await client.approvals.get(str(approval["id"]))
    assert (final.resolved_by, final.resolved_via) == ("local", "http")
    assert final.expires_at.isoformat() == approval["expires_at"]  # the original deadline
