"""Slack mrkdwn to HTML, for the stand-in's page: what a Slack client would show.

Follows Slack's "Formatting text for app surfaces" reference
(https://docs.slack.dev/messaging/formatting-message-text/):

- the text is Slack-escaped: ``&amp;``, ``&lt;`` and ``&gt;`` are literal ``&``, ``<``, ``>``;
  a raw ``<…>`` is a control sequence: a link ``<url>`` / ``<url|text>``, a user ``<@U…>``,
  a channel ``<#C…>``, a user group ``<!subteam^S…>``, ``<!here>`` / ``<!channel>`` /
  ``<!everyone>``, or a date ``<!date^unix^tokens[^link]|fallback>``;
- ``*bold*``, ``_italic_``, ``~strike~`` (the markers hug the words and stand at word
  boundaries, within one line), ```` `code` ````, ```` ```code block``` ```` (nothing is
  formatted inside code) and ``>`` quoted lines.

Everything that reaches the HTML is escaped, and only http(s) and mailto links become
anchors, so a message cannot inject markup or script. :func:`to_html` is pure: the names and
the current time (for ``{date_pretty}`` and ``{ago}``) are arguments.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_CODE_BLOCK = re.compile(r"```(.*?)```", re.DOTALL)
_TOKEN = re.compile(r"`([^`\n]+)`|<([^<>\n]+)>")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_QUOTE = re.compile(r"^(?:>|&gt;)\s?")
_QUOTE_REST = re.compile(r"^(?:>>>|&gt;&gt;&gt;)\s?")
# A marker opens after a line start, a space or punctuation, before a non-space; it closes
# after a non-space, before a line end, a space or punctuation (Slack: "foo*bar*" stays plain).
_EMPHASIS = tuple(
    (re.compile(rf"(?<![\w{m}])\{m}(?=\S)([^{m}\n]*?\S)\{m}(?![\w{m}])"), tag)
    for m, tag in (("*", "b"), ("_", "i"), ("~", "s"))
)


@dataclass(frozen=True)
class Names:
    """What the workspace calls its members: user ID -> name, user group ID -> handle,
    channel ID -> name."""

    users: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)


def unescape(text: str) -> str:
    """Slack's three entities back to their characters (``&amp;`` last, so ``&amp;lt;``
    stays ``&lt;``)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def to_html(text: str, names: Names, *, now: datetime | None = None) -> str:
    """The message text ``text`` (Slack mrkdwn) as escaped HTML, dates in UTC. Pure."""
    now = now or datetime.fromtimestamp(0, UTC)
    text = text.replace("\x00", "")
    out: list[str] = []
    position = 0
    for block in _CODE_BLOCK.finditer(text):
        # A code block is a block of its own: the line breaks around it are its edges.
        before = text[position : block.start()].removesuffix("\n")
        if before:
            out.append(_lines(before, names, now))
        code = block.group(1).removeprefix("\n")
        out.append(f"<pre><code>{html.escape(unescape(code))}</code></pre>")
        position = block.end() + (text[block.end() : block.end() + 1] == "\n")
    if rest := text[position:]:
        out.append(_lines(rest, names, now))
    return "".join(out)


_TAG = re.compile(r"<(br|/?pre|/?blockquote)>|<[^<>]*>")


def to_text(text: str, names: Names, *, now: datetime | None = None) -> str:
    """The message text ``text`` as plain text, as it reads in :func:`to_html` (for places
    that take no markup, such as an ``<option>``): markers gone, mentions by name, links by
    their label, dates formatted, line breaks as spaces. Pure; the result is not escaped."""
    # to_html escapes everything taken from the message, so every tag in it is its own.
    marked = _TAG.sub(lambda m: " " if m.group(1) else "", to_html(text, names, now=now))
    return " ".join(html.unescape(marked).split())


def _lines(text: str, names: Names, now: datetime) -> str:
    """Lines joined by ``<br>``; consecutive ``>`` lines (or all after ``>>>``) as one block
    quote, which is a block of its own (no ``<br>`` around it)."""
    units: list[tuple[bool, str]] = []  # (is a quote, html)
    quoted: list[str] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _QUOTE_REST.match(line):
            quoted.extend([_QUOTE_REST.sub("", line, count=1), *lines[i + 1 :]])
            break
        if _QUOTE.match(line):
            quoted.append(_QUOTE.sub("", line, count=1))
            continue
        if quoted:
            units.append((True, _quote(quoted, names, now)))
            quoted = []
        units.append((False, _inline(line, names, now)))
    if quoted:
        units.append((True, _quote(quoted, names, now)))
    out = []
    for k, (is_quote, part) in enumerate(units):
        if k and not is_quote and not units[k - 1][0]:
            out.append("<br>")
        out.append(part)
    return "".join(out)


def _quote(lines: list[str], names: Names, now: datetime) -> str:
    return (
        "<blockquote>" + "<br>".join(_inline(line, names, now) for line in lines) + "</blockquote>"
    )


def _inline(line: str, names: Names, now: datetime) -> str:
    """One line: code spans and control sequences set aside, the rest escaped, then
    emphasis, then the set-aside pieces put back."""
    pieces: list[str] = []

    def aside(match: re.Match[str]) -> str:
        code, control = match.group(1), match.group(2)
        if code is not None:
            pieces.append(f"<code>{html.escape(unescape(code))}</code>")
        else:
            pieces.append(_control(control, names, now))
        return f"\x00{len(pieces) - 1}\x00"

    escaped = html.escape(unescape(_TOKEN.sub(aside, line)), quote=False)
    for pattern, tag in _EMPHASIS:
        escaped = pattern.sub(rf"<{tag}>\1</{tag}>", escaped)
    return _PLACEHOLDER.sub(lambda m: pieces[int(m.group(1))], escaped)


