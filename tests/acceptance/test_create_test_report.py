"""``oar -r X create-test-report`` as a release engineer runs it — the Konflux flow from the
CLI, the errata flow from a Slack thread — against the sandbox stand-ins: the release's
state, the announcement in the Slack stand-in, the StateBox file, and a second run that
changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from oar.release.checklist import Flow, TaskStatus
from oar.release.state import ReleaseState
from oar.release.statebox import statebox_path
from oar.sandbox import releaseconfig, seed
from oar.sandbox.registry import Sandbox
from oar.service import Service
from tests.acceptance.conftest import oar
from tests.acceptance.test_change_advisory_status import LEAD, bot_service
from tests.approval_world import summaries, thread_text

TASK = "create-test-report"
DASHBOARD = "https://oar.example.com"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
def env(sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    export = tmp_path / "release-tests"
    export.mkdir()
    return {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_DASHBOARD_URL": DASHBOARD,
        "OAR_STATEBOX_EXPORT": str(export),
        "OAR_LOG_LEVEL": "INFO",
    }


def reports(sandbox: Sandbox, release: str) -> list[str]:
    """The release channel's announcements of ``release``'s report."""
    return [text for text in summaries(sandbox) if f"new report for {release} " in text]


async def test_konflux_from_the_cli_creates_announces_and_exports_once(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, env=env)

    assert code == 0, stderr
    assert stdout.startswith(f"created the report for {seed.RELEASE} (konflux flow"), stdout
    info = await ReleaseState(client.db).get(seed.RELEASE)
    assert info.flow is Flow.KONFLUX
    assert info.metadata["shipment_mr"] == seed.SHIPMENT_MR_URL
    assert info.metadata["advisory_ids"] == seed.ADVISORIES[seed.RELEASE]
    assert info.metadata["release_date"] == seed.RELEASE_DATES[seed.RELEASE]
    (text,) = reports(sandbox, seed.RELEASE)
    group = seed.SLACK_USER_GROUPS[f"{seed.Y_STREAM}-qe-leads"][0]
    assert text.startswith(f"Hello <!subteam^{group}>, new report for {seed.RELEASE}")
    assert f"<{DASHBOARD}/releases/{seed.RELEASE}|" in text
    assert f"shipment MR {seed.SHIPMENT_MR_URL}" in text
    exported = Path(env["OAR_STATEBOX_EXPORT"]) / statebox_path(seed.RELEASE)
    document = yaml.safe_load(exported.read_text())
    assert document["metadata"]["shipment_mr"] == seed.SHIPMENT_MR_URL
    written = exported.stat().st_mtime_ns

    code, stdout, stderr = await oar("-r", seed.RELEASE, TASK, "--json", env=env)

    assert code == 0, stderr
    outcome = json.loads(stdout)
    assert outcome["status"] == "Pass"
    assert outcome["data"]["created"] is False
    assert "already exists" in outcome["message"]
    assert outcome["done"] == []
    assert len(reports(sandbox, seed.RELEASE)) == 1
    assert exported.stat().st_mtime_ns == written
    runs = await ReleaseState(client.db).runs(seed.RELEASE, task=TASK)
    assert [r.status for r in runs] == [TaskStatus.PASS, TaskStatus.PASS]


async def test_errata_from_a_slack_thread_creates_and_announces_once(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    channel = seed.SLACK_CHANNELS["team-qe-release"]
    command = f"oar -r {seed.ERRATA_RELEASE} {TASK}"

    async with bot_service(sandbox, env) as (service, slack):
        root = await slack.post_message(channel, LEAD, command)
        await slack.wait_for(
            lambda: (
                f"created the report for {seed.ERRATA_RELEASE}"
                in thread_text(sandbox, channel, root)
            ),
            60,
            "the command's reply in the thread",
        )
        await slack.wait_for(
            lambda: reports(sandbox, seed.ERRATA_RELEASE), 30, "the channel's announcement"
        )
        again = await slack.post_message(channel, LEAD, command)
        await slack.wait_for(
            lambda: "already exists" in thread_text(sandbox, channel, again),
            60,
            "the second run's reply",
        )

        info = await ReleaseState(service.db).get(seed.ERRATA_RELEASE)
        runs = await ReleaseState(service.db).runs(seed.ERRATA_RELEASE, task=TASK)
    assert info.flow is Flow.ERRATA
    assert info.metadata["shipment_mr"] is None
    assert info.metadata["advisory_ids"] == seed.ADVISORIES[seed.ERRATA_RELEASE]
    (text,) = reports(sandbox, seed.ERRATA_RELEASE)
    assert "errata flow" in text
    assert "shipment MR" not in text
    assert [(r.status, r.interface, r.slack_thread) for r in runs] == [
        (TaskStatus.PASS, "slack", again),
        (TaskStatus.PASS, "slack", root),
    ]
