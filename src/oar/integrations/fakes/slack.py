"""An in-memory Slack notifier for unit tests of release rules (the port is
:class:`oar.integrations.slack.Notifier`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from oar.integrations.slack import SYSTEM, Delivery, Notice, Recorder
from oar.integrations.slacktext import code_blocks


@dataclass(frozen=True, kw_only=True)
class Posted:
    """A message as the fake Slack shows it."""

    channel: str
    text: str
    ts: str
    thread_ts: str | None = None
    kind: str = "message"


class FakeNotifier:
    """Keeps every posted message in ``messages`` (channel, thread, text) and hands every
    attempt to ``recorder``, as the adapter does. ``groups`` maps user-group handles to IDs,
    ``users`` e-mails to user IDs.

    Set ``failure`` to a Slack error code (``"service_unavailable"``) and Slack is down:
    every message fails and is recorded as failed, nothing is raised, and mentions fall back
    to the plain handle or e-mail — what :class:`~oar.integrations.slack.SlackNotifier`
    does once its retries are spent.
    """

    def __init__(
        self,
        *,
        groups: Mapping[str, str] | None = None,
        users: Mapping[str, str] | None = None,
        recorder: Recorder | None = None,
        failure: str | None = None,
    ) -> None:
        self.groups = dict(groups or {})
        self.users = {email.casefold(): user_id for email, user_id in (users or {}).items()}
        self.recorder = recorder
        self.failure = failure
        self.messages: list[Posted] = []
        self.closed = False
        self._last_ts = 1_700_000_000_000_000

    def thread(self, channel: str, thread_ts: str) -> list[Posted]:
        """The messages posted into a thread, oldest first."""
        return [m for m in self.messages if m.channel == channel and m.thread_ts == thread_ts]

    def channel_messages(self, channel: str) -> list[Posted]:
        """The messages posted to a channel itself (not into threads), oldest first."""
        return [m for m in self.messages if m.channel == channel and m.thread_ts is None]

    async def post(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        kind: str = "message",
        source: str | None = None,
    ) -> Delivery:
        started = datetime.now(UTC)
        error = self.failure or ("no_text" if not text else None)
        if error is not None:
            delivery = Delivery(ok=False, channel=channel, error=f"{SYSTEM}: {error}")
        else:
            self._last_ts += 100
            ts = f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"
            self.messages.append(
                Posted(channel=channel, text=text, ts=ts, thread_ts=thread_ts, kind=kind)
            )
            delivery = Delivery(ok=True, channel=channel, ts=ts)
        if self.recorder is not None:
            await self.recorder(
                Notice(
                    delivery=delivery,
                    text=text,
                    thread_ts=thread_ts,
                    kind=kind,
                    source=source,
                    attempts=1,
                    created_at=started,
                    sent_at=datetime.now(UTC) if delivery.ok else None,
                )
            )
        return delivery

    async def summary(self, channel: str, text: str, *, source: str | None = None) -> Delivery:
        return await self.post(channel, text, kind="summary", source=source)

    async def thread_log(
        self, channel: str, thread_ts: str, text: str, *, source: str | None = None
    ) -> list[Delivery]:
        return [
            await self.post(channel, chunk, thread_ts=thread_ts, kind="log", source=source)
            for chunk in code_blocks(text)
        ]

    async def group_mention(self, handle: str) -> str:
        name = handle.lstrip("@")
        group_id = None if self.failure else self.groups.get(name)
        return f"<!subteam^{group_id}>" if group_id else f"@{name}"

    async def user_mention(self, email: str) -> str:
        user_id = None if self.failure else self.users.get(email.casefold())
        return f"<@{user_id}>" if user_id else email

    async def close(self) -> None:
        self.closed = True
