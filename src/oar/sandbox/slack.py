"""A Slack stand-in: the Web API methods OAR calls and Socket Mode, for the real slack_sdk.

``AsyncWebClient(base_url=url + "/api/")`` talks to it over HTTP; ``apps.connections.open``
hands out ``ws://127.0.0.1:<port>/_ws/link?ticket=…`` and the Socket Mode client connects
there, gets ``hello``, then ``events_api`` and ``interactive`` envelopes that it must ack
within ``ack_timeout`` or see them again (same ``event_id``, ``retry_attempt`` + 1,
``retry_reason: "timeout"``), as Slack does:
https://docs.slack.dev/apis/events-api/using-socket-mode#acknowledge

People (the sandbox's PEOPLE) post through the control API, the Python helpers or the web
page at ``/``; see docs/sandbox-slack.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import hmac
import html
import json
import mimetypes
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import Request, WebSocket, WebSocketDisconnect
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from pydantic import BaseModel, Field

from oar.sandbox.seed import (
    PEOPLE,
    SLACK_BOT_USER_ID,
    SLACK_CHANNELS,
    SLACK_TEAM_ID,
    SLACK_USER_GROUPS,
)
from oar.sandbox.server import StandIn

SLACK_BOT_ID = "B0OARBOT01"
SLACK_APP_ID = "A0OARAPP01"
BOT_NAME = "oar-bot"
_VERIFICATION_TOKEN = "sandbox-verification-token"  # noqa: S105 - a fictional, public value
_CONTROL = "/_sandbox/slack/"
Message = dict[str, Any]


class SlackError(Exception):
    """A Slack Web API error code, answered as HTTP 200 ``{"ok": false, "error": code}``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(kw_only=True)
class Envelope:
    """One Socket Mode envelope as sent, and whether the app acked it."""

    envelope_id: str
    type: str
    event_id: str | None
    retry_attempt: int
    body: dict[str, Any]
    acked: bool = False
    ack_payload: Any = None
    sent_at: float = field(default_factory=time.time)
    ack: asyncio.Event = field(default_factory=asyncio.Event)

    def to_dict(self, attempts: int) -> dict[str, Any]:
        return {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "event_id": self.event_id,
            "event_type": self.body["payload"].get("event", {}).get("type"),
            "retry_attempt": self.retry_attempt,
            "acked": self.acked,
            "ack_payload": self.ack_payload,
            "attempts": attempts,
            "sent_at": self.sent_at,
        }


@dataclass(eq=False)
class _Socket:
    ws: WebSocket
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_text(json.dumps(frame))


def _users() -> dict[str, dict[str, Any]]:
    users = {
        p.slack_user_id: {
            "id": p.slack_user_id,
            "team_id": SLACK_TEAM_ID,
            "name": p.uid,
            "real_name": p.name,
            "is_bot": False,
            "deleted": False,
            "profile": {"email": p.email, "display_name": p.uid, "real_name": p.name},
        }
        for p in PEOPLE
    }
    users[SLACK_BOT_USER_ID] = {
        "id": SLACK_BOT_USER_ID,
        "team_id": SLACK_TEAM_ID,
        "name": BOT_NAME,
        "real_name": "OAR",
        "is_bot": True,
        "deleted": False,
        "profile": {"display_name": BOT_NAME, "real_name": "OAR", "bot_id": SLACK_BOT_ID},
    }
    return users


