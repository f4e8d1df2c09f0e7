"""Who may use the HTTP API and the WebSocket, over a real server: issue 13's attacks.

Each test is one of the issue's findings, replayed the way an attacker (or a careless
client) would, and asserts what the operator would see instead.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select
from starlette.routing import Route, WebSocketRoute
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from oar.db.models import AuditEntry
from oar.engine import TaskContext, task
from oar.service import Service
from oar.settings import load_settings
from oar.web import create_app
from oar.web.bodies import RequestBody
from tests.conftest import fast_environment
from tests.live_server import live_server

TOKEN = "oar-test-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC = {
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/dashboard/login",
}
# Dashboard pages a browser opens: without the token they send it to the login page.
DASHBOARD_PAGES = ("/", "/releases/", "/dashboard/", "/tests")


@task("test.access.quiet", retries=0)
async def quiet(ctx: TaskContext) -> str:
    return "done"


async def _service(database_url: str, tmp_path: Path, **env: str) -> Service:
    settings = load_settings(environ={**fast_environment(database_url, tmp_path / "data"), **env})
    return Service(settings, roles={"web", "worker"})


@pytest.fixture
async def guarded(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    """A service with OAR_API_TOKEN set."""
    async with await _service(database_url, tmp_path, OAR_API_TOKEN=TOKEN) as service:
        yield service


@pytest.fixture
async def guarded_url(guarded: Service) -> AsyncIterator[str]:
    async with live_server(create_app(guarded, owns_service=False)) as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture
async def local_url(service: Service) -> AsyncIterator[str]:
    """The server without a token (loopback only)."""
    async with live_server(create_app(service, owns_service=False)) as port:
        yield f"127.0.0.1:{port}"


async def _request_approval(service: Service, run_id: str = "run-a") -> str:
    return await service.approvals.request_approval(
        run_id, "release_approval", {"release": "4.19.3", "secret-ish": "context"}, 60
    )


async def _audit(service: Service, approval_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    async with service.db.session() as session:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.subject == approval_id).order_by(AuditEntry.id)
            )
        ).all()
    return [(row.actor, row.action, row.details) for row in rows]


# --- item 7 and the mechanism: every route but the public ones needs the token -----------


async def test_every_route_but_the_public_ones_refuses_a_request_without_the_token(
    guarded: Service, guarded_url: str
) -> None:
    """A route added later cannot slip through: every mounted route is tried."""
    app = create_app(guarded, owns_service=False)
    tried = 0
    async with httpx.AsyncClient(base_url=f"http://{guarded_url}") as http:
        for route in iter_route_contexts(app.routes):
            path = re.sub(r"{[^}]+}", "x", route.path or "")
            if isinstance(route.original_route, WebSocketRoute):
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(f"ws://{guarded_url}{path}"):
                        pass
                assert refused.value.response.status_code == 401, path
                tried += 1
                continue
            if not isinstance(route.original_route, APIRoute | Route):
                continue  # the /static mount: vendored files, public by design
            for method in sorted(route.methods or ()):
                answer = await http.request(method, path)
                page = path in ("/", "/operations") or path.startswith(DASHBOARD_PAGES[1:])
                if path in PUBLIC:
                    assert answer.status_code != 401, (method, path)
                elif page and method in ("GET", "HEAD"):
                    assert answer.status_code == 303, (method, path, answer.text)
                    assert answer.headers["location"].startswith("/dashboard/login?next=")
                elif path in PUBLIC:
                    assert answer.status_code != 401, (method, path)
                else:
                    assert answer.status_code == 401, (method, path, answer.text)
                    assert answer.headers["www-authenticate"] == "Bearer"
                    if method != "HEAD":
                        assert answer.json()["error"]["type"] == "Unauthorized"
                tried += 1
    assert tried >= 15


async def test_every_request_body_refuses_what_no_database_stores(service: Service) -> None:
    """Every body model derives from RequestBody (NUL, lone surrogates, deep nesting)."""
    app = create_app(service, owns_service=False)
    bodies = [
        route.original_route.body_field.field_info.annotation
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        and route.original_route.body_field is not None
    ]
    assert len(bodies) >= 4
    for body in bodies:
        models = [t for t in get_args(body) or (body,) if t is not type(None)]
        assert models, body
        for model in models:
            assert isinstance(model, type)
            assert issubclass(model, RequestBody), model


async def test_reads_need_the_token_too(guarded: Service, guarded_url: str) -> None:
    """Issue 13 item 7: task payloads, approval contexts and /metrics were public."""
    approval_id = await _request_approval(guarded)
    task_id = await guarded.tasks.enqueue("test.access.quiet", {"password": "hunter2"})
    async with httpx.AsyncClient(base_url=f"http://{guarded_url}") as http:
        for path in (
            f"/api/approvals/{approval_id}",
            "/api/approvals",
            f"/api/tasks/{task_id}",
            "/api/tasks",
            "/metrics",
        ):
            for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer nope"}):
                denied = await http.get(path, headers=headers)
                assert denied.status_code == 401, (path, headers)
                assert "secret-ish" not in denied.text
                assert "hunter2" not in denied.text
            assert (await http.get(path, headers=BEARER)).status_code == 200, path
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200


async def test_metrics_can_be_made_public_and_nothing_else_is(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        await _service(
            database_url, tmp_path, OAR_API_TOKEN=TOKEN, OAR_METRICS_PUBLIC="true"
        ) as service,
        live_server(create_app(service, owns_service=False)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert "oar_approvals_pending" in metrics.text
        assert (await http.get("/api/tasks")).status_code == 401


async def test_the_websocket_needs_the_token_and_accepts_it_in_the_query(
    guarded: Service, guarded_url: str
) -> None:
    approval_id = await _request_approval(guarded)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"ws://{guarded_url}/ws?token=wrong-token-0123456789"):
            pass
    assert refused.value.response.status_code == 401
    assert b"secret-ish" not in refused.value.response.body
    for url, headers in (
        (f"ws://{guarded_url}/ws?token={TOKEN}", None),
        (f"ws://{guarded_url}/ws", BEARER),
    ):
        async with connect(url, additional_headers=headers) as ws:
            event = await _next(ws, "approval_requested")
            assert event["data"]["approval_id"] == approval_id


# --- item 8: authenticate first, then a capped body ------------------------------------


class _Body:
    """A request body of ``total`` bytes that counts how much the server pulled."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            self.pulled += self.chunk
            yield b"x" * self.chunk


