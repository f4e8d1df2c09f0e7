"""The Slack bot end to end: real Bolt (Socket Mode) and real AsyncOpenAI against the
stand-ins on 127.0.0.1, real subprocesses, a real database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from sqlalchemy import select

from oar.cli.oarctl import programs
from oar.db.models import AuditEntry
from oar.release.state import ReleaseState
from oar.sandbox.llm import LLMStandIn
from oar.sandbox.seed import SLACK_BOT_USER_ID, SLACK_CHANNELS
from oar.sandbox.slack import SlackStandIn
from oar.service import Service
from oar.settings import load_settings
from oar.slack.access import Asker
from tests.conftest import fast_environment

CHANNEL = SLACK_CHANNELS["oar-sandbox"]
ALICE = "U0ALICE002"
LEAD = "U0LEAD0001"
CAROL = "U0CAROL004"

# A stand-in for a release program: prints its environment hand-over and arguments,
# counts its runs in a file, and sleeps when asked to.
PROGRAM = """\
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["COUNT_FILE"], "a") as f:
    f.write(" ".join(args) + "\\n")
print(json.dumps({"channel": os.environ.get("OAR_SLACK_CHANNEL"),
                  "thread": os.environ.get("OAR_SLACK_THREAD"), "args": args}))
if args and args[0] == "sleep":
    time.sleep(float(args[1]))
if args and args[0] == "fail":
    print("something broke", file=sys.stderr)
    sys.exit(3)
if args and args[0] == "lines":
    for i in range(int(args[1])):
        print(f"line {i:05d} of the output")
if args and args[0] == "blank-at-boundary":
    width = int(args[1])
    print("x" * width)
    print()
    print("y" * width)
"""


class AnyCommand(click.Group):
    """The click group of the stand-in program: every subcommand exists, any arguments."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command:
        return click.Command(
            cmd_name,
            params=[click.Argument(["args"], nargs=-1)],
            context_settings={"ignore_unknown_options": True},
        )

    def list_commands(self, ctx: click.Context) -> list[str]:
        return []


NO_ACCESS_FILE_HINT = "OAR_SLACK_ACCESS_FILE"


@dataclass
class World:
    slack: SlackStandIn
    llm: LLMStandIn
    service: Service
    count_file: Path
    environ: dict[str, str]

    async def say(self, text: str, *, user: str = ALICE, thread_ts: str | None = None) -> str:
        return await self.slack.post_message(CHANNEL, user, text, thread_ts=thread_ts)

    async def replies(self, ts: str, count: int = 1, timeout: float = 20.0) -> list[dict]:
        return await self.slack.wait_for_reply(CHANNEL, ts, count=count, timeout=timeout)

    async def settled(self, ts: str, timeout: float = 20.0) -> None:
        """Until the bot replied in the thread and let go of it (all output posted)."""
        bot = self.service.bot
        assert bot is not None
        await self.replies(ts, timeout=timeout)
        await self.slack.wait_for(
            lambda: bot.claims.busy(CHANNEL, ts) is None, timeout, "thread released"
        )

    def runs(self) -> list[str]:
        if not self.count_file.exists():
            return []
        return self.count_file.read_text().splitlines()


@contextlib.asynccontextmanager
async def _world(database_url: str, tmp_path: Path, **extra: str) -> AsyncIterator[World]:
    program = tmp_path / "fake-program"
    program.write_text(f"#!{sys.executable}\n{PROGRAM}")
    program.chmod(0o755)
    count_file = tmp_path / "runs.txt"
    slack = SlackStandIn(ack_timeout=2.0)
    llm = LLMStandIn(behaviours=[{"match": "HANG", "hang": True}])
    async with slack.serving() as slack_url, llm.serving() as llm_url:
        environ = {
            **fast_environment(database_url, tmp_path / "data"),
            **slack.environment(slack_url),
            **llm.environment(llm_url),
            "OAR_SLACK_PROGRESS_INTERVAL": "0.5",
            "OAR_LLM_TIMEOUT": "3",
            "OAR_LLM_UPDATE_INTERVAL": "0.2",
            **extra,
        }
        settings = load_settings(environ=environ)
        async with Service(settings, roles={"worker", "bot"}, programs=programs()) as service:
            assert service.bot is not None
            assert service.bot.dispatcher is not None
            service.bot.runner.programs["jobctl"] = str(program)
            service.bot.dispatcher.programs["jobctl"] = AnyCommand("jobctl")
            service.bot.runner.environ["COUNT_FILE"] = str(count_file)
            await slack.wait_for(lambda: slack.connections >= 1, 10, "socket connection")
            yield World(
                slack=slack, llm=llm, service=service, count_file=count_file, environ=environ
            )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with _world(f"sqlite:///{tmp_path / 'data' / 'oar.db'}", tmp_path) as item:
        yield item


