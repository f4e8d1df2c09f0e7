"""What the bot does with one Slack message: the whole conversation logic, framework-free.

Order matters: (1) drop what was taken before (redeliveries, the ``app_mention`` twin of a
``message``); (2) decide whether the message is addressed to the bot — commands always
are, other text only as a mention, a direct message, or a reply in a thread the bot is in
(ordinary channel chatter is never sent to the model); (3) claim the thread or answer
busy at once; (4) run the command or ask the assistant; (5) release in ``finally``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import click

from oar.errors import IntegrationError, IntegrationTimeoutError
from oar.integrations.slack import SlackNotifier
from oar.integrations.slacktext import MESSAGE_LIMIT, code_blocks, split_lines
from oar.logs import get_logger
from oar.slack import commands
from oar.slack.access import AccessPolicy, Asker
from oar.slack.assistant import Assistant
from oar.slack.commands import Command, CommandRefused, Intent
from oar.slack.conversations import ConversationStore
from oar.slack.ledger import EventLedger
from oar.slack.messages import elapsed, tail
from oar.slack.runner import CommandResult, CommandRunner
from oar.slack.threads import ThreadClaims

log = get_logger(__name__)

GREETING = (
    "I'm ERT Release Bot. What can I do for you? Type `help` to see the commands you may run."
)
NO_ASSISTANT = (
    "I run release commands (type `help` to see yours). Questions need the assistant, which is"
    " not configured here (MODEL_API_BASE, MODEL_API_KEY, MODEL_API_NAME)."
)
EMPTY_MESSAGE = (
    "I read text only: files and attachments are not read. Type a command, a question, or"
    " `help` to see the commands you may run."
)
_GROUPS_CACHE_SECONDS = 300.0
_NAMES_CACHE_SECONDS = 3600.0


@dataclass(frozen=True, kw_only=True)
class Incoming:
    """A user's message event, as the bot needs it."""

    event_id: str
    kind: str  # "message" or "app_mention"
    channel: str
    user: str
    text: str
    ts: str
    thread_ts: str | None = None
    channel_type: str | None = None
    retry_attempt: int = 0

    @property
    def root(self) -> str:
        """The thread the answer belongs in: the thread's root, or this message."""
        return self.thread_ts or self.ts


