"""How the Slack bot hands a command its thread and person (DESIGN.md: the bot runs ``oar``
as a subprocess): the bot sets these variables in the command's environment, the CLI reads
them to record who ran the command and where to report (``oar.cli.actor``), and a background
worker started for the command inherits them (``oar.adapters.background``). Pure names, no
imports, so the CLI's start-up stays light."""

from __future__ import annotations

SLACK_CHANNEL_VARIABLE = "OAR_SLACK_CHANNEL"
SLACK_THREAD_VARIABLE = "OAR_SLACK_THREAD"
SLACK_USER_VARIABLE = "OAR_SLACK_USER"  # the Slack user ID
SLACK_USER_NAME_VARIABLE = "OAR_SLACK_USER_NAME"  # their Slack display name
SLACK_VARIABLES = (
    SLACK_CHANNEL_VARIABLE,
    SLACK_THREAD_VARIABLE,
    SLACK_USER_VARIABLE,
    SLACK_USER_NAME_VARIABLE,
)

# An agent (the release detector) running a command names itself here: the run is
# recorded as done by that agent via "agent" (oar.cli.actor).
AGENT_VARIABLE = "OAR_AGENT"