async def test_an_unauthenticated_300_mb_body_is_refused_without_being_read(
    guarded: Service,
) -> None:
    """Issue 13 item 8: the body was parsed before the 401 (+289 MiB, a 2 s stall)."""
    transport = httpx.ASGITransport(app=create_app(guarded, owns_service=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        body = _Body(300 * 1024 * 1024)
        answer = await http.post("/api/tasks", content=body.__aiter__())
        assert answer.status_code == 401
        assert body.pulled == 0


async def test_a_body_over_the_limit_is_a_413_read_no_further(guarded: Service) -> None:
    transport = httpx.ASGITransport(app=create_app(guarded, owns_service=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        declared = _Body(300 * 1024 * 1024)
        answer = await http.post(
            "/api/tasks",
            content=declared.__aiter__(),
            headers={**BEARER, "Content-Length": str(declared.total)},
        )
        assert answer.status_code == 413
        assert answer.json()["error"] == {
            "type": "RequestTooLarge",
            "message": "the request body is over 1048576 bytes (OAR_MAX_BODY_BYTES)",
        }
        assert declared.pulled == 0

        streamed = _Body(300 * 1024 * 1024)  # chunked: no Content-Length to go by
        answer = await http.post("/api/tasks", content=streamed.__aiter__(), headers=BEARER)
        assert answer.status_code == 413
        assert streamed.pulled <= 1024 * 1024 + streamed.chunk

        fits = await http.post(
            "/api/approvals",
            json={"run_id": "r", "approval_type": "t", "context": {"blob": "x" * 900_000}},
            headers=BEARER,
        )
        assert fits.status_code == 201


# --- item 6: without a token, Host and Origin ------------------------------------------


async def test_a_page_in_the_operators_browser_cannot_cancel_an_approval(
    service: Service, local_url: str
) -> None:
    """Issue 13 item 6: a cross-site form POST cancelled approvals."""
    approval_id = await _request_approval(service)
    async with httpx.AsyncClient(base_url=f"http://{local_url}") as http:
        forged = await http.post(
            f"/api/approvals/{approval_id}/cancel",
            content=b"",
            headers={
                "Origin": "http://evil.example",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert forged.status_code == 403
        assert forged.json()["error"]["type"] == "ForbiddenOrigin"
        assert (await service.approvals.get(approval_id)).status.value == "pending"
        own = await http.post(
            f"/api/approvals/{approval_id}/cancel", headers={"Origin": f"http://{local_url}"}
        )
        assert own.status_code == 200


async def test_a_page_in_the_operators_browser_cannot_open_the_websocket(
    service: Service, local_url: str
) -> None:
    """Issue 13 item 6: any web page could read and resolve approvals over /ws."""
    approval_id = await _request_approval(service)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"ws://{local_url}/ws", origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    assert approval_id.encode() not in refused.value.response.body
    async with connect(f"ws://{local_url}/ws", origin=f"http://{local_url}") as ws:  # type: ignore[arg-type]
        assert (await _next(ws, "approval_requested"))["data"]["approval_id"] == approval_id


async def test_dns_rebinding_is_refused(service: Service, local_url: str) -> None:
    """Issue 13 item 6: a hostile name resolving to 127.0.0.1 sends its own Host."""
    approval_id = await _request_approval(service)
    port = local_url.rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=f"http://{local_url}") as http:
        rebound = await http.get(
            f"/api/approvals/{approval_id}", headers={"Host": f"rebind.evil.example:{port}"}
        )
        assert rebound.status_code == 403
        assert rebound.json()["error"]["type"] == "ForbiddenHost"
        assert "secret-ish" not in rebound.text
        for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
            assert (
                await http.get(f"/api/approvals/{approval_id}", headers={"Host": host})
            ).status_code == 200
    with pytest.raises(InvalidStatus) as refused:
        # The browser's view: the URL names the hostile host; the socket goes to 127.0.0.1.
        async with connect(
            f"ws://rebind.evil.example:{port}/ws", host="127.0.0.1", port=int(port), proxy=None
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_an_allowed_origin_may_use_the_api(database_url: str, tmp_path: Path) -> None:
    async with (
        await _service(
            database_url, tmp_path, OAR_ALLOWED_ORIGINS="http://localhost:3000"
        ) as service,
        live_server(create_app(service, owns_service=False)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        created = await http.post(
            "/api/approvals",
            json={"run_id": "r", "approval_type": "t"},
            headers={"Origin": "http://localhost:3000"},
        )
        assert created.status_code == 201
        other = await http.post(
            "/api/approvals",
            json={"run_id": "r", "approval_type": "t"},
            headers={"Origin": "http://localhost:3001"},
        )
        assert other.status_code == 403


# --- item 9: the authenticated identity is the actor -------------------------------------


async def test_the_actor_is_who_authenticated_and_a_claim_is_kept_as_on_behalf_of(
    guarded: Service, guarded_url: str
) -> None:
    """Issue 13 item 9: `by` chose the audit actor; now it is only a recorded claim."""
    async with httpx.AsyncClient(base_url=f"http://{guarded_url}", headers=BEARER) as http:
        created = await http.post(
            "/api/approvals",
            json={"run_id": "r", "approval_type": "t", "requested_by": "the-ceo"},
        )
        assert created.json()["requested_by"] == "api-token"
        approval_id = created.json()["id"]
        resolved = await http.post(
            f"/api/approvals/{approval_id}/resolve", json={"approved": True, "by": "the-ceo"}
        )
        assert resolved.json()["resolved_by"] == "api-token"
        other = (
            await http.post("/api/approvals", json={"run_id": "r", "approval_type": "t"})
        ).json()["id"]
        cancelled = await http.post(f"/api/approvals/{other}/cancel", json={"by": "the-ceo"})
        assert cancelled.json()["resolved_by"] == "api-token"
    assert await _audit(guarded, approval_id) == [
        ("api-token", "approval.request", {"run_id": "r", "on_behalf_of": "the-ceo"}),
        ("api-token", "approval.approved", {"run_id": "r", "on_behalf_of": "the-ceo"}),
    ]
    assert (await _audit(guarded, other))[-1] == (
        "api-token",
        "approval.cancel",
        {"run_id": "r", "on_behalf_of": "the-ceo"},
    )


async def test_a_websocket_resolution_is_recorded_as_the_connection_not_its_user_field(
    service: Service, local_url: str
) -> None:
    approval_id = await _request_approval(service)
    async with connect(f"ws://{local_url}/ws") as ws:
        await _next(ws, "approval_requested")
        await ws.send(
            json.dumps(
                {
                    "type": "resolve_approval",
                    "approval_id": approval_id,
                    "resolution": "approved",
                    "user": "the-ceo",
                }
            )
        )
        received = await _next(ws, "approval_received")
        assert received["data"]["resolved_by"] == "local"
    assert (await _audit(service, approval_id))[-1] == (
        "local",
        "approval.approved",
        {"run_id": "run-a", "on_behalf_of": "the-ceo"},
    )


# --- item 10: bounded numbers, no NUL, no 500 ---------------------------------------------


async def test_numbers_past_their_bounds_are_a_422_not_a_500(
    guarded: Service, guarded_url: str
) -> None:
    """Issue 13 item 10: offset=2**63 gave a 500 (and froze the process)."""
    async with httpx.AsyncClient(base_url=f"http://{guarded_url}", headers=BEARER) as http:
        for path, params in (
            ("/api/tasks", {"offset": str(2**63)}),
            ("/api/tasks", {"offset": str(2**31)}),
            ("/api/tasks", {"limit": str(2**63)}),
            ("/api/approvals", {"limit": "1e400"}),
            ("/api/approvals/x/wait", {"timeout": "nan"}),
            ("/api/releases/4.19.3/runs", {"limit": str(2**64)}),
        ):
            answer = await http.get(path, params=params)
            assert answer.status_code == 422, (path, params, answer.text)
        huge = await http.get("/api/releases/4." + "9" * 5000 + ".1")
        assert huge.status_code == 400
        assert "invalid release" in huge.json()["error"]["message"]
        assert (await http.get("/api/tasks", params={"offset": str(2**31 - 1)})).json() == {
            "tasks": []
        }


async def test_a_nul_anywhere_in_a_request_is_a_422_not_a_500(
    guarded: Service, guarded_url: str
) -> None:
    """Issue 13 item 10: on PostgreSQL, /api/approvals/a%00b gave a 500."""
    async with httpx.AsyncClient(base_url=f"http://{guarded_url}", headers=BEARER) as http:
        for path in ("/api/approvals/a%00b", "/api/tasks/a%00b", "/api/releases/4.19.3%00"):
            answer = await http.get(path)
            assert answer.status_code == 422, path
            assert "NUL" in answer.json()["error"]["message"]
        assert (await http.get("/api/approvals", params={"run_id": "a\x00b"})).status_code == 422
        for body in (
            {"run_id": "a\x00b", "approval_type": "t"},
            {"run_id": "r", "approval_type": "t", "context": {"note": "a\x00b"}},
            {"run_id": "r", "approval_type": "t", "context": {"k\x00": 1}},
            {"run_id": "r", "approval_type": "t", "context": json.loads("[" * 200 + "]" * 200)},
        ):
            answer = await http.post("/api/approvals", json=body)
            assert answer.status_code == 422, (body, answer.text)
        surrogate = await http.post(
            "/api/tasks",
            content=b'{"name": "x", "payload": "\\ud800"}',
            headers={"Content-Type": "application/json"},
        )
        assert surrogate.status_code == 422
        assert "lone surrogate" in surrogate.text
        assert (await http.get("/readyz")).status_code == 200


async def test_a_bad_websocket_message_gets_an_error_and_the_connection_lives_on(
    service: Service, local_url: str
) -> None:
    """Issue 13 item 10: a NUL in approval_id killed the handler on PostgreSQL."""
    approval_id = await _request_approval(service)
    async with connect(f"ws://{local_url}/ws") as ws:
        await _next(ws, "approval_requested")
        for message, error in (
            ({"approval_id": "a\x00b"}, "contains a NUL character"),
            ({"approval_id": approval_id, "feedback": "\x00"}, "contains a NUL character"),
            ({"approval_id": approval_id, "user": 7}, "user must be a string"),
            ({"approval_id": "x" * 300}, "approval_id is longer than 200"),
            ({"approval_id": approval_id, "modifications": "[" * 5000}, None),
        ):
            await ws.send(
                json.dumps({"type": "resolve_approval", "resolution": "approved", **message})
            )
            if error is None:
                # An undecodable string is kept as {"raw": …}: the resolution goes through.
                received = await _next(ws, "approval_received")
                assert received["data"]["modifications"] == {"raw": "[" * 5000}
            else:
                assert error in (await _next(ws, "error"))["data"]["message"]
        await ws.send("[" * 100_000)
        assert "malformed JSON" in (await _next(ws, "error"))["data"]["message"]
        await ws.send(json.dumps({"type": "ping"}))
        await _next(ws, "pong")


async def _next(ws: ClientConnection, event_type: str, timeout: float = 15) -> dict[str, Any]:
    """The next event of ``event_type`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            event: dict[str, Any] = json.loads(await ws.recv())
            if event["event_type"] == event_type:
                return event
