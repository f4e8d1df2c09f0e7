"""Every Slack message OAR sends is recorded in ``oar_notifications``: the database-backed
recorder the Slack notifier is given, and the notifier built with it.

The Slack adapter (:mod:`oar.integrations.slack`) imports no database; it hands each
:class:`~oar.integrations.slack.Notice` to a recorder. This is where the two meet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oar.backoff import Backoff
from oar.db.models import NotificationRecord
from oar.integrations.slack import Notice, SlackNotifier, slack_client

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from oar.db import Database
    from oar.settings import Settings


class NotificationLog:
    """A recorder writing each message's outcome (sent or failed, attempts, error, Slack's
    ``ts``) as one row of ``oar_notifications``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, notice: Notice) -> None:
        delivery = notice.delivery
        async with self.db.transaction() as session:
            session.add(
                NotificationRecord(
                    channel=delivery.channel,
                    thread_ts=notice.thread_ts,
                    kind=notice.kind,
                    source=notice.source,
                    text=notice.text,
                    status="sent" if delivery.ok else "failed",
                    attempts=notice.attempts,
                    error=delivery.error,
                    message_ts=delivery.ts,
                    created_at=notice.created_at,
                    sent_at=notice.sent_at,
                )
            )


class RecordingNotifier(SlackNotifier):
    """The Slack adapter recording in ``oar_notifications`` (nothing without a database)."""

    def __init__(
        self,
        client: AsyncWebClient | None,
        db: Database | None,
        *,
        retries: int = 3,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(
            client,
            NotificationLog(db) if db is not None else None,
            retries=retries,
            timeout=timeout,
            backoff=backoff,
        )

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None = None) -> RecordingNotifier:
        return cls(
            slack_client(settings),
            db,
            retries=settings.integration_retries,
            timeout=settings.integration_timeout,
        )
