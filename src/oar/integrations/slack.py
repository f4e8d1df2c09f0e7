"""Slack as a port: the one way OAR posts to Slack — summaries to channels, logs to threads,
mentions of user groups and people — where a Slack failure is logged and recorded, never
raised.

The original swallowed notification errors and, when the QE-lead user group could not be
found, sent nothing at all. Here a missing group falls back to its plain handle (a person
not found, to their e-mail), transient Slack errors (rate limits honouring
``Retry-After``, 5xx, connection errors) are retried with backoff, and what happened to
each message goes to an injected *recorder* (the database-backed one,
:class:`oar.release.notifications.NotificationLog`, keeps it in ``oar_notifications``),
so this module imports no database.

:class:`Notifier` is the narrow port release work uses; :class:`SlackNotifier` is the
adapter on slack_sdk, with the extra calls the bot needs (``api``, ``reply``, ``update``,
``upload``). The in-memory fake is :class:`oar.integrations.fakes.slack.FakeNotifier`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from oar.backoff import Backoff
from oar.errors import IntegrationError
from oar.integrations.calls import CallPolicy, Failure, Kind, call, parse_retry_after
from oar.integrations.slacktext import MESSAGE_LIMIT, code_blocks, split_lines
from oar.logs import get_logger

if TYPE_CHECKING:
    from oar.settings import Settings

log = get_logger(__name__)

SYSTEM = "Slack"
CREDENTIAL = "SLACK_BOT_TOKEN"
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_AUTH = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive"})
_GROUP_CACHE_SECONDS = 600.0


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """What became of one message: posted (with its ``ts``) or not (with the error)."""

    ok: bool
    channel: str
    ts: str | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Notice:
    """One message OAR sent or tried to send, as a recorder keeps it."""

    delivery: Delivery
    text: str
    thread_ts: str | None
    kind: str  # summary, log, reply, file, …
    source: str | None  # what sent it (a watch ID, ``approve:<release>``)
    attempts: int
    created_at: datetime
    sent_at: datetime | None  # None when it was not delivered


Recorder = Callable[[Notice], Awaitable[None]]


class Notifier(Protocol):
    """What release work needs from Slack. No method raises because Slack failed."""

    async def summary(self, channel: str, text: str, *, source: str | None = None) -> Delivery:
        """A short message to a channel (the release channel's summary)."""

    async def thread_log(
        self, channel: str, thread_ts: str, text: str, *, source: str | None = None
    ) -> list[Delivery]:
        """A long log into a thread, as code blocks split on line boundaries."""

    async def post(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        kind: str = "message",
        source: str | None = None,
    ) -> Delivery:
        """One message, to a channel or into a thread."""

    async def group_mention(self, handle: str) -> str:
        """``<!subteam^ID>`` for a user group's handle; ``@handle`` if Slack does not know it."""

    async def user_mention(self, email: str) -> str:
        """``<@U…>`` for the person with this e-mail; the e-mail if Slack does not know it."""

    async def close(self) -> None:
        """Release the connections."""


def classify_slack(exc: BaseException) -> Failure | None:
    """What a slack_sdk / aiohttp exception means for retrying."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = str(response.get("error", "")) if response is not None else ""
        status = getattr(response, "status_code", None)
        headers = getattr(response, "headers", {}) or {}
        retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
        if status == 429 or error in _TRANSIENT or (status is not None and status >= 500):
            return Failure(
                kind=Kind.TRANSIENT,
                message=error or f"HTTP {status}",
                status_code=status,
                retry_after=retry_after,
            )
        if error in _AUTH:
            return Failure(kind=Kind.AUTH, message=error, status_code=status)
        return Failure(kind=Kind.PERMANENT, message=error or str(exc), status_code=status)
    if isinstance(exc, aiohttp.ClientError | ConnectionError):
        return Failure(kind=Kind.TRANSIENT, message=f"{type(exc).__name__}: {exc}")
    return None


def slack_client(settings: Settings, *, timeout: float | None = None) -> AsyncWebClient | None:
    """The Web API client for the bot token, or None when Slack is not configured."""
    if settings.slack_bot_token is None:
        return None
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(timeout or settings.integration_timeout),
        retry_handlers=[],  # retries are ours (integrations.calls), bounded and logged
    )


def _not_configured() -> IntegrationError:
    return IntegrationError(SYSTEM, f"not configured: set {CREDENTIAL}")


class SlackNotifier:
    """:class:`Notifier` on slack_sdk, one policy for every call; safe to call from anything
    that must not fail. Without a client (no ``SLACK_BOT_TOKEN``) every message fails and is
    recorded as failed."""

    def __init__(
        self,
        client: AsyncWebClient | None,
        recorder: Recorder | None = None,
        *,
        retries: int = 3,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.policy = CallPolicy(
            system=SYSTEM,
            credential=CREDENTIAL,
            timeout=timeout,
            retries=retries,
            backoff=backoff or Backoff(delay=1.0, max_delay=30.0),
        )
        self._groups: dict[str, str] = {}
        self._groups_at = 0.0
        self._groups_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackNotifier:
        """The adapter for ``SLACK_BOT_TOKEN``, recording nothing."""
        return cls(
            slack_client(settings),
            retries=settings.integration_retries,
            timeout=settings.integration_timeout,
        )

    # --- API calls ---------------------------------------------------------------------------
    async def api(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """One Web API call under the policy; raises IntegrationError (for callers that
        need the answer, such as the bot); notifications use :meth:`post` instead."""
        client = self._require_client()

        async def attempt() -> dict[str, Any]:
            response = await client.api_call(method, json=kwargs)
            return dict(response.data) if isinstance(response.data, dict) else {}

        return await call(self.policy, method, attempt, classify_slack)

    def _require_client(self) -> AsyncWebClient:
        if self.client is None:
            raise _not_configured()
        return self.client

    # --- mentions ------------------------------------------------------------------------------
    async def group_mention(self, handle: str) -> str:
        """``<!subteam^ID>`` for a user group's handle (cached); the handle itself if
        Slack does not know it, so the message still goes out."""
        groups = await self._user_groups()
        group_id = groups.get(handle.lstrip("@"))
        if group_id is None:
            log.warning("slack.usergroup_unknown", handle=handle)
            return f"@{handle.lstrip('@')}"
        return f"<!subteam^{group_id}>"

    async def group_members(self, handle: str) -> list[str]:
        data = await self.api("usergroups.list", include_users=True)
        for group in data.get("usergroups", []):
            if group.get("handle") == handle or group.get("id") == handle:
                return list(group.get("users", []))
        return []

    async def _user_groups(self) -> dict[str, str]:
        async with self._groups_lock:
            if self._groups and time.monotonic() - self._groups_at < _GROUP_CACHE_SECONDS:
                return self._groups
            try:
                data = await self.api("usergroups.list")
            except IntegrationError as exc:
                log.warning("slack.usergroups_failed", error=str(exc))
                return self._groups
            self._groups = {
                str(g["handle"]): str(g["id"]) for g in data.get("usergroups", []) if "handle" in g
            }
            self._groups_at = time.monotonic()
            return self._groups

    async def user_mention(self, email: str) -> str:
        """``<@U…>`` for the person with this e-mail (``users.lookupByEmail``, as the original
        did); the e-mail itself if Slack does not know it or cannot answer, so the message
        still goes out."""
        try:
            client = self._require_client()

            async def attempt() -> dict[str, Any]:
                # A read method: Slack takes its arguments as a query, not a JSON body.
                response = await client.users_lookupByEmail(email=email)
                return dict(response.data) if isinstance(response.data, dict) else {}

            data = await call(self.policy, "users.lookupByEmail", attempt, classify_slack)
        except IntegrationError as exc:
            # Never the address itself in the log: e-mails are masked everywhere.
            log.warning("slack.user_unknown", error=exc.message)
            return email
        user_id = (data.get("user") or {}).get("id")
        return f"<@{user_id}>" if user_id else email

    # --- sending -------------------------------------------------------------------------------
    async def post(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: Sequence[dict[str, Any]] | None = None,
        kind: str = "message",
        source: str | None = None,
    ) -> Delivery:
        """Post one message; never raises. The outcome is logged and recorded."""
        attempts = 0
        started = datetime.now(UTC)
        try:
            if self.client is None:
                raise _not_configured()
            client = self.client

            async def attempt() -> dict[str, Any]:
                nonlocal attempts
                attempts += 1
                arguments: dict[str, Any] = {"channel": channel, "text": text}
                if thread_ts:
                    arguments["thread_ts"] = thread_ts
                if blocks:
                    arguments["blocks"] = list(blocks)
                response = await client.chat_postMessage(**arguments)
                return dict(response.data) if isinstance(response.data, dict) else {}

            data = await call(self.policy, "chat.postMessage", attempt, classify_slack)
            delivery = Delivery(
                ok=True, channel=str(data.get("channel", channel)), ts=data.get("ts")
            )
        except Exception as exc:  # a notification must never break its caller
            error = str(exc) if isinstance(exc, IntegrationError) else f"{type(exc).__name__}"
            log.warning("slack.post_failed", channel=channel, kind=kind, source=source, error=error)
            delivery = Delivery(ok=False, channel=channel, error=error)
        await self._record(
            delivery,
            text=text,
            thread_ts=thread_ts,
            kind=kind,
            source=source,
            attempts=max(attempts, 1),
            created_at=started,
        )
        return delivery

    async def summary(self, channel: str, text: str, *, source: str | None = None) -> Delivery:
        """A short message to a channel (the release channel's summary)."""
        return await self.post(channel, text, kind="summary", source=source)

    async def thread_log(
        self, channel: str, thread_ts: str, text: str, *, source: str | None = None
    ) -> list[Delivery]:
        """A long log into a thread, as code blocks split on line boundaries."""
        deliveries = []
        for chunk in code_blocks(text):
            deliveries.append(
                await self.post(channel, chunk, thread_ts=thread_ts, kind="log", source=source)
            )
        return deliveries

    async def reply(
        self, channel: str, thread_ts: str, text: str, *, kind: str = "reply"
    ) -> list[Delivery]:
        """Plain text into a thread, split on line boundaries when long."""
        return [
            await self.post(channel, chunk, thread_ts=thread_ts, kind=kind)
            for chunk in split_lines(text, MESSAGE_LIMIT)
        ]

    async def update(
        self,
        channel: str,
        ts: str,
        text: str,
        *,
        blocks: Sequence[dict[str, Any]] | None = None,
    ) -> bool:
        """Edit a message; False (logged) when Slack refuses."""
        arguments: dict[str, Any] = {"channel": channel, "ts": ts, "text": text}
        if blocks is not None:
            arguments["blocks"] = list(blocks)
        try:
            await self.api("chat.update", **arguments)
        except IntegrationError as exc:
            log.warning("slack.update_failed", channel=channel, ts=ts, error=str(exc))
            return False
        return True

    async def upload(
        self, channel: str, thread_ts: str, *, content: str, filename: str, comment: str
    ) -> bool:
        """A file in the thread (for output too long for messages); False when refused."""
        client = self._require_client()

        async def attempt() -> Any:
            return await client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=content,
                filename=filename,
                title=filename,
                initial_comment=comment,
            )

        try:
            await call(self.policy, "files.upload", attempt, classify_slack)
        except IntegrationError as exc:
            log.warning("slack.upload_failed", channel=channel, error=str(exc))
            return False
        await self._record(
            Delivery(ok=True, channel=channel),
            text=comment,
            thread_ts=thread_ts,
            kind="file",
            source=None,
            attempts=1,
            created_at=datetime.now(UTC),
        )
        return True

    async def _record(
        self,
        delivery: Delivery,
        *,
        text: str,
        thread_ts: str | None,
        kind: str,
        source: str | None,
        attempts: int,
        created_at: datetime,
    ) -> None:
        if self.recorder is None:
            return
        notice = Notice(
            delivery=delivery,
            text=text,
            thread_ts=thread_ts,
            kind=kind,
            source=source,
            attempts=attempts,
            created_at=created_at,
            sent_at=datetime.now(UTC) if delivery.ok else None,
        )
        try:
            await self.recorder(notice)
        except Exception as exc:  # the record is secondary to the message itself
            log.warning("slack.record_failed", channel=delivery.channel, error=type(exc).__name__)

    async def close(self) -> None:
        if self.client is not None and self.client.session is not None:
            await self.client.session.close()
