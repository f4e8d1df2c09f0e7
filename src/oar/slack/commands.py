"""What a Slack message asks for, and whether it is a command we can run. Pure.

The original bot ran any message starting with ``oar``/``oarctl`` after refusing shell
metacharacters; the refusals and their wording are kept (``❌ Invalid command: …``), the
``jobctl`` program is added, and a mention in front of the command is accepted.
"""

from __future__ import annotations

import enum
import re
import shlex
from dataclasses import dataclass

PROGRAMS = ("oar", "oarctl", "jobctl")
# The original's list: anything a shell would interpret, and line breaks.
FORBIDDEN = (";", "&", "|", "`", "$", "(", ")", "<", ">", "\n", "\r")
# Options of the programs that take a value and come before the subcommand.
_OPTIONS_WITH_VALUE = frozenset({"-r", "--release"})
_MAILTO = re.compile(r"<mailto:([^|>]+)\|([^>]+)>")
_MENTION = re.compile(r"^\s*<@([A-Z0-9]+)(?:\|[^>]*)?>[\s:,]*")
_GREETING_WORDS = 2


class Intent(enum.StrEnum):
    COMMAND = "command"  # starts with oar / oarctl / jobctl
    HELP = "help"  # "help": what may I run?
    GREETING = "greeting"  # a bare mention, or two words at most
    QUESTION = "question"  # anything else addressed to the bot


class CommandRefused(Exception):
    """The text cannot be run; ``reason`` is what the user is told."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, kw_only=True)
class Command:
    argv: tuple[str, ...]

    @property
    def program(self) -> str:
        return self.argv[0]

    @property
    def subcommand(self) -> str | None:
        """The first word after the program's own options (``change-advisory-status``)."""
        skip = False
        for token in self.argv[1:]:
            if skip:
                skip = False
                continue
            if token in _OPTIONS_WITH_VALUE:
                skip = True
                continue
            if token.startswith("-"):
                continue
            return token
        return None

    @property
    def release(self) -> str | None:
        for index, token in enumerate(self.argv[1:-1], start=1):
            if token in _OPTIONS_WITH_VALUE:
                return self.argv[index + 1]
        for token in self.argv[1:]:
            if token.startswith("--release="):
                return token.split("=", 1)[1]
        return None

    @property
    def key(self) -> str:
        """What access rules match: ``oar change-advisory-status``, ``oarctl tasks``."""
        sub = self.subcommand
        return f"{self.program} {sub}" if sub else self.program

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True, kw_only=True)
class Message:
    """A user's message as the bot reads it: mention stripped, links unwrapped."""

    text: str
    mentioned: bool
    intent: Intent


def unwrap_mailto(text: str) -> str:
    """Slack turns ``a@b.com`` into ``<mailto:a@b.com|a@b.com>``; give back what was typed."""
    return _MAILTO.sub(lambda match: match.group(2), text)


def read(text: str, *, bot_user_id: str | None) -> Message:
    """Classify a message's text (after an optional leading mention of the bot)."""
    mentioned = False
    body = text
    match = _MENTION.match(body)
    if match and (bot_user_id is None or match.group(1) == bot_user_id):
        mentioned = True
        body = body[match.end() :]
    body = unwrap_mailto(body).strip()
    first = body.split(maxsplit=1)[0] if body else ""
    if first in PROGRAMS:
        intent = Intent.COMMAND
    elif body.lower() in ("help", "help me", "?"):
        intent = Intent.HELP
    elif mentioned and (not body or body.startswith("-") or len(body.split()) <= _GREETING_WORDS):
        intent = Intent.GREETING
    else:
        intent = Intent.QUESTION
    return Message(text=body, mentioned=mentioned, intent=intent)


def parse(text: str) -> Command:
    """The argv of a command message, or :class:`CommandRefused` saying why not."""
    for char in FORBIDDEN:
        if char in text:
            shown = {"\n": "\\n", "\r": "\\r"}.get(char, char)
            raise CommandRefused(
                f"Invalid character '{shown}' detected in command. Command injection attempt"
                " blocked."
            )
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise CommandRefused(f"Invalid command syntax: {exc}") from None
    if not argv:
        raise CommandRefused("Empty command")
    if argv[0] not in PROGRAMS:
        allowed = ", ".join(f"'{p}'" for p in PROGRAMS)
        raise CommandRefused(f"Command must start with {allowed}, got: {argv[0]}")
    return Command(argv=tuple(argv))
