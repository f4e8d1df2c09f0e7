"""The Slack bot process part: Bolt ``AsyncApp`` on Socket Mode or HTTP, wired to the
dispatcher. Listeners only translate the event and hand it to a task, so Bolt's ack goes
out at once and nothing blocking ever runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping
from typing import Any

import aiohttp
import click
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from oar.db import Database
from oar.engine.approvals import ApprovalManager
from oar.engine.changes import ChangeFeed
from oar.errors import ConfigurationError, IntegrationError
from oar.integrations.slack import SlackNotifier, slack_client
from oar.logs import get_logger
from oar.release.notifications import NotificationLog
from oar.settings import Settings
from oar.slack.access import AccessPolicy, Asker, parse_policy
from oar.slack.approvals import APPROVE, REJECT, SlackApprovals
from oar.slack.assistant import Assistant
from oar.slack.conversations import ConversationStore
from oar.slack.dispatcher import Dispatcher, Incoming
from oar.slack.ledger import EventLedger
from oar.slack.runner import CommandRunner
from oar.slack.threads import ThreadClaims, Watchdog

log = get_logger(__name__)

# Subtypes that are still a person's message; everything else (edits, joins, bot posts,
# deletions) is not a request to the bot.
_USER_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
_CLOSE_TIMEOUT = 5.0
_LEDGER_SWEEP = 600.0


def bot_configured(settings: Settings) -> bool:
    """Whether the settings hold what the chosen mode needs (so serve starts the bot)."""
    if settings.slack_bot_token is None:
        return False
    if settings.slack_mode == "socket":
        return settings.slack_app_token is not None
    return settings.slack_signing_secret is not None


def check_bot_settings(settings: Settings) -> None:
    """Name every missing variable at once."""
    missing = []
    if settings.slack_bot_token is None:
        missing.append("SLACK_BOT_TOKEN")
    if settings.slack_mode == "socket" and settings.slack_app_token is None:
        missing.append("SLACK_APP_TOKEN")
    if settings.slack_mode == "http" and settings.slack_signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET")
    if missing:
        raise ConfigurationError(
            f"the Slack bot ({settings.slack_mode} mode) needs {', '.join(missing)}",
            variables=missing,
        )


def load_access(settings: Settings) -> AccessPolicy:
    """The access file's rules; without one, the safe default (docs/slack.md#access-rules)."""
    path = settings.slack_access_file
    if path is None:
        return AccessPolicy()
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(
            f"OAR_SLACK_ACCESS_FILE: cannot read {path}: {exc.strerror}",
            variables=["OAR_SLACK_ACCESS_FILE"],
        ) from None
    return parse_policy(text)


