"""The webhook receiver through uvicorn on 127.0.0.1: fast acks, durable work, kill -9."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from oar.engine import TaskStatus
from oar.github.webhooks import sign
from oar.service import Service
from tests.acceptance.conftest import OarProcess, wait_for
from tests.acceptance.test_cli import free_port

Spawn = Callable[..., OarProcess]
SECRET = "acceptance-secret"
APP = "tests.acceptance.github_app:app"
PUSH = json.loads((Path(__file__).parents[1] / "fixtures" / "github" / "push.json").read_text())


async def _serve(spawn: Spawn, name: str, port: int, **env: str) -> OarProcess:
    server = spawn(
        "serve",
        "--port",
        str(port),
        "--github-app",
        APP,
        name=name,
        env={"GITHUBAPP_WEBHOOK_SECRET": SECRET, **env},
    )

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await wait_for(ready, timeout=60, what=f"{name} to be ready")
    except BaseException:
        print(server.output())
        raise
    return server


def _push(
    journal: Path, seconds: float, delivery: str | None = None
) -> tuple[dict[str, str], bytes]:
    body = json.dumps({**PUSH, "oar_test": {"journal": str(journal), "seconds": seconds}}).encode()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body),
    }, body


async def test_fifty_concurrent_deliveries_to_a_slow_handler_are_all_acknowledged_first(
    client: Service, spawn: Spawn, tmp_path: Path
) -> None:
    """Every answer comes before any handler has finished: none waits for its handler.

    Ordering, not a stopwatch: a wall-clock bound (it was 2 s) failed on a loaded machine.
    The latency figures live in bench/webhooks.py (docs/benchmarks.md).
    """
    port = free_port()
    await _serve(spawn, "serve", port, GITHUBAPP_MAX_WORKERS="50")
    journal = tmp_path / "journal.txt"
    url = f"http://127.0.0.1:{port}/webhooks/github"
    handler_seconds = 8.0

    async def deliver(http: httpx.AsyncClient) -> tuple[float, httpx.Response]:
        headers, body = _push(journal, seconds=handler_seconds)
        started = time.perf_counter()
        response = await http.post(url, content=body, headers=headers)
        return time.perf_counter() - started, response

    async with httpx.AsyncClient(timeout=60) as http:
        results = await asyncio.gather(*(deliver(http) for _ in range(50)))
    finished_before_the_last_answer = [
        line
        for line in (journal.read_text().splitlines() if journal.exists() else [])
        if line.startswith("end")
    ]
    slowest = max(seconds for seconds, _ in results)
    assert all(r.status_code == 202 for _, r in results), [
        r.text for _, r in results if r.status_code != 202
    ]
    assert not finished_before_the_last_answer, (
        f"{len(finished_before_the_last_answer)} handlers ({handler_seconds:.0f} s each) ended"
        f" before the last of 50 answers; slowest answer {slowest:.2f}s"
    )

    task_ids = [r.json()["tasks"][0] for _, r in results]
    for task_id in task_ids:
        info = await client.tasks.wait(task_id, timeout=90)
        assert info.status is TaskStatus.SUCCEEDED, info.last_error
    ends = [line for line in journal.read_text().splitlines() if line.startswith("end")]
    assert len(ends) == 50


async def test_a_delivery_acknowledged_before_a_crash_is_processed_once_after_restart(
    client: Service, spawn: Spawn, tmp_path: Path
) -> None:
    port = free_port()
    server = await _serve(spawn, "serve-1", port)
    journal = tmp_path / "journal.txt"
    headers, body = _push(journal, seconds=5)
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(
            f"http://127.0.0.1:{port}/webhooks/github", content=body, headers=headers
        )
    assert answer.status_code == 202
    [task_id] = answer.json()["tasks"]

    def started() -> bool:
        return journal.exists() and "start" in journal.read_text()

    await wait_for(started, timeout=30, what="the handler to start")
    server.kill9()  # after the 202, before the handler finished

    await _serve(spawn, "serve-2", port)
    info = await client.tasks.wait(task_id, timeout=60)
    assert info.status is TaskStatus.SUCCEEDED
    lines = journal.read_text().splitlines()
    assert [line.split()[0] for line in lines].count("end") == 1  # completed once
    assert info.result == {"after": PUSH["after"], "attempt": 1}

    # GitHub's manual redelivery of the same delivery runs nothing again.
    async with httpx.AsyncClient(timeout=30) as http:
        again = await http.post(
            f"http://127.0.0.1:{port}/webhooks/github", content=body, headers=headers
        )
    assert again.json()["tasks"] == [task_id]
    assert again.json()["duplicate"] is True


async def test_a_delivery_whose_quick_handler_died_with_kill_9_is_answered_on_redelivery(
    spawn: Spawn, tmp_path: Path
) -> None:
    """The server died inside a quick handler: GitHub got no answer, and every redelivery
    used to get 202 "DUPLICATE … still being answered" forever."""
    port = free_port()
    lease = {"GITHUBAPP_DELIVERY_LEASE": "2"}
    server = await _serve(spawn, "serve-1", port, **lease)
    journal, release = tmp_path / "journal.txt", tmp_path / "release"
    body = json.dumps(
        {
            "action": "created",
            "comment": {"id": 7},
            "oar_test": {"journal": str(journal), "release": str(release)},
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issue_comment",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body),
    }
    url = f"http://127.0.0.1:{port}/webhooks/github"
    async with httpx.AsyncClient(timeout=30) as http:
        first = asyncio.create_task(http.post(url, content=body, headers=headers))

        def started() -> bool:
            return journal.exists() and "start" in journal.read_text()

        await wait_for(started, timeout=30, what="the quick handler to start")
        server.kill9()
        try:
            await first
        except httpx.TransportError:
            pass  # the connection died with the server: GitHub records a failed delivery
        else:
            raise AssertionError("the killed server answered")

        await _serve(spawn, "serve-2", port, **lease)
        release.touch()  # from now on the handler returns at once

        answers: list[httpx.Response] = []

        async def answered() -> bool:
            answers.append(await http.post(url, content=body, headers=headers))
            # Within the lease the dead claim is still respected.
            return answers[-1].json().get("status") != "DUPLICATE"

        await wait_for(answered, timeout=30, what="a redelivery to be answered")
    *waited, answer = answers
    assert all(a.status_code == 202 for a in waited)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "HIT"
    assert answer.json()["calls"] == {"blocking_comment": "comment 7"}
    assert [line.split()[0] for line in journal.read_text().splitlines()] == [
        "start",
        "start",
        "end",
    ]


async def test_send_webhook_signs_and_delivers(
    spawn: Spawn, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    from tests.acceptance.test_cli import run

    port = free_port()
    await _serve(spawn, "serve", port)
    payload = tmp_path / "issue.json"
    payload.write_text(
        (Path(__file__).parents[1] / "fixtures" / "github" / "issues.json").read_text()
    )
    url = f"http://127.0.0.1:{port}/webhooks/github"
    sent = run(
        "oarctl",
        "github",
        "send-webhook",
        "--event",
        "issues",
        "--file",
        str(payload),
        "--url",
        url,
        "--secret",
        SECRET,
        "--delivery",
        "d-123",
        env=subprocess_env,
    )
    assert sent.returncode == 0, sent.stderr
    answer: dict[str, Any] = json.loads(sent.stdout)
    assert answer["status"] == "HIT"
    assert answer["calls"] == {"quick_issue": "#1421"}
    assert "delivery d-123 → HTTP 200" in sent.stderr
    refused = run(
        "oarctl",
        "github",
        "send-webhook",
        "--event",
        "issues",
        "--file",
        str(payload),
        "--url",
        url,
        "--secret",
        "wrong",
        env=subprocess_env,
    )
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stderr
