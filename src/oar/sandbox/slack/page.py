"""The stand-in's web page: read the channels and post as one of the sandbox's people."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
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
    SLACK_USER_GROUPS,
)
from oar.sandbox.slack.mrkdwn import Names, to_html, to_text
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
        names, now = _names(stand_in), datetime.now(UTC)
        threads = '<option value="">new message in the channel</option>' + "".join(
            f'<option value="{html.escape(m["ts"])}"{" selected" * (m["ts"] == chosen)}>'
            f"reply to: {html.escape(_shorten(to_text(str(m.get('text', '')), names, now=now)))}"
            "</option>"
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
            replies = stand_in.thread(cid, root["ts"])[1:]
            parts.append(
                _render(stand_in, cid, root, acting, replies=len(replies), reply_link=True)
            )
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


def _shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis saying so."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _names(stand_in: SlackWorkspace) -> Names:
    """The workspace's names for the renderer: people and the bot, user groups, channels."""
    return Names(
        users={uid: str(user["name"]) for uid, user in stand_in.users.items()},
        groups={gid: handle for handle, (gid, _) in SLACK_USER_GROUPS.items()},
        channels=dict(stand_in.channels),
    )


def _render(
    stand_in: SlackWorkspace,
    cid: str,
    message: Message,
    acting: str,
    *,
    replies: int = 0,
    reply_link: bool = False,
) -> str:
    """One message as Slack shows it: author and time, then its blocks (or, without blocks,
    its text), files, reactions; a thread's root also says how many replies it has."""
    names, now = _names(stand_in), datetime.now(UTC)
    user = stand_in.users.get(message.get("user", ""), {})
    who = str(user.get("real_name") or message.get("user") or "someone")
    posted = datetime.fromtimestamp(float(message["ts"]), UTC)
    app = ' <span class="app">APP</span>' if message.get("bot_id") else ""
    out = [
        f'<div class="msg" id="m{html.escape(message["ts"])}"><b>{html.escape(who)}</b>{app} '
        f'<small><time datetime="{posted.isoformat()}" title="{message["ts"]}">'
        f"{posted:%H:%M}</time>"
    ]
    if "edited" in message:
        out.append(" (edited)")
    out.append("</small>")
    blocks = message.get("blocks") or []
    if not blocks and message.get("text"):
        # With blocks, Slack shows the blocks; the text is the notification's fallback.
        out.append(f'<div class="text">{to_html(str(message["text"]), names, now=now)}</div>')
    for block in blocks:
        out.append(_block(block, cid, message["ts"], acting, names=names, now=now))
    for f in message.get("files", []):
        out.append(
            f'<div>&#128206; <a href="{_CONTROL}files/{html.escape(str(f["id"]))}">'
            f"{html.escape(str(f.get('title') or f['name']))}</a></div>"
        )
    reactions = " ".join(f":{r['name']}: {r['count']}" for r in message.get("reactions", []))
    if reactions:
        out.append(f"<div><small>{html.escape(reactions)}</small></div>")
    if replies:
        out.append(f'<div class="replies">{replies} repl{"y" if replies == 1 else "ies"}</div>')
    if reply_link:
        out.append(
            f'<a target="_top" href="/channels/{cid}?as={quote(acting)}'
            f'&amp;thread_ts={message["ts"]}"><small>reply in thread</small></a>'
        )
    return "".join(out) + "</div>"


def _text(obj: Any, names: Names, now: datetime) -> str:
    """A Block Kit text object: ``mrkdwn`` formatted, ``plain_text`` only escaped."""
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    return to_html(text, names, now=now) if obj.get("type") == "mrkdwn" else html.escape(text)


def _block(
    block: dict[str, Any], cid: str, ts: str, acting: str, *, names: Names, now: datetime
) -> str:
    """One Block Kit block: section (text, fields, accessory), header, context, divider,
    actions (buttons that click as ``acting``)."""
    kind = block.get("type")
    if kind == "divider":
        return "<hr>"
    if kind == "header":
        return f"<h3>{_text(block.get('text'), names, now)}</h3>"
    if kind == "context":
        items = " ".join(
            _text(e, names, now) for e in block.get("elements", []) if isinstance(e, dict)
        )
        return f'<div class="context">{items}</div>'
    out = []
    if "text" in block:
        out.append(f"<div>{_text(block['text'], names, now)}</div>")
    fields = [f"<div>{_text(f, names, now)}</div>" for f in block.get("fields", [])]
    if fields:
        out.append(f'<div class="fields">{"".join(fields)}</div>')
    elements = [*block.get("elements", []), block.get("accessory") or {}]
    buttons = [_button(e, cid, ts, acting) for e in elements if e.get("type") == "button"]
    if buttons:
        out.append(f'<div class="actions">{"".join(buttons)}</div>')
    return "".join(out)


def _button(element: dict[str, Any], cid: str, ts: str, acting: str) -> str:
    """A button as a form that clicks it (``block_actions`` to the app), or a link button."""
    label = html.escape(str(element.get("text", {}).get("text", "button")))
    style = html.escape(str(element.get("style", "default")))
    url = str(element.get("url", ""))
    if url.startswith(("http://", "https://")):
        return f'<a class="button {style}" href="{html.escape(url)}" target="_blank">{label}</a>'
    return (
        f'<form method="post" action="/channels/{cid}/click">'
        f'<input type="hidden" name="ts" value="{html.escape(ts)}">'
        f'<input type="hidden" name="user" value="{html.escape(acting)}">'
        f'<input type="hidden" name="action_id" '
        f'value="{html.escape(str(element.get("action_id", "")))}">'
        f'<button class="{style}">{label}</button></form>'
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:56em;margin:1em auto;padding:0 1em;"
    "color:#1d1c1d}"
    ".msg{border-left:3px solid #ddd;padding:.2em .6em;margin:.4em 0}"
    ".reply{margin-left:2.5em}.msg form{display:inline-block;margin:.2em .3em 0 0}"
    ".app{font-size:.7em;background:#e8e8e8;border-radius:3px;padding:0 .3em}"
    ".mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 .15em}"
    "code{color:#c01343;background:#f6f6f6;border:1px solid #ddd;border-radius:3px;"
    "padding:0 .2em}pre{background:#f6f6f6;border:1px solid #ddd;border-radius:4px;"
    "padding:.5em;white-space:pre-wrap}pre code{color:inherit;border:0;padding:0}"
    "blockquote{border-left:4px solid #ddd;margin:.2em 0;padding-left:.6em}"
    ".context{font-size:.85em;color:#616061}.fields{display:grid;"
    "grid-template-columns:1fr 1fr;gap:.2em 1em}.replies{font-size:.85em;color:#1264a3}"
    "button,.button{border:1px solid #bbb;border-radius:4px;background:#fff;padding:.2em .8em;"
    "cursor:pointer}button.primary{background:#007a5a;color:#fff;border-color:#007a5a}"
    "button.danger{background:#e01e5a;color:#fff;border-color:#e01e5a}"
    "iframe{width:100%;height:60vh;border:1px solid #ccc}textarea{width:100%}"
)


def _html(title: str, body: str, *, refresh: bool = False) -> str:
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    return (
        f'<!doctype html><html><head><meta charset="utf-8">{meta}'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
