"""The GitHub App the webhook benchmark serves: one 5-second handler, background or inline."""

from __future__ import annotations

import asyncio
import os

from oar.github import GitHubApp, WebhookContext

app = GitHubApp()
SECONDS = float(os.environ.get("OAR_BENCH_HANDLER_SECONDS", "5"))
BACKGROUND = os.environ.get("OAR_BENCH_INLINE") != "1"


@app.on("push", background=BACKGROUND, retries=0)
async def handle_push(ctx: WebhookContext) -> str:
    await asyncio.sleep(SECONDS)
    return str(ctx.payload.get("after"))
