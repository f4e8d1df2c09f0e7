"""Who a command's run is recorded as: the person at the terminal, the Slack user the bot
runs it for, or the agent (the release detector) that started it."""

from __future__ import annotations

from oar.cli.actor import current_actor


def test_a_terminal_run_is_the_unix_user_via_the_cli() -> None:
    actor = current_actor({})
    assert actor.interface == "cli"
    assert actor.name


def test_an_agents_run_is_the_agent_via_agent() -> None:
    actor = current_actor({"OAR_AGENT": "release-detector"})
    assert (actor.name, actor.interface) == ("release-detector", "agent")


def test_the_slack_hand_over_wins_over_an_agent() -> None:
    actor = current_actor(
        {"OAR_AGENT": "release-detector", "OAR_SLACK_USER": "U1", "OAR_SLACK_USER_NAME": "aqa"}
    )
    assert (actor.name, actor.interface) == ("aqa", "slack")
