"""Reading Slack messages as commands: what runs, what is refused and why (pure)."""

from __future__ import annotations

import pytest

from oar.cli.jobctl import cli as jobctl
from oar.cli.oar import cli as oar
from oar.cli.oarctl import cli as oarctl
from oar.integrations.slacktext import code_blocks, split_lines
from oar.slack.access import AccessPolicy, Asker, parse_policy
from oar.slack.commands import Command, CommandRefused, Intent, catalogue, parse, read, resolve
from oar.slack.messages import tail

BOT = "U0OARBOT01"
PROGRAMS = {"oar": oar, "oarctl": oarctl, "jobctl": jobctl}


def command(text: str) -> Command:
    """A message's command as the bot reads it: parsed, then resolved by the click groups."""
    return resolve(parse(text), PROGRAMS)


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
        ("", Intent.EMPTY, ""),  # a file shared without a comment
        ("  \n ", Intent.EMPTY, ""),
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


def test_a_command_becomes_argv_with_its_command_path_as_key() -> None:
    approve = command("oar -r 4.19.3 change-advisory-status")
    assert approve.argv == ("oar", "-r", "4.19.3", "change-advisory-status")
    assert approve.key == "oar change-advisory-status"
    assert command("oarctl tasks list --status failed").key == "oarctl tasks list"
    assert command("oar -r 4.19.3 issue add 'CI is red'").key == "oar issue add"
    assert command("oarctl --version").key == "oarctl"


@pytest.mark.parametrize(
    "text",
    [
        "oar -vr 4.19.3 change-advisory-status",
        "oar -v -r4.19.3 change-advisory-status",
        "oar --release=4.19.3 -v change-advisory-status",
        "oar -r 4.19.3 -- change-advisory-status",
    ],
)
def test_clustered_options_do_not_hide_the_subcommand_from_the_rules(text: str) -> None:
    """Issue 13 #5: `oar -vr 4.19.3 …` was matched as `oar 4.19.3` and passed the catch-all."""
    key = command(text).key
    assert key == "oar change-advisory-status"
    dev = Asker(user_id="U0CAROL004", channel_id="C0QERELEAS")
    decision = POLICY.decide(key, dev)
    assert not decision.allowed
    assert "not allowed to run `oar change-advisory-status`" in decision.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("oar -r 4.19.3 frobnicate", "no such command `oar frobnicate`"),
        ("oarctl tasks frobnicate", "no such command `oarctl tasks frobnicate`"),
        ("oar -x status", "`oar`: No such option '-x'"),
        ("oar -r", "`oar`: Option '-r' requires an argument"),
    ],
)
def test_an_unknown_command_or_option_is_refused_with_what_was_wrong(
    text: str, reason: str
) -> None:
    with pytest.raises(CommandRefused) as info:
        command(text)
    assert reason in info.value.reason


def test_help_and_version_resolve_without_printing(capsys: pytest.CaptureFixture[str]) -> None:
    assert command("oar --help").key == "oar"
    assert command("oar -r 4.19.3 status -h").key == "oar status"
    assert command("oarctl -V").key == "oarctl"
    assert capsys.readouterr().out == ""


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


def test_a_group_pattern_covers_its_commands_and_a_program_only_itself() -> None:
    policy = parse_policy(
        '{"default": "deny", "rules": [{"commands": ["oarctl tasks", "oarctl"]}]}'
    )
    anyone = Asker(user_id="U1")
    assert policy.decide("oarctl tasks list", anyone).allowed
    assert policy.decide("oarctl tasks retry", anyone).allowed
    assert policy.decide("oarctl", anyone).allowed  # `oarctl --version`
    assert not policy.decide("oarctl approvals list", anyone).allowed


ADMINISTRATION = [
    "oarctl config decrypt",
    "oarctl config show",
    "oarctl serve",
    "oarctl worker",
    "oarctl bot",
    "oarctl sandbox",
    "oarctl db upgrade",
    "oarctl github send-webhook",
]