class SlackStandIn(StandIn):
    name = "slack"

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox-bot",  # noqa: S107 - fictional
        app_token: str = "xapp-sandbox-app",  # noqa: S107 - fictional
        signing_secret: str = "sandbox-signing-secret",  # noqa: S107 - fictional
        ack_timeout: float = 3.0,
        max_retries: int = 3,
        retry_delays: Sequence[float] = (0.0, 1.0, 2.0),
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.retry_delays = tuple(retry_delays)
        self.base_url = ""
        self._sockets: list[_Socket] = []
        self._socket_joined = asyncio.Event()
        self._tickets: set[str] = set()
        self._round_robin = 0
        self.sockets_opened = 0  # every accepted Socket Mode connection, for reconnect checks
        self._tasks: set[asyncio.Task[Any]] = set()
        super().__init__()

    def reset(self) -> None:
        for task in getattr(self, "_tasks", set()):
            task.cancel()
        self.users = _users()
        self.channels: dict[str, str] = {cid: name for name, cid in SLACK_CHANNELS.items()}
        self.messages: dict[str, list[Message]] = {cid: [] for cid in self.channels}
        self.files: dict[str, dict[str, Any]] = {}
        self.envelopes: list[Envelope] = []
        self.events: dict[str, dict[str, Any]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.dropped_acks = 0
        self._drop_acks = 0
        self._pending_responses: dict[str, tuple[str, str]] = {}
        self._last_us = 0
        self._unsettled: set[str] = set()

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "OAR_SLACK_API_URL": base_url + "/api/",
            "SLACK_BOT_TOKEN": self.bot_token,
            "SLACK_APP_TOKEN": self.app_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
        }

    @contextlib.asynccontextmanager
    async def serving(self, port: int = 0, host: str = "127.0.0.1") -> AsyncIterator[str]:
        async with super().serving(port, host) as url:
            self.base_url = url
            try:
                yield url
            finally:
                for task in list(self._tasks):
                    task.cancel()
                for sock in list(self._sockets):
                    with contextlib.suppress(Exception):
                        await sock.ws.close(code=1001)
                self._sockets.clear()

    # --- lookups ------------------------------------------------------------------------
    def channel_id(self, channel: str) -> str:
        """The ID of a channel given by ID, name or ``#name``; a user ID opens their DM."""
        name = channel.removeprefix("#")
        if name in self.channels:
            return name
        if name in SLACK_CHANNELS:
            return SLACK_CHANNELS[name]
        if name in self.users and name != SLACK_BOT_USER_ID:
            dm = "D" + name[1:]
            self.channels.setdefault(dm, f"dm-{self.users[name]['name']}")
            self.messages.setdefault(dm, [])
            return dm
        raise SlackError("channel_not_found")

    def user_id(self, user: str) -> str:
        """The ID of a person given by Slack ID, uid or email."""
        for uid, info in self.users.items():
            if user in (uid, info["name"], info["profile"].get("email")):
                return uid
        raise SlackError("user_not_found")

    def message(self, channel: str, ts: str) -> Message:
        for message in self.messages.get(self.channel_id(channel), []):
            if message["ts"] == ts:
                return message
        raise SlackError("message_not_found")

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The root message and its replies, oldest first."""
        cid = self.channel_id(channel)
        return [
            m
            for m in self.messages.get(cid, [])
            if m["ts"] == ts or (m.get("thread_ts") == ts and m["ts"] != ts)
        ]

    def channel_messages(self, channel: str) -> list[Message]:
        """Top-level messages, oldest first."""
        cid = self.channel_id(channel)
        return [m for m in self.messages.get(cid, []) if m.get("thread_ts", m["ts"]) == m["ts"]]

    def file_content(self, file_id: str) -> bytes:
        return bytes(self.files[file_id]["content"] or b"")

    @property
    def connections(self) -> int:
        return len(self._sockets)

    # --- posting ------------------------------------------------------------------------
    def _next_ts(self) -> str:
        self._last_us = max(int(time.time() * 1_000_000), self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _store(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[Any] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> Message:
        cid = self.channel_id(channel)
        message: Message = {"type": "message", "user": user, "text": text, "team": SLACK_TEAM_ID}
        if user == SLACK_BOT_USER_ID:
            message.update(bot_id=SLACK_BOT_ID, app_id=SLACK_APP_ID)
        if blocks:
            message["blocks"] = blocks
        if files:
            message.update(files=files, upload=True, subtype="file_share")
        root = None
        if thread_ts:  # a reply to a reply joins the root's thread
            try:
                root = self.message(cid, thread_ts)
                root = self.message(cid, str(root.get("thread_ts", root["ts"])))
            except SlackError:
                raise SlackError("thread_not_found") from None
        message["ts"] = self._next_ts()
        if root is not None:
            message["thread_ts"] = root["ts"]
            message["parent_user_id"] = root["user"]
            root["thread_ts"] = root["ts"]
            root["reply_count"] = root.get("reply_count", 0) + 1
            root["reply_users"] = sorted({*root.get("reply_users", []), user})
            root["latest_reply"] = message["ts"]
        self.messages[cid].append(message)
        self._emit_events(cid, message)
        return message

    async def post_message(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> str:
        """Post as a person (ID, uid or email); the app gets the events. Returns the ts."""
        return str(self._store(channel, self.user_id(user), text, thread_ts=thread_ts)["ts"])

    # --- events -------------------------------------------------------------------------
    def _emit_events(self, cid: str, message: Message) -> None:
        channel_type = "im" if cid.startswith("D") else "channel"
        event: dict[str, Any] = {
            key: message[key]
            for key in ("type", "subtype", "user", "text", "ts", "thread_ts", "parent_user_id")
            if key in message
        }
        for key in ("bot_id", "app_id", "blocks", "files"):
            if key in message:
                event[key] = message[key]
        event.update(channel=cid, event_ts=message["ts"], channel_type=channel_type)
        event["team"] = SLACK_TEAM_ID
        if "bot_id" not in message:
            event["client_msg_id"] = str(uuid.uuid4())
        self._dispatch_event(event)
        if "bot_id" not in message and f"<@{SLACK_BOT_USER_ID}>" in message["text"]:
            mention = {
                k: v for k, v in event.items() if k not in ("channel_type", "parent_user_id")
            }
            mention["type"] = "app_mention"
            mention.pop("subtype", None)
            self._dispatch_event(mention)

    def _dispatch_event(self, event: dict[str, Any]) -> None:
        event_id = "Ev0" + uuid.uuid4().hex[:12].upper()
        payload = {
            "token": _VERIFICATION_TOKEN,
            "team_id": SLACK_TEAM_ID,
            "context_team_id": SLACK_TEAM_ID,
            "api_app_id": SLACK_APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": SLACK_TEAM_ID,
                    "user_id": SLACK_BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        self.events[event_id] = payload
        self._spawn(self._deliver(event_id))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event_id: str) -> None:
        """Send until acked: the first attempt, then up to ``max_retries`` redeliveries."""
        self._unsettled.add(event_id)
        try:
            for attempt in range(self.max_retries + 1):
                if attempt:
                    delays = self.retry_delays or (0.0,)
                    await asyncio.sleep(delays[min(attempt - 1, len(delays) - 1)])
                envelope = await self._send_event(event_id, attempt)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(envelope.ack.wait(), self.ack_timeout)
                    return
        finally:
            self._unsettled.discard(event_id)

    @property
    def unsettled(self) -> set[str]:
        """Events still being delivered: not acked yet and retries left."""
        return set(self._unsettled)

    async def _send_event(self, event_id: str, attempt: int) -> Envelope:
        body = {
            "envelope_id": str(uuid.uuid4()),
            "payload": self.events[event_id],
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": attempt,
            "retry_reason": "timeout" if attempt else "",
        }
        return await self._send(body, event_id=event_id)

    async def _send(self, body: dict[str, Any], *, event_id: str | None) -> Envelope:
        envelope = Envelope(
            envelope_id=body["envelope_id"],
            type=body["type"],
            event_id=event_id,
            retry_attempt=body.get("retry_attempt", 0),
            body=body,
        )
        self.envelopes.append(envelope)
        while True:
            while not self._sockets:
                self._socket_joined.clear()
                await self._socket_joined.wait()
            sock = self._sockets[self._round_robin % len(self._sockets)]
            self._round_robin += 1
            try:
                await sock.send(body)
            except Exception:  # a socket closing under us: try another
                self._drop_socket(sock)
                continue
            envelope.sent_at = time.time()
            return envelope

    def _drop_socket(self, sock: _Socket) -> None:
        if sock in self._sockets:
            self._sockets.remove(sock)

    def _on_ack(self, frame: dict[str, Any]) -> None:
        for envelope in self.envelopes:
            if envelope.envelope_id == frame.get("envelope_id"):
                if self._drop_acks > 0:
                    self._drop_acks -= 1
                    self.dropped_acks += 1
                    return
                envelope.acked = True
                envelope.ack_payload = frame.get("payload")
                envelope.ack.set()
                return

    def attempts(self, event_id: str | None) -> int:
        return sum(1 for e in self.envelopes if event_id and e.event_id == event_id)

    def drop_acks(self, count: int) -> None:
        """Ignore the next ``count`` acks, as if they were lost or late."""
        self._drop_acks = count

    async def redeliver(self, event_id: str) -> str:
        """Send an event again with ``retry_attempt`` + 1, acked or not; the envelope ID."""
        if event_id not in self.events:
            raise KeyError(event_id)
        last = max(e.retry_attempt for e in self.envelopes if e.event_id == event_id)
        return (await self._send_event(event_id, last + 1)).envelope_id

    async def disconnect(self, reason: str = "refresh_requested") -> int:
        """Ask every socket to reconnect, then close them a moment later, as Slack does."""
        socks = list(self._sockets)
        frame = {"type": "disconnect", "reason": reason, "debug_info": {"host": "sandbox"}}
        for sock in socks:
            with contextlib.suppress(Exception):
                await sock.send(frame)

        async def close_later() -> None:
            await asyncio.sleep(0.5)
            for sock in socks:
                self._drop_socket(sock)
                with contextlib.suppress(Exception):
                    await sock.ws.close(code=1000)

        self._spawn(close_later())
        return len(socks)

    # --- interactivity --------------------------------------------------------------------
    async def click(
        self, channel: str, ts: str, user: str, action_id: str, value: str | None = None
    ) -> str:
        """Press a button in a message; the app gets a ``block_actions`` envelope (its ID)."""
        cid = self.channel_id(channel)
        message = self.message(cid, ts)
        uid = self.user_id(user)
        found = None
        for block in message.get("blocks", []):
            elements = list(block.get("elements", []))
            if "accessory" in block:
                elements.append(block["accessory"])
            for element in elements:
                if element.get("action_id") == action_id:
                    found = (block, element)
                    break
        if found is None:
            raise LookupError(f"no button with action_id {action_id!r} in message {ts}")
        if not self._sockets:  # Slack tells the person at once; it does not queue clicks
            raise ConnectionError("no app is connected over Socket Mode to receive the click")
        block, button = found
        response_id = uuid.uuid4().hex
        self._pending_responses[response_id] = (cid, ts)
        person = self.users[uid]
        action = {
            "action_id": action_id,
            "block_id": block.get("block_id", ""),
            "text": button.get("text", {"type": "plain_text", "text": action_id}),
            "value": value if value is not None else button.get("value", ""),
            "type": button.get("type", "button"),
            "action_ts": f"{time.time():.6f}",
        }
        if "style" in button:
            action["style"] = button["style"]
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {
                "id": uid,
                "username": person["name"],
                "name": person["name"],
                "team_id": SLACK_TEAM_ID,
            },
            "api_app_id": SLACK_APP_ID,
            "token": _VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": cid,
                "is_ephemeral": False,
            },
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}",
            "team": {"id": SLACK_TEAM_ID, "domain": "oar-sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": cid, "name": self.channels[cid]},
            "message": message,
            "state": {"values": {}},
            "response_url": f"{self.base_url}/_response/{response_id}",
            "actions": [action],
        }
        body = {
            "envelope_id": str(uuid.uuid4()),
            "payload": payload,
            "type": "interactive",
            "accepts_response_payload": False,
        }
        return (await self._send(body, event_id=None)).envelope_id

    def _respond(self, response_id: str, body: dict[str, Any]) -> None:
        cid, ts = self._pending_responses[response_id]
        self.responses.append({"channel": cid, "ts": ts, **body})
        if body.get("delete_original"):
            self.messages[cid] = [m for m in self.messages[cid] if m["ts"] != ts]
        elif body.get("replace_original"):
            message = self.message(cid, ts)
            message["text"] = body.get("text", "")  # the whole message is replaced
            message.pop("blocks", None)
            if body.get("blocks"):
                message["blocks"] = body["blocks"]
            message["edited"] = {"user": SLACK_BOT_USER_ID, "ts": self._next_ts()}
        elif body.get("response_type") == "in_channel":
            self._store(
                cid,
                SLACK_BOT_USER_ID,
                body.get("text", ""),
                thread_ts=body.get("thread_ts"),
                blocks=body.get("blocks"),
            )
        else:
            self.ephemeral.append({"channel": cid, "text": body.get("text", ""), **body})

    # --- waiting --------------------------------------------------------------------------
    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
    ) -> Any:
        """Poll ``predicate`` until it returns something truthy (returned) or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"slack stand-in: no {what} within {timeout}s")
            await asyncio.sleep(0.02)

    async def wait_for_reply(
        self,
        channel: str,
        thread_ts: str,
        count: int = 1,
        timeout: float = 10.0,
        *,
        from_bot: bool = True,
    ) -> list[Message]:
        """The thread's replies (the bot's only, by default) once there are ``count``."""

        def replies() -> list[Message]:
            found = [
                m
                for m in self.thread(channel, thread_ts)[1:]
                if not from_bot or m.get("user") == SLACK_BOT_USER_ID
            ]
            return found if len(found) >= count else []

        result: list[Message] = await self.wait_for(
            replies, timeout, what=f"{count} replies in thread {thread_ts}"
        )
        return result

    # --- Web API --------------------------------------------------------------------------
    def _authenticate(self, request: Request, params: dict[str, Any], method: str) -> None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        token = token or str(params.pop("token", "") or "")
        if not token:
            raise SlackError("not_authed")
        is_bot = hmac.compare_digest(token.encode(), self.bot_token.encode())
        is_app = hmac.compare_digest(token.encode(), self.app_token.encode())
        if not (is_bot or is_app):
            raise SlackError("invalid_auth")
        if is_app != (method == "apps.connections.open"):
            raise SlackError("not_allowed_token_type")

    def _call(self, method: str, p: dict[str, Any], origin: str) -> dict[str, Any]:
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            raise SlackError("unknown_method")
        self.base_url = self.base_url or origin
        result: dict[str, Any] = handler(p, origin)
        return {"ok": True, **result}

    def _api_auth_test(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        return {
            "url": "https://oar-sandbox.slack.com/",
            "team": "OAR Sandbox",
            "user": BOT_NAME,
            "team_id": SLACK_TEAM_ID,
            "user_id": SLACK_BOT_USER_ID,
            "bot_id": SLACK_BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_apps_connections_open(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return {"url": "ws" + origin.removeprefix("http") + f"/_ws/link?ticket={ticket}"}

    def _api_chat_postMessage(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        cid = self.channel_id(str(p.get("channel") or ""))
        text, blocks = str(p.get("text") or ""), _blocks(p.get("blocks"))
        if not text and not blocks:
            raise SlackError("no_text")
        thread_ts = str(p.get("thread_ts") or "") or None
        message = self._store(cid, SLACK_BOT_USER_ID, text, thread_ts=thread_ts, blocks=blocks)
        return {"channel": cid, "ts": message["ts"], "message": message}

    def _api_chat_postEphemeral(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        cid = self.channel_id(str(p.get("channel") or ""))
        user = self.user_id(str(p.get("user") or ""))
        ts = self._next_ts()
        self.ephemeral.append(
            {"channel": cid, "user": user, "ts": ts, "text": str(p.get("text") or "")}
            | ({"blocks": _blocks(p.get("blocks"))} if p.get("blocks") else {})
        )
        return {"message_ts": ts}

    def _api_chat_update(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        cid = self.channel_id(str(p.get("channel") or ""))
        message = self.message(cid, str(p.get("ts") or ""))
        if message.get("user") != SLACK_BOT_USER_ID:
            raise SlackError("cant_update_message")
        if "text" in p:
            message["text"] = str(p["text"] or "")
        if p.get("blocks") is not None:
            message["blocks"] = _blocks(p["blocks"])
        message["edited"] = {"user": SLACK_BOT_USER_ID, "ts": self._next_ts()}
        return {"channel": cid, "ts": message["ts"], "text": message["text"], "message": message}

    def _react(self, p: dict[str, Any], *, add: bool) -> dict[str, Any]:
        cid = self.channel_id(str(p.get("channel") or ""))
        message = self.message(cid, str(p.get("timestamp") or ""))
        name = str(p.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        found = next((r for r in reactions if r["name"] == name), None)
        mine = found is not None and SLACK_BOT_USER_ID in found["users"]
        if add and mine:
            raise SlackError("already_reacted")
        if not add and not mine:
            raise SlackError("no_reaction")
        if found is None:
            found = {"name": name, "users": [], "count": 0}
            reactions.append(found)
        if add:
            found["users"].append(SLACK_BOT_USER_ID)
        else:
            found["users"].remove(SLACK_BOT_USER_ID)
        found["count"] = len(found["users"])
        message["reactions"] = [r for r in reactions if r["count"]]
        return {}

    def _api_reactions_add(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        return self._react(p, add=True)

    def _api_reactions_remove(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        return self._react(p, add=False)

    def _api_users_info(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        user = self.users.get(str(p.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    def _api_users_lookupByEmail(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        email = str(p.get("email") or "").lower()
        for user in self.users.values():
            if user["profile"].get("email", "").lower() == email:
                return {"user": user}
        raise SlackError("users_not_found")

    def _api_conversations_open(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        users = [u for u in str(p.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise SlackError("not_enough_users" if not users else "too_many_users")
        return {"channel": {"id": self.channel_id(self.user_id(users[0]))}}

    def _api_usergroups_list(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        with_users = str(p.get("include_users", "")).lower() in ("1", "true")
        groups = []
        for handle, (gid, members) in SLACK_USER_GROUPS.items():
            group: dict[str, Any] = {
                "id": gid,
                "team_id": SLACK_TEAM_ID,
                "handle": handle,
                "name": handle,
                "user_count": len(members),
            }
            if with_users:
                group["users"] = list(members)
            groups.append(group)
        return {"usergroups": groups}

    def _api_usergroups_users_list(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        for gid, members in SLACK_USER_GROUPS.values():
            if gid == p.get("usergroup"):
                return {"users": list(members)}
        raise SlackError("no_such_subteam")

    def _api_conversations_info(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        cid = self.channel_id(str(p.get("channel") or ""))
        is_im = cid.startswith("D")
        return {
            "channel": {
                "id": cid,
                "name": self.channels[cid],
                "is_channel": not is_im,
                "is_im": is_im,
                "is_member": True,
            }
        }

    def _api_conversations_replies(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        messages = self.thread(str(p.get("channel") or ""), str(p.get("ts") or ""))
        if not messages:
            raise SlackError("thread_not_found")
        return _page_of(messages, p, default_limit=1000)

    def _api_conversations_history(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        messages = self.channel_messages(str(p.get("channel") or ""))[::-1]
        return _page_of(messages, p, default_limit=100)

    def _api_files_getUploadURLExternal(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        filename = str(p.get("filename") or "")
        try:
            length = int(p.get("length") or 0)
        except ValueError:
            raise SlackError("invalid_arguments") from None
        if not filename or length <= 0:
            raise SlackError("invalid_arguments")
        file_id = "F0" + uuid.uuid4().hex[:9].upper()
        self.files[file_id] = {"id": file_id, "name": filename, "length": length, "content": None}
        return {"upload_url": f"{origin}/_upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, p: dict[str, Any], origin: str) -> dict[str, Any]:
        try:
            wanted = json.loads(p["files"]) if isinstance(p.get("files"), str) else p["files"]
        except (KeyError, ValueError):
            raise SlackError("invalid_arguments") from None
        infos = []
        for item in wanted:
            stored = self.files.get(str(item.get("id")))
            if stored is None:
                raise SlackError("file_not_found")
            if stored["content"] is None:
                raise SlackError("file_upload_not_complete")
            stored["title"] = item.get("title") or stored["name"]
            infos.append(
                {
                    "id": stored["id"],
                    "name": stored["name"],
                    "title": stored["title"],
                    "size": len(stored["content"]),
                    "mimetype": mimetypes.guess_type(stored["name"])[0] or "text/plain",
                    "user": SLACK_BOT_USER_ID,
                    "url_private": f"{origin}{_CONTROL}files/{stored['id']}",
                }
            )
        channel = p.get("channel_id") or str(p.get("channels") or "").split(",")[0]
        if channel:
            thread_ts = str(p.get("thread_ts") or "") or None
            text = str(p.get("initial_comment") or "")
            self._store(str(channel), SLACK_BOT_USER_ID, text, thread_ts=thread_ts, files=infos)
        return {"files": infos}

    # --- routes ---------------------------------------------------------------------------
    def routes(self) -> None:
        app = self.app

        @app.api_route("/api/{method}", methods=["GET", "POST"])
        async def web_api(method: str, request: Request) -> Any:
            params = parse_params(
                request.headers.get("content-type", ""), request.url.query, await request.body()
            )
            try:
                self._authenticate(request, params, method)
                return self._call(method, params, str(request.base_url).rstrip("/"))
            except SlackError as exc:
                return {"ok": False, "error": exc.code}

        @app.post("/_upload/{file_id}")
        async def upload(file_id: str, request: Request) -> Response:
            stored = self.files.get(file_id)
            if stored is None:
                return PlainTextResponse("file not found", status_code=404)
            body = await request.body()
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("multipart/form-data"):
                parts = list(multipart_fields(content_type, body).values())
                body = next((v for v in parts if isinstance(v, bytes)), b"")
            stored["content"] = body
            return PlainTextResponse(f"OK - {len(body)}")

        @app.post("/_response/{response_id}")
        async def respond(response_id: str, request: Request) -> Any:
            if response_id not in self._pending_responses:
                return JSONResponse({"ok": False, "error": "expired_url"}, status_code=404)
            self._respond(response_id, await request.json())
            return {"ok": True}

        @app.websocket("/_ws/link")
        async def link(ws: WebSocket) -> None:
            if ws.query_params.get("ticket") not in self._tickets:
                await ws.close(code=1008)  # before accept: the handshake gets HTTP 403
                return
            await ws.accept()
            sock = _Socket(ws)
            await sock.send(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets) + 1,
                    "debug_info": {
                        "host": "applink-sandbox",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": SLACK_APP_ID},
                }
            )
            self._sockets.append(sock)
            self.sockets_opened += 1
            self._socket_joined.set()
            try:
                while True:
                    with contextlib.suppress(ValueError):
                        frame = json.loads(await ws.receive_text())
                        if isinstance(frame, dict):
                            self._on_ack(frame)
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                self._drop_socket(sock)

        self._control_routes()
        self._page_routes()

    def _control_routes(self) -> None:
        app = self.app

        @app.post(_CONTROL + "messages")
        async def post(body: PostIn) -> Any:
            try:
                ts = await self.post_message(body.channel, body.user, body.text, body.thread_ts)
                return {"ts": ts, "channel": self.channel_id(body.channel)}
            except SlackError as exc:
                return _not_found(exc.code)

        @app.get(_CONTROL + "threads/{channel}/{ts}")
        async def thread(channel: str, ts: str) -> Any:
            try:
                return {"messages": self.thread(channel, ts)}
            except SlackError as exc:
                return _not_found(exc.code)

        @app.get(_CONTROL + "channels/{channel}/messages")
        async def channel_messages(channel: str) -> Any:
            try:
                return {"messages": self.channel_messages(channel)}
            except SlackError as exc:
                return _not_found(exc.code)

        @app.post(_CONTROL + "actions")
        async def action(body: ActionIn) -> Any:
            try:
                envelope_id = await self.click(
                    body.channel, body.ts, body.user, body.action_id, body.value
                )
            except (SlackError, LookupError) as exc:
                return _not_found(exc.code if isinstance(exc, SlackError) else str(exc.args[0]))
            except ConnectionError as exc:
                return JSONResponse({"ok": False, "error": str(exc)}, status_code=409)
            return {"ok": True, "envelope_id": envelope_id}

        @app.post(_CONTROL + "redeliver")
        async def redeliver(body: RedeliverIn) -> Any:
            if body.event_id not in self.events:
                return _not_found(f"no event {body.event_id}")
            return {"envelope_id": await self.redeliver(body.event_id)}

        @app.post(_CONTROL + "disconnect")
        async def disconnect(body: DisconnectIn) -> dict[str, int]:
            return {"disconnected": await self.disconnect(body.reason)}

        @app.post(_CONTROL + "ack-drop")
        async def ack_drop(body: AckDropIn) -> dict[str, bool]:
            self.drop_acks(body.count)
            return {"ok": True}

        @app.get(_CONTROL + "connections")
        async def connections() -> dict[str, int]:
            return {"count": self.connections}

        @app.get(_CONTROL + "envelopes")
        async def envelopes() -> dict[str, Any]:
            return {"envelopes": [e.to_dict(self.attempts(e.event_id)) for e in self.envelopes]}

        @app.get(_CONTROL + "responses")
        async def responses() -> dict[str, Any]:
            return {"responses": self.responses, "ephemeral": self.ephemeral}

        @app.get(_CONTROL + "files/{file_id}")
        async def file(file_id: str) -> Response:
            if self.files.get(file_id, {}).get("content") is None:
                return _not_found(f"no file {file_id}")
            return Response(self.file_content(file_id), media_type="application/octet-stream")

    # --- the web page ---------------------------------------------------------------------
    def _page_routes(self) -> None:
        app = self.app

        @app.get("/", response_class=HTMLResponse)
        async def index() -> str:
            items = "".join(
                f'<li><a href="/channels/{cid}">#{html.escape(name)}</a> '
                f"<small>{len(self.messages.get(cid, []))} messages</small></li>"
                for cid, name in self.channels.items()
            )
            return _html("Slack sandbox", f"<h1>Slack sandbox</h1><ul>{items}</ul>")

        @app.get("/channels/{cid}", response_class=HTMLResponse)
        async def channel(cid: str, request: Request) -> Response:
            if cid not in self.channels:
                return HTMLResponse(_html("Not found", "<p>No such channel.</p>"), 404)
            acting = request.query_params.get("as") or PEOPLE[0].slack_user_id
            chosen = request.query_params.get("thread_ts", "")
            people = "".join(
                f'<option value="{p.slack_user_id}"{" selected" * (p.slack_user_id == acting)}>'
                f"{html.escape(p.name)} ({p.uid})</option>"
                for p in PEOPLE
            )
            threads = '<option value="">new message in the channel</option>' + "".join(
                f'<option value="{m["ts"]}"{" selected" * (m["ts"] == chosen)}>reply to: '
                f"{html.escape(m['text'][:60])}</option>"
                for m in self.channel_messages(cid)
            )
            mention = f"&lt;@{SLACK_BOT_USER_ID}&gt;"
            body = (
                f'<p><a href="/">channels</a></p><h1>#{html.escape(self.channels[cid])}</h1>'
                f'<iframe src="/channels/{cid}/feed?as={quote(acting)}"></iframe>'
                f'<form method="post" action="/channels/{cid}">'
                f'<select name="user">{people}</select> <select name="thread_ts">{threads}'
                f'</select><br><textarea name="text" rows="3" required autofocus '
                f'placeholder="{mention} help"></textarea><br><button>Post</button> '
                f"<small>mention the bot with {mention}</small></form>"
            )
            return HTMLResponse(_html(f"#{self.channels[cid]}", body))

        @app.get("/channels/{cid}/feed", response_class=HTMLResponse)
        async def feed(cid: str, request: Request) -> Response:
            if cid not in self.channels:
                return HTMLResponse(_html("Not found", "<p>No such channel.</p>"), 404)
            acting = request.query_params.get("as") or PEOPLE[0].slack_user_id
            parts = []
            for root in self.channel_messages(cid):
                parts.append(self._render(cid, root, acting, reply_link=True))
                replies = self.thread(cid, root["ts"])[1:]
                parts.extend(
                    f'<div class="reply">{self._render(cid, m, acting)}</div>' for m in replies
                )
            body = "".join(parts) or "<p><em>No messages yet.</em></p>"
            return HTMLResponse(_html("feed", body, refresh=True))

        @app.post("/channels/{cid}")
        async def post(cid: str, request: Request) -> Response:
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
            user, text = form.get("user", ""), form.get("text", "").strip()
            try:
                if text:
                    await self.post_message(cid, user, text, form.get("thread_ts") or None)
            except SlackError as exc:
                return HTMLResponse(_html("Error", f"<p>{html.escape(exc.code)}</p>"), 400)
            return RedirectResponse(f"/channels/{cid}?as={quote(user)}", status_code=303)

        @app.post("/channels/{cid}/click")
        async def click(cid: str, request: Request) -> Response:
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
            try:
                await self.click(cid, form["ts"], form["user"], form["action_id"])
            except (KeyError, LookupError, SlackError, ConnectionError) as exc:
                return HTMLResponse(_html("Error", f"<p>{html.escape(repr(exc))}</p>"), 400)
            return RedirectResponse(f"/channels/{cid}/feed?as={quote(form['user'])}", 303)

    def _render(self, cid: str, message: Message, acting: str, *, reply_link: bool = False) -> str:
        who = self.users.get(message.get("user", ""), {}).get("real_name", message.get("user"))
        out = [f'<div class="msg"><b>{html.escape(str(who))}</b> <small>{message["ts"]}']
        if "edited" in message:
            out.append(" (edited)")
        out.append("</small>")
        blocks = message.get("blocks") or []
        if message.get("text") and not any("text" in b for b in blocks):
            out.append(f"<div>{self._mrkdwn(message['text'])}</div>")
        for block in blocks:
            if isinstance(block.get("text"), dict):
                out.append(f"<div>{self._mrkdwn(str(block['text'].get('text', '')))}</div>")
            buttons = [*block.get("elements", []), block.get("accessory") or {}]
            for element in buttons:
                if block.get("type") == "context" and "text" in element:
                    out.append(f"<div><small>{self._mrkdwn(str(element['text']))}</small></div>")
                elif element.get("type") == "button":
                    label = html.escape(str(element.get("text", {}).get("text", "button")))
                    out.append(
                        f'<form method="post" action="/channels/{cid}/click">'
                        f'<input type="hidden" name="ts" value="{message["ts"]}">'
                        f'<input type="hidden" name="user" value="{html.escape(acting)}">'
                        f'<input type="hidden" name="action_id" '
                        f'value="{html.escape(str(element.get("action_id", "")))}">'
                        f"<button>{label}</button></form>"
                    )
        for f in message.get("files", []):
            out.append(
                f'<div>&#128206; <a href="{_CONTROL}files/{f["id"]}">'
                f"{html.escape(str(f.get('title') or f['name']))}</a></div>"
            )
        reactions = " ".join(f":{r['name']}: {r['count']}" for r in message.get("reactions", []))
        if reactions:
            out.append(f"<div><small>{html.escape(reactions)}</small></div>")
        if reply_link:
            out.append(
                f'<a target="_top" href="/channels/{cid}?as={quote(acting)}'
                f'&amp;thread_ts={message["ts"]}"><small>reply in thread</small></a>'
            )
        return "".join(out) + "</div>"

    def _mrkdwn(self, text: str) -> str:
        def person(match: re.Match[str]) -> str:
            user = self.users.get(match.group(1))
            return f"<b>@{html.escape(user['name'])}</b>" if user else match.group(0)

        escaped = html.escape(text, quote=False)
        escaped = re.sub(r"&lt;@(U[A-Z0-9]+)(?:\|[^&]*)?&gt;", person, escaped)
        escaped = re.sub(r"&lt;!subteam\^\w+\|?([^&]*)&gt;", r"<b>\1</b>", escaped)
        return escaped.replace("\n", "<br>")


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


def _blocks(value: Any) -> list[dict[str, Any]] | None:
    """Blocks as sent: a JSON string (form bodies) or a list (JSON bodies)."""
    if value is None or value == "":
        return None
    try:
        blocks = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        raise SlackError("invalid_blocks") from None
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
        raise SlackError("invalid_blocks")
    return blocks


def _page_of(items: list[Message], p: dict[str, Any], *, default_limit: int) -> dict[str, Any]:
    """One page of ``items`` with Slack's cursor pagination."""
    try:
        limit = int(p.get("limit") or default_limit)
        start = int(str(p.get("cursor") or "offset:0").removeprefix("offset:"))
    except ValueError:
        raise SlackError("invalid_cursor") from None
    page = items[start : start + max(limit, 1)]
    more = start + len(page) < len(items)
    return {
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": f"offset:{start + len(page)}" if more else ""},
    }


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:56em;margin:1em auto;padding:0 1em}"
    ".msg{border-left:3px solid #ddd;padding:.2em .6em;margin:.4em 0}"
    ".reply{margin-left:2.5em}.msg form{display:inline-block;margin:.2em .3em 0 0}"
    "iframe{width:100%;height:60vh;border:1px solid #ccc}textarea{width:100%}"
)


def _html(title: str, body: str, *, refresh: bool = False) -> str:
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    return (
        f'<!doctype html><html><head><meta charset="utf-8">{meta}'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def parse_params(content_type: str, query: str, body: bytes) -> dict[str, Any]:
    """A Web API call's arguments from the query, a form, multipart or JSON body."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if content_type.startswith("application/json") and body:
        params.update(json.loads(body))
    elif content_type.startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    elif content_type.startswith("multipart/form-data"):
        params.update(multipart_fields(content_type, body))
    return params


def multipart_fields(content_type: str, body: bytes) -> dict[str, Any]:
    """Fields of a multipart/form-data body: text as str, file parts as bytes."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(data, bytes):
            is_file = part.get_param("filename", header="content-disposition") is not None
            fields[name] = data if is_file else data.decode()
    return fields