class SlackBot:
    """Owns the Bolt app, the socket (or HTTP handler) and the tasks handling messages."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        approvals: ApprovalManager,
        feed: ChangeFeed,
        programs: Mapping[str, click.Group],
        environ: dict[str, str] | None = None,
    ) -> None:
        """``programs``: the click groups of the programs the bot runs, by name (``oar``,
        ``oarctl``, ``jobctl``); they decide what a command is. The CLI passes its own
        (``oar.cli.oarctl.programs``), so the bot imports no CLI."""
        check_bot_settings(settings)
        self.settings = settings
        self.db = db
        self.programs = dict(programs)
        self.access = load_access(settings)
        client = slack_client(settings)
        assert client is not None
        self.client: AsyncWebClient = client
        self.notifier = SlackNotifier(
            client,
            NotificationLog(db),
            retries=settings.integration_retries,
            timeout=settings.integration_timeout,
        )
        self.claims = ThreadClaims()
        self.watchdog = Watchdog(self.claims, threshold=settings.slack_busy_report)
        self.ledger = EventLedger(db, ttl=settings.slack_dedupe_ttl)
        self.assistant = Assistant.from_settings(settings)
        self.runner = CommandRunner(
            timeout=settings.slack_command_timeout,
            progress_interval=settings.slack_progress_interval,
            environ=environ,
        )
        self.approvals = SlackApprovals(
            approvals=approvals,
            feed=feed,
            notifier=self.notifier,
            access=self.access,
            default_channel=settings.slack_approvals_channel,
        )
        self.dispatcher: Dispatcher | None = None
        self.app: AsyncApp | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.bot_user_id: str | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self.client.session = self._session
        try:
            identity = await self.notifier.api("auth.test")
        except IntegrationError as exc:
            await self._session.close()
            raise ConfigurationError(
                f"Slack refused the bot token: {exc}", variables=["SLACK_BOT_TOKEN"]
            ) from exc
        self.bot_user_id = identity.get("user_id")
        self.dispatcher = Dispatcher(
            notifier=self.notifier,
            ledger=self.ledger,
            conversations=ConversationStore(self.db),
            claims=self.claims,
            runner=self.runner,
            assistant=self.assistant,
            access=self.access,
            programs=self.programs,
            bot_user_id=self.bot_user_id,
            update_interval=self.settings.llm_update_interval,
            file_threshold=self.settings.slack_file_threshold,
        )
        self.app = self._build_app(identity)
        await self.watchdog.start()
        await self.approvals.start()
        self._sweeper = asyncio.create_task(self._sweep_ledger(), name="slack-ledger-sweep")
        if self.settings.slack_mode == "socket":
            assert self.settings.slack_app_token is not None
            self._socket = AsyncSocketModeHandler(
                self.app,
                app_token=self.settings.slack_app_token.get_secret_value(),
                web_client=self.client,
            )
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
        log.info(
            "slack.bot_started",
            mode=self.settings.slack_mode,
            bot_user_id=self.bot_user_id,
            assistant=self.assistant is not None,
        )

    async def stop(self) -> None:
        if self._socket is not None:
            # A socket that will not close must not hold the shutdown (the "zombie" case).
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        for task in [*self._tasks, *([self._sweeper] if self._sweeper else [])]:
            task.cancel()
        for task in [*self._tasks, *([self._sweeper] if self._sweeper else [])]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.approvals.stop()
        await self.watchdog.stop()
        if self.assistant is not None:
            await self.assistant.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
        log.info("slack.bot_stopped")

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run work beside the listener (kept referenced, cancelled on stop)."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sweep_ledger(self) -> None:
        while True:
            await asyncio.sleep(_LEDGER_SWEEP)
            with contextlib.suppress(Exception):
                await self.ledger.forget_old()

    # --- Bolt wiring ---------------------------------------------------------------------------
    def _build_app(self, identity: dict[str, Any]) -> AsyncApp:
        http = self.settings.slack_mode == "http"
        secret = self.settings.slack_signing_secret
        app = AsyncApp(
            client=self.client,
            signing_secret=secret.get_secret_value() if (http and secret) else None,
            request_verification_enabled=http,
            ignoring_self_events_enabled=True,
            process_before_response=False,
        )

        @app.event("message")
        async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
            self._take(event, body, "message")

        @app.event("app_mention")
        async def on_mention(event: dict[str, Any], body: dict[str, Any]) -> None:
            self._take(event, body, "app_mention")

        async def on_button(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            user = str((body.get("user") or {}).get("id", ""))
            channel = str((body.get("channel") or {}).get("id", ""))
            self.spawn(
                self._click(
                    approval_id=str(action.get("value", "")),
                    action_id=str(action.get("action_id", "")),
                    user=user,
                    channel=channel,
                )
            )

        app.action(APPROVE)(on_button)
        app.action(REJECT)(on_button)
        self._identity = identity
        return app

    def _take(self, event: dict[str, Any], body: dict[str, Any], kind: str) -> None:
        if event.get("bot_id") or event.get("subtype") not in _USER_SUBTYPES:
            return
        user = event.get("user")
        if not user or user == self.bot_user_id or "channel" not in event or "ts" not in event:
            return
        incoming = Incoming(
            event_id=str(body.get("event_id") or f"{event['channel']}:{event['ts']}:{kind}"),
            kind=kind,
            channel=str(event["channel"]),
            user=str(user),
            text=str(event.get("text") or ""),
            ts=str(event["ts"]),
            thread_ts=event.get("thread_ts"),
            channel_type=event.get("channel_type"),
            retry_attempt=int(body.get("retry_attempt") or 0),
        )
        assert self.dispatcher is not None
        self.spawn(self.dispatcher.handle(incoming))

    async def _click(self, *, approval_id: str, action_id: str, user: str, channel: str) -> None:
        groups: frozenset[str] = frozenset()
        if self.access.needs_groups and self.dispatcher is not None:
            groups = (await self.dispatcher.memberships()).get(user, frozenset())
        asker = Asker(user_id=user, groups=groups, channel_id=channel or None)
        try:
            await self.approvals.click(
                approval_id=approval_id, action_id=action_id, user=user, asker=asker
            )
        except Exception:  # a click must never take the bot down
            log.exception("slack.approval_click_failed", approval_id=approval_id)