@pytest.mark.parametrize("key", ADMINISTRATION)
def test_service_administration_is_refused_whatever_the_access_file_says(key: str) -> None:
    everything = parse_policy('{"default": "allow", "rules": [{"commands": ["*", "oarctl *"]}]}')
    for policy in (everything, AccessPolicy()):
        decision = policy.decide(key, Asker(user_id="U0LEAD0001"))
        assert not decision.allowed
        assert "administers the service and is never run from Slack" in decision.reason


def test_without_an_access_file_release_work_and_read_only_views_are_open() -> None:
    """The documented default (docs/slack.md#access-rules), over the real command tree."""
    policy, anyone = AccessPolicy(), Asker(user_id="U1")
    keys = [entry.key for entry in catalogue(PROGRAMS)]
    assert "oar change-advisory-status" in keys
    allowed = set(policy.permitted(keys, anyone))
    closed = ("oar statebox", "oar release")
    assert {k for k in keys if k.startswith("oar ") and not k.startswith(closed)} <= allowed
    export = policy.decide("oar statebox export", anyone)  # writes files, commits
    assert not export.allowed
    assert "OAR_SLACK_ACCESS_FILE" in export.reason
    assert not policy.decide("oar release delete", anyone).allowed  # deletes a release
    assert {k for k in allowed if k.startswith("oarctl ")} == {
        "oarctl tasks list",
        "oarctl tasks show",
        "oarctl approvals list",
        "oarctl approvals show",
        "oarctl follows list",
        "oarctl follows show",
    }
    # The hidden alias of oarctl follows stays readable from Slack.
    assert policy.decide("oarctl watches show", anyone).allowed
    assert policy.decide("approve release", anyone).allowed
    assert policy.decide("oarctl", anyone).allowed
    retry = policy.decide("oarctl tasks retry", anyone)
    assert not retry.allowed
    assert "OAR_SLACK_ACCESS_FILE" in retry.reason


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


@pytest.mark.parametrize(
    ("text", "chunks"),
    [
        # A newline right at the limit: the blank line falls between two chunks.
        ("a" * 10 + "\n\n" + "b" * 10, ["a" * 10, "b" * 10]),
        ("a" * 10 + "\n\n\n\n" + "b" * 10, ["a" * 10, "b" * 10]),
        ("a" * 9 + "\n\n" + "b" * 10, ["a" * 9, "b" * 10]),
        ("a" * 10 + "\n\n" + "b" * 25, ["a" * 10, "b" * 10, "b" * 10, "b" * 5]),
        ("a" * 10 + "\n" + " " * 25 + "\nb", ["a" * 10, " " * 5 + "\nb"]),
        ("\n" * 25, []),
        ("\n\n", []),
        ("", []),
    ],
)
def test_no_chunk_is_blank(text: str, chunks: list[str]) -> None:
    """Issue 13 #19: Slack refuses a message without text; a blank chunk was one."""
    assert split_lines(text, 10) == chunks
    assert [block.strip("`\n") for block in code_blocks(text, 18)] == chunks


def test_code_blocks_stay_within_the_limit_and_fence_inner_backticks() -> None:
    blocks = code_blocks("```inner```\n" + "y\n" * 3000, 1000)
    assert all(len(block) <= 1000 and block.startswith("```\n") for block in blocks)
    assert blocks[0].count("```") == 2


def test_tail_starts_at_a_line() -> None:
    assert tail("first line\nsecond line\nthird", 15) == "third"


def test_a_deny_rule_refuses_only_those_it_admits() -> None:
    policy = parse_policy(
        '{"default": "allow", "rules": ['
        '{"commands": ["oar statebox"], "users": ["U1"], "deny": true},'
        '{"commands": ["oar statebox"], "users": ["U1", "U2"]}]}'
    )
    refused = policy.decide("oar statebox export", Asker(user_id="U1"))
    assert not refused.allowed
    assert "closed to you" in refused.reason
    assert policy.decide("oar statebox export", Asker(user_id="U2")).allowed
    assert not policy.decide("oar statebox export", Asker(user_id="U3")).allowed
