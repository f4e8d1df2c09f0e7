"""The MCP server at ``/mcp`` of a real ``oarctl serve``, driven by the MCP SDK's own client
over streamable HTTP, against the sandbox stand-ins (Slack included: the bot posts the
gates' approvals and takes the clicks).

One walk: an unauthenticated client is refused; the tool list is the registry's; a read
tool, an agent's read (the CI gate's job registry) and an ungated command answer
structured JSON with the command's outcome and log;
three gated calls each answer "awaiting approval <id>" and appear in the release channel
— Approve (clicked twice) runs the command once, Reject refuses it, and nobody deciding
before the (short, injected) deadline refuses the third; each outcome is reported in the
approval's thread and by the status tool.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from oar.release.state import ReleaseState
from oar.sandbox import releaseconfig, releasetests, seed
from oar.sandbox.registry import Sandbox
from oar.sandbox.slack import SlackStandIn
from oar.service import Service
from tests.acceptance.conftest import OarProcess, wait_for
from tests.acceptance.test_cli import free_port

TOKEN = "mcp-acceptance-token-0123456789"
QE_RELEASE = seed.SLACK_CHANNELS["team-qe-release"]
ALICE, BOB = "U0ALICE002", "U0BOB00003"
APPROVE, REJECT = "oar_approval_approve", "oar_approval_reject"
DEADLINE = 15  # seconds a gated call waits for a decision in this test


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
def env(sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_API_TOKEN": TOKEN,
        "OAR_MCP_APPROVAL_TIMEOUT": str(DEADLINE),
        "OAR_LOG_LEVEL": "INFO",
    }


@contextlib.asynccontextmanager
async def mcp_session(url: str, token: str | None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    structured: dict[str, Any] = result.structured_content
    assert json.loads(result.content[0].text) == structured  # type: ignore[union-attr]
    return structured


def approval_message(slack: SlackStandIn, approval_id: str) -> dict[str, Any] | None:
    for message in slack.channel_messages(QE_RELEASE):
        if approval_id in json.dumps(message.get("blocks", [])):
            return message
    return None


def thread_of(slack: SlackStandIn, message: dict[str, Any]) -> str:
    replies = slack.thread(QE_RELEASE, message["ts"])
    return "\n".join(m["text"] for m in replies if m["ts"] != message["ts"])


async def test_an_agent_reads_runs_and_waits_for_a_person_on_gated_commands(
    env: dict[str, str], sandbox: Sandbox, spawn: Any, client: Service
) -> None:
    slack: SlackStandIn = sandbox.servers["slack"]  # type: ignore[assignment]
    port = free_port()
    server: OarProcess = spawn("serve", "--port", str(port), env=env, name="serve")
    base = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{base}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await wait_for(ready, timeout=60, what="oarctl serve to be ready")
        await slack.wait_for(lambda: slack.connections > 0, 30, "the bot's socket")
        url = f"{base}/mcp"

        # Refused without the token, before any MCP message is read.
        async with httpx.AsyncClient() as http:
            refused = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401, refused.text
        # The SDK's client cannot even start a session (it reports the 401 as an error
        # response, wrapped in its task groups).
        with pytest.raises(Exception):  # noqa: PT011,B017
            async with mcp_session(url, None):
                pass

        async with mcp_session(url, TOKEN) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert {"oar_take_ownership", "oar_create_test_report", "oar_drop_bugs"} <= set(tools)
            assert {"oar_get_release_status", "oar_get_call_status", "oar_add_issue"} <= set(tools)
            ownership = tools["oar_take_ownership"].input_schema
            assert ownership["required"] == ["release", "email"]
            assert ownership["properties"]["email"]["format"] == "email"

            # An ungated command runs at once: its outcome and its log.
            checked = await call(
                session,
                "oar_check_blocking_sec_alerts",
                release=seed.RELEASE,
                check_only=True,
            )
            assert checked["command"] == "check-blocking-sec-alerts"
            assert checked["status"] in ("Pass", "Fail"), checked
            assert "release.command.started" in checked["log"], checked
            status = await call(session, "oar_get_release_status", release=seed.RELEASE)
            assert status["release"] == seed.RELEASE
            assert next(t["name"] for t in status["tasks"]) == "create-test-report"
            # An agent's read: the CI gate's test-job registry, from the GitHub stand-in.
            registry = await call(session, "oar_jobs_list", release=seed.Y_STREAM)
            assert {j["name"] for j in registry["jobs"]} >= set(releasetests.NIGHTLY_JOBS)
            bad = await session.call_tool(
                "oar_take_ownership", {"release": seed.RELEASE, "email": "not-an-email"}
            )
            assert bad.is_error
            assert "not a valid email" in bad.content[0].text

            # Three gated calls: each waits for a person.
            report = await call(session, "oar_create_test_report", release=seed.RELEASE)
            rejected = await call(
                session, "oar_take_ownership", release=seed.RELEASE, email="alice@example.com"
            )
            expiring = await call(
                session, "oar_take_ownership", release=seed.RELEASE, email="bob@example.com"
            )
            for answer in (report, rejected, expiring):
                assert answer["status"] == "awaiting approval", answer
                assert answer["message"].startswith(f"awaiting approval {answer['approval_id']}")
            ids = [a["approval_id"] for a in (report, rejected, expiring)]
            await wait_for(
                lambda: all(approval_message(slack, i) for i in ids),
                timeout=30,
                what="the three approvals in the release channel",
            )
            # (Found by their buttons, which a decided message no longer has.)
            posted, no, late = (approval_message(slack, i) for i in ids)
            assert posted is not None
            assert no is not None
            assert late is not None
            assert f"asks to run `oar -r {seed.RELEASE} create-test-report`" in posted["text"], (
                posted["text"]
            )
            assert "authenticated as mcp:api-token" in posted["text"]
            waiting = await call(session, "oar_get_call_status", approval_id=ids[0])
            assert waiting["state"] == "awaiting approval"

            # Approve, twice: the command runs once.
            await slack.click(QE_RELEASE, posted["ts"], ALICE, APPROVE, ids[0])
            await slack.click(QE_RELEASE, posted["ts"], ALICE, APPROVE, ids[0])
            await slack.click(QE_RELEASE, no["ts"], BOB, REJECT, ids[1])

            async def state_of(approval_id: str, wanted: str) -> dict[str, Any] | None:
                found = await call(session, "oar_get_call_status", approval_id=approval_id)
                return found if found["state"] == wanted else None

            done = await wait_for_value(lambda: state_of(ids[0], "done"), 60, "the approved run")
            assert done["outcome"]["status"] == "Pass", done
            assert "release.command.started" in done["outcome"]["log"]
            assert done["decided_by"] == f"slack:{ALICE}"
            runs = await ReleaseState(client.db).runs(seed.RELEASE, task="create-test-report")
            assert [(r.actor, r.interface) for r in runs] == [("mcp:api-token", "mcp")]
            await wait_for_value(lambda: state_of(ids[1], "rejected"), 30, "the rejection")
            await wait_for(
                lambda: (
                    "approved by <@" in thread_of(slack, posted)
                    and "refused: <@" in thread_of(slack, no)
                ),
                timeout=30,
                what="the outcomes in the approvals' threads",
            )

            # Nobody decides: refused at the deadline.
            await wait_for_value(lambda: state_of(ids[2], "expired"), DEADLINE + 30, "the expiry")
            await wait_for(
                lambda: "nobody approved in time" in thread_of(slack, late),
                timeout=30,
                what="the expiry in its thread",
            )
            ownership_runs = await ReleaseState(client.db).runs(seed.RELEASE, task="take-ownership")
            assert ownership_runs == []
    except BaseException:
        print(server.output())
        raise


async def wait_for_value(predicate: Any, timeout: float, what: str) -> Any:
    found: list[Any] = []

    async def check() -> bool:
        value = await predicate()
        if value:
            found.append(value)
        return bool(value)

    await wait_for(check, timeout=timeout, what=what)
    return found[-1]
