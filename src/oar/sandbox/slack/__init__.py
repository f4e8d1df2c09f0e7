"""A Slack stand-in: the Web API methods OAR calls and Socket Mode, for the real slack_sdk.

``AsyncWebClient(base_url=url + "/api/")`` talks to it over HTTP; ``apps.connections.open``
hands out ``ws://127.0.0.1:<port>/_ws/link?ticket=…`` and the Socket Mode client connects
there, gets ``hello``, then ``events_api`` and ``interactive`` envelopes that it must ack
within ``ack_timeout`` or see them again (same ``event_id``, ``retry_attempt`` + 1,
``retry_reason: "timeout"``), as Slack does:
https://docs.slack.dev/apis/events-api/using-socket-mode#acknowledge

People (the sandbox's PEOPLE) post through the control API, the Python helpers or the web
page at ``/``; see docs/sandbox-slack.md.

The package: ``workspace`` (state and behaviour), ``webapi`` (``/api/<method>``),
``control`` (``/_sandbox/slack/…``), ``page`` (the web page) and ``standin`` (the served
whole).
"""

from __future__ import annotations

from oar.sandbox.slack.standin import SlackStandIn
from oar.sandbox.slack.webapi import multipart_fields, parse_params
from oar.sandbox.slack.workspace import (
    BOT_NAME,
    SLACK_APP_ID,
    SLACK_BOT_ID,
    Envelope,
    Message,
    SlackError,
)

__all__ = [
    "BOT_NAME",
    "SLACK_APP_ID",
    "SLACK_BOT_ID",
    "Envelope",
    "Message",
    "SlackError",
    "SlackStandIn",
    "multipart_fields",
    "parse_params",
]
