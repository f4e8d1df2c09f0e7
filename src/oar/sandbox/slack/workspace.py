"""The Slack stand-in's workspace: people, channels, messages, files, Socket Mode
envelopes (acks, redelivery) and interactivity, independent of how they are reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import mimetypes
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket

from oar.sandbox.seed import (
    PEOPLE,
    SLACK_BOT_USER_ID,
    SLACK_CHANNELS,
    SLACK_TEAM_ID,
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


class SlackWorkspace(StandIn):
    """The workspace's state and behaviour: channels, messages, Socket Mode envelopes,
    interactivity. The HTTP surfaces are added by the subclasses."""

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

    def snapshot(self) -> dict[str, Any]:
        """What people see in the workspace: messages, files, ephemeral messages, responses
        (not the Socket Mode plumbing)."""
        return copy.deepcopy(
            {
                "messages": self.messages,
                "files": self.files,
                "ephemeral": self.ephemeral,
                "responses": self.responses,
            }
        )

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
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        *,
        files: Sequence[str] = (),
    ) -> str:
        """Post as a person (ID, uid or email); the app gets the events. Returns the ts.

        ``files`` (names) makes it a file share (subtype ``file_share``), its text the
        comment, which may be empty, as when a file is dropped into a DM without one."""
        uid = self.user_id(user)
        shared = [
            {
                "id": "F0" + uuid.uuid4().hex[:9].upper(),
                "name": name,
                "title": name,
                "size": 0,
                "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
                "user": uid,
            }
            for name in files
        ]
        message = self._store(channel, uid, text, thread_ts=thread_ts, files=shared or None)
        return str(message["ts"])

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
                    async with asyncio.timeout(self.ack_timeout):
                        await envelope.ack.wait()
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
