"""The stand-in's web page: read the channels and post as one of the sandbox's people."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
)

from oar.sandbox.seed import (
    PEOPLE,
    SLACK_BOT_USER_ID,
)
from oar.sandbox.slack.workspace import _CONTROL, Message, SlackError, SlackWorkspace


def add_page_routes(stand_in: SlackWorkspace) -> None:
    """``/``: channels, a live feed per channel, a form to post as a person, buttons."""
    app = stand_in.app

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        items = "".join(
            f'<li><a href="/channels/{cid}">#{html.escape(name)}</a> '
            f"<small>{len(stand_in.messages.get(cid, []))} messages</small></li>"
            for cid, name in stand_in.channels.items()
        )
        return _html("Slack sandbox", f"<h1>Slack sandbox</h1><ul>{items}</ul>")

    @app.get("/channels/{cid}", response_class=HTMLResponse)
    async def channel(cid: str, request: Request) -> Response:
        if cid not in stand_in.channels:
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
            for m in stand_in.channel_messages(cid)
        )
        mention = f"&lt;@{SLACK_BOT_USER_ID}&gt;"
        body = (
            f'<p><a href="/">channels</a></p><h1>#{html.escape(stand_in.channels[cid])}</h1>'
            f'<iframe src="/channels/{cid}/feed?as={quote(acting)}"></iframe>'
            f'<form method="post" action="/channels/{cid}">'
            f'<select name="user">{people}</select> <select name="thread_ts">{threads}'
            f'</select><br><textarea name="text" rows="3" required autofocus '
            f'placeholder="{mention} help"></textarea><br><button>Post</button> '
            f"<small>mention the bot with {mention}</small></form>"
        )
        return HTMLResponse(_html(f"#{stand_in.channels[cid]}", body))

    @app.get("/channels/{cid}/feed", response_class=HTMLResponse)
    async def feed(cid: str, request: Request) -> Response:
        if cid not in stand_in.channels:
            return HTMLResponse(_html("Not found", "<p>No such channel.</p>"), 404)
        acting = request.query_params.get("as") or PEOPLE[0].slack_user_id
        parts = []
        for root in stand_in.channel_messages(cid):
            parts.append(_render(stand_in, cid, root, acting, reply_link=True))
            replies = stand_in.thread(cid, root["ts"])[1:]
            parts.extend(
                f'<div class="reply">{_render(stand_in, cid, m, acting)}</div>' for m in replies
            )
        body = "".join(parts) or "<p><em>No messages yet.</em></p>"
        return HTMLResponse(_html("feed", body, refresh=True))

    @app.post("/channels/{cid}")
    async def post(cid: str, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        user, text = form.get("user", ""), form.get("text", "").strip()
        try:
            if text:
                await stand_in.post_message(cid, user, text, form.get("thread_ts") or None)
        except SlackError as exc:
            return HTMLResponse(_html("Error", f"<p>{html.escape(exc.code)}</p>"), 400)
        return RedirectResponse(f"/channels/{cid}?as={quote(user)}", status_code=303)

    @app.post("/channels/{cid}/click")
    async def click(cid: str, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        try:
            await stand_in.click(cid, form["ts"], form["user"], form["action_id"])
        except (KeyError, LookupError, SlackError, ConnectionError) as exc:
            return HTMLResponse(_html("Error", f"<p>{html.escape(repr(exc))}</p>"), 400)
        return RedirectResponse(f"/channels/{cid}/feed?as={quote(form['user'])}", 303)


def _render(
    stand_in: SlackWorkspace, cid: str, message: Message, acting: str, *, reply_link: bool = False
) -> str:
    who = stand_in.users.get(message.get("user", ""), {}).get("real_name", message.get("user"))
    out = [f'<div class="msg"><b>{html.escape(str(who))}</b> <small>{message["ts"]}']
    if "edited" in message:
        out.append(" (edited)")
    out.append("</small>")
    blocks = message.get("blocks") or []
    if message.get("text") and not any("text" in b for b in blocks):
        out.append(f"<div>{_mrkdwn(stand_in, message['text'])}</div>")
    for block in blocks:
        if isinstance(block.get("text"), dict):
            out.append(f"<div>{_mrkdwn(stand_in, str(block['text'].get('text', '')))}</div>")
        buttons = [*block.get("elements", []), block.get("accessory") or {}]
        for element in buttons:
            if block.get("type") == "context" and "text" in element:
                out.append(f"<div><small>{_mrkdwn(stand_in, str(element['text']))}</small></div>")
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


def _mrkdwn(stand_in: SlackWorkspace, text: str) -> str:
    def person(match: re.Match[str]) -> str:
        user = stand_in.users.get(match.group(1))
        return f"<b>@{html.escape(user['name'])}</b>" if user else match.group(0)

    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"&lt;@(U[A-Z0-9]+)(?:\|[^&]*)?&gt;", person, escaped)
    escaped = re.sub(r"&lt;!subteam\^\w+\|?([^&]*)&gt;", r"<b>\1</b>", escaped)
    return escaped.replace("\n", "<br>")


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
