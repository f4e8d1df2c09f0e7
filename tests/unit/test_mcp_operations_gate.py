"""A gated agent operation takes the release commands' way (:mod:`oar.mcp.gates`): the
approval names the exact command line and no release; once approved the finish step runs
the operation (here refused for want of credentials: nothing reaches Prow); rejected, it
does not run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from oar.db import Database
from oar.mcp.gates import GatedCall, GatedCallKind, approval_message
from oar.release.follows import Check
from oar.settings import load_settings
from tests.unit.release_world import running_follow

LINE = "jobctl start-aggregator --arch arm64"


def test_the_approval_asks_for_the_operations_command_line_without_a_release() -> None:
    call = GatedCall(
        release="",
        command="jobs-start-aggregator",
        options={"arch": "arm64"},
        requested_by="mcp:api-token",
        client="claude 1.0",
        channel=None,
        timeout=60,
        operation=True,
    )
    message = approval_message(call)
    assert message.startswith("The MCP client *claude 1.0* (authenticated as mcp:api-token)")
    assert f"asks to run `{LINE}`" in message
    assert "One aggregator pass" in message


async def test_an_approved_operation_runs_and_a_rejected_one_does_not(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"OAR_DATABASE_URL": f"sqlite:///{tmp_path / 'oar.db'}"}, env_file=None
    )
    follow = running_follow(
        kind="mcp-call",
        key="mcp-call:approval-1",
        subject=LINE,
        release=None,
        task=None,
        channel=None,
        started_at=datetime(2026, 11, 30, tzinfo=UTC),
        deadline=timedelta(hours=1),
        interval=300,
        data={
            "approval_id": "approval-1",
            "command": "jobs-start-aggregator",
            "options": {"arch": "arm64"},
            "operation": True,
        },
        started_by="mcp:api-token",
        interface="mcp",
    )
    async with Database(settings.database_url) as db:
        await db.upgrade()
        kind = GatedCallKind(settings=settings, db=lambda: db)
        assert kind.started_line(follow).startswith(f"{LINE} asked through MCP")

        rejected = await kind.finish(
            follow, Check.finished("rejected", decision="rejected", by="slack:U0BOB00003")
        )
        assert (rejected.ok, rejected.error) == (False, "rejected")
        assert rejected.line == f"{LINE} refused: <@U0BOB00003> rejected it"

        approved = await kind.finish(
            follow, Check.finished("approved", decision="approved", by="slack:U0ALICE002")
        )
        assert not approved.ok
        assert approved.line.startswith(f"{LINE} approved by <@U0ALICE002>: Fail — APITOKEN")
        assert "GITHUB_TOKEN not set" in approved.line
