"""Who runs a command, and through which interface: the person at a terminal (their Unix
user, ``cli``), or the Slack user the bot runs it for (``slack``), handed over by the bot in
the ``OAR_SLACK_*`` variables (DESIGN.md). Every command records its actor through here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from oar.cli.console import whoami
from oar.release.handover import (
    AGENT_VARIABLE,
    SLACK_CHANNEL_VARIABLE,
    SLACK_THREAD_VARIABLE,
    SLACK_USER_NAME_VARIABLE,
    SLACK_USER_VARIABLE,
)


@dataclass(frozen=True, kw_only=True)
class Actor:
    name: str  # recorded as who did it: "aqa", or the Unix user
    interface: str  # "slack" or "cli"
    slack_user: str | None = None
    slack_channel: str | None = None
    slack_thread: str | None = None


def current_actor(environ: Mapping[str, str] | None = None) -> Actor:
    """The actor of this process's command: the Slack person when the bot started it."""
    env = os.environ if environ is None else environ
    channel = env.get(SLACK_CHANNEL_VARIABLE) or None
    thread = env.get(SLACK_THREAD_VARIABLE) or None
    user = env.get(SLACK_USER_VARIABLE) or None
    if channel is None and user is None:
        agent = env.get(AGENT_VARIABLE) or None
        if agent is not None:  # a background agent (the release detector) runs it
            return Actor(name=agent, interface="agent")
        return Actor(name=whoami(), interface="cli")
    return Actor(
        name=env.get(SLACK_USER_NAME_VARIABLE) or user or whoami(),
        interface="slack",
        slack_user=user,
        slack_channel=channel,
        slack_thread=thread,
    )
