"""The Slack notifier port's contract: the fake and the slack_sdk adapter against the Slack
stand-in post, split, mention and survive an outage the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from oar.backoff import Backoff
from oar.integrations.fakes.slack import FakeNotifier
from oar.integrations.slack import Notice, Notifier, SlackNotifier
from oar.integrations.slacktext import MESSAGE_LIMIT
from oar.sandbox.seed import PEOPLE, SLACK_CHANNELS, SLACK_USER_GROUPS
from oar.sandbox.slack import SlackStandIn

CHANNEL = SLACK_CHANNELS["team-qe-release"]
LEADS = "4.19-qe-leads"
ALICE = next(p for p in PEOPLE if p.email == "qa.alice@example.com")


@dataclass(kw_only=True)
class Slack:
    """A notifier, what it recorded, and what Slack shows, for either side of the contract."""

    notifier: Notifier
    notices: list[Notice]
    top_level: Callable[[str], list[str]]  # channel -> texts of its top-level messages
    replies: Callable[[str, str], list[str]]  # (channel, thread ts) -> texts of the replies
    go_down: Callable[[], None]  # Slack answers every call with an error from now on


@pytest.fixture(params=["fake", "stand-in"])
async def slack(request: pytest.FixtureRequest) -> AsyncIterator[Slack]:
    notices: list[Notice] = []

    async def record(notice: Notice) -> None:
        notices.append(notice)

    if request.param == "fake":
        fake = FakeNotifier(
            groups={handle: group_id for handle, (group_id, _) in SLACK_USER_GROUPS.items()},
            users={p.email: p.slack_user_id for p in PEOPLE},
            recorder=record,
        )

        def fake_down() -> None:
            fake.failure = "service_unavailable"

        yield Slack(
            notifier=fake,
            notices=notices,
            top_level=lambda channel: [m.text for m in fake.channel_messages(channel)],
            replies=lambda channel, ts: [m.text for m in fake.thread(channel, ts)],
            go_down=fake_down,
        )
        return
    stand_in = SlackStandIn()
    async with stand_in.serving() as url:
        client = AsyncWebClient(
            token=stand_in.bot_token, base_url=url + "/api/", timeout=10, retry_handlers=[]
        )
        notifier = SlackNotifier(
            client, record, retries=1, backoff=Backoff(delay=0.01, max_delay=0.05, jitter=0)
        )
        try:
            yield Slack(
                notifier=notifier,
                notices=notices,
                top_level=lambda channel: [m["text"] for m in stand_in.channel_messages(channel)],
                replies=lambda channel, ts: [m["text"] for m in stand_in.thread(channel, ts)[1:]],
                go_down=lambda: stand_in.add_fault(path="^/api/", status=503, times=None),
            )
        finally:
            await notifier.close()


async def test_a_summary_reaches_the_channel_and_is_recorded(slack: Slack) -> None:
    delivery = await slack.notifier.summary(CHANNEL, "4.19.3 approved", source="approve:4.19.3")
    assert delivery.ok
    assert delivery.ts
    assert slack.top_level(CHANNEL)[-1] == "4.19.3 approved"
    (notice,) = slack.notices
    assert notice.delivery == delivery
    assert (notice.kind, notice.source, notice.text) == (
        "summary",
        "approve:4.19.3",
        "4.19.3 approved",
    )
    assert notice.thread_ts is None
    assert notice.sent_at is not None


async def test_a_long_log_goes_into_the_thread_split_on_line_boundaries(slack: Slack) -> None:
    root = await slack.notifier.summary(CHANNEL, "watching 4.19.3")
    assert root.ts
    log = "\n".join(f"check #{i}: the metadata URL is not accessible yet" for i in range(400))

    deliveries = await slack.notifier.thread_log(CHANNEL, root.ts, log, source="watch-1")

    assert len(deliveries) > 1
    assert all(d.ok for d in deliveries)
    posted = slack.replies(CHANNEL, root.ts)
    assert len(posted) == len(deliveries)
    assert all(len(p) <= MESSAGE_LIMIT for p in posted)
    assert all(p.startswith("```\n") and p.endswith("\n```") for p in posted)
    # Whole lines only: the chunks joined back are the log, not one line cut in two.
    assert "\n".join(p.removeprefix("```\n").removesuffix("\n```") for p in posted) == log
    logged = [n for n in slack.notices if n.kind == "log"]
    assert [n.thread_ts for n in logged] == [root.ts] * len(deliveries)
    assert {n.source for n in logged} == {"watch-1"}


async def test_a_group_mention_names_the_group_or_its_handle(slack: Slack) -> None:
    assert await slack.notifier.group_mention(LEADS) == f"<!subteam^{SLACK_USER_GROUPS[LEADS][0]}>"
    assert await slack.notifier.group_mention("@" + LEADS) == (
        f"<!subteam^{SLACK_USER_GROUPS[LEADS][0]}>"
    )
    assert await slack.notifier.group_mention("no-such-group") == "@no-such-group"


async def test_a_user_mention_by_email_falls_back_to_the_email(slack: Slack) -> None:
    assert await slack.notifier.user_mention(ALICE.email) == f"<@{ALICE.slack_user_id}>"
    assert await slack.notifier.user_mention(ALICE.email.upper()) == f"<@{ALICE.slack_user_id}>"
    assert await slack.notifier.user_mention("nobody@example.com") == "nobody@example.com"


async def test_a_slack_outage_is_recorded_and_never_raised(slack: Slack) -> None:
    slack.go_down()

    summary = await slack.notifier.summary(CHANNEL, "this one is lost", source="watch-2")
    logs = await slack.notifier.thread_log(CHANNEL, "1700000000.000100", "a\nb", source="watch-2")

    assert not summary.ok
    assert summary.error
    assert summary.ts is None
    assert [d.ok for d in logs] == [False]
    assert [(n.text, n.delivery.ok, n.sent_at) for n in slack.notices] == [
        ("this one is lost", False, None),
        ("```\na\nb\n```", False, None),
    ]
    assert all(n.attempts >= 1 for n in slack.notices)
    # Mentions still give text to send once Slack is back, never an exception.
    assert await slack.notifier.group_mention(LEADS) == f"@{LEADS}"
    assert await slack.notifier.user_mention(ALICE.email) == ALICE.email
