"""Slack message text: splitting long text on line boundaries, code blocks. Pure.

The Slack notifier (:mod:`oar.integrations.slack`) sends every long text through these; the
bot uses them too.

Slack truncates ``text`` beyond 40,000 characters and renders long messages poorly; the
original bot cut output into fixed 2,500-character slices that broke lines (and code
blocks) in the middle. Here a chunk ends at a line boundary whenever a line fits.
"""

from __future__ import annotations

# Slack's own guidance is to keep a message's text under 4,000 characters.
MESSAGE_LIMIT = 3900
_FENCE = "```"


def split_lines(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut ``text`` into chunks of at most ``limit`` characters, at line ends where possible.

    A single line longer than ``limit`` is cut inside the line. No chunk is blank (Slack
    refuses a message without text): blank lines where one chunk ends and the next begins
    are dropped, and blank text gives no chunk at all; no other character is lost.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if not text.strip():
        return []
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = 0

    def emit(chunk: str) -> None:
        if chunk.strip():
            chunks.append(chunk)

    def flush() -> None:
        nonlocal current, size
        emit("\n".join(current).strip("\n"))
        current, size = [], 0

    for whole_line in text.split("\n"):
        line = whole_line
        while len(line) > limit:  # an overlong line: flush, then cut it
            flush()
            emit(line[:limit])
            line = line[limit:]
        added = len(line) + (1 if current else 0)
        if size + added > limit:
            flush()
            added = len(line)
        current.append(line)
        size += added
    flush()
    return chunks


def code_blocks(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` as one or more Slack code blocks, each message within ``limit``."""
    body = text.replace(_FENCE, "`\u200b``")  # a fence inside the output must not close ours
    return [f"{_FENCE}\n{chunk}\n{_FENCE}" for chunk in split_lines(body, limit - 8)]
