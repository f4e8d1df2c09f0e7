"""The GitHubApp the acceptance tests serve (``--github-app tests.acceptance.github_app:app``)."""

from __future__ import annotations

import asyncio
import os
import platform
import time
from pathlib import Path
from typing import Any

from oar.github import GitHubApp, WebhookContext

app = GitHubApp()


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


@app.on("push", background=True, timeout=120, retries=1, retry_delay=0.1)
async def slow_push(ctx: WebhookContext) -> dict[str, Any]:
    """Takes ``oar_test.seconds``; writes start and end lines to ``oar_test.journal``."""
    test = ctx.payload.get("oar_test", {})
    journal = str(test["journal"])
    _append(journal, f"start {ctx.delivery_id} pid={os.getpid()}")
    await asyncio.sleep(float(test.get("seconds", 0)))
    _append(journal, f"end {ctx.delivery_id} pid={os.getpid()}")
    return {"after": ctx.payload.get("after"), "attempt": ctx.attempt}


@app.on("issues")
def quick_issue(ctx: WebhookContext) -> str:
    return f"#{ctx.payload['issue']['number']}"


@app.on("issue_comment")
def blocking_comment(ctx: WebhookContext) -> str:
    """A quick handler that waits (up to 120 s) for ``oar_test.release`` to exist."""
    test = ctx.payload["oar_test"]
    _append(str(test["journal"]), f"start {ctx.delivery_id} pid={os.getpid()}")
    release, deadline = Path(str(test["release"])), time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    _append(str(test["journal"]), f"end {ctx.delivery_id} pid={os.getpid()}")
    return f"comment {ctx.payload['comment']['id']}"


@app.task
def host_name() -> str:
    """What ``app.enqueue_task(host_name)`` may run: registered at start-up."""
    return platform.node()
