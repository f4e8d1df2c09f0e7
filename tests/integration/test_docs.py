"""The docs' command lines agree with the program.

Every fenced shell block (```sh, ```bash, ```shell, ```console) of README.md and of every
``docs/*.md`` page (read when the test runs, so a new page is checked too) is extracted.
In ``console`` blocks only the ``$ `` lines are commands (the rest is output); in the others
every line is, comments aside, ``\\``-continuations joined. Every ``oar``, ``oarctl`` and
``jobctl`` command in them (also after ``|``, ``&&``, ``;`` or ``VAR=value``) must name an
existing command and existing options: it is parsed with click, without running anything
(the command path resolved group by group, then ``make_context`` with
``resilient_parsing``). ``[--opt]`` (an optional part) is read as ``--opt``.

A line that is not meant to be parsed (pseudo-syntax, a placeholder where an option
should be, a command of an older version shown on purpose) ends with the marker
``# docs-test: skip``; the test counts and reports nothing else about it.

Then a curated set of safe, read-only commands (:data:`SAFE`: status, listings, help) is
run, exactly as the docs show them, against the sandbox's stand-ins and its release
configuration: each must exit 0.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import click.testing
import pytest

from oar.cli.oarctl import programs
from oar.sandbox import releaseconfig, seed
from oar.sandbox.registry import Sandbox
from tests.acceptance.conftest import REPO
from tests.conftest import fast_environment

SKIP = "# docs-test: skip"
SHELL_BLOCKS = {"sh", "bash", "shell", "console", "zsh"}
FENCE = re.compile(r"^```([\w-]*)\s*$")
_PROGRAMS = programs()

# Read-only commands safe to run against the sandbox, by command path; a line with one of
# the options listed is not run (it writes). Lines with placeholders (<id>, …) are not run.
SAFE: dict[tuple[str, ...], frozenset[str]] = {
    ("oar", "status"): frozenset(),
    ("oar", "bugs"): frozenset(),
    ("oar", "task"): frozenset({"-s", "--status", "--note"}),
    ("oar", "statebox", "export"): frozenset({"--write", "-o", "--out"}),
    ("oarctl", "follows", "list"): frozenset(),
    ("oarctl", "tasks", "list"): frozenset(),
    ("oarctl", "approvals", "list"): frozenset(),
    ("oarctl", "schedules", "list"): frozenset(),
}
PLACEHOLDER = re.compile(r"[<>…]|\.\.\.|\bX\.Y\.Z\b")


@dataclass(frozen=True)
class DocCommand:
    """One command line of the docs: where it is, and its words."""

    page: str
    line: int
    text: str
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.text}"


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _shell_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, command line) of the page's shell blocks, continuations joined."""
    language: str | None = None
    pending: tuple[int, str] | None = None
    for here, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        number = here
        fence = FENCE.match(raw.strip())
        if fence:
            language = None if language is not None else fence.group(1).lower()
            pending = None
            continue
        if language not in SHELL_BLOCKS:
            continue
        line = raw.strip()
        if pending is not None:
            start, text = pending
            line, number = f"{text} {line}", start
        elif language == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:].strip()
        if line.endswith("\\") and SKIP not in line:
            pending = (number, line[:-1].rstrip())
            continue
        pending = None
        if line and not line.startswith("#"):
            yield number, line