@pytest.fixture
async def world_on(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    """The same, on SQLite and on PostgreSQL (for what depends on the database)."""
    async with _world(database_url, tmp_path) as item:
        yield item


def texts(messages: list[dict]) -> str:
    return "\n".join(str(m.get("text", "")) for m in messages)


async def test_a_commands_output_lands_in_its_thread(world: World) -> None:
    """The real `oarctl` runs; its status and output are posted in the message's thread."""
    ts = await world.say("oarctl --version")
    replies = await world.replies(ts, count=2)
    await world.slack.wait_for(
        lambda: "finished" in texts(world.slack.thread(CHANNEL, ts)), 20, "finished status"
    )
    thread = texts(world.slack.thread(CHANNEL, ts))
    assert "✅ `oarctl --version` finished" in thread
    assert "oarctl, version" in thread
    assert all(r.get("thread_ts") == ts for r in replies)


async def test_the_thread_root_is_handed_to_the_command(world: World) -> None:
    """OAR_SLACK_THREAD is the thread's root, also for a command typed as a reply."""
    root = await world.say("hello team, starting 4.19.3")
    reply_ts = await world.say("jobctl show-env", thread_ts=root)
    await world.slack.wait_for(
        lambda: '"thread"' in texts(world.slack.thread(CHANNEL, root)), 20, "command output"
    )
    thread = texts(world.slack.thread(CHANNEL, root))
    assert f'"thread": "{root}"' in thread
    assert f'"channel": "{CHANNEL}"' in thread
    assert reply_ts != root


async def test_a_failing_command_is_marked_as_a_failure(world: World) -> None:
    ts = await world.say("jobctl fail")
    await world.slack.wait_for(
        lambda: "something broke" in texts(world.slack.thread(CHANNEL, ts)), 20, "output"
    )
    assert "⚠️ Command failed with exit code 3" in texts(world.slack.thread(CHANNEL, ts))


async def test_long_output_is_split_on_line_boundaries(world: World) -> None:
    ts = await world.say("jobctl lines 400")
    await world.slack.wait_for(
        lambda: "line 00399" in texts(world.slack.thread(CHANNEL, ts)), 20, "last line"
    )
    blocks = [m["text"] for m in world.slack.thread(CHANNEL, ts) if m["text"].startswith("```")]
    assert len(blocks) > 1
    for block in blocks:
        body = block.strip("`").strip("\n")
        assert all(line.startswith(("line ", "{")) for line in body.split("\n"))


async def test_a_forbidden_command_gets_its_refusal(world: World) -> None:
    ts = await world.say("oar -r 4.19.3 status; rm -rf /")
    replies = await world.replies(ts)
    assert replies[0]["text"] == (
        "❌ Invalid command: Invalid character ';' detected in command. Command injection"
        " attempt blocked."
    )
    assert world.runs() == []


async def test_a_busy_thread_gets_the_busy_reply(world: World) -> None:
    ts = await world.say("jobctl sleep 3")
    await world.slack.wait_for(lambda: len(world.runs()) == 1, 10, "first command started")
    started = time.monotonic()
    await world.say("jobctl again", thread_ts=ts)
    await world.slack.wait_for(
        lambda: "Busy" in texts(world.slack.thread(CHANNEL, ts)), 5, "busy reply"
    )
    assert time.monotonic() - started < 3  # answered while the first still runs
    assert world.runs() == ["sleep 3"]
    # The thread is free again once the first command is done.
    bot = world.service.bot
    assert bot is not None
    await world.slack.wait_for(lambda: bot.claims.busy(CHANNEL, ts) is None, 20, "thread free")
    await world.say("jobctl again", thread_ts=ts)
    await world.slack.wait_for(lambda: len(world.runs()) == 2, 20, "second command")


async def test_a_redelivered_event_runs_once(world_on: World) -> None:
    world = world_on
    ts = await world.say("jobctl once")
    await world.settled(ts)
    event_id = next(e.event_id for e in world.slack.envelopes if e.event_id)
    envelope_id = await world.slack.redeliver(event_id)
    await world.slack.wait_for(
        lambda: any(e.envelope_id == envelope_id and e.acked for e in world.slack.envelopes),
        10,
        "redelivery acked",
    )
    replies_before = len(world.slack.thread(CHANNEL, ts))
    # A mention arrives as message + app_mention: one run as well.
    mention = await world.say(f"<@{SLACK_BOT_USER_ID}> jobctl twin")
    await world.settled(mention)
    await asyncio.sleep(0.5)  # give a wrongly repeated run the chance to show up
    assert world.runs() == ["once", "twin"]
    assert len(world.slack.thread(CHANNEL, ts)) == replies_before


async def test_a_hung_llm_times_out_while_other_threads_are_answered(world: World) -> None:
    hung = await world.say(f"<@{SLACK_BOT_USER_ID}> please HANG on this question")
    started = time.monotonic()
    asked = await world.say(f"<@{SLACK_BOT_USER_ID}> what does change-advisory-status do?")
    await world.slack.wait_for(
        lambda: "Sandbox answer to" in texts(world.slack.thread(CHANNEL, asked)), 10, "answer"
    )
    assert "did not answer within" not in texts(world.slack.thread(CHANNEL, hung))
    await world.slack.wait_for(
        lambda: "did not answer within 3 seconds" in texts(world.slack.thread(CHANNEL, hung)),
        3 + 5,
        "timeout reply",
    )
    assert time.monotonic() - started < 3 + 5
    # A later message in the answered thread carries the history.
    await world.say("and why does it wait?", thread_ts=asked)
    await world.slack.wait_for(
        lambda: "(context: 3 messages)" in texts(world.slack.thread(CHANNEL, asked)),
        10,
        "answer with history",
    )


async def test_channel_chatter_is_not_sent_to_the_model(world: World) -> None:
    await world.say("lunch anyone?")
    ts = await world.say(f"<@{SLACK_BOT_USER_ID}> ping")  # a greeting, answered without LLM
    await world.replies(ts)
    assert world.llm.requests == []


async def test_an_approval_button_resolves_once_even_when_clicked_twice(world_on: World) -> None:
    world = world_on
    approvals = world.service.approvals
    approval_id = await approvals.request_approval(
        "release-4.19.3",
        "release",
        {"release": "4.19.3", "action": "move advisories to REL_PREP"},
        60,
        announce_channel=CHANNEL,
    )

    def announced() -> dict | None:
        for message in world.slack.channel_messages(CHANNEL):
            if any(
                b.get("block_id") == f"approval:{approval_id}" for b in message.get("blocks", [])
            ):
                return message
        return None

    message = await world.slack.wait_for(announced, 10, "approval announcement")
    # A double click: both envelopes are handled concurrently.
    await world.slack.click(CHANNEL, message["ts"], LEAD, "oar_approval_approve")
    await world.slack.click(CHANNEL, message["ts"], LEAD, "oar_approval_approve")
    await world.slack.wait_for(
        lambda: "approved" in world.slack.message(CHANNEL, message["ts"]).get("text", ""),
        10,
        "outcome shown",
    )
    # A stale client clicking Reject afterwards changes nothing.
    bot = world.service.bot
    assert bot is not None
    assert not await bot.approvals.click(
        approval_id=approval_id,
        action_id="oar_approval_reject",
        user=CAROL,
        asker=Asker(user_id=CAROL),
    )
    info = await approvals.get(approval_id)
    assert info.resolution is not None
    assert info.resolution.value == "approved"
    assert info.resolved_by == f"slack:{LEAD}"
    assert info.resolved_via == "slack"
    async with world.service.db.session() as session:
        decisions = (
            (
                await session.execute(
                    select(AuditEntry.action).where(AuditEntry.subject == approval_id)
                )
            )
            .scalars()
            .all()
        )
    assert [d for d in decisions if d.startswith("approval.")].count("approval.approved") == 1
    assert "approval.rejected" not in decisions
    shown = world.slack.message(CHANNEL, message["ts"])
    assert f"approved* by <@{LEAD}>" in json.dumps(shown)
    assert all(b.get("type") != "actions" for b in shown.get("blocks", []))


async def test_only_allowed_users_can_click(tmp_path: Path) -> None:
    access = tmp_path / "access.json"
    access.write_text(
        json.dumps({"rules": [{"commands": ["approve *"], "groups": ["4.19-qe-leads"]}]})
    )
    async with _world(
        f"sqlite:///{tmp_path / 'data' / 'oar.db'}", tmp_path, OAR_SLACK_ACCESS_FILE=str(access)
    ) as world:
        approvals = world.service.approvals
        approval_id = await approvals.request_approval(
            "release-4.19.3", "release", {}, 60, announce_channel=CHANNEL
        )
        message = await world.slack.wait_for(
            lambda: next(
                (m for m in world.slack.channel_messages(CHANNEL) if m.get("blocks")), None
            ),
            10,
            "announcement",
        )
        await world.slack.click(CHANNEL, message["ts"], CAROL, "oar_approval_approve")
        await world.slack.wait_for(
            lambda: "not allowed" in texts(world.slack.thread(CHANNEL, message["ts"])),
            10,
            "refusal",
        )
        assert (await approvals.get(approval_id)).status.value == "pending"
        await world.slack.click(CHANNEL, message["ts"], ALICE, "oar_approval_approve")
        await world.slack.wait_for(
            lambda: "approved" in world.slack.message(CHANNEL, message["ts"]).get("text", ""),
            10,
            "approved",
        )
        assert (await approvals.get(approval_id)).resolved_by == f"slack:{ALICE}"


async def test_help_lists_the_commands_of_the_three_programs_open_to_the_asker(
    world: World,
) -> None:
    """Issue 13 #16: `help` listed no oar command, and listed service commands."""
    ts = await world.say(f"<@{SLACK_BOT_USER_ID}> help")
    (reply,) = await world.replies(ts)
    text = reply["text"]
    assert text.startswith("Commands you may run here")
    for key in ("oar change-advisory-status", "oar status", "oar issue add", "oarctl tasks list"):
        assert f"• `{key}`" in text
    assert "Approve the release" in text  # the command's one-line help
    for key in (
        "oarctl serve",
        "oarctl config",
        "oarctl worker",
        "oarctl db",
        "oarctl tasks retry",
    ):
        assert f"`{key}" not in text


async def test_service_administration_is_never_run_from_slack(tmp_path: Path) -> None:
    """Issue 13 #4: `oarctl config decrypt` and `oarctl serve --host …` are refused even
    when the access file opens every oarctl command to everyone."""
    access = tmp_path / "access.json"
    access.write_text(json.dumps({"default": "allow", "rules": [{"commands": ["oarctl *"]}]}))
    async with _world(
        f"sqlite:///{tmp_path / 'data' / 'oar.db'}", tmp_path, OAR_SLACK_ACCESS_FILE=str(access)
    ) as world:
        for text, key in (
            ("oarctl config decrypt", "oarctl config decrypt"),
            ("oarctl serve --host 0.0.0.0 --port 8000", "oarctl serve"),
            ("oarctl db upgrade", "oarctl db upgrade"),
        ):
            ts = await world.say(text)
            (reply,) = await world.replies(ts)
            assert reply["text"] == (
                f"🚫 `{key}` administers the service and is never run from Slack, whatever the"
                " access rules say; run it on the service's host."
            )
            await world.settled(ts)
            assert "Running" not in texts(world.slack.thread(CHANNEL, ts))


async def test_without_an_access_file_only_release_work_and_read_only_views_run(
    world: World,
) -> None:
    """The documented default: `oarctl tasks retry` needs a rule, `oarctl tasks list` runs."""
    ts = await world.say("oarctl tasks retry some-task")
    (reply,) = await world.replies(ts)
    assert reply["text"].startswith("🚫 `oarctl tasks retry` is not open from Slack by default")
    assert NO_ACCESS_FILE_HINT in reply["text"]
    listed = await world.say("oarctl tasks list")
    await world.slack.wait_for(
        lambda: "✅ `oarctl tasks list` finished" in texts(world.slack.thread(CHANNEL, listed)),
        30,
        "the listing",
    )


async def test_clustered_options_do_not_bypass_the_access_rules(tmp_path: Path) -> None:
    """Issue 13 #5: `oar -vr 4.19.3 change-advisory-status` was matched as `oar 4.19.3`
    and ran under the catch-all rule; only the lead may run it."""
    access = tmp_path / "access.json"
    access.write_text(
        json.dumps(
            {
                "default": "deny",
                "rules": [
                    {"commands": ["oar change-advisory-status"], "users": [LEAD]},
                    {"commands": ["oar *", "jobctl *"]},
                ],
            }
        )
    )
    async with _world(
        f"sqlite:///{tmp_path / 'data' / 'oar.db'}", tmp_path, OAR_SLACK_ACCESS_FILE=str(access)
    ) as world:
        ts = await world.say("oar -vr 4.19.3 change-advisory-status", user=CAROL)
        (reply,) = await world.replies(ts)
        assert reply["text"] == (
            "🚫 you are not allowed to run `oar change-advisory-status`; ask a release lead."
        )
        unknown = await world.say("oar -r 4.19.3 frobnicate", user=CAROL)
        (reply,) = await world.replies(unknown)
        assert reply["text"] == (
            "❌ Invalid command: no such command `oar frobnicate`; type `help` to see the"
            " commands you may run"
        )


async def test_a_command_from_slack_records_the_slack_person(world_on: World) -> None:
    """Issue 13 #9: a run set from Slack shows `aqa` (Alice's Slack name) via slack, not
    the service's Unix user."""
    world = world_on
    bot = world.service.bot
    assert bot is not None
    bot.runner.environ.update(world.environ)  # the bot's own environment: the database
    await ReleaseState(world.service.db).ensure_release("4.19.3")
    ts = await world.say("oar -r 4.19.3 task take-ownership --status Pass --note from-slack")
    await world.settled(ts, timeout=60)
    assert "✅" in texts(world.slack.thread(CHANNEL, ts))
    shown = await world.say("oar -r 4.19.3 task take-ownership")
    await world.settled(shown, timeout=60)  # the runs table is posted before it lets go
    output = texts(world.slack.thread(CHANNEL, shown))
    (row,) = [line for line in output.splitlines() if "Pass" in line and "│" in line]
    assert "aqa" in row
    assert "slack" in row
    (run,) = await ReleaseState(world.service.db).runs("4.19.3", task="take-ownership")
    assert (run.actor, run.interface) == ("aqa", "slack")


async def test_no_blank_message_when_a_blank_line_falls_on_a_chunk_boundary(
    world: World,
) -> None:
    """Issue 13 #19: the splitter made an empty chunk there (an empty code block; Slack
    refuses a message without text)."""
    width = 3900 - 8  # one line fills a code block; the blank line after it is a boundary
    ts = await world.say(f"jobctl blank-at-boundary {width}")
    await world.slack.wait_for(
        lambda: "y" * width in texts(world.slack.thread(CHANNEL, ts)), 20, "the last line"
    )
    await world.settled(ts)
    blocks = [m["text"] for m in world.slack.thread(CHANNEL, ts) if m["text"].startswith("```")]
    assert [block.strip("`\n")[:3] for block in blocks] == ['{"c', "xxx", "yyy"]


async def test_a_file_shared_without_text_in_a_direct_message_is_not_a_question(
    world: World,
) -> None:
    """Issue 13 #19: an empty direct message went to the model as a question."""
    ts = await world.slack.post_message(ALICE, ALICE, "", files=["screenshot.png"])
    dm = world.slack.channel_id(ALICE)
    (reply,) = await world.slack.wait_for_reply(dm, ts)
    assert reply["text"].startswith("I read text only: files and attachments are not read.")
    assert world.llm.requests == []


async def test_an_oarctl_decision_from_slack_records_the_slack_person(tmp_path: Path) -> None:
    """Issue 13 #9: `oarctl approvals approve` run by the bot is decided by `aqa` via slack."""
    access = tmp_path / "access.json"
    access.write_text(json.dumps({"rules": [{"commands": ["oarctl approvals"]}]}))
    async with _world(
        f"sqlite:///{tmp_path / 'data' / 'oar.db'}", tmp_path, OAR_SLACK_ACCESS_FILE=str(access)
    ) as world:
        bot = world.service.bot
        assert bot is not None
        bot.runner.environ.update(world.environ)
        approvals = world.service.approvals
        approval_id = await approvals.request_approval("release-4.19.3", "release", {}, 60)
        ts = await world.say(f"oarctl approvals approve {approval_id} --feedback ok")
        await world.settled(ts, timeout=60)
        assert f"approval {approval_id} approved" in texts(world.slack.thread(CHANNEL, ts))
        info = await approvals.get(approval_id)
        assert (info.resolved_by, info.resolved_via) == ("aqa", "slack")