def _control(body: str, names: Names, now: datetime) -> str:
    """One ``<…>`` sequence (without the brackets) as HTML."""
    target, _, label = body.partition("|")
    if target.startswith("@"):
        uid = target[1:]
        name = names.users.get(uid) or label.lstrip("@") or uid
        return _mention(f"@{name}", uid)
    if target.startswith("#"):
        cid = target[1:]
        name = names.channels.get(cid) or label.lstrip("#") or cid
        return _mention(f"#{name}", cid)
    if target.startswith("!subteam^"):
        gid = target.removeprefix("!subteam^")
        handle = names.groups.get(gid) or label.lstrip("@") or gid
        return _mention(f"@{handle}", gid)
    if target in ("!here", "!channel", "!everyone"):
        return _mention(f"@{target[1:]}", target[1:])
    if target.startswith("!date^"):
        return _date(target, label, now)
    if target.startswith(_SAFE_SCHEMES):
        url = unescape(target)
        shown = unescape(label) if label else url.removeprefix("mailto:")
        return _anchor(url, html.escape(shown))
    # Not a sequence Slack parses (or a scheme we do not link, e.g. javascript:): its text.
    return html.escape(unescape(f"<{body}>"))


def _anchor(url: str, inner: str) -> str:
    """A link opening in a new tab (the page's feed is a frame); ``url`` is a safe scheme's."""
    return f'<a href="{html.escape(url)}" rel="noopener noreferrer" target="_blank">{inner}</a>'


def _mention(text: str, ident: str) -> str:
    return f'<span class="mention" title="{html.escape(ident)}">{html.escape(text)}</span>'


def _date(target: str, fallback: str, now: datetime) -> str:
    """``!date^<unix>^<token string>[^<link>]`` with its ``fallback``, in UTC."""
    _, stamp, *rest = target.split("^", 3)
    tokens, link = [*rest, "", ""][:2]
    try:
        when = datetime.fromtimestamp(int(stamp), UTC)
    except (ValueError, OverflowError, OSError):
        return html.escape(unescape(fallback or target))
    shown = _TOKENS_RE.sub(
        lambda m: _DATE_TOKENS[m.group(1)](when, now), unescape(tokens)
    ) or unescape(fallback)
    inner = f'<time datetime="{when.isoformat()}" title="{when:%Y-%m-%d %H:%M:%S} UTC">'
    inner += f"{html.escape(shown)}</time>"
    if link and unescape(link).startswith(_SAFE_SCHEMES):
        return _anchor(unescape(link), inner)
    return inner


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_text(when: datetime) -> str:
    return f"{when:%B} {_ordinal(when.day)}, {when.year}"


def _date_long(when: datetime) -> str:
    return f"{when:%A}, {_date_text(when)}"


def _date_short(when: datetime) -> str:
    return f"{when:%b} {when.day}, {when.year}"


def _relative_day(when: datetime, now: datetime) -> str | None:
    days = (when.date() - now.date()).days
    return {-1: "yesterday", 0: "today", 1: "tomorrow"}.get(days)


def _pretty(plain: Callable[[datetime], str]) -> Callable[[datetime, datetime], str]:
    return lambda when, now: _relative_day(when, now) or plain(when)


def _time(when: datetime, *, seconds: bool = False) -> str:
    hour = when.hour % 12 or 12
    secs = f":{when.second:02d}" if seconds else ""
    return f"{hour}:{when.minute:02d}{secs} {'AM' if when.hour < 12 else 'PM'}"


def _ago(when: datetime, now: datetime) -> str:
    delta = now - when
    later = delta < timedelta(0)
    seconds = abs(int(delta.total_seconds()))
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            count = seconds // size
            amount = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {amount}" if later else f"{amount} ago"
    return "in a few seconds" if later else "a few seconds ago"


def _day_divider(when: datetime, now: datetime) -> str:
    relative = _relative_day(when, now)
    if relative:
        return relative
    return (
        f"{when:%A}, {when:%B} {_ordinal(when.day)}" if when.year == now.year else _date_long(when)
    )


# Slack's date tokens (the reference's table), rendered in UTC where Slack uses the reader's
# time zone and a US English locale.
_DATE_TOKENS: dict[str, Callable[[datetime, datetime], str]] = {
    "date_num": lambda w, _: f"{w:%Y-%m-%d}",
    "date_slash": lambda w, _: f"{w:%d/%m/%Y}",
    "date": lambda w, _: _date_text(w),
    "date_short": lambda w, _: _date_short(w),
    "date_long": lambda w, _: _date_long(w),
    "date_long_full": lambda w, _: f"{w:%B} {w.day}, {w.year}",
    "date_pretty": _pretty(_date_text),
    "date_short_pretty": _pretty(_date_short),
    "date_long_pretty": _pretty(_date_long),
    "day_divider_pretty": _day_divider,
    "time": lambda w, _: _time(w),
    "time_secs": lambda w, _: _time(w, seconds=True),
    "ago": _ago,
}
_TOKENS_RE = re.compile(r"\{(" + "|".join(_DATE_TOKENS) + r")\}")
