"""The notifier: what reaches Slack, what is recorded, and that a Slack failure never
reaches the caller."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from oar.backoff import Backoff
from oar.db import Database
from oar.db.models import NotificationRecord
from oar.integrations.slack import slack_client
from oar.release.notifications import RecordingNotifier as Notifier
from oar.sandbox.seed import SLACK_CHANNELS, SLACK_USER_GROUPS
from oar.sandbox.slack import SlackStandIn
from oar.settings import load_settings
from tests.conftest import fast_environment

CHANNEL = SLACK_CHANNELS["team-qe-release"]


async def _records(db: Database) -> list[NotificationRecord]:
    async with db.session() as session:
        return list((await session.execute(select(NotificationRecord))).scalars())


async def test_summaries_logs_and_failures_are_recorded(database_url: str, tmp_path: Path) -> None:
    slack = SlackStandIn()
    async with slack.serving() as url:
        settings = load_settings(
            environ={**fast_environment(database_url, tmp_path), **slack.environment(url)}
        )
        db = Database(settings.database_url)
        await db.connect()
        await db.upgrade()
        notifier = Notifier(slack_client(settings), db, retries=2, backoff=Backoff(delay=0.05))
        try:
            mention = await notifier.group_mention("4.19-qe-leads")
            assert mention == f"<!subteam^{SLACK_USER_GROUPS['4.19-qe-leads'][0]}>"
            assert await notifier.group_mention("no-such-group") == "@no-such-group"

            # A rate limit is waited out and the message still goes.
            slack.add_fault(path="chat.postMessage", status=429, retry_after=0.1, times=1)
            summary = await notifier.summary(CHANNEL, f"Hello {mention}, done", source="test")
            assert summary.ok
            root = slack.channel_messages(CHANNEL)[-1]
            assert root["text"] == f"Hello {mention}, done"

            log = "\n".join(f"check #{i}: still not accessible" for i in range(400))
            deliveries = await notifier.thread_log(CHANNEL, summary.ts or "", log)
            assert len(deliveries) > 1
            assert all(d.ok for d in deliveries)
            posted = [m["text"] for m in slack.thread(CHANNEL, summary.ts or "")[1:]]
            assert "\n".join(p.strip("`").strip("\n") for p in posted) == log

            # Slack keeps failing: the caller gets a failed delivery, not an exception.
            slack.add_fault(path="chat.postMessage", status=500, times=None)
            failed = await notifier.summary(CHANNEL, "this one is lost", source="test")
            assert not failed.ok
            assert failed.error is not None
        finally:
            await notifier.close()
        records = await _records(db)
        await db.close()
    by_status = {r.text: r.status for r in records}
    assert by_status[f"Hello {mention}, done"] == "sent"
    assert by_status["this one is lost"] == "failed"
    lost = next(r for r in records if r.text == "this one is lost")
    assert lost.attempts == 3  # the first try and two retries
    assert sum(1 for r in records if r.kind == "log") == len(deliveries)