def _segments(line: str) -> Iterator[list[str]]:
    """The simple commands of a line: split at | && || ;, without redirections (the
    leading VAR=value words are dropped by the caller)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words: list[str] = []
    redirected = False
    for token in lexer:
        if token and set(token) <= set("|&;"):
            yield words
            words, redirected = [], False
        elif redirected:  # the file of a redirection: not a word of the command
            redirected = False
        elif re.fullmatch(r"\d?>>?|<", token):
            redirected = True
        else:
            words.append(token)
    yield words


def doc_commands() -> list[DocCommand]:
    found = []
    for path in pages():
        page = str(path.relative_to(REPO))
        for number, line in _shell_lines(path):
            if SKIP in line:
                continue
            for segment in _segments(line):
                words = list(segment)
                while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
                    words = words[1:]
                if words and Path(words[0]).name in _PROGRAMS:
                    found.append(DocCommand(page, number, line, tuple(words)))
    return found


def _optional(word: str) -> str:
    """``[--json]`` → ``--json``: an optional part of a command, shown in brackets."""
    return word.removeprefix("[").removesuffix("]") if word != "[]" else word


def resolve(command: DocCommand) -> tuple[tuple[str, ...], list[str]]:
    """Parse ``command`` with click without running it: its command path and the options
    it used. Raises click.UsageError (with the doc line) for an unknown command or option."""
    program = Path(command.words[0]).name
    group: click.Command = _PROGRAMS[program]
    args = [_optional(w) for w in command.words[1:]]
    path = [program]
    used: list[str] = []
    parent: click.Context | None = None
    while True:
        ctx = group.make_context(path[-1], list(args), parent=parent, resilient_parsing=True)
        # make_context with resilient_parsing forgives unknown options and extra arguments;
        # the command's own parser, strict, does not (it checks no value and runs nothing).
        strict = group.make_parser(click.Context(group, info_name=path[-1], parent=parent))
        _, extra, _ = strict.parse_args(list(args))
        if not isinstance(group, click.Group):
            if extra and not ctx.allow_extra_args:
                raise click.UsageError(f"unexpected extra arguments {extra} for {' '.join(path)}")
            return tuple(path), used + [a.split("=", 1)[0] for a in args if a.startswith("-")]
        used += [a.split("=", 1)[0] for a in args if a.startswith("-")]
        rest = [*ctx._protected_args, *ctx.args]
        if not rest or rest[0] in ("--help", "-h"):
            return tuple(path), used
        name, sub, args = group.resolve_command(ctx, rest)
        if sub is None or name is None:
            raise click.UsageError(f"no command {rest[0]!r} in {' '.join(path)}")
        used = [u for u in used if u not in args]
        path.append(name)
        group, parent = sub, ctx


DOC_COMMANDS = doc_commands()


def test_the_docs_show_commands_and_every_one_names_existing_commands_and_options() -> None:
    assert len(DOC_COMMANDS) > 50, [str(c) for c in DOC_COMMANDS]
    wrong = []
    for command in DOC_COMMANDS:
        try:
            resolve(command)
        except click.ClickException as exc:
            wrong.append(f"{command}\n    {exc.format_message()}")
    assert not wrong, "\n".join(wrong)


def safe_to_run(command: DocCommand) -> bool:
    if PLACEHOLDER.search(command.text) or "|" in command.text or ">" in command.text:
        return False
    try:
        path, used = resolve(command)
    except click.ClickException:
        return False
    if any(w in ("--help", "-h") for w in command.words):
        return True
    unsafe = SAFE.get(path)
    return unsafe is not None and not unsafe & set(used)


@pytest.fixture
async def sandbox_env(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """The sandbox's stand-ins and release configuration, a fresh SQLite database (the
    docs' commands do not depend on the backend)."""
    database_url = f"sqlite:///{tmp_path / 'data' / 'oar.db'}"
    async with Sandbox(base_port=0) as sandbox:
        yield {
            **sandbox.environment(),
            **releaseconfig.write_config(tmp_path / "config"),
            **fast_environment(database_url, tmp_path / "data"),
        }


def _invoke(command: DocCommand, env: dict[str, str]) -> click.testing.Result:
    """Run the command in this process (its own event loop, in a worker thread, so the
    stand-ins in the test's loop answer it), as the docs show it."""
    program, *args = command.words
    runner = click.testing.CliRunner(env=dict(env))
    return runner.invoke(_PROGRAMS[Path(program).name], [_optional(a) for a in args])


async def test_the_safe_commands_of_the_docs_run_against_the_sandbox(
    sandbox_env: dict[str, str],
) -> None:
    runnable: dict[tuple[object, ...], DocCommand] = {}
    for command in DOC_COMMANDS:
        if safe_to_run(command):  # each distinct command and option set once
            path, used = resolve(command)
            runnable.setdefault((path, frozenset(used)), command)
    assert len(runnable) >= 5, [str(c) for c in runnable.values()]
    releases = {
        word
        for command in runnable.values()
        for word in command.words
        if re.fullmatch(r"\d+\.\d+\.\d+", word)
    }
    assert releases <= set(seed.ADVISORIES), f"docs name releases the sandbox lacks: {releases}"
    failed = []
    for command in runnable.values():
        result = await asyncio.to_thread(_invoke, command, sandbox_env)
        if result.exit_code != 0:
            failed.append(f"{command}\n    exit {result.exit_code}: {result.output[-500:]}")
    assert not failed, "\n".join(failed)
