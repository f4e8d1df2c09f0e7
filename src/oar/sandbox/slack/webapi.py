"""The Web API methods OAR calls (``/api/<method>``), as Slack answers them: token checks,
``{"ok": false, "error": code}`` errors, cursor paging, external file uploads.
"""

from __future__ import annotations

import email.parser
import email.policy
import hmac
import json
import mimetypes
import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from oar.sandbox.seed import (
    SLACK_BOT_USER_ID,
    SLACK_TEAM_ID,
    SLACK_USER_GROUPS,
)
from oar.sandbox.slack.workspace import (
    _CONTROL,
    BOT_NAME,
    SLACK_BOT_ID,
    Message,
    SlackError,
    SlackWorkspace,
)


class SlackWebApi(SlackWorkspace):
    """The workspace with Slack's Web API methods (``_api_<method>``)."""

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
