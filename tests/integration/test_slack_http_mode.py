"""The bot's HTTP mode: Slack's signature is checked; a signed event is handled."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx

from oar.cli.oarctl import programs
from oar.sandbox.seed import SLACK_CHANNELS
from oar.sandbox.slack import SlackStandIn
from oar.service import Service
from oar.settings import load_settings
from oar.web import create_app
from tests.conftest import fast_environment

CHANNEL = SLACK_CHANNELS["oar-sandbox"]


def signed(body: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp or int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/json",
    }


async def test_signed_events_are_handled_and_bad_signatures_refused(tmp_path: Path) -> None:
    slack = SlackStandIn()
    async with slack.serving() as slack_url:
        environ = {
            **fast_environment(f"sqlite:///{tmp_path / 'oar.db'}", tmp_path),
            **slack.environment(slack_url),
            "OAR_SLACK_MODE": "http",
        }
        environ.pop("SLACK_APP_TOKEN")
        settings = load_settings(environ=environ)
        async with Service(settings, roles={"web", "bot"}, programs=programs()) as service:
            app = create_app(service, owns_service=False)
            root = await slack.post_message(CHANNEL, "U0ALICE002", "just a root message")
            event = {
                "token": "x",
                "team_id": "T0SANDBOX1",
                "api_app_id": "A0OARAPP01",
                "type": "event_callback",
                "event_id": "Ev0HTTP0001",
                "event_time": int(time.time()),
                "event": {
                    "type": "message",
                    "channel": CHANNEL,
                    "user": "U0ALICE002",
                    "text": "oar -r 4.19.3 status; id",
                    "ts": "1795000000.000100",
                    "thread_ts": root,
                    "channel_type": "channel",
                },
            }
            body = json.dumps(event).encode()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://oar") as client:
                forged = await client.post(
                    "/slack/events", content=body, headers=signed(body, "not-the-secret")
                )
                assert forged.status_code == 401
                stale = await client.post(
                    "/slack/events",
                    content=body,
                    headers=signed(body, slack.signing_secret, timestamp=int(time.time()) - 3600),
                )
                assert stale.status_code == 401
                good = await client.post(
                    "/slack/events", content=body, headers=signed(body, slack.signing_secret)
                )
                assert good.status_code == 200
            replies = await slack.wait_for_reply(CHANNEL, root, timeout=10)
            assert replies[0]["text"].startswith("❌ Invalid command: Invalid character ';'")
