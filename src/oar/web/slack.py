"""The Slack Events API endpoint (the bot's HTTP mode): Bolt verifies the signing secret."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

from oar.slack.bot import SlackBot


def slack_router(bot: SlackBot, path: str) -> APIRouter:
    router = APIRouter(tags=["slack"])

    @router.post(path, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        if bot.app is None:
            return Response("the Slack bot is starting", status_code=503)
        handler = AsyncSlackRequestHandler(bot.app)
        return await handler.handle(request)

    return router
