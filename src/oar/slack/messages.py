"""Text the bot shows: the tail of long output, elapsed time for people. Pure.

Splitting long text into messages and code blocks is the notifier's
(:mod:`oar.integrations.slacktext`).
"""

from __future__ import annotations


def tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, starting at a line boundary if possible."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < len(cut) - 1 else cut


def elapsed(seconds: float) -> str:
    """``75`` → ``1m 15s``: how long something has run, for people."""
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
