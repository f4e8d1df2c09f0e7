"""What a Slack message asks for, and whether it is a command we can run. Pure.

The original bot ran any message starting with ``oar``/``oarctl`` after refusing shell
metacharacters; the refusals and their wording are kept (``❌ Invalid command: …``), the
``jobctl`` program is added, and a mention in front of the command is accepted. Which
command a message names is decided by the programs' own click groups (:func:`resolve`),
the parser that will run it, so ``oar -vr 4.19.3 status`` is ``oar status``.
"""

from __future__ import annotations

import enum
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace

import click

PROGRAMS = ("oar", "oarctl", "jobctl")
# The original's list: anything a shell would interpret, and line breaks.
FORBIDDEN = (";", "&", "|", "`", "$", "(", ")", "<", ">", "\n", "\r")
_MAILTO = re.compile(r"<mailto:([^|>]+)\|([^>]+)>")
_MENTION = re.compile(r"^\s*<@([A-Z0-9]+)(?:\|[^>]*)?>[\s:,]*")
_GREETING_WORDS = 2


class Intent(enum.StrEnum):
    COMMAND = "command"  # starts with oar / oarctl / jobctl
    HELP = "help"  # "help": what may I run?
    GREETING = "greeting"  # a bare mention, or two words at most
    QUESTION = "question"  # anything else addressed to the bot
    EMPTY = "empty"  # no text at all (a file shared without a comment): never a question


class CommandRefused(Exception):
    """The text cannot be run; ``reason`` is what the user is told."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, kw_only=True)
class Command:
    argv: tuple[str, ...]
    # The command path click resolves (("oarctl", "tasks", "list")); empty until resolved.
    path: tuple[str, ...] = ()

    @property
    def program(self) -> str:
        return self.argv[0]

    @property
    def key(self) -> str:
        """What access rules match: ``oar change-advisory-status``, ``oarctl tasks list``."""
        return " ".join(self.path or (self.program,))

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True, kw_only=True)
class CatalogueEntry:
    key: str  # "oar change-advisory-status"
    summary: str


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
    elif not body and not mentioned:
        intent = Intent.EMPTY
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


def resolve(command: Command, programs: Mapping[str, click.Group]) -> Command:
    """``command`` with its command path, as the program's click group parses its argv.

    Each group's options are parsed strictly (an unknown option or a missing value is a
    refusal with click's message) and its subcommand looked up, down the nested groups,
    the way click's own shell completion walks them (``_resolve_context``); no parameter
    callback runs (``--help`` and ``--version`` print nothing here).
    """
    group = programs.get(command.program)
    if group is None:
        raise CommandRefused(f"`{command.program}` is not available here")
    path = [command.program]
    current: click.Command = group
    args = list(command.argv[1:])
    parent: click.Context | None = None
    while isinstance(current, click.Group):
        shown = " ".join(path)
        strict = current.context_class(
            current, info_name=path[-1], parent=parent, **current.context_settings
        )
        try:
            current.make_parser(strict).parse_args(list(args))
        except click.UsageError as exc:
            raise CommandRefused(f"`{shown}`: {exc.format_message()}") from None
        ctx = current.make_context(path[-1], list(args), parent=parent, resilient_parsing=True)
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            break
        name, sub, args = current.resolve_command(ctx, rest)
        if sub is None or name is None:
            raise CommandRefused(
                f"no such command `{shown} {rest[0]}`; type `help` to see the commands you may run"
            )
        path.append(sub.name or name)
        current, parent = sub, ctx
    return replace(command, path=tuple(path))


def catalogue(programs: Mapping[str, click.Group]) -> list[CatalogueEntry]:
    """Every runnable command of the programs (nested groups walked), with its short help."""
    entries: list[CatalogueEntry] = []

    def walk(path: str, group: click.Group) -> None:
        ctx = group.context_class(group, info_name=path)
        for name in group.list_commands(ctx):  # lazy groups load their commands here
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            key = f"{path} {name}"
            if isinstance(command, click.Group):
                walk(key, command)
            else:
                entries.append(CatalogueEntry(key=key, summary=command.get_short_help_str(70)))

    for program, group in programs.items():
        walk(program, group)
    return entries
