"""The HTTP API over a running service: health, metrics, tasks, tokens, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from oar.engine import TaskContext, task
from oar.service import Service
from oar.web import create_app


@task("test.http.ok", retries=0)
async def ok(ctx: TaskContext) -> str:
    return "done"


@task("test.http.fails", retries=0)
async def fails(ctx: TaskContext) -> None:
    raise RuntimeError("boom")


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service, owns_service=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://oar.test") as http:
        yield http


async def test_health_readiness_and_metrics(client: httpx.AsyncClient, service: Service) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": True, "engine": True}}

    task_id = await service.tasks.enqueue("test.http.ok")
    await service.tasks.wait(task_id, timeout=30)
    body = (await client.get("/metrics")).text
    assert 'oar_tasks{status="succeeded"} 1.0' in body
    assert 'oar_task_attempts_total{name="test.http.ok",outcome="succeeded"}' in body
    assert "oar_task_attempt_duration_seconds_bucket" in body


async def test_readiness_fails_when_the_engine_is_down(
    client: httpx.AsyncClient, service: Service
) -> None:
    await service.engine.stop(grace=0)
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["engine"] is False


async def test_list_show_retry_and_cancel_tasks(
    client: httpx.AsyncClient, service: Service
) -> None:
    task_id = await service.tasks.enqueue("test.http.fails")
    await service.tasks.wait(task_id, timeout=30)

    listed = (await client.get("/api/tasks", params={"status": "dead"})).json()["tasks"]
    assert [t["id"] for t in listed] == [task_id]
    shown = (await client.get(f"/api/tasks/{task_id}")).json()
    assert shown["status"] == "dead"
    assert shown["last_error"] == "RuntimeError: boom"
    assert shown["attempt_log"][0]["status"] == "failed"

    retried = await client.post(f"/api/tasks/{task_id}/retry")
    assert retried.status_code == 200
    assert retried.json()["run"] == 2
    await service.tasks.wait(task_id, timeout=30)

    conflict = await client.post(f"/api/tasks/{task_id}/cancel")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["type"] == "TaskStateError"
    assert "cancel needs a task that is pending or running" in conflict.json()["error"]["message"]


async def test_any_tool_can_enqueue_a_task_and_a_key_makes_it_idempotent(
    client: httpx.AsyncClient, service: Service
) -> None:
    first = await client.post("/api/tasks", json={"name": "test.http.ok", "key": "build-7"})
    again = await client.post("/api/tasks", json={"name": "test.http.ok", "key": "build-7"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() == {"id": "build-7"}
    info = await service.tasks.wait("build-7", timeout=30)
    assert info.result == "done"
    assert info.source == "http:local"


async def test_enqueue_refuses_unknown_tasks_and_bad_options(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/api/tasks", json={"name": "nope"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"].startswith("unknown task 'nope'; registered tasks:")
    negative = await client.post("/api/tasks", json={"name": "test.http.ok", "timeout": -1})
    assert negative.status_code == 422
    assert "timeout" in negative.text
    bad_key = await client.post("/api/tasks", json={"name": "test.http.ok", "key": "a/b"})
    assert bad_key.status_code == 422
    assert "invalid task key" in bad_key.text
    not_json = await client.post(
        "/api/tasks", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422


async def test_internal_tasks_cannot_be_enqueued_over_http(
    client: httpx.AsyncClient, service: Service
) -> None:
    """``github.call`` once imported and ran any function a request named (``platform:node``
    returned the host name); internal tasks are OAR's to start, not a request's."""
    for name, payload in [
        ("github.call", {"function": "platform:node"}),
        ("release.approval-watch", {"watch_id": "w-1"}),
    ]:
        refused = await client.post("/api/tasks", json={"name": name, "payload": payload})
        assert refused.status_code == 422, refused.text
        message = refused.json()["error"]["message"]
        assert message.startswith(f"task {name!r} is internal"), message
        assert "test.http.ok" in message  # what may be enqueued instead
        assert await service.tasks.list(name=name) == []
    unknown = await client.post("/api/tasks", json={"name": "nope"})
    assert "github.call" not in unknown.json()["error"]["message"]


async def test_bad_requests_get_clear_errors(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/tasks/task-nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"type": "TaskNotFoundError", "message": "no task with ID 'task-nope'"}
    }
    bad_status = await client.get("/api/tasks", params={"status": "exploded"})
    assert bad_status.status_code == 422
    assert "pending" in bad_status.text  # the allowed values are listed
    assert (await client.get("/api/tasks", params={"limit": 0})).status_code == 422
    assert (await client.post("/api/tasks/task-nope/retry")).status_code == 404


async def test_the_token_is_needed_when_one_is_configured(service: Service) -> None:
    guarded = service.settings.model_copy(update={"api_token": SecretStr("tok-1234567890abcdef")})
    service.settings = guarded
    app = create_app(service, owns_service=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://oar.test"
    ) as http:
        task_id = await service.tasks.enqueue("test.http.fails")
        await service.tasks.wait(task_id, timeout=30)
        assert (await http.get("/api/tasks")).status_code == 401  # reads too
        denied = await http.post(f"/api/tasks/{task_id}/retry")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"] == "Bearer"
        wrong = await http.post(
            f"/api/tasks/{task_id}/retry", headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
        allowed = await http.post(
            f"/api/tasks/{task_id}/retry", headers={"Authorization": "Bearer tok-1234567890abcdef"}
        )
        assert allowed.status_code == 200
        assert allowed.json()["run"] == 2
