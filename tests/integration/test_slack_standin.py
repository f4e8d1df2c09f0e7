"""The Slack stand-in speaks Web API and Socket Mode to the real slack_sdk clients: events
arrive in envelopes, unacked ones come back, disconnects make the client reconnect, and the
Web API calls the bot makes round-trip."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from oar.engine.approvals import ApprovalInfo, ApprovalStatus
from oar.sandbox.seed import SLACK_BOT_USER_ID, SLACK_CHANNELS
from oar.sandbox.slack import SLACK_BOT_ID, SlackStandIn
from oar.slack.approvals import APPROVE, request_blocks

pytestmark = pytest.mark.timeout(60)
QE = SLACK_CHANNELS["team-qe-release"]
BUTTON = {
    "type": "actions",
    "elements": [
        {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
    ],
}


@dataclass
class App:
    """A Socket Mode app on the real SDK client: it records envelopes and acks when told to."""

    client: SocketModeClient
    ack: bool = True
    received: list[SocketModeRequest] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, event_type: str) -> list[SocketModeRequest]:
        return [
            r
            for r in self.received
            if r.type == "events_api" and r.payload["event"]["type"] == event_type
        ]


@pytest.fixture
async def slack() -> AsyncIterator[tuple[SlackStandIn, str]]:
    standin = SlackStandIn(ack_timeout=0.3, max_retries=2, retry_delays=(0.0, 0.1))
    async with standin.serving() as url:
        yield standin, url


@pytest.fixture
async def web(slack: tuple[SlackStandIn, str]) -> AsyncWebClient:
    standin, url = slack
    return AsyncWebClient(token=standin.bot_token, base_url=url + "/api/")


@pytest.fixture
async def app(slack: tuple[SlackStandIn, str]) -> AsyncIterator[App]:
    standin, url = slack
    client = SocketModeClient(
        app_token=standin.app_token, web_client=AsyncWebClient(base_url=url + "/api/")
    )
    recorder = App(client)

    async def on_raw(_: Any, message: dict[str, Any], raw: str) -> None:
        recorder.raw.append(message)

    async def on_request(c: Any, request: SocketModeRequest) -> None:
        recorder.received.append(request)
        if recorder.ack:
            await c.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    client.message_listeners.append(on_raw)
    client.socket_mode_request_listeners.append(on_request)
    await client.connect()
    await standin.wait_for(lambda: standin.connections == 1, timeout=5, what="connection")
    yield recorder
    await client.close()


async def test_hello_then_message_and_mention_events(
    slack: tuple[SlackStandIn, str], app: App
) -> None:
    standin, _ = slack
    await standin.wait_for(lambda: app.raw, timeout=5, what="hello")
    assert app.raw[0]["type"] == "hello"
    assert app.raw[0]["connection_info"]["app_id"] == "A0OARAPP01"

    ts = await standin.post_message("team-qe-release", "aqa", f"<@{SLACK_BOT_USER_ID}> status")
    await standin.wait_for(lambda: app.of_type("app_mention"), timeout=5, what="mention")
    await standin.wait_for(lambda: app.of_type("message"), timeout=5, what="message")
    message = app.of_type("message")[0].payload
    mention = app.of_type("app_mention")[0].payload
    assert message["event"]["user"] == "U0ALICE002"
    assert message["event"]["ts"] == mention["event"]["ts"] == ts
    assert message["event"]["channel"] == QE
    assert message["event_id"] != mention["event_id"]
    assert message["authorizations"][0]["user_id"] == SLACK_BOT_USER_ID

    # Acked in time: the delivery settles after one attempt each.
    await standin.wait_for(lambda: not standin.unsettled, timeout=5, what="settled deliveries")
    assert standin.attempts(message["event_id"]) == 1
    assert all(e.acked for e in standin.envelopes)
    assert len(app.received) == 2


async def test_unacked_event_is_redelivered_with_the_same_event_id(
    slack: tuple[SlackStandIn, str], app: App
) -> None:
    standin, _ = slack
    app.ack = False
    await standin.post_message(QE, "U0BOB00003", "anyone there?")
    await standin.wait_for(lambda: len(app.received) >= 2, timeout=5, what="redelivery")
    first, second = app.received[0], app.received[1]
    assert first.payload["event_id"] == second.payload["event_id"]
    assert first.envelope_id != second.envelope_id
    assert first.retry_attempt == 0
    assert second.retry_attempt == 1
    assert second.retry_reason == "timeout"
    app.ack = True
    await standin.wait_for(lambda: not standin.unsettled, timeout=5, what="settled delivery")
    assert standin.envelopes[-1].acked


async def test_dropped_ack_and_forced_redelivery_through_the_control_api(
    slack: tuple[SlackStandIn, str], app: App
) -> None:
    standin, url = slack
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/_sandbox/slack/ack-drop", json={"count": 1})).status_code == 200
        posted = (
            await http.post(
                "/_sandbox/slack/messages",
                json={"channel": "#team-qe-release", "user": "mlead", "text": "ping"},
            )
        ).json()
        assert posted["channel"] == QE
        await standin.wait_for(lambda: len(app.received) >= 2, timeout=5, what="redelivery")
        await standin.wait_for(lambda: not standin.unsettled, timeout=5, what="settled")
        event_id = app.received[0].payload["event_id"]
        redelivered = await http.post("/_sandbox/slack/redeliver", json={"event_id": event_id})
        await standin.wait_for(lambda: len(app.received) >= 3, timeout=5, what="forced retry")
        assert app.received[2].envelope_id == redelivered.json()["envelope_id"]
        assert app.received[2].retry_attempt == 2
        envelopes = (await http.get("/_sandbox/slack/envelopes")).json()["envelopes"]
        assert [e["acked"] for e in envelopes[:2]] == [False, True]
        assert envelopes[0]["attempts"] == 3
        unknown = await http.post("/_sandbox/slack/redeliver", json={"event_id": "Ev0NOPE"})
        assert unknown.status_code == 404


async def test_disconnect_makes_the_client_reconnect(
    slack: tuple[SlackStandIn, str], app: App
) -> None:
    standin, url = slack
    async with httpx.AsyncClient(base_url=url) as http:
        sent = await http.post("/_sandbox/slack/disconnect", json={"reason": "refresh_requested"})
        assert sent.json() == {"disconnected": 1}
        await standin.wait_for(
            lambda: standin.sockets_opened == 2 and standin.connections == 1,
            timeout=10,
            what="the old socket replaced by a new one",
        )
        count = await http.get("/_sandbox/slack/connections")
        assert count.json() == {"count": 1}
    assert len(standin.calls("/api/apps.connections.open")) == 2
    # Events still reach the app on the new socket.
    await standin.post_message(QE, "aqa", "after the reconnect")
    await standin.wait_for(lambda: app.of_type("message"), timeout=10, what="message")


async def test_post_update_react_and_read_a_thread(
    slack: tuple[SlackStandIn, str], web: AsyncWebClient
) -> None:
    standin, _ = slack
    root = await standin.post_message(QE, "qa.alice@example.com", "please check 4.19.3")
    posted = await web.chat_postMessage(channel="#team-qe-release", text="on it", thread_ts=root)
    assert posted["channel"] == QE
    assert posted["message"]["bot_id"] == SLACK_BOT_ID
    assert posted["message"]["user"] == SLACK_BOT_USER_ID
    assert float(posted["ts"]) > float(root)
    updated = await web.chat_update(channel=QE, ts=posted["ts"], text="done: 4.19.3 is fine")
    assert updated["text"] == "done: 4.19.3 is fine"
    await web.reactions_add(channel=QE, timestamp=root, name="eyes")
    with pytest.raises(SlackApiError) as again:
        await web.reactions_add(channel=QE, timestamp=root, name="eyes")
    assert again.value.response["error"] == "already_reacted"

    replies = await web.conversations_replies(channel=QE, ts=root)
    texts = [m["text"] for m in replies["messages"]]
    assert texts == ["please check 4.19.3", "done: 4.19.3 is fine"]
    assert replies["messages"][1]["edited"]["user"] == SLACK_BOT_USER_ID
    assert replies["messages"][0]["reactions"][0]["name"] == "eyes"
    page = await web.conversations_replies(channel=QE, ts=root, limit=1)
    assert page["has_more"] is True
    rest = await web.conversations_replies(
        channel=QE, ts=root, limit=1, cursor=page["response_metadata"]["next_cursor"]
    )
    assert rest["messages"][0]["text"] == "done: 4.19.3 is fine"
    assert await standin.wait_for_reply(QE, root, timeout=1) == [standin.thread(QE, root)[1]]
    with pytest.raises(SlackApiError) as missing:
        await web.chat_update(channel=QE, ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"


async def test_people_groups_and_channels(web: AsyncWebClient) -> None:
    alice = await web.users_info(user="U0ALICE002")
    assert alice["user"]["name"] == "aqa"
    assert alice["user"]["profile"]["email"] == "qa.alice@example.com"
    bot = await web.users_info(user=SLACK_BOT_USER_ID)
    assert bot["user"]["is_bot"] is True
    found = await web.users_lookupByEmail(email="qa.bob@example.com")
    assert found["user"]["id"] == "U0BOB00003"
    groups = await web.usergroups_list(include_users=True)
    leads = next(g for g in groups["usergroups"] if g["handle"] == "4.19-qe-leads")
    assert leads["users"] == ["U0LEAD0001", "U0ALICE002"]
    members = await web.usergroups_users_list(usergroup=leads["id"])
    assert members["users"] == leads["users"]
    info = await web.conversations_info(channel=QE)
    assert info["channel"]["name"] == "team-qe-release"
    identity = await web.auth_test()
    assert (identity["user_id"], identity["bot_id"]) == (SLACK_BOT_USER_ID, SLACK_BOT_ID)
    with pytest.raises(SlackApiError) as nowhere:
        await web.chat_postMessage(channel="#no-such-channel", text="hi")
    assert nowhere.value.response["error"] == "channel_not_found"


async def test_files_upload_v2_lands_in_the_thread(
    slack: tuple[SlackStandIn, str], web: AsyncWebClient
) -> None:
    standin, _ = slack
    root = await standin.post_message(QE, "aqa", "show me the log")
    uploaded = await web.files_upload_v2(
        channel=QE,
        thread_ts=root,
        content="line 1\nline 2\n",
        filename="oar.log",
        title="full output",
        initial_comment="output attached",
    )
    file_id = uploaded["file"]["id"]
    reply = (await standin.wait_for_reply(QE, root, timeout=5))[0]
    assert reply["text"] == "output attached"
    assert reply["files"][0]["id"] == file_id
    assert reply["files"][0]["title"] == "full output"
    assert standin.file_content(file_id) == b"line 1\nline 2\n"


async def test_bad_tokens_are_refused(slack: tuple[SlackStandIn, str]) -> None:
    _, url = slack
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=url + "/api/")
    with pytest.raises(SlackApiError) as refused:
        await wrong.auth_test()
    assert refused.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as absent:
        await AsyncWebClient(base_url=url + "/api/").chat_postMessage(channel=QE, text="x")
    assert absent.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as app_token:
        await AsyncWebClient(token="xapp-sandbox-app", base_url=url + "/api/").auth_test()
    assert app_token.value.response["error"] == "not_allowed_token_type"


async def test_button_click_delivers_block_actions_and_response_url_replaces(
    slack: tuple[SlackStandIn, str], web: AsyncWebClient, app: App
) -> None:
    standin, _ = slack
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Approve 4.19.3 sign-off?"}},
        {
            "type": "actions",
            "block_id": "approval-7",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": "7",
                },
            ],
        },
    ]
    posted = await web.chat_postMessage(channel=QE, text="Approve?", blocks=blocks)
    envelope_id = await standin.click(QE, posted["ts"], "mlead", "approve")
    await standin.wait_for(
        lambda: [r for r in app.received if r.type == "interactive"], timeout=5, what="click"
    )
    click = next(r for r in app.received if r.type == "interactive")
    assert click.envelope_id == envelope_id
    payload = click.payload
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "approve"
    assert payload["actions"][0]["value"] == "7"
    assert payload["actions"][0]["block_id"] == "approval-7"
    assert payload["user"]["id"] == "U0LEAD0001"
    assert payload["container"]["message_ts"] == posted["ts"]
    assert payload["channel"]["id"] == QE

    async with httpx.AsyncClient() as http:
        answered = await http.post(
            payload["response_url"], json={"replace_original": True, "text": "Approved by mlead"}
        )
        assert answered.status_code == 200
        assert standin.message(QE, posted["ts"])["text"] == "Approved by mlead"
        missing = await http.post(
            standin.base_url + "/_sandbox/slack/actions",
            json={"channel": QE, "ts": posted["ts"], "user": "mlead", "action_id": "nope"},
        )
        assert missing.status_code == 404
        assert "nope" in missing.json()["error"]


async def test_web_page_posts_as_a_person_and_escapes_text(
    slack: tuple[SlackStandIn, str], web: AsyncWebClient
) -> None:
    standin, url = slack
    async with httpx.AsyncClient(base_url=url) as http:
        index = await http.get("/")
        assert "#team-qe-release" in index.text
        posted = await http.post(
            f"/channels/{QE}",
            data={"user": "U0BOB00003", "text": "<script>alert(1)</script>", "thread_ts": ""},
        )
        assert posted.status_code == 303
        feed = await http.get(f"/channels/{QE}/feed")
        assert "&lt;script&gt;" in feed.text
        assert "<script>" not in feed.text
        assert "Bob QA" in feed.text
        # The thread picker reads each root as the feed does: mrkdwn shown, not its source.
        await http.post(
            f"/channels/{QE}",
            data={"user": "U0BOB00003", "text": "*ship* it <@U0LEAD0001>?", "thread_ts": ""},
        )
        page = (await http.get(f"/channels/{QE}")).text
        assert "reply to: ship it @mlead?</option>" in page
        assert "reply to: &lt;script&gt;alert(1)&lt;/script&gt;</option>" in page
        assert "*ship*" not in page
        assert "&lt;@U0LEAD0001&gt;" not in page
        # Nobody is connected over Socket Mode: a click is refused at once, as Slack does.
        bot_ts = (await web.chat_postMessage(channel=QE, text="Go?", blocks=[BUTTON]))["ts"]
        refused = await http.post(
            "/_sandbox/slack/actions",
            json={"channel": QE, "ts": bot_ts, "user": "mlead", "action_id": "go"},
        )
        assert refused.status_code == 409
    assert [m["user"] for m in standin.channel_messages(QE)][:2] == ["U0BOB00003"] * 2


async def test_web_page_reads_like_slack_and_its_approval_buttons_click(
    slack: tuple[SlackStandIn, str], web: AsyncWebClient, app: App
) -> None:
    """OAR's own approval request (mrkdwn, a mention, a link, a date, Approve / Reject) as
    the page shows it; a thread reply under it; the page's Approve button reaches the app."""
    standin, url = slack
    now = datetime.now(UTC)
    request = ApprovalInfo(
        id="a-7",
        run_id="4.19.3 OCPBUGS-7",
        session_id=None,
        approval_type="drop-bug",
        context={
            "message": "<@U0LEAD0001> drop <https://jira.example/browse/OCPBUGS-7|OCPBUGS-7>?"
        },
        status=ApprovalStatus.PENDING,
        resolution=None,
        feedback=None,
        modifications=None,
        created_at=now,
        expires_at=now + timedelta(hours=2),
        resolved_at=None,
        requested_by="lead",
        requested_via="cli",
        resolved_by=None,
        resolved_via=None,
        workflow_id=None,
        announce_channel=None,
        announce_ts=None,
    )
    root = (
        await web.chat_postMessage(channel=QE, text="approve?", blocks=request_blocks(request))
    )["ts"]
    async with httpx.AsyncClient(base_url=url) as http:
        replied = await http.post(
            f"/channels/{QE}",
            data={
                "user": "U0BOB00003",
                "text": "<!subteam^S0419QELDS> *looks fine*",
                "thread_ts": root,
            },
        )
        assert replied.status_code == 303
        feed = (await http.get(f"/channels/{QE}/feed?as=U0LEAD0001")).text

        assert "<b>Approval requested:</b> <code>drop-bug</code>" in feed
        assert '<span class="mention" title="U0LEAD0001">@mlead</span> drop' in feed
        assert '<a href="https://jira.example/browse/OCPBUGS-7" rel="noopener noreferrer"' in feed
        assert "<!date" not in feed
        assert "&lt;!date" not in feed
        assert ">today " in feed or ">tomorrow " in feed  # {date_short_pretty} {time}
        assert '<button class="primary">Approve</button>' in feed
        assert '<button class="danger">Reject</button>' in feed
        # The reply sits under its root, which counts it; the group is named.
        head, reply = feed.split('<div class="reply">', 1)
        assert "1 reply" in head
        assert "OCPBUGS-7" in head
        assert "@4.19-qe-leads</span> <b>looks fine</b>" in reply

        # The page's own Approve form clicks as the person the page acts as.
        form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', feed, re.S)
        assert form is not None
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(2)))
        assert fields == {"ts": root, "user": "U0LEAD0001", "action_id": APPROVE}
        clicked = await http.post(form.group(1), data=fields)
        assert clicked.status_code == 303
    await standin.wait_for(
        lambda: [r for r in app.received if r.type == "interactive"], timeout=5, what="click"
    )
    payload = next(r for r in app.received if r.type == "interactive").payload
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0LEAD0001"
    assert payload["actions"][0]["action_id"] == APPROVE
    assert payload["actions"][0]["value"] == "a-7"
