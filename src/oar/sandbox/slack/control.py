"""The stand-in's control API (``/_sandbox/slack/…``): what tests and people do in Slack."""

from __future__ import annotations

from typing import Any

from fastapi.responses import (
    JSONResponse,
    Response,
)
from pydantic import BaseModel, Field

from oar.sandbox.slack.workspace import _CONTROL, SlackError, SlackWorkspace


class PostIn(BaseModel):
    channel: str = Field(description="Channel ID, name or #name.")
    user: str = Field(description="Slack user ID, uid or email of one of the PEOPLE.")
    text: str = Field(min_length=1)
    thread_ts: str | None = None


class ActionIn(BaseModel):
    channel: str
    ts: str = Field(description="The message that carries the button.")
    user: str
    action_id: str
    value: str | None = None


class RedeliverIn(BaseModel):
    event_id: str


class DisconnectIn(BaseModel):
    reason: str = "refresh_requested"


class AckDropIn(BaseModel):
    count: int = Field(default=1, ge=0)


def _not_found(error: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=404)


def add_control_routes(stand_in: SlackWorkspace) -> None:
    """``/_sandbox/slack/…``: post as a person, read threads, click, redeliver, disconnect."""
    app = stand_in.app

    @app.post(_CONTROL + "messages")
    async def post(body: PostIn) -> Any:
        try:
            ts = await stand_in.post_message(body.channel, body.user, body.text, body.thread_ts)
            return {"ts": ts, "channel": stand_in.channel_id(body.channel)}
        except SlackError as exc:
            return _not_found(exc.code)

    @app.get(_CONTROL + "threads/{channel}/{ts}")
    async def thread(channel: str, ts: str) -> Any:
        try:
            return {"messages": stand_in.thread(channel, ts)}
        except SlackError as exc:
            return _not_found(exc.code)

    @app.get(_CONTROL + "channels/{channel}/messages")
    async def channel_messages(channel: str) -> Any:
        try:
            return {"messages": stand_in.channel_messages(channel)}
        except SlackError as exc:
            return _not_found(exc.code)

    @app.post(_CONTROL + "actions")
    async def action(body: ActionIn) -> Any:
        try:
            envelope_id = await stand_in.click(
                body.channel, body.ts, body.user, body.action_id, body.value
            )
        except (SlackError, LookupError) as exc:
            return _not_found(exc.code if isinstance(exc, SlackError) else str(exc.args[0]))
        except ConnectionError as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=409)
        return {"ok": True, "envelope_id": envelope_id}

    @app.post(_CONTROL + "redeliver")
    async def redeliver(body: RedeliverIn) -> Any:
        if body.event_id not in stand_in.events:
            return _not_found(f"no event {body.event_id}")
        return {"envelope_id": await stand_in.redeliver(body.event_id)}

    @app.post(_CONTROL + "disconnect")
    async def disconnect(body: DisconnectIn) -> dict[str, int]:
        return {"disconnected": await stand_in.disconnect(body.reason)}

    @app.post(_CONTROL + "ack-drop")
    async def ack_drop(body: AckDropIn) -> dict[str, bool]:
        stand_in.drop_acks(body.count)
        return {"ok": True}

    @app.get(_CONTROL + "connections")
    async def connections() -> dict[str, int]:
        return {"count": stand_in.connections}

    @app.get(_CONTROL + "envelopes")
    async def envelopes() -> dict[str, Any]:
        return {"envelopes": [e.to_dict(stand_in.attempts(e.event_id)) for e in stand_in.envelopes]}

    @app.get(_CONTROL + "responses")
    async def responses() -> dict[str, Any]:
        return {"responses": stand_in.responses, "ephemeral": stand_in.ephemeral}

    @app.get(_CONTROL + "files/{file_id}")
    async def file(file_id: str) -> Response:
        if stand_in.files.get(file_id, {}).get("content") is None:
            return _not_found(f"no file {file_id}")
        return Response(stand_in.file_content(file_id), media_type="application/octet-stream")