class Dispatcher:
    def __init__(
        self,
        *,
        notifier: SlackNotifier,
        ledger: EventLedger,
        conversations: ConversationStore,
        claims: ThreadClaims,
        runner: CommandRunner,
        assistant: Assistant | None,
        access: AccessPolicy,
        programs: Mapping[str, click.Group],
        bot_user_id: str | None,
        update_interval: float,
        file_threshold: int,
    ) -> None:
        self.notifier = notifier
        self.ledger = ledger
        self.conversations = conversations
        self.claims = claims
        self.runner = runner
        self.assistant = assistant
        self.access = access
        # program -> its click group: what a command is, and what `help` lists.
        self.programs = dict(programs)
        self.bot_user_id = bot_user_id
        self.update_interval = update_interval
        self.file_threshold = file_threshold
        self._groups: dict[str, frozenset[str]] = {}
        self._groups_at = 0.0
        self._names: dict[str, tuple[str, float]] = {}

    async def handle(self, incoming: Incoming) -> None:
        """Handle one message; every failure ends in a reply, never in silence or a crash."""
        try:
            await self._handle(incoming)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the last line of defence: log, tell the user, go on
            log.exception("slack.handler_failed", channel=incoming.channel, ts=incoming.ts)
            await self.notifier.reply(
                incoming.channel,
                incoming.root,
                f"❌ Something went wrong while handling this message ({type(exc).__name__})."
                " It is in the bot's log.",
                kind="error",
            )

    async def _handle(self, incoming: Incoming) -> None:
        first = await self.ledger.first_time(
            event_id=incoming.event_id,
            channel=incoming.channel,
            ts=incoming.ts,
            kind=incoming.kind,
            user=incoming.user,
        )
        if not first:
            log.info(
                "slack.duplicate_dropped",
                event_id=incoming.event_id,
                kind=incoming.kind,
                retry_attempt=incoming.retry_attempt,
            )
            return
        message = commands.read(incoming.text, bot_user_id=self.bot_user_id)
        if message.intent is Intent.EMPTY:
            # A file shared without a comment has no question for the model: a direct
            # message gets a short reply, anywhere else it is ignored.
            if incoming.channel_type == "im":
                await self.notifier.reply(
                    incoming.channel, incoming.root, EMPTY_MESSAGE, kind="empty"
                )
            return
        if message.intent is not Intent.COMMAND and not await self._addressed(incoming, message):
            return  # channel chatter: not ours, and never sent to the model
        channel, root = incoming.channel, incoming.root
        what = message.text.split("\n", 1)[0][:80] or message.intent.value
        operation = self.claims.claim(channel, root, what)
        if operation is None:
            busy = self.claims.busy(channel, root)
            since = elapsed(self.claims.clock() - busy.started) if busy else "a moment"
            doing = f"`{busy.what}`" if busy else "an earlier request"
            await self.notifier.reply(
                channel,
                root,
                f"⏳ Busy: I am still working on {doing} in this thread (for {since})."
                " Send it again when that is done.",
                kind="busy",
            )
            return
        with self.claims.holding(operation):
            match message.intent:
                case Intent.COMMAND:
                    await self._command(incoming, message.text)
                case Intent.HELP:
                    await self._help(incoming)
                case Intent.GREETING:
                    await self.notifier.reply(channel, root, GREETING, kind="greeting")
                case Intent.QUESTION:
                    await self._question(incoming, message.text)

    async def _addressed(self, incoming: Incoming, message: commands.Message) -> bool:
        if message.mentioned or incoming.kind == "app_mention" or incoming.channel_type == "im":
            return True
        if incoming.thread_ts:
            return await self.ledger.in_thread(incoming.channel, incoming.thread_ts)
        return False

    # --- commands -------------------------------------------------------------------------
    async def _command(self, incoming: Incoming, text: str) -> None:
        channel, root = incoming.channel, incoming.root
        try:
            command = commands.resolve(commands.parse(text), self.programs)
        except CommandRefused as refused:
            await self.notifier.reply(
                channel, root, f"❌ Invalid command: {refused.reason}", kind="refused"
            )
            return
        decision = self.access.decide(command.key, await self._asker(incoming))
        if not decision.allowed:
            log.info("slack.command_denied", user=incoming.user, command=command.key)
            await self.notifier.reply(channel, root, f"🚫 {decision.reason}.", kind="denied")
            return
        await self.ledger.join_thread(channel, root)
        started = await self.notifier.post(
            channel, f"⏳ Running `{command.text}`…", thread_ts=root, kind="status"
        )

        async def progress(seconds: float) -> None:
            if started.ts:
                await self.notifier.update(
                    channel, started.ts, f"⏳ Running `{command.text}`… ({elapsed(seconds)})"
                )

        result = await self.runner.run(
            command.argv,
            channel=channel,
            thread_ts=root,
            user=incoming.user,
            user_name=await self.person(incoming.user),
            progress=progress,
        )
        status = _status_line(command, result, self.runner.timeout)
        if started.ts:
            await self.notifier.update(channel, started.ts, status)
        else:
            await self.notifier.reply(channel, root, status, kind="status")
        await self._post_output(channel, root, command, result)

    async def _post_output(
        self, channel: str, root: str, command: Command, result: CommandResult
    ) -> None:
        output = result.output.rstrip() or "Command completed with no output"
        if len(output) > self.file_threshold:
            name = f"{'-'.join(command.path or (command.program, 'output'))}.log"
            uploaded = await self.notifier.upload(
                channel, root, content=output, filename=name, comment="Full output attached."
            )
            shown = tail(output, MESSAGE_LIMIT - 200)
            header = "Last lines:" if uploaded else "Output too long for Slack; last lines:"
            await self.notifier.post(channel, header, thread_ts=root, kind="output")
            output = shown
        for block in code_blocks(output):
            await self.notifier.post(channel, block, thread_ts=root, kind="output")

    async def _help(self, incoming: Incoming) -> None:
        asker = await self._asker(incoming)
        entries = commands.catalogue(self.programs)
        allowed = [e for e in entries if self.access.decide(e.key, asker).allowed]
        if not allowed:
            text = "You may not run any command here. Ask a release lead for access."
        else:
            lines = [f"• `{e.key}` — {e.summary}" if e.summary else f"• `{e.key}`" for e in allowed]
            text = (
                "Commands you may run here (type them in a thread;"
                " `oar` commands take `-r <release>`):\n"
                + "\n".join(lines)
                + "\nOther commands need a rule in the access file (OAR_SLACK_ACCESS_FILE);"
                " commands that administer the service are never run from Slack."
            )
        await self.notifier.reply(incoming.channel, incoming.root, text, kind="help")

    async def person(self, user: str) -> str:
        """The name a run from Slack is recorded under: the user's Slack display name
        (``users.info``, cached an hour), or their ID when Slack does not say."""
        cached = self._names.get(user)
        if cached and time.monotonic() - cached[1] < _NAMES_CACHE_SECONDS:
            return cached[0]
        try:
            data = await self.notifier.api("users.info", user=user)
        except IntegrationError as exc:
            log.warning("slack.users_info_failed", user=user, error=str(exc))
            return user
        name = _display_name(data.get("user") or {}) or user
        self._names[user] = (name, time.monotonic())
        return name

    async def _asker(self, incoming: Incoming) -> Asker:
        groups: frozenset[str] = frozenset()
        if self.access.needs_groups:
            groups = (await self.memberships()).get(incoming.user, frozenset())
        return Asker(user_id=incoming.user, groups=groups, channel_id=incoming.channel)

    async def memberships(self) -> dict[str, frozenset[str]]:
        """user → the handles and IDs of their user groups (cached a few minutes)."""
        if self._groups and time.monotonic() - self._groups_at < _GROUPS_CACHE_SECONDS:
            return self._groups
        try:
            data = await self.notifier.api("usergroups.list", include_users=True)
        except IntegrationError as exc:
            log.warning("slack.usergroups_failed", error=str(exc))
            return self._groups
        members: dict[str, set[str]] = {}
        for group in data.get("usergroups", []):
            for user in group.get("users", []) or []:
                members.setdefault(user, set()).update({group.get("handle"), group.get("id")})
        self._groups = {user: frozenset(g for g in gs if g) for user, gs in members.items()}
        self._groups_at = time.monotonic()
        return self._groups

    # --- questions --------------------------------------------------------------------------
    async def _question(self, incoming: Incoming, question: str) -> None:
        channel, root = incoming.channel, incoming.root
        if self.assistant is None:
            await self.notifier.reply(channel, root, NO_ASSISTANT, kind="assistant")
            return
        await self.ledger.join_thread(channel, root)
        placeholder = await self.notifier.post(
            channel, "🤔 Thinking…", thread_ts=root, kind="assistant"
        )
        history = await self.conversations.history(channel, root)
        last_update = time.monotonic()

        async def on_text(text: str) -> None:
            nonlocal last_update
            now = time.monotonic()
            if placeholder.ts and now - last_update >= self.update_interval:
                last_update = now
                preview = tail(text, MESSAGE_LIMIT - 10)
                await self.notifier.update(channel, placeholder.ts, preview + " ▌")

        try:
            answer = await self.assistant.answer(history, question, on_text)
        except IntegrationTimeoutError:
            await self._replace(
                channel,
                root,
                placeholder.ts,
                f"⌛ The assistant did not answer within {self.assistant.timeout:g} seconds."
                " Please try again later, or ask in a new thread.",
            )
            return
        except IntegrationError as exc:
            await self._replace(channel, root, placeholder.ts, f"❌ The assistant failed: {exc}")
            return
        if not answer.strip():  # no blank message: Slack refuses one
            answer = "(the assistant returned an empty answer)"
        chunks = split_lines(answer, MESSAGE_LIMIT)
        await self._replace(channel, root, placeholder.ts, chunks[0])
        for chunk in chunks[1:]:
            await self.notifier.post(channel, chunk, thread_ts=root, kind="assistant")
        await self.conversations.add(channel, root, role="user", text=question, user=incoming.user)
        await self.conversations.add(channel, root, role="assistant", text=answer)

    async def _replace(self, channel: str, root: str, ts: str | None, text: str) -> None:
        if ts and await self.notifier.update(channel, ts, text):
            return
        await self.notifier.reply(channel, root, text, kind="assistant")


def _display_name(user: Mapping[str, object]) -> str | None:
    profile = user.get("profile")
    names = [
        profile.get("display_name") if isinstance(profile, Mapping) else None,
        profile.get("real_name") if isinstance(profile, Mapping) else None,
        user.get("real_name"),
        user.get("name"),
    ]
    return next((n.strip() for n in names if isinstance(n, str) and n.strip()), None)


def _status_line(command: Command, result: CommandResult, timeout: float) -> str:
    took = elapsed(result.duration)
    if result.timed_out:
        return (
            f"❌ `{command.text}` timed out after {elapsed(timeout)} and was stopped"
            " (its whole process group was killed)."
        )
    if result.exit_code == 0:
        return f"✅ `{command.text}` finished in {took}."
    return f"⚠️ Command failed with exit code {result.exit_code}: `{command.text}` ({took})."
