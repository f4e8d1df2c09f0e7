"""GitHubApp bound to a real service: verify, dedupe, background tasks, installation tokens."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from oar.db.types import utcnow
from oar.engine import TaskStatus
from oar.errors import ConfigurationError
from oar.github import GitHubApp, WebhookContext
from oar.github.app import CALL_TASK
from oar.github.deliveries import DeliveryStore
from oar.github.webhooks import parse, sign
from oar.sandbox.github import SANDBOX_APP_ID, SANDBOX_INSTALLATION_ID, GitHubStandIn
from oar.service import Service
from oar.settings import load_settings
from oar.web import create_app
from tests.conftest import fast_environment

FIXTURES = Path(__file__).parents[1] / "fixtures" / "github"
SECRET = "It's a Secret to Everybody"

app = GitHubApp()
seen: list[dict[str, Any]] = []
calls: Counter[str] = Counter()


@app.on("issues")
def on_issue(ctx: WebhookContext) -> str:
    seen.append({"event": ctx.event, "action": ctx.action, "delivery": ctx.delivery_id})
    return f"issue #{ctx.payload['issue']['number']}"


@app.on("pull_request.labeled", background=True, retries=2, retry_delay=0.05)
async def on_label(ctx: WebhookContext) -> dict[str, Any]:
    calls[ctx.delivery_id] += 1
    gh = await ctx.github()
    token = gh.auth.token  # type: ignore[attr-defined]
    return {"label": ctx.payload["label"]["name"], "attempt": ctx.attempt, "token": token[:4]}


@app.on("push", background=True, retries=2, retry_delay=0.05)
async def on_push(ctx: WebhookContext) -> str:
    calls[ctx.delivery_id] += 1
    if ctx.payload.get("ref") == "refs/heads/flaky" and ctx.attempt < 3:
        raise RuntimeError(f"flaky attempt {ctx.attempt}")
    if ctx.payload.get("ref") == "refs/heads/broken":
        raise RuntimeError("always broken")
    return ctx.payload["after"]


@app.task
def add(a: int, b: int) -> int:
    return a + b


def not_registered() -> str:
    return "ran"


@pytest.fixture(autouse=True)
def _fresh() -> None:
    seen.clear()
    calls.clear()


@pytest.fixture
async def github_standin() -> AsyncIterator[tuple[GitHubStandIn, str]]:
    stand_in = GitHubStandIn()
    async with stand_in.serving() as url:
        yield stand_in, url


@pytest.fixture
async def github_service(
    database_url: str, tmp_path: Path, github_standin: tuple[GitHubStandIn, str]
) -> AsyncIterator[Service]:
    stand_in, url = github_standin
    env = {
        **fast_environment(database_url, tmp_path / "data"),
        "GITHUBAPP_WEBHOOK_SECRET": SECRET,
        "GITHUBAPP_ID": SANDBOX_APP_ID,
        "GITHUBAPP_PRIVATE_KEY": stand_in.private_key,
        "GITHUBAPP_URL": url,
        "GITHUBAPP_MAX_WORKERS": "10",
    }
    async with Service(load_settings(environ=env), github_app=app) as service:
        yield service


@pytest.fixture
async def http(github_service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(github_service, owns_service=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://oar.test") as client:
        yield client


def delivery(
    event: str,
    body: bytes | None = None,
    *,
    delivery_id: str | None = None,
    secret: str | None = SECRET,
    **payload_changes: Any,
) -> tuple[dict[str, str], bytes]:
    if body is None:
        data = json.loads((FIXTURES / f"{event}.json").read_bytes())
        data.update(payload_changes)
        body = json.dumps(data).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return headers, body


async def post(http: httpx.AsyncClient, headers: dict[str, str], body: bytes) -> httpx.Response:
    return await http.post("/webhooks/github", content=body, headers=headers)


async def test_a_quick_handler_answers_hit_and_an_unhandled_event_miss(
    http: httpx.AsyncClient,
) -> None:
    headers, body = delivery("issues")
    hit = await post(http, headers, body)
    assert hit.status_code == 200
    assert hit.json()["status"] == "HIT"
    assert hit.json()["calls"] == {"on_issue": "issue #1421"}
    assert seen == [
        {"event": "issues", "action": "opened", "delivery": headers["X-GitHub-Delivery"]}
    ]

    miss = await post(http, *delivery("star", b'{"action": "created"}'))
    assert miss.status_code == 200
    assert miss.json()["status"] == "MISS"


async def test_a_background_handler_is_acknowledged_with_its_task_and_runs_durably(
    http: httpx.AsyncClient, github_service: Service, github_standin: tuple[GitHubStandIn, str]
) -> None:
    headers, body = delivery("pull_request")
    answer = await post(http, headers, body)
    assert answer.status_code == 202
    assert answer.json()["status"] == "QUEUED"
    [task_id] = answer.json()["tasks"]
    info = await github_service.tasks.wait(task_id, timeout=30)
    assert info.status is TaskStatus.SUCCEEDED
    assert info.result == {"label": "lgtm", "attempt": 1, "token": "ghs_"}
    status = await app.get_task_status(task_id)
    assert status["status"] == "succeeded"

    # A second delivery for the same installation reuses the cached installation token.
    second = await post(http, *delivery("pull_request"))
    await github_service.tasks.wait(second.json()["tasks"][0], timeout=30)
    stand_in, _ = github_standin
    minted = stand_in.calls(rf"/app/installations/{SANDBOX_INSTALLATION_ID}/access_tokens")
    assert len(minted) == 1


async def test_a_redelivery_runs_nothing_again_and_gets_the_first_answer(
    http: httpx.AsyncClient, github_service: Service
) -> None:
    headers, body = delivery("pull_request")
    first, second, third = await asyncio.gather(*(post(http, headers, body) for _ in range(3)))
    answers = [first.json(), second.json(), third.json()]
    assert {a["tasks"][0] for a in answers} == {first.json()["tasks"][0]}
    assert sum(1 for a in answers if a.get("duplicate")) == 2
    info = await github_service.tasks.wait(first.json()["tasks"][0], timeout=30)
    await asyncio.sleep(0.3)
    assert info.status is TaskStatus.SUCCEEDED, info.attempt_log
    assert calls[headers["X-GitHub-Delivery"]] == 1


async def test_a_flaky_handler_succeeds_on_retry_and_a_broken_one_becomes_a_dead_letter(
    http: httpx.AsyncClient, github_service: Service
) -> None:
    flaky = await post(http, *delivery("push", ref="refs/heads/flaky"))
    broken = await post(http, *delivery("push", ref="refs/heads/broken"))
    flaky_info = await github_service.tasks.wait(flaky.json()["tasks"][0], timeout=30)
    broken_info = await github_service.tasks.wait(broken.json()["tasks"][0], timeout=30)
    assert flaky_info.status is TaskStatus.SUCCEEDED
    assert flaky_info.attempts == 3
    assert broken_info.status is TaskStatus.DEAD
    assert broken_info.last_error == "RuntimeError: always broken"
    assert [t.id for t in await github_service.tasks.dead_letters()] == [broken_info.id]
    listed = (await http.get("/api/tasks", params={"status": "dead"})).json()["tasks"]
    assert [t["id"] for t in listed] == [broken_info.id]
    await github_service.tasks.retry(broken_info.id, actor="ops")
    again = await github_service.tasks.wait(broken_info.id, timeout=30)
    assert again.status is TaskStatus.DEAD
    assert again.attempts == 6


async def test_bad_deliveries_are_refused_with_the_right_status(http: httpx.AsyncClient) -> None:
    headers, body = delivery("issues")
    unsigned = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
    assert (await post(http, unsigned, body)).status_code == 401
    wrong = await post(http, {**headers, "X-Hub-Signature-256": sign("wrong", body)}, body)
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "X-Hub-Signature-256 does not match the body"
    no_event = {k: v for k, v in headers.items() if k != "X-GitHub-Event"}
    assert (await post(http, no_event, body)).status_code == 400
    bad_json = await post(http, *delivery("issues", b"{nope"))
    assert bad_json.status_code == 400
    assert "not valid JSON" in bad_json.json()["error"]["message"]
    huge = await post(http, {**headers, "Content-Length": str(26 * 1024 * 1024)}, body)
    assert huge.status_code == 413
    assert seen == []  # nothing refused ever reached a handler


async def test_signed_but_hostile_bodies_are_a_400_and_the_receiver_keeps_working(
    http: httpx.AsyncClient,
) -> None:
    """Issue 13 item 11: 100k-deep nesting and installation.id >= 2**63 were 500s."""
    deep = b'{"action": "opened", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    nested = await post(http, *delivery("issues", deep))
    assert nested.status_code == 400
    assert "nests deeper than 100 levels" in nested.json()["error"]["message"]
    data = json.loads((FIXTURES / "issues.json").read_bytes())
    data["installation"] = {"id": 2**63}
    big = await post(http, *delivery("issues", json.dumps(data).encode()))
    assert big.status_code == 400
    assert "not a GitHub installation ID" in big.json()["error"]["message"]
    assert seen == []
    assert (await post(http, *delivery("issues"))).status_code == 200


async def test_enqueue_task_runs_a_registered_function(github_service: Service) -> None:
    task_id = await app.enqueue_task(add, 2, b=3)
    info = await github_service.tasks.wait(task_id, timeout=30)
    assert info.result == 5
    assert info.payload == {"function": f"{__name__}:add", "args": [2], "kwargs": {"b": 3}}
    with pytest.raises(ValueError, match="not a module-level function"):
        await app.enqueue_task(lambda: None)
    with pytest.raises(ValueError, match="not_registered is not registered with this GitHub App"):
        await app.enqueue_task(not_registered)


async def test_a_call_naming_an_unregistered_function_fails_without_importing_it(
    github_service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``github.call`` used to import and run whatever its payload named."""
    marker = tmp_path / "imported"
    (tmp_path / "oar_unregistered_target.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n\ndef run():\n    return 'ran'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for target in ("oar_unregistered_target:run", "platform:node"):
        task_id = await github_service.tasks.enqueue(
            CALL_TASK, {"function": target}, allow_internal=True, retries=2
        )
        info = await github_service.tasks.wait(task_id, timeout=30)
        assert info.status is TaskStatus.FAILED, info.attempt_log
        assert info.attempts == 1  # permanent: no retries
        assert info.result is None
        assert info.last_error == (
            f"{target!r} is not registered with the GitHub App in this worker (@app.task);"
            " github.call runs registered functions only"
        )
    assert not marker.exists()


async def test_deliveries_whose_ids_differ_only_in_unsafe_characters_are_both_handled(
    http: httpx.AsyncClient, github_service: Service
) -> None:
    """``coll ision-1`` and ``coll/ision-1`` used to share one task: the second never ran."""
    answers = [
        await post(http, *delivery("push", delivery_id=delivery_id))
        for delivery_id in ("coll ision-1", "coll/ision-1")
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert not any(a.json().get("duplicate") for a in answers)
    [first], [second] = (a.json()["tasks"] for a in answers)
    assert first != second
    for task_id in (first, second):
        info = await github_service.tasks.wait(task_id, timeout=30)
        assert info.status is TaskStatus.SUCCEEDED, info.attempt_log
    assert calls == Counter({"coll ision-1": 1, "coll/ision-1": 1})


async def test_an_unanswered_delivery_is_taken_over_once_after_its_lease(
    database_url: str, tmp_path: Path
) -> None:
    """A process that died in a quick handler left its claim unanswered: redeliveries
    within the lease are told to wait, the first one after it runs the handler."""
    env = {
        **fast_environment(database_url, tmp_path / "data"),
        "GITHUBAPP_WEBHOOK_SECRET": SECRET,
        "GITHUBAPP_DELIVERY_LEASE": "1.5",
    }
    headers, body = delivery("issues")
    async with Service(load_settings(environ=env), github_app=app) as service:
        # What the dead process left behind: the claim, and no answer.
        claim = await DeliveryStore(service.db).claim(
            parse({k.lower(): v for k, v in headers.items()}, body),
            _no_tasks,
            lease=1.5,
        )
        assert claim.new
        assert claim.lease_expires_at is not None
        transport = httpx.ASGITransport(app=create_app(service, owns_service=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://oar.test") as http:
            early = await post(http, headers, body)
            assert early.status_code == 202
            assert early.json()["status"] == "DUPLICATE"
            assert seen == []
            deadline = asyncio.get_running_loop().time() + 30
            while utcnow() <= claim.lease_expires_at:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
            redeliveries = await asyncio.gather(*(post(http, headers, body) for _ in range(3)))
            stored = await DeliveryStore(service.db).get(headers["X-GitHub-Delivery"])
    assert len(seen) == 1  # taken over by one of the three at once
    taker = [r for r in redeliveries if not r.json().get("duplicate")]
    assert len(taker) == 1
    assert taker[0].status_code == 200
    assert taker[0].json()["status"] == "HIT"
    assert taker[0].json()["calls"] == {"on_issue": "issue #1421"}
    assert stored.status_code == 200
    assert stored.deliveries == 5


def _no_tasks(conn: Any) -> list[str]:
    return []


async def test_an_app_without_a_secret_refuses_to_start(database_url: str, tmp_path: Path) -> None:
    env = fast_environment(database_url, tmp_path / "data")
    with pytest.raises(ConfigurationError, match="GITHUBAPP_WEBHOOK_SECRET"):
        Service(load_settings(environ=env), github_app=GitHubApp())
    insecure = {**env, "GITHUBAPP_INSECURE_NO_SIGNATURE": "true"}
    Service(load_settings(environ=insecure), github_app=GitHubApp())  # allowed, with a warning


async def test_the_memory_backend_runs_background_handlers_in_process(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        **fast_environment(database_url, tmp_path / "data"),
        "GITHUBAPP_WEBHOOK_SECRET": SECRET,
        "GITHUBAPP_TASK_QUEUE_BACKEND": "memory",
    }
    async with Service(load_settings(environ=env), github_app=app) as service:
        transport = httpx.ASGITransport(app=create_app(service, owns_service=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://oar.test") as http:
            answer = await post(http, *delivery("push", ref="refs/heads/flaky"))
            [task_id] = answer.json()["tasks"]
            assert task_id.startswith("memory-")
            for _ in range(100):
                status = await app.get_task_status(task_id)
                if status["status"] == "succeeded":
                    break
                await asyncio.sleep(0.05)
            assert status["status"] == "succeeded"
            assert status["attempts"] == 3
