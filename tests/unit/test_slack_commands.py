"""Reading Slack messages as commands: what runs, what is refused and why (pure)."""

from __future__ import annotations

import pytest

from oar.slack.access import AccessPolicy, Asker, parse_policy
from oar.slack.commands import CommandRefused, Intent, parse, read
from oar.slack.messages import code_blocks, split_lines, tail

BOT = "U0OARBOT01"


@pytest.mark.parametrize(
    ("text", "intent", "body"),
    [
        ("oar -r 4.19.3 status", Intent.COMMAND, "oar -r 4.19.3 status"),
        (f"<@{BOT}> oarctl tasks list", Intent.COMMAND, "oarctl tasks list"),
        (
            f"<@{BOT}> jobctl start-controller -r 4.19",
            Intent.COMMAND,
            "jobctl start-controller -r 4.19",
        ),
        ("oarfoo bar", Intent.QUESTION, "oarfoo bar"),
        (f"<@{BOT}>", Intent.GREETING, ""),
        (f"<@{BOT}> hello there", Intent.GREETING, "hello there"),
        (f"<@{BOT}> help", Intent.HELP, "help"),
        (
            f"<@{BOT}> what does change-advisory-status wait for?",
            Intent.QUESTION,
            "what does change-advisory-status wait for?",
        ),
    ],
)
def test_messages_are_classified(text: str, intent: Intent, body: str) -> None:
    message = read(text, bot_user_id=BOT)
    assert message.intent is intent
    assert message.text == body


def test_a_mention_of_someone_else_is_not_a_mention_of_the_bot() -> None:
    message = read("<@U0ALICE002> can you check?", bot_user_id=BOT)
    assert not message.mentioned


def test_slack_mailto_links_become_the_typed_address() -> None:
    message = read(
        "oar -r 4.19.3 take-ownership -e <mailto:qa.alice@example.com|qa.alice@example.com>",
        bot_user_id=BOT,
    )
    assert parse(message.text).argv[-1] == "qa.alice@example.com"


def test_a_command_becomes_argv_with_its_key_and_release() -> None:
    command = parse("oar -r 4.19.3 change-advisory-status")
    assert command.argv == ("oar", "-r", "4.19.3", "change-advisory-status")
    assert command.key == "oar change-advisory-status"
    assert command.release == "4.19.3"
    assert parse("oarctl tasks list --status failed").key == "oarctl tasks"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("oar -r 4.19.3 status; rm -rf /", "Invalid character ';'"),
        ("oar -r 4.19.3 status && id", "Invalid character '&'"),
        ("oar -r $(id) status", "Invalid character '$'"),
        ("oar -r 4.19.3 status <http://x>", "Invalid character '<'"),
        ('oar -r "4.19.3 status', "Invalid command syntax"),
        ("", "Empty command"),
        ("python -c 1", "Command must start with 'oar', 'oarctl', 'jobctl', got: python"),
    ],
)
def test_refusals_say_what_was_wrong(text: str, reason: str) -> None:
    with pytest.raises(CommandRefused) as info:
        parse(text)
    assert reason in info.value.reason


POLICY = parse_policy(
    """{
      "default": "deny",
      "rules": [
        {"commands": ["oar change-advisory-status", "approve *"], "groups": ["4.19-qe-leads"]},
        {"commands": ["oar drop-bugs"], "users": ["U0LEAD0001"], "channels": ["C0QERELEAS"]},
        {"commands": ["oar *", "jobctl *"]}
      ]
    }"""
)


def test_access_first_matching_rule_decides() -> None:
    lead = Asker(user_id="U0LEAD0001", groups=frozenset({"4.19-qe-leads"}), channel_id="C0QERELEAS")
    dev = Asker(user_id="U0CAROL004", channel_id="C0QERELEAS")
    assert POLICY.decide("oar change-advisory-status", lead).allowed
    assert not POLICY.decide("oar change-advisory-status", dev).allowed
    assert POLICY.decide("oar status", dev).allowed  # the catch-all rule
    assert not POLICY.decide("oarctl tasks", dev).allowed  # default deny
    elsewhere = Asker(user_id="U0LEAD0001", channel_id="C0SANDBOX1")
    decision = POLICY.decide("oar drop-bugs", elsewhere)
    assert not decision.allowed
    assert "in this channel" in decision.reason


def test_help_lists_only_permitted_commands() -> None:
    dev = Asker(user_id="U0CAROL004")
    keys = ["oar status", "oar change-advisory-status", "oarctl tasks", "jobctl start-controller"]
    assert POLICY.permitted(keys, dev) == ["oar status", "jobctl start-controller"]


def test_no_access_file_allows_everything() -> None:
    assert AccessPolicy().decide("oarctl approvals", Asker(user_id="U1")).allowed


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid JSON"),
        ('{"default": "maybe"}', "'default' must be 'allow' or 'deny'"),
        ('{"rules": [{"users": ["U1"]}]}', "names no commands"),
        ('{"rules": [{"commands": ["oar *"], "teams": ["x"]}]}', "unknown keys"),
    ],
)
def test_a_bad_access_file_is_a_clear_error(text: str, problem: str) -> None:
    from oar.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="OAR_SLACK_ACCESS_FILE") as info:
        parse_policy(text)
    assert problem in info.value.message


def test_long_text_splits_on_line_boundaries_and_loses_nothing() -> None:
    lines = [f"line {i:04d} " + "x" * 50 for i in range(400)]
    text = "\n".join(lines)
    chunks = split_lines(text, 1000)
    assert all(len(chunk) <= 1000 for chunk in chunks)
    assert "\n".join(chunks) == text
    assert all(chunk.split("\n")[0].startswith("line ") for chunk in chunks)


def test_an_overlong_line_is_cut_without_loss() -> None:
    text = "a" * 2500 + "\nshort"
    assert split_lines(text, 1000) == ["a" * 1000, "a" * 1000, "a" * 500 + "\nshort"]


def test_code_blocks_stay_within_the_limit_and_fence_inner_backticks() -> None:
    blocks = code_blocks("```inner```\n" + "y\n" * 3000, 1000)
    assert all(len(block) <= 1000 and block.startswith("```\n") for block in blocks)
    assert blocks[0].count("```") == 2


def test_tail_starts_at_a_line() -> None:
    assert tail("first line\nsecond line\nthird", 15) == "third"
